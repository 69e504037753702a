/** Findings → flags → level. Tenant-configurable. */
import type { Finding, Flag, Level } from './types.js';

export interface ClassificationRules {
  /** finding type → flags it raises (replaces the default entry for that type) */
  typeFlags?: Record<string, Flag[]>;
  /** flag → minimum level it forces (merged over the defaults) */
  flagLevels?: Record<string, Level>;
  /** level when nothing is found (default L0) */
  baseLevel?: Level;
  /** set false to disable the 要配慮 (health/criminal record context) rule */
  sensitiveContext?: boolean;
}

export const LEVELS: readonly Level[] = ['L0', 'L1', 'L2', 'L3', 'L4'];

export const PERSONAL_TYPES = [
  'JP_MY_NUMBER', 'JP_CORPORATE_NUMBER', 'JP_PHONE', 'JP_POSTAL_CODE', 'JP_ADDRESS', 'JP_BANK_ACCOUNT', 'JP_PASSPORT',
  'JP_RESIDENCE_CARD', 'JP_DRIVERS_LICENSE', 'PERSON_NAME', 'EMAIL', 'CREDIT_CARD', 'IP_ADDRESS',
] as const;

export const DEFAULT_TYPE_FLAGS: Record<string, Flag[]> = {
  JP_MY_NUMBER: ['personal', 'my_number'],
  JP_PHONE: ['personal'],
  JP_POSTAL_CODE: ['personal'],
  JP_ADDRESS: ['personal'],
  JP_BANK_ACCOUNT: ['personal'],
  JP_PASSPORT: ['personal'],
  JP_RESIDENCE_CARD: ['personal'],
  JP_DRIVERS_LICENSE: ['personal'],
  PERSON_NAME: ['personal'],
  EMAIL: ['personal'],
  CREDIT_CARD: ['personal'],
  IP_ADDRESS: ['personal'],
  // a corporate number identifies a company, not a person: no flag by default
  JP_CORPORATE_NUMBER: [],
  SECRET: ['secret'],
};

export const DEFAULT_FLAG_LEVELS: Record<string, Level> = {
  personal: 'L1',
  my_number: 'L3',
  sensitive_personal: 'L3',
  secret: 'L2',
};

export function levelIndex(l: string): number {
  const k = LEVELS.indexOf(l as Level);
  return k < 0 ? 0 : k;
}

export function maxLevel(a: Level, b: Level): Level {
  return levelIndex(a) >= levelIndex(b) ? a : b;
}

export interface Classifier {
  classify(findings: Finding[], sensitive: boolean, extra?: { flags: Flag[]; level?: Level }[]): { level: Level; flags: Flag[] };
}

export function createClassifier(rules: ClassificationRules = {}): Classifier {
  const typeFlags = { ...DEFAULT_TYPE_FLAGS, ...(rules.typeFlags ?? {}) };
  const flagLevels = { ...DEFAULT_FLAG_LEVELS, ...(rules.flagLevels ?? {}) };
  for (const [f, l] of Object.entries(flagLevels)) {
    if (!LEVELS.includes(l)) throw new TypeError(`classification.flagLevels.${f}: unknown level ${String(l)} (expected L0..L4)`);
  }
  const base: Level = rules.baseLevel ?? 'L0';
  return {
    classify(findings, sensitive, extra) {
      const flags = new Set<Flag>();
      for (const f of findings) for (const fl of typeFlags[f.type] ?? []) flags.add(fl);
      if (sensitive) {
        flags.add('sensitive_personal');
        flags.add('personal');
      }
      let level: Level = base;
      for (const e of extra ?? []) {
        for (const fl of e.flags) flags.add(fl);
        if (e.level) level = maxLevel(level, e.level);
      }
      for (const fl of flags) {
        const l = flagLevels[fl];
        if (l) level = maxLevel(level, l);
      }
      return { level, flags: [...flags].sort() };
    },
  };
}
