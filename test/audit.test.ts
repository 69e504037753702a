/** The audit log: RFC 6962 / C2SP test vectors, tiles, notes, witnesses, tamper detection. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import {
  leafHash,
  rootOf,
  memoryHasher,
  inclusionProof,
  consistencyProof,
  verifyInclusion,
  verifyConsistency,
  CompactRange,
  EMPTY_ROOT,
} from '../src/audit/merkle.ts';
import { parseSignerKey, parseVerifierKey, signNote, openNote, ed25519Signer } from '../src/audit/note.ts';
import { encodeIndex, parseTilePath, tilePath, encodeBundle, decodeBundle } from '../src/audit/tiles.ts';
import { signCheckpoint, openCheckpoint, parseCheckpointBody, checkpointBody } from '../src/audit/checkpoint.ts';
import { cosigner, witnessCosignatures } from '../src/audit/witness.ts';
import { canonicalJson, decodeLeaf, encodeLeaf, requestLeafJson, Committer } from '../src/audit/leaf.ts';
import { AuditLog } from '../src/audit/log.ts';
import { storeSource } from '../src/audit/source.ts';
import { verifyLog } from '../src/audit/verify.ts';
import { AuditError } from '../src/audit/errors.ts';
import { openStore } from '../src/store/index.ts';
import { openTestStore, rawQuery } from './support/store.ts';
import { createLogger } from '../src/ops/log.ts';
import { tmpDir } from './support/harness.ts';

const hex = (b: Buffer) => b.toString('hex');
const unhex = (s: string) => Buffer.from(s, 'hex');

// RFC 6962 reference data (transparency-dev/merkle testonly, Certificate Transparency).
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(unhex);
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION = [
  { index: 0, size: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { index: 5, size: 8, proof: ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
];
const CONSISTENCY = [
  { m: 2, n: 8, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { m: 6, n: 8, proof: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
  { m: 2, n: 5, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
];

describe('RFC 6962 Merkle tree (test vectors)', () => {
  const hashes = LEAVES.map(leafHash);
  test('roots for every size 0..8, also from a compact range', () => {
    assert.equal(hex(EMPTY_ROOT), ROOTS[0]);
    const cr = new CompactRange();
    for (let n = 0; n <= 8; n++) {
      assert.equal(hex(rootOf(hashes.slice(0, n))), ROOTS[n], `size ${n}`);
      assert.equal(hex(cr.root()), ROOTS[n], `compact range size ${n}`);
      if (n < 8) cr.append(hashes[n]!);
    }
  });
  test('inclusion proofs match the reference and verify', () => {
    for (const v of INCLUSION) {
      const proof = inclusionProof(v.index, v.size, memoryHasher(hashes));
      assert.deepEqual(proof.map(hex), v.proof);
      assert.ok(verifyInclusion(hashes[v.index]!, v.index, v.size, proof, unhex(ROOTS[v.size]!)));
      assert.ok(!verifyInclusion(hashes[v.index]!, v.index + 1, v.size, proof, unhex(ROOTS[v.size]!)));
    }
  });
  test('consistency proofs match the reference and verify', () => {
    for (const v of CONSISTENCY) {
      const proof = consistencyProof(v.m, v.n, memoryHasher(hashes));
      assert.deepEqual(proof.map(hex), v.proof, `${v.m}→${v.n}`);
      assert.ok(verifyConsistency(v.m, v.n, proof, unhex(ROOTS[v.m]!), unhex(ROOTS[v.n]!)));
      assert.ok(!verifyConsistency(v.m, v.n, proof, unhex(ROOTS[v.m - 1]!), unhex(ROOTS[v.n]!)));
    }
  });
  test('every proof in every tree up to 70 leaves verifies; tampered ones do not', () => {
    const many = Array.from({ length: 70 }, (_, i) => leafHash(Buffer.from([i, i * 7 & 255])));
    const h = memoryHasher(many);
    for (let n = 1; n <= many.length; n++) {
      const root = rootOf(many, 0, n);
      for (let i = 0; i < n; i++) {
        const p = inclusionProof(i, n, h);
        assert.ok(verifyInclusion(many[i]!, i, n, p, root));
        if (p.length) {
          const bad = p.map((x) => Buffer.from(x));
          bad[0]![0]! ^= 1;
          assert.ok(!verifyInclusion(many[i]!, i, n, bad, root));
        }
      }
      for (let m = 0; m <= n; m++) {
        const p = consistencyProof(m, n, h);
        assert.ok(verifyConsistency(m, n, p, rootOf(many, 0, m), root), `${m}→${n}`);
      }
    }
  });
});

describe('C2SP signed-note and checkpoint', () => {
  // golang.org/x/mod/sumdb/note reference example.
  const skey = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
  const vkey = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
  const text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
  const signed = text + '\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
  test('signing reproduces the Go sumdb note example byte for byte; opening verifies it', () => {
    const s = parseSignerKey(skey);
    assert.equal(s.vkey, vkey);
    assert.equal(signNote(text, [s]), signed);
    assert.equal(openNote(signed, [parseVerifierKey(vkey)]).text, text);
    assert.throws(() => openNote(signed.replace('cryptography', 'cryptographY'), [parseVerifierKey(vkey)]), (e: AuditError) => e.code === 'bad_signature');
  });
  test('verifier keys: manglings are rejected', () => {
    for (const bad of [vkey.slice(1), vkey.replace('c74f20a3', 'c74f20a4'), vkey + 'A', 'x+y', vkey.replace('+A', '+B')]) assert.throws(() => parseVerifierKey(bad));
  });
  test('checkpoints: body format, signature, origin', () => {
    const signer = ed25519Signer('example.com/log', crypto.randomBytes(32));
    const cp = { origin: 'example.com/log', size: 8, root: unhex(ROOTS[8]!), extensions: [] };
    assert.equal(checkpointBody(cp), `example.com/log\n8\n${unhex(ROOTS[8]!).toString('base64')}\n`);
    const note = signCheckpoint(cp, signer);
    const opened = openCheckpoint(note, parseVerifierKey(signer.vkey)).checkpoint;
    assert.equal(opened.size, 8);
    assert.throws(() => openCheckpoint(note.replace('\n8\n', '\n9\n'), parseVerifierKey(signer.vkey)), (e: AuditError) => e.code === 'bad_signature');
    assert.throws(() => parseCheckpointBody('o\n08\nAAAA\n'));
  });
  test('witness cosignatures (cosignature/v1): verify, and reject a wrong key', () => {
    const w = cosigner('witness.example/w1', crypto.randomBytes(32));
    const body = 'example.com/log\n3\n' + unhex(ROOTS[3]!).toString('base64') + '\n';
    const line = w.cosign(body, 1700000000);
    const found = witnessCosignatures(body + '\n' + line, [parseVerifierKey(w.vkey)]);
    assert.equal(found.length, 1);
    assert.equal(found[0]!.time, 1700000000);
    const other = cosigner('witness.example/w1', crypto.randomBytes(32));
    assert.equal(witnessCosignatures(body + '\n' + line, [parseVerifierKey(other.vkey)]).length, 0, 'unknown key ids are ignored');
    assert.match(w.vkey, /^witness\.example\/w1\+[0-9a-f]{8}\+B/);
  });
});

describe('C2SP tlog-tiles encoding', () => {
  test('paths', () => {
    assert.equal(encodeIndex(1234067), 'x001/x234/067');
    assert.equal(tilePath(0, 1234067), 'tile/0/x001/x234/067');
    assert.equal(tilePath('entries', 5, 17), 'tile/entries/005.p/17');
    assert.deepEqual(parseTilePath('tile/1/x001/x234/067.p/8'), { level: 1, n: 1234067, width: 8 });
    for (const bad of ['tile/0/1', 'tile/0/x000/001', 'tile/0/001.p/256', 'tile/0/001.p/0', 'tile/0/001.p/007', 'tile/64/000', 'tile/00/000', 'tile/0/../000', 'tile/entries/x1/000', 'tile/0/000/'])
      assert.equal(parseTilePath(bad), undefined, bad);
  });
  test('entry bundles: 2-byte big-endian length, then the bytes', () => {
    const b = encodeBundle([Buffer.from('ab'), Buffer.alloc(0), Buffer.from('c')]);
    assert.equal(b.toString('hex'), '0002616200000001' + '63');
    assert.deepEqual(decodeBundle(b).map(String), ['ab', '', 'c']);
    assert.throws(() => decodeBundle(Buffer.from([0, 5, 1])));
  });
  test('the hot-path request leaf encoder writes exactly the canonical JSON', () => {
    const leaf: any = { v: 1, kind: 'request', index: 7, ts: '2026-01-01T00:00:00.000Z', request_id: 'r', principal: 'p-1', endpoint: 'chat.completions', model: 'm"\u2028', level: 'L3', flags: ['personal', 'my_number'], findings: { Z: 1, A: 2, PERSON_NAME: 3 }, decision: 'allow', reason: 'allowed', status: 200, backend: null, country: null, jurisdictions: [], on_premises: false, policy: 'sha256:x', request_commit: null, answer_commit: 'hmac-sha256:y' };
    assert.equal(requestLeafJson(leaf), canonicalJson(leaf));
    assert.equal(encodeLeaf(leaf).toString(), canonicalJson(leaf));
  });
  test('commitments: the one-shot HMAC equals node:crypto HMAC-SHA-256 and the streamed form', () => {
    const key = crypto.randomBytes(32);
    const c = new Committer(key, crypto.randomBytes(32));
    const data = '議事録'.repeat(50);
    const want = 'hmac-sha256:' + crypto.createHmac('sha256', key).update('sekisho-audit-v1\0request\0rid\0').update(data).digest('base64');
    assert.equal(c.commit('rid', 'request', data), want);
    const s = c.begin('rid', 'request');
    s.update(data.slice(0, 7));
    s.update(Buffer.from(data.slice(7)));
    assert.equal(s.digest(), want);
    assert.notEqual(c.commit('rid2', 'request', data), want, 'bound to the request id');
    const longKey = crypto.randomBytes(100); // longer than SHA-256's block: hashed first (RFC 2104)
    assert.equal(new Committer(longKey, key).commit('rid', 'answer', data), 'hmac-sha256:' + crypto.createHmac('sha256', longKey).update('sekisho-audit-v1\0answer\0rid\0').update(data).digest('base64'));
  });
  test('canonical JSON (RFC 8785 ordering and escaping)', () => {
    assert.equal(canonicalJson({ b: 1, a: [true, null, 'é\n'], '\u20ac': 2, '\r': 3 }), '{"\\r":3,"a":[true,null,"é\\n"],"b":1,"€":2}');
  });
});

/** A log over a temp store (the engine under test). */
async function makeLog(_n: number, opts: { interval?: number } = {}) {
  const dir = tmpDir('sekisho-audit-');
  const file = path.join(dir, 'audit.db');
  const store = await openTestStore(dir, 'audit.db');
  // Where the store is, for raw statements that tamper with it (rawQuery).
  const target = store.pgSchema ? { store: { kind: 'postgres' as const, url: store.pgSchema.url, poolMax: 2 }, sqlitePath: '' } : { store: { kind: 'sqlite' as const, file }, sqlitePath: file };
  const keys = { signingSeed: crypto.randomBytes(32), commitKey: crypto.randomBytes(32), pseudonymKey: crypto.randomBytes(32) };
  const log = await AuditLog.open({ store, log: createLogger('silent'), origin: 'test.example/audit', keys, checkpointIntervalMs: opts.interval ?? 0 });
  return { dir, file, store, keys, log, target };
}

