import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAdmin, requireAdmin, withAttrs, AuthError } from '../src/identity/index.js';

const rules = { api_keys: ['ops'], roles: ['admin', 'security'] };
const key = (name: string, id = 'key:abc') => withAttrs({ id, kind: 'service', name, defaultLevel: 'L0', maxLevel: 'L1' }, { kind: 'service', clearance: 'L1', role: 'service', department: '', trainings: [] });
const person = (role: string) => withAttrs({ id: 'vc:1', kind: 'person', name: 'x', defaultLevel: 'L0', maxLevel: 'L1' }, { kind: 'person', clearance: 'L1', role, department: 'd', trainings: [] });

test('admins are API keys named in admin.api_keys and people whose role is in admin.roles', () => {
  assert.equal(isAdmin(key('ops'), rules), true);
  assert.equal(isAdmin(key('app'), rules), false);
  // an ad-hoc service principal (not from an API key) is never an administrator
  assert.equal(isAdmin(key('ops', 'try:ops'), rules), false);
  assert.equal(isAdmin(person('security'), rules), true);
  assert.equal(isAdmin(person('staff'), rules), false);
  assert.throws(() => requireAdmin(person('staff'), rules), (e: unknown) => e instanceof AuthError && e.code === 'not_admin' && /管理者/.test(e.ja));
});
