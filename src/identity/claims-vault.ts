/**
 * A credential's personal claims (name, employee id, department …) are stored sealed by the
 * vault, under the person's subject key: `sekisho erase --subject staff:<employee id>` shreds
 * them. The credential row keeps only a pseudonym (an HMAC of the employee id under a vault
 * secret), which is also the credential's `sub`, so a verifier learns no employee id it was
 * not shown.
 */
import type { Vault, KeyReason } from '../vault/index.js';
import type { StaffClaims } from './vci.js';

export interface ClaimsVault {
  seal(credentialId: string, claims: StaffClaims): void;
  open(credentialId: string, reason: KeyReason): StaffClaims;
  /** The stored (and `sub`) form of an employee id. */
  pseudonym(employeeId: string): string;
  /** The vault subject of an employee (what `sekisho erase --subject` takes). */
  subjectOf(employeeId: string): string;
  /** The stored form of a department name (an HMAC, like the employee-id pseudonym). */
  department?(name: string): string;
}

/** `d:` + 16 hex digits of an HMAC under the vault's subject-index secret. */
export function departmentPseudonym(vault: Pick<Vault, 'subjectHash'>, name: string): string {
  return `d:${vault.subjectHash(`department:${name}`).subarray(0, 8).toString('hex')}`;
}

const PURPOSE = 'credential.claims';
const recordId = (credentialId: string): string => `credential:${credentialId}`;

export function vaultClaims(vault: Vault): ClaimsVault {
  const subjectOf = (employeeId: string): string => `staff:${employeeId}`;
  return {
    subjectOf,
    department: (name) => departmentPseudonym(vault, name),
    pseudonym: (employeeId) => vault.subjectHash(subjectOf(employeeId)).subarray(0, 16).toString('hex'),
    seal(credentialId, claims) {
      const row = vault.seal({ id: recordId(credentialId), purpose: PURPOSE }, Buffer.from(JSON.stringify(claims), 'utf8'), { subject: subjectOf(claims.employee_id) });
      vault.store.putRecords([row]);
    },
    open(credentialId, reason) {
      const pt = vault.read(recordId(credentialId), reason);
      if (!pt) throw new Error(`credential ${credentialId}: its claims are not in the vault (erased?)`);
      try {
        return JSON.parse(pt.toString('utf8')) as StaffClaims;
      } finally {
        pt.fill(0);
      }
    },
  };
}
