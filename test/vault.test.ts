/**
 * The vault with the file keystore: key hierarchy, envelopes and their associated data,
 * tampering, crypto-shredding, rotation (resumable, online), purpose secrets, key-access
 * events, and the key file's faults (wrong passphrase, corruption, no passphrase).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openTestVault, loadedFor } from './support/vault.ts';
import { tmpDir, testEnv } from './support/harness.ts';
import { openStoreFor, rawQuery } from './support/store.ts';
import { openVault, rotate, retire, status, pending, VaultError, PseudonymMaps } from '../src/vault/index.ts';
import { aad, open, seal } from '../src/vault/aead.ts';
import { parseEnvelope, build } from '../src/vault/envelope.ts';

const code = (c: string) => (e: unknown) => {
  assert.ok(e instanceof VaultError, `expected VaultError ${c}, got ${String(e)}`);
  assert.equal(e.code, c);
  assert.ok(e.ja.length > 0 && e.en.length > 0);
  return true;
};

describe('envelopes', () => {
  test('records round-trip, with and without a subject; the blob never holds the plaintext', async () => {
    const t = await openTestVault();
    try {
      const text = Buffer.from('田中太郎の診断書 canary-envelope-1');
      for (const subject of [undefined, 'patient-42']) {
        const row = await t.vault.seal({ id: `r-${subject}`, purpose: 'body.request' }, text, { subject });
        assert.equal(row.blob.indexOf(text), -1);
        assert.equal(row.key_version, subject ? 0 : 1);
        await t.store.vault.putRecords([row]);
        assert.deepEqual((await t.vault.read(row.id, 'admin_read')), text);
      }
    } finally {
      await t.close();
    }
  });

  test('tampered ciphertext, wrapped key, header or associated data is refused', async () => {
    const t = await openTestVault();
    try {
      const row = await t.vault.seal({ id: 'rec-1', purpose: 'body.request' }, Buffer.from('x'.repeat(100)));
      // Flip a bit anywhere: header, wrapped DEK, iv, tag, ciphertext.
      for (const at of [5, 12, 40, 80, row.blob.length - 1]) {
        const bad = Buffer.from(row.blob);
        bad[at]! ^= 1;
        await assert.rejects(async () => t.vault.openRecord({ ...row, blob: bad }, 'admin_read'), (e: any) => e instanceof VaultError && (e.code === 'vault_tampered' || e.code === 'vault_version_unknown'));
      }
      // The same blob under another record id or purpose (associated data) does not open.
      await assert.rejects(async () => t.vault.openRecord({ ...row, id: 'rec-2' }, 'admin_read'), code('vault_tampered'));
      await assert.rejects(async () => t.vault.openRecord({ ...row, purpose: 'body.answer' }, 'admin_read'), code('vault_tampered'));
      // A header claiming another key version does not open either.
      const h = parseEnvelope(row.blob);
      await assert.rejects(async () => t.vault.openRecord({ ...row, blob: build(2, h.kid, h.wrappedDek, h.data) }, 'admin_read'), code('vault_version_unknown'));
      await assert.rejects(async () => t.vault.openRecord({ ...row, blob: Buffer.from('garbage') }, 'admin_read'), code('vault_tampered'));
      // And the primitive: associated data is length-prefixed, so fields cannot be shifted.
      const k = Buffer.alloc(32, 1);
      assert.throws(() => open(k, seal(k, Buffer.from('a'), aad('x', 'ab', 'c')), aad('x', 'a', 'bc')), code('vault_tampered'));
    } finally {
      await t.close();
    }
  });

  test('a record sealed for another tenant does not open', async () => {
    const a = await openTestVault();
    const dir = tmpDir('sekisho-vault-');
    try {
      const row = await a.vault.seal({ id: 'r', purpose: 'body.request' }, Buffer.from('secret'));
      const loaded = loadedFor(dir);
      (loaded.config.tenant as { id: string }).id = 'other';
      const store = await openStoreFor(loaded);
      const b = await openVault(loaded, { store: store.vault, env: testEnv() });
      await assert.rejects(async () => b.openRecord(row, 'admin_read'), (e: any) => e instanceof VaultError);
      await b.close();
      await store.close();
    } finally {
      await a.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('crypto-shredding', () => {
  test('erasing a subject destroys its keys: its records and pseudonym maps no longer open, others do', async () => {
    const t = await openTestVault();
    try {
      const mine = await t.vault.seal({ id: 'a', purpose: 'body.request' }, Buffer.from('mine'), { subject: 'alice' });
      const theirs = await t.vault.seal({ id: 'b', purpose: 'body.request' }, Buffer.from('theirs'), { subject: 'bob' });
      await t.store.vault.putRecords([mine, theirs]);
      const maps = new PseudonymMaps(t.vault);
      await maps.save('alice', 'conv-1', { v: 1, values: [], counters: [], restorable: [['〔氏名1〕', '山田花子']] }, 'L2');
      assert.ok(await maps.load('alice', 'conv-1'));
      const r = await t.vault.erase('alice');
      assert.equal(r.keys, 1);
      assert.equal(r.records, 2);
      await assert.rejects(async () => t.vault.read('a', 'admin_read'), code('vault_key_erased'));
      assert.equal((await maps.load('alice', 'conv-1')), undefined, 'an erased map reads as none');
      assert.deepEqual((await t.vault.read('b', 'admin_read')), Buffer.from('theirs'));
      // The key is gone from the database file too (secure_delete + WAL checkpoint).
      const ev = (await t.store.vault.events(50)).find((e) => e.kind === 'erasure');
      assert.ok(ev);
      assert.equal(ev.subject_hash?.toString('hex'), r.subjectHash);
      // A new record for the same person gets a new key.
      const again = await t.vault.seal({ id: 'c', purpose: 'body.request' }, Buffer.from('new'), { subject: 'alice' });
      await t.store.vault.putRecords([again]);
      assert.deepEqual((await t.vault.read('c', 'admin_read')), Buffer.from('new'));
    } finally {
      await t.close();
    }
  });

  test('another process sees the erasure (poll) and drops the cached subject key', async () => {
    const t = await openTestVault();
    try {
      const row = await t.vault.seal({ id: 'a', purpose: 'body.request' }, Buffer.from('mine'), { subject: 'carol' });
      await t.store.vault.putRecords([row]);
      assert.ok(await t.vault.read('a', 'admin_read'));
      const store2 = await openStoreFor(t.loaded);
      const other = await openVault(t.loaded, { store: store2.vault, env: testEnv(), reason: 'erasure' });
      await other.erase('carol');
      await other.close();
      await store2.close();
      await t.vault.refresh();
      await assert.rejects(async () => t.vault.read('a', 'admin_read'), code('vault_key_erased'));
    } finally {
      await t.close();
    }
  });
});

describe('rotation', () => {
  test('rotate creates v2, rewraps everything, old data still opens; retire refuses while in use', async () => {
    const t = await openTestVault();
    try {
      const rows = [];
      for (let i = 0; i < 30; i++) rows.push(await t.vault.seal({ id: `s${i}`, purpose: 'body.request' }, Buffer.from(`subject ${i}`), { subject: `person-${i % 7}` }));
      for (let i = 0; i < 20; i++) rows.push(await t.vault.seal({ id: `t${i}`, purpose: 'body.answer' }, Buffer.from(`tenant ${i}`)));
      await t.store.vault.putRecords(rows);
      const secret = await t.vault.secretFor('audit-commitment');
      assert.equal(secret.length, 32);
      await assert.rejects(retire(t.vault, 1), code('vault_version_in_use'));

      const seen: number[] = [];
      const r = await rotate(t.vault, { batch: 4, onProgress: (d) => seen.push(d) });
      assert.equal(r.to, 2);
      assert.ok(r.created);
      // 7 subject keys + 20 tenant-wrapped records + 2 secrets (subject-index, audit-commitment)
      assert.equal(r.rewrapped, 29);
      assert.ok(seen.length > 3, 'progress reported per batch');
      assert.equal((await pending(t.vault)), 0);
      for (const x of rows) assert.ok(await t.vault.read(x.id, 'admin_read'));
      assert.deepEqual(await t.vault.secretFor('audit-commitment'), secret, 'secrets survive rotation');

      await retire(t.vault, 1);
      const s = await status(t.vault);
      assert.equal(s.current, 2);
      assert.ok(s.versions.find((v) => v.version === 1)?.retired_at);
      assert.deepEqual(await t.vault.keystore.versions(), [2]);
      await assert.rejects(retire(t.vault, 2), code('vault_version_in_use'));
      // A fresh process opens with v2 only.
      const store2 = await openStoreFor(t.loaded);
      const v2 = await openVault(t.loaded, { store: store2.vault, env: testEnv() });
      for (const x of rows) assert.ok(await v2.read(x.id, 'admin_read'));
      await v2.close();
      await store2.close();
      const kinds = (await t.store.vault.events(1000)).filter((e) => e.kind === 'rotation').map((e) => JSON.parse(e.detail).phase);
      assert.deepEqual(kinds.sort(), ['completed', 'retired', 'version_created']);
    } finally {
      await t.close();
    }
  });

  test('an interrupted rotation resumes without a new version; a serving vault keeps reading both versions', async () => {
    const t = await openTestVault();
    try {
      const rows = [];
      for (let i = 0; i < 40; i++) rows.push(await t.vault.seal({ id: `t${i}`, purpose: 'body.answer' }, Buffer.from(`tenant ${i}`)));
      await t.store.vault.putRecords(rows);
      // The "gateway": a second vault on the same store, opened before the rotation.
      const store2 = await openStoreFor(t.loaded);
      const serving = await openVault(t.loaded, { store: store2.vault, env: testEnv() });
      const ac = new AbortController();
      const first = await rotate(t.vault, { batch: 5, signal: ac.signal, onProgress: (d) => d >= 10 && ac.abort() });
      assert.equal(first.to, 2);
      assert.ok((await pending(t.vault)) > 0, 'work left after the interruption');
      // Mixed versions: the serving vault learns v2 and reads every row.
      await serving.refresh();
      assert.equal(serving.currentVersion, 2);
      for (const x of rows) assert.ok(await serving.read(x.id, 'request'));
      const second = await rotate(t.vault, { batch: 5 });
      assert.equal(second.to, 2);
      assert.equal(second.created, false, 'resumed, no new version');
      assert.equal(first.rewrapped + second.rewrapped, 40 + 1);
      assert.equal((await pending(t.vault)), 0);
      for (const x of rows) assert.ok(await serving.read(x.id, 'request'));
      await serving.close();
      await store2.close();
    } finally {
      await t.close();
    }
  });
});

describe('secrets and events', () => {
  test('secretFor gives the same 32 bytes across restarts and different bytes per purpose', async () => {
    const t = await openTestVault();
    const a = await t.vault.secretFor('audit-commitment');
    const b = await t.vault.secretFor('identity-signing');
    assert.equal(a.length, 32);
    assert.notDeepEqual(a, b);
    await t.close();
    const again = await openTestVault({ dir: t.dir });
    try {
      assert.deepEqual(await again.vault.secretFor('audit-commitment'), a);
      await assert.rejects(again.vault.secretFor('Bad Purpose'), code('vault_input_invalid'));
    } finally {
      await again.close();
    }
  });

  test('every unwrap is an event with a reason; events reach an extra sink too', async () => {
    const dir = tmpDir('sekisho-vault-');
    const loaded = loadedFor(dir);
    const store = await openStoreFor(loaded);
    const seen: string[] = [];
    const v = await openVault(loaded, { store: store.vault, env: testEnv(), events: { keyAccess: (e) => seen.push(`${e.reason}:${e.purpose}`), erasure: () => seen.push('erasure'), rotation: (e) => seen.push(`rotation:${e.phase}`) } });
    const row = await v.seal({ id: 'r1', purpose: 'body.request' }, Buffer.from('x'), { subject: 's' });
    await store.vault.putRecords([row]);
    await v.read('r1', 'audit_export');
    await v.erase('s');
    await v.close();
    assert.ok(seen.includes('startup:tenant-key'));
    assert.ok(seen.includes('startup:secret:subject-index'));
    assert.ok(seen.includes('audit_export:body.request'));
    assert.ok(seen.includes('erasure'));
    const stored = await store.vault.events(100);
    assert.ok(stored.some((e) => e.kind === 'key_access' && e.reason === 'audit_export' && JSON.parse(e.detail).recordId === 'r1'));
    assert.ok(stored.every((e) => !e.detail.includes('"x"')));
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('file keystore faults', () => {
  test('the key file is sealed: no key material in clear, owner-only permissions', async () => {
    const t = await openTestVault();
    const file = path.join(t.loaded.dataDir, 'keys', 'tenant.keyfile');
    try {
      const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.equal(doc.kdf.name, 'scrypt');
      assert.equal(doc.keys.length, 1);
      assert.equal(fs.statSync(file).mode & 0o077, 0);
    } finally {
      await t.close();
    }
  });

  test('wrong passphrase, corrupted file, missing passphrase: refused with a clear error', async () => {
    const t = await openTestVault();
    await t.close();
    const file = path.join(t.loaded.dataDir, 'keys', 'tenant.keyfile');
    await assert.rejects(openTestVault({ dir: t.dir, env: testEnv({ SEKISHO_VAULT_PASSPHRASE: 'not-the-passphrase' }) }), code('vault_passphrase_wrong'));
    const env = { ...process.env };
    delete env.SEKISHO_VAULT_PASSPHRASE;
    await assert.rejects(openTestVault({ dir: t.dir, env }), (e: any) => {
      code('vault_passphrase_missing')(e);
      assert.match(e.en, /SEKISHO_VAULT_PASSPHRASE/);
      assert.match(e.ja, /SEKISHO_VAULT_PASSPHRASE/);
      return true;
    });
    const good = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, good.slice(0, good.length / 2));
    await assert.rejects(openTestVault({ dir: t.dir }), code('vault_keyfile_corrupt'));
    const doc = JSON.parse(good);
    const sealed = Buffer.from(doc.keys[0].sealed, 'base64');
    sealed[sealed.length - 1]! ^= 0xff;
    doc.keys[0].sealed = sealed.toString('base64');
    fs.writeFileSync(file, JSON.stringify(doc));
    await assert.rejects(openTestVault({ dir: t.dir }), code('vault_keyfile_corrupt'));
    // A missing key file is not silently replaced by a new one.
    fs.renameSync(file, file + '.bak');
    await assert.rejects(openTestVault({ dir: t.dir }), code('vault_keyfile_io'));
    assert.ok(!fs.existsSync(file));
    fs.renameSync(file + '.bak', file);
    // A tampered wrapped tenant key in the database is refused as well.
    fs.writeFileSync(file, good);
    const [row] = (await rawQuery(t.loaded, 'SELECT wrapped FROM vault_tenant_keys WHERE version = 1')) as { wrapped: Buffer }[];
    const bad = Buffer.from(row!.wrapped);
    bad[bad.length - 1]! ^= 1;
    await rawQuery(t.loaded, 'UPDATE vault_tenant_keys SET wrapped = ? WHERE version = 1', [bad]);
    await assert.rejects(openTestVault({ dir: t.dir }), code('vault_tampered'));
    fs.rmSync(t.dir, { recursive: true, force: true });
  });
});
