/**
 * A credential's personal claims are stored sealed by the vault under the person's subject
 * key: neither the name nor the employee id is in any database file, and erasing the person
 * (`sekisho erase --subject staff:<employee id>`) makes them unreadable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startHarness, mocks, tokyoBackend } from './support/harness.ts';
import { createOffer, validateClaims, vaultClaims } from '../src/identity/index.ts';

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

test('credential claims are sealed under the subject key and shredded by erasure', async () => {
  const [tokyo] = await mocks({ name: 'tokyo' });
  const h = await startHarness({ backends: [tokyoBackend(tokyo!.url)], models: [{ name: 'default', backends: ['tokyo-llm'] }], identity: {} });
  try {
    const claims = vaultClaims(h.gw.core.vault);
    const name = '機密 花子カナリア';
    const employee = 'EMP-CANARY-7731';
    const o = await createOffer(h.gw.core.store, h.gw.core.identity!.origin, claims, validateClaims({ name, employee_id: employee, department: '監査室', clearance: 'L2' }), { credentialTtlDays: 1, offerTtlS: 60 });
    const row = await h.gw.core.store.identity.credential(o.credentialId)!;
    assert.equal(row.claims, '');
    assert.ok(!row.subject.includes(employee) && row.employee_id !== employee, 'the row keeps a pseudonym only');
    assert.equal((await claims.open(o.credentialId, 'admin_read')).name, name);
    for (const f of filesUnder(h.dir)) {
      const bytes = fs.readFileSync(f);
      for (const needle of [name, employee, '監査室']) assert.equal(bytes.indexOf(Buffer.from(needle, 'utf8')), -1, `${needle} found in ${path.relative(h.dir, f)}`);
    }
    const erased = await h.gw.core.vault.erase(claims.subjectOf(employee));
    assert.ok(erased.keys >= 1);
    await assert.rejects(async () => claims.open(o.credentialId, 'admin_read'));
  } finally {
    await h.close();
    await tokyo!.close();
  }
});
