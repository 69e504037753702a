/**
 * Where the audit log's keys come from: the vault's `audit` secret (sealed under the tenant's
 * keystore: key file, HSM or external key service), expanded with HKDF-SHA-256, one distinct
 * info string per purpose:
 *   sekisho/audit/log-signing/v1   → the Ed25519 seed of the log's checkpoint key
 *   sekisho/audit/commitment/v1    → the HMAC key of request/answer commitments
 *   sekisho/audit/pseudonym/v1     → the HMAC key of principal pseudonyms
 */
import crypto from 'node:crypto';

export interface AuditKeys {
  signingSeed: Buffer;
  commitKey: Buffer;
  pseudonymKey: Buffer;
}

export type SecretFor = (purpose: string) => Buffer;

export function hkdfSecretFor(root: Buffer): SecretFor {
  return (purpose) => Buffer.from(crypto.hkdfSync('sha256', root, Buffer.from('sekisho'), Buffer.from(purpose, 'utf8'), 32));
}

/** The vault purpose whose secret roots the audit keys. */
export const AUDIT_SECRET_PURPOSE = 'audit';

/** The audit keys from the tenant's vault. */
export async function auditKeysFromVault(vault: { secretFor(purpose: string): Promise<Buffer> }): Promise<AuditKeys> {
  return auditKeys(hkdfSecretFor(await vault.secretFor(AUDIT_SECRET_PURPOSE)));
}

/** The audit keys from a secret source. */
export function auditKeys(s: SecretFor): AuditKeys {
  return {
    signingSeed: s('sekisho/audit/log-signing/v1'),
    commitKey: s('sekisho/audit/commitment/v1'),
    pseudonymKey: s('sekisho/audit/pseudonym/v1'),
  };
}
