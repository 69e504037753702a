/**
 * A principal: who is asking, with the attributes policy decides on. People come from
 * credentials (sessions), services from API keys. `attrHash` keys the decision cache: two
 * principals with the same attributes get the same decisions.
 */
import crypto from 'node:crypto';
import { parseLevel, type LevelName } from '../policy/index.js';

export interface PrincipalAttrs {
  kind: 'person' | 'service';
  /** The highest level this principal may send. */
  clearance: LevelName;
  role: string;
  department: string;
  /** Ids of completed trainings, sorted. */
  trainings: string[];
}

export interface Principal {
  /** Stable pseudonymous id used in records: `key:<id>` or `vc:<credential id>`. */
  id: string;
  kind: 'service' | 'person';
  name: string;
  defaultLevel: LevelName;
  maxLevel: LevelName;
  /** Absent for ad-hoc principals (`sekisho try`): a service with clearance = maxLevel. */
  attrs?: PrincipalAttrs;
  attrHash?: string;
  /**
   * Sessions only: when the presentation that opened the session was verified (ms since epoch).
   * A step-up (threat detection) refuses sessions opened before it.
   */
  authTime?: number;
}

export function attrHashOf(a: PrincipalAttrs): string {
  const canon = JSON.stringify([a.kind, a.clearance, a.role, a.department, [...a.trainings].sort()]);
  return crypto.createHash('sha256').update(canon).digest('base64url').slice(0, 16);
}

export function withAttrs(p: Omit<Principal, 'attrs' | 'attrHash'>, attrs: PrincipalAttrs): Principal {
  return { ...p, attrs, attrHash: attrHashOf(attrs) };
}

/** The attributes of a principal, defaulting for ad-hoc ones. */
export function attrsOf(p: Principal): PrincipalAttrs {
  return p.attrs ?? { kind: 'service', clearance: p.maxLevel, role: '', department: '', trainings: [] };
}

/** A person from a verified credential's disclosed claims. */
export function personFromClaims(credentialId: string, claims: Record<string, unknown>): Principal {
  const str = (v: unknown, max = 128) => (typeof v === 'string' ? v.slice(0, max) : '');
  const clearance = parseLevel(typeof claims.clearance === 'string' ? claims.clearance : undefined) ?? 'L0';
  const trainings = Array.isArray(claims.trainings)
    ? [...new Set(claims.trainings.map((t) => (t && typeof t === 'object' ? str((t as { id?: unknown }).id) : str(t))).filter(Boolean))].sort()
    : [];
  const attrs: PrincipalAttrs = { kind: 'person', clearance, role: str(claims.role), department: str(claims.department), trainings };
  return withAttrs({ id: `vc:${credentialId}`, kind: 'person', name: str(claims.name) || str(claims.employee_id) || 'holder', defaultLevel: 'L0', maxLevel: clearance }, attrs);
}
