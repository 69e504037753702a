/**
 * The store itself: the upgrade of SQLite files written before Kysely (schema version in
 * `PRAGMA user_version`), a database newer than this Sekisho, and the group commit's handling
 * of an index another node already filled (both engines).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore, StoreError } from '../src/store/index.ts';
import { LEGACY } from '../src/store/sqlite.ts';
import { tmpDir } from './support/harness.ts';
import { openTestStore } from './support/store.ts';

function legacyFile(version: number): string {
  const file = path.join(tmpDir('sekisho-store-'), 'sekisho.db');
  const db = new Database(file);
  for (let v = 0; v < version; v++) {
    db.exec(LEGACY[v]!);
    db.pragma(`user_version = ${v + 1}`);
  }
  if (version >= 5) {
    db.prepare("INSERT INTO api_keys VALUES ('k1', 'old', 'sk-sekisho-AbCd', ?, 'L0', 'L3', '2026-01-01T00:00:00.000Z', NULL)").run(Buffer.alloc(32, 9));
    db.prepare('INSERT INTO audit_entries (idx, data) VALUES (0, ?), (1, ?)').run(Buffer.from('{"a":0}'), Buffer.from('{"a":1}'));
    db.prepare("INSERT INTO decisions (seq, request_id, ts, principal, endpoint, model, level, flags, decision, reason, backend, status, duration_ms, upstream_ms, attempts) VALUES (1, 'r1', 't', 'p', 'chat.completions', 'm', 'L0', '', 'allow', 'allowed', NULL, 200, 1.5, NULL, 1)").run();
  }
  db.close();
  return file;
}

describe('SQLite files written before Kysely', () => {
  test('a file at user_version 6 is adopted as is: its rows read back, nothing is copied; user_version 8 afterwards', async () => {
    const file = legacyFile(6);
    const store = await openSqliteStore(file);
    try {
      const key = await store.apiKeys.findByHash(Buffer.alloc(32, 9));
      assert.equal(key?.name, 'old');
      assert.equal(await store.audit.maxIndex(), 1);
      assert.equal((await store.records.byRequestId('r1'))?.seq, 1);
      assert.equal(await store.records.nextSeq(), 2);
      // new tables of later migrations are there and work
      const lost = await store.records.append([], [{ idx: 2, data: Buffer.from('{"a":2}') }]);
      assert.deepEqual(lost, []);
    } finally {
      await store.close();
    }
    const db = new Database(file);
    assert.equal(db.pragma('user_version', { simple: true }), 8);
    assert.ok(db.prepare("SELECT 1 FROM kysely_migration WHERE name = '0003_console'").get());
    db.close();
    // and it opens again
    const again = await openSqliteStore(file);
    assert.equal(await again.audit.maxIndex(), 2);
    await again.close();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  test('a file at an older user_version is finished with its old statements first', async () => {
    const file = legacyFile(3);
    const store = await openSqliteStore(file);
    await store.vault.appendEvents([{ ts: 't', kind: 'key_access', reason: 'startup', purpose: 'tenant-key', key_version: 1, subject_hash: null, detail: '{}' }]);
    assert.equal((await store.vault.eventsAfter(0, 10)).length, 1);
    await store.close();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  test('a database newer than this Sekisho is refused, in both languages', async () => {
    const file = path.join(tmpDir('sekisho-store-'), 'sekisho.db');
    const db = new Database(file);
    db.pragma('user_version = 99');
    db.close();
    await assert.rejects(openSqliteStore(file), (e: unknown) => e instanceof StoreError && e.code === 'store_newer' && /upgrade Sekisho/.test(e.en) && /更新/.test(e.ja));
    const managed = await openSqliteStore(path.join(path.dirname(file), 'b.db'));
    await managed.close();
    const db2 = new Database(path.join(path.dirname(file), 'b.db'));
    db2.prepare("INSERT INTO kysely_migration (name, timestamp) VALUES ('9999_future', 'now')").run();
    db2.close();
    await assert.rejects(openSqliteStore(path.join(path.dirname(file), 'b.db')), (e: unknown) => e instanceof StoreError && e.code === 'store_newer' && /9999_future/.test(e.en));
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });
});

describe('group commit (the engine under test)', () => {
  test('an index another node already filled is not written, nor its decision record; the rest of the batch is', async () => {
    const dir = tmpDir('sekisho-store-');
    const store = await openTestStore(dir);
    try {
      await store.audit.append([{ idx: 1, data: Buffer.from('{"kind":"lost"}') }]);
      const row = (seq: number) => ({ seq, request_id: `r${seq}`, ts: 't', principal: 'p', endpoint: 'chat.completions', model: 'm', level: 'L0', flags: '', findings: '', decision: 'allow', reason: 'allowed', backend: null, status: 200, duration_ms: 1, upstream_ms: null, attempts: 1 });
      const lost = await store.records.append([row(0), row(1), row(2)], [0, 1, 2].map((i) => ({ idx: i, data: Buffer.from(`{"i":${i}}`) })));
      assert.deepEqual(lost, [1]);
      assert.equal((await store.audit.entry(1))!.toString(), '{"kind":"lost"}');
      assert.equal(await store.records.byRequestId('r1'), undefined);
      assert.equal((await store.records.byRequestId('r2'))?.seq, 2);
      // A retry of the same batch (its commit was not acknowledged) is not "lost": the bytes are ours.
      assert.deepEqual(await store.records.append([row(2)], [{ idx: 2, data: Buffer.from('{"i":2}') }]), []);
      // Vault events: ids ascending in the order written (the import cursor follows them).
      await store.vault.appendEvents([1, 2, 3].map((i) => ({ ts: `t${i}`, kind: 'key_access' as const, reason: 'startup', purpose: 'p', key_version: 1, subject_hash: null, detail: '{}' })));
      const ev = await store.vault.eventsAfter(0, 10);
      assert.deepEqual(ev.map((e) => e.ts), ['t1', 't2', 't3']);
      assert.ok(ev[0]!.id < ev[1]!.id && ev[1]!.id < ev[2]!.id);
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SQLite: group commits beside Kysely transactions', () => {
  test('a group commit made while a Kysely transaction is open is not part of it: that transaction rolls back, every committed leaf stays', async () => {
    const dir = tmpDir('sekisho-store-');
    const store = await openSqliteStore(path.join(dir, 'sekisho.db'));
    try {
      const row = (seq: number) => ({ seq, request_id: `r${seq}`, ts: 't', principal: 'p', endpoint: 'chat.completions', model: 'm', level: 'L0', flags: '', findings: '', decision: 'allow', reason: 'allowed', backend: null, status: 200, duration_ms: 1, upstream_ms: null, attempts: 1 });
      // A publish that fails part-way (a tile without data), after several statements: its transaction rolls back.
      const tiles = [0, 1, 2, 3, 4, 5].map((n) => ({ level: 0, n, data: Buffer.alloc(32, n) })).concat([{ level: 0, n: 6, data: null as unknown as Buffer }]);
      const publishing = store.audit.publish(tiles, 7, 'note', 't');
      // Group commits at every turn while that transaction runs (before, between and after its statements).
      const appends: Promise<number[]>[] = [];
      for (let i = 0; i < 40; i++) {
        appends.push(store.records.append([row(i)], [{ idx: i, data: Buffer.from(`{"i":${i}}`) }]));
        await Promise.resolve();
      }
      await assert.rejects(publishing);
      for (const lost of await Promise.all(appends)) assert.deepEqual(lost, []);
      assert.equal((await store.audit.entries(0, 40)).length, 40);
      assert.equal(await store.records.count(), 40);
      assert.equal(await store.audit.tile(0, 0), undefined);
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
