/** What the audit log takes from the configuration: its name, backend facts, the policy version. */
import crypto from 'node:crypto';
import type { Config } from '../config/index.js';
import { canonicalJson } from './leaf.js';

export function auditOrigin(config: Config): string {
  return config.audit.origin ?? `sekisho.local/${config.tenant.id}/audit`;
}

export function backendFacts(config: Config): Map<string, { country: string; jurisdictions: string[]; on_premises: boolean }> {
  return new Map(config.backends.map((b) => [b.id, { country: b.location.country, jurisdictions: [...b.operator.jurisdictions].sort(), on_premises: b.location.on_premises }]));
}

/**
 * The policy version a leaf was decided under: SHA-256 over the canonical JSON of the policy
 * and of every backend's facts (not its URL or credentials), first 16 bytes in hex.
 */
export function policyVersion(config: Config): string {
  const facts = config.backends.map((b) => ({
    id: b.id,
    location: b.location,
    operator: b.operator,
    contract: b.contract,
    ismap: b.ismap ?? null,
    approved: b.approved,
  }));
  const h = crypto.createHash('sha256').update(canonicalJson({ policy: config.policy, backends: facts, models: config.models })).digest('hex');
  return 'sha256:' + h.slice(0, 32);
}
