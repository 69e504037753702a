/**
 * Administrators: who may use the console, the TAXII server and the admin API. Configured, not
 * stored, so the list is reviewed like any other policy: API keys by name (`admin.api_keys`) and
 * people by the `role` claim of their credential (`admin.roles`, default `admin`).
 */
import { AuthError } from './errors.js';
import type { Principal } from './principal.js';

export interface AdminRules {
  api_keys: readonly string[];
  roles: readonly string[];
}

export const NOT_ADMIN = new AuthError('not_admin', 'この操作には管理者権限が必要です', 'This action needs an administrator');

export function isAdmin(p: Principal, rules: AdminRules): boolean {
  if (p.kind === 'service') return p.id.startsWith('key:') && rules.api_keys.includes(p.name);
  return p.attrs?.kind === 'person' && rules.roles.includes(p.attrs.role);
}

/** Throws `not_admin` (HTTP 403) unless the principal is an administrator. */
export function requireAdmin(p: Principal, rules: AdminRules): Principal {
  if (!isAdmin(p, rules)) throw NOT_ADMIN;
  return p;
}
