/**
 * Where the audit log's keys come from: ONE function, so that the tenant's key service can
 * replace it. Today the keys are derived with HKDF-SHA-256 from the tenant root secret
 * (src/vault ensureTenantKeys), one distinct info string per purpose:
 *   sekisho/audit/log-signing/v1   → the Ed25519 seed of the log's checkpoint key
 *   sekisho/audit/commitment/v1    → the HMAC key of request/answer commitments
 *   sekisho/audit/pseudonym/v1     → the HMAC key of principal pseudonyms
 */
import crypto from 'node:crypto';
import { ensureTenantKeys } from '../vault/index.js';

export interface AuditKeys {
  signingSeed: Buffer;
  commitKey: Buffer;
  pseudonymKey: Buffer;
}

export type SecretFor = (purpose: string) => Buffer;

export function hkdfSecretFor(root: Buffer): SecretFor {
  return (purpose) => Buffer.from(crypto.hkdfSync('sha256', root, Buffer.from('sekisho'), Buffer.from(purpose, 'utf8'), 32));
}

/** The audit keys of the tenant whose data lives in `dataDir` (or from a given secret source). */
export function auditKeys(dataDir: string, secretFor?: SecretFor): AuditKeys {
  const s = secretFor ?? hkdfSecretFor(ensureTenantKeys(dataDir).root);
  return {
    signingSeed: s('sekisho/audit/log-signing/v1'),
    commitKey: s('sekisho/audit/commitment/v1'),
    pseudonymKey: s('sekisho/audit/pseudonym/v1'),
  };
}