async function appendEvents(log: AuditLog, n: number): Promise<void> {
  const ps: Promise<number>[] = [];
  for (let i = 0; i < n; i++) ps.push(log.appendEvent('admin.test', { i, who: `op-${i % 7}` }));
  await Promise.all(ps);
}

describe('the log: sequencing, tiles, proofs, verification', () => {
  test('appends in group commits, publishes tiles and checkpoints, proves inclusion and consistency', async () => {
    const { store, log, dir, keys } = await makeLog(0);
    try {
      await appendEvents(log, 300);
      assert.equal((await log.integrate()), 300);
      const cp300 = (await log.checkpointNote())!;
      await appendEvents(log, 70_000 - 300);
      assert.equal((await log.integrate()), 70_000);
      const vkey = log.vkey;
      const root = parseCheckpointBody(openNote((await log.checkpointNote())!, [parseVerifierKey(vkey)]).text).root;
      // Tiles: level 0 full tiles, level 1 tile, level 2 partial.
      assert.equal((await store.audit.tile(0, 0))!.length, 256 * 32);
      assert.equal((await store.audit.tile(1, 0))!.length, 256 * 32);
      assert.equal((await store.audit.tile(2, 0))!.length, 1 * 32);
      for (const i of [0, 1, 255, 256, 65535, 65536, 69_999]) {
        const p = await log.inclusion(i);
        assert.ok(verifyInclusion(leafHash((await store.audit.entry(i))!), i, 70_000, p, root), `index ${i}`);
      }
      const old = parseCheckpointBody(openNote(cp300, [parseVerifierKey(vkey)]).text);
      assert.ok(verifyConsistency(300, 70_000, (await log.consistency(300)), old.root, root));
      let progress = 0;
      const r = await verifyLog(storeSource(store), { vkey, since: cp300, onProgress: (d) => (progress = d) });
      assert.equal(r.checkpoint.size, 70_000);
      assert.equal(progress, 70_000);
      // Reopen: the tree state is rebuilt from the tiles.
      await log.close();
      const again = await AuditLog.open({ store, log: createLogger('silent'), origin: 'test.example/audit', keys: keys, checkpointIntervalMs: 0 });
      assert.equal(again.size, 70_000);
      assert.equal(await again.reserve(), 70_000);
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('tampering: a flipped byte in an entry or in a tile, a rewritten checkpoint, a rewritten history — verify fails and names the index', async () => {
    const { store, log, dir, keys, target } = await makeLog(0);
    try {
      await appendEvents(log, 1000);
      await log.integrate();
      const vkey = log.vkey;
      const older = (await log.checkpointNote())!;
      await appendEvents(log, 200);
      await log.integrate();
      await verifyLog(storeSource(store), { vkey, since: older });
      const db = { run: (text: string, ...params: unknown[]) => rawQuery(target, text, params) };
      const expectFail = async (index: number | undefined, code?: string, since?: string) => {
        await assert.rejects(verifyLog(storeSource(store), { vkey, ...(since ? { since } : {}) }), (e: AuditError) => {
          assert.ok(e instanceof AuditError, String(e));
          if (index !== undefined) assert.equal(e.index, index, `${e.code}: ${e.en}`);
          if (code) assert.equal(e.code, code);
          return true;
        });
      };
      // 1. One flipped byte in entry 777.
      const orig = (await store.audit.entry(777))!;
      const flipped = Buffer.from(orig);
      flipped[flipped.indexOf('admin') + 1]! ^= 0x01;
      await db.run('UPDATE audit_entries SET data = ? WHERE idx = ?', flipped, 777);
      await expectFail(777, 'leaf_mismatch');
      await db.run('UPDATE audit_entries SET data = ? WHERE idx = ?', orig, 777);
      // 2. One flipped byte in the level-0 tile holding index 300 (tile 1, position 44).
      const t = (await store.audit.tile(0, 1))!;
      const bad = Buffer.from(t);
      bad[44 * 32 + 5]! ^= 0x80;
      await db.run('UPDATE audit_tiles SET data = ? WHERE level = 0 AND n = 1', bad);
      await expectFail(300, 'leaf_mismatch');
      await db.run('UPDATE audit_tiles SET data = ? WHERE level = 0 AND n = 1', t);
      // ... and in the level-1 tile (names the first index of the subtree).
      const t1 = (await store.audit.tile(1, 0))!;
      const bad1 = Buffer.from(t1);
      bad1[2 * 32]! ^= 1;
      await db.run('UPDATE audit_tiles SET data = ? WHERE level = 1 AND n = 0', bad1);
      await expectFail(512, 'tile_mismatch');
      await db.run('UPDATE audit_tiles SET data = ? WHERE level = 1 AND n = 0', t1);
      await verifyLog(storeSource(store), { vkey });
      // 3. A rewritten checkpoint (size changed, old signature kept) fails the signature.
      const cpRow = (await store.audit.latestCheckpoint())!;
      await db.run('UPDATE audit_checkpoints SET note = ? WHERE size = ?', cpRow.note.replace('\n1200\n', '\n1199\n'), cpRow.size);
      await expectFail(undefined, 'bad_signature');
      // ... re-signed by someone else's key: not trusted.
      const other = ed25519Signer('test.example/audit', crypto.randomBytes(32));
      await db.run('UPDATE audit_checkpoints SET note = ? WHERE size = ?', signCheckpoint(parseCheckpointBody(cpRow.note.slice(0, cpRow.note.indexOf('\n\n') + 1)), other), cpRow.size);
      await expectFail(undefined, 'unverified_note');
      await db.run('UPDATE audit_checkpoints SET note = ? WHERE size = ?', cpRow.note, cpRow.size);
      // 4. History rewritten by the operator (entry 5 changed, tiles and checkpoint rebuilt and
      //    re-signed with the real key): only an auditor's older checkpoint catches it.
      const e5 = JSON.parse((await store.audit.entry(5))!.toString());
      e5.fields.who = 'someone-else';
      await db.run('UPDATE audit_entries SET data = ? WHERE idx = 5', Buffer.from(canonicalJson(e5)));
      await db.run('DELETE FROM audit_tiles');
      await db.run('DELETE FROM audit_checkpoints');
      // (the operator also resets the published size the integrator compares against)
      await db.run("UPDATE audit_counters SET value = 0 WHERE name = 'audit_size'");
      const rewritten = await AuditLog.open({ store, log: createLogger('silent'), origin: 'test.example/audit', keys: keys, checkpointIntervalMs: 0 });
      await rewritten.integrate();
      await verifyLog(storeSource(store), { vkey }); // self-consistent
      await expectFail(999, 'inconsistent', older);
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('gaps left by a dead process are filled with "lost" leaves on recovery', async () => {
    const { store, log, dir, keys, target } = await makeLog(0);
    try {
      await appendEvents(log, 10);
      if (!store.cluster) {
        log.reserve(); // index 10: reserved, never committed (the process "dies")
        await log.appendEvent('admin.test', { i: 11 });
        assert.equal(await log.integrate(), 10, 'integration stops at the gap');
        const next = await AuditLog.open({ store, log: createLogger('silent'), origin: 'test.example/audit', keys, checkpointIntervalMs: 0, recover: true });
        assert.equal(await next.integrate(), 12);
        assert.equal(decodeLeaf((await store.audit.entry(10))!, 10).kind, 'lost');
        await verifyLog(storeSource(store), { vkey: next.vkey });
      } else {
        // PostgreSQL: another node reserves index 10 and dies (its session ends, its lock is freed).
        const store2 = await openStore(target.store);
        const other = await AuditLog.open({ store: store2, log: createLogger('silent'), origin: 'test.example/audit', keys, checkpointIntervalMs: 0, publish: false });
        assert.equal(await other.reserve(), 10);
        await log.appendEvent('admin.test', { i: 11 });
        // While it lives, integration waits at its index.
        assert.equal(await log.integrate(), 10, 'integration stops at the gap while the node lives');
        await store2.close();
        assert.equal(await log.integrate(), 12, 'the integrator fills the dead node\'s index');
        assert.equal(decodeLeaf((await store.audit.entry(10))!, 10).kind, 'lost');
        await verifyLog(storeSource(store), { vkey: log.vkey });
      }
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

