export type FindingType =
  | 'JP_MY_NUMBER'
  | 'JP_CORPORATE_NUMBER'
  | 'JP_PHONE'
  | 'JP_POSTAL_CODE'
  | 'JP_ADDRESS'
  | 'JP_BANK_ACCOUNT'
  | 'JP_PASSPORT'
  | 'JP_RESIDENCE_CARD'
  | 'JP_DRIVERS_LICENSE'
  | 'PERSON_NAME'
  | 'EMAIL'
  | 'CREDIT_CARD'
  | 'IP_ADDRESS'
  | 'SECRET'
  | (string & {});

/** start/end are JavaScript string indices (UTF-16 code units) into the ORIGINAL text; end is exclusive. */
export interface Finding {
  type: FindingType;
  start: number;
  end: number;
  score: number;
}

export type Flag = 'personal' | 'my_number' | 'sensitive_personal' | 'secret' | (string & {});
export type Level = 'L0' | 'L1' | 'L2' | 'L3' | 'L4';

export interface Inspection {
  level: Level;
  flags: Flag[];
  findings: Finding[];
}
