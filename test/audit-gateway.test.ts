/**
 * The audit log through the gateway: every answer's x-sekisho-audit-index names a leaf that
 * holds its request id; the log is served per C2SP tlog-tiles and read here by a small client
 * written from the specs alone (node:crypto only, no Sekisho code); witnesses cosign; the
 * CLI verifies, proves and shows.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import crypto from 'node:crypto';
import path from 'node:path';
import fs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { startHarness, mocks, tokyoBackend, usBackend, runCli, type Harness, TEST_PASSPHRASE } from './support/harness.ts';

// the CLI processes these tests start open the tenant's vault (file keystore) too
process.env.SEKISHO_VAULT_PASSPHRASE ??= TEST_PASSPHRASE;
import type { MockUpstream } from '../src/dev/mock-upstream.ts';
import { rawQuery } from './support/store.ts';
import { parseConfig } from '../src/config/index.ts';
import { cosigner } from '../src/audit/witness.ts';

const BIN = path.resolve('bin/sekisho.js');
const cli = (args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, SEKISHO_LANG: 'en' }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/** Async: for commands that talk to the gateway living in this process. */
function cliAsync(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return runCli(args, { SEKISHO_LANG: 'en' });
}

// ---------------------------------------------------------------------------------------
// An independent C2SP tlog client, from the specs (signed-note, tlog-checkpoint, tlog-tiles,
// RFC 6962). Deliberately shares no code with src/audit.
const sha = (...b: Buffer[]) => crypto.createHash('sha256').update(Buffer.concat(b)).digest();
const specLeaf = (e: Buffer) => sha(Buffer.from([0]), e);
const specNode = (l: Buffer, r: Buffer) => sha(Buffer.from([1]), l, r);
function specMth(h: Buffer[]): Buffer {
  if (h.length === 0) return sha();
  if (h.length === 1) return h[0]!;
  let k = 1;
  while (k * 2 < h.length) k *= 2;
  return specNode(specMth(h.slice(0, k)), specMth(h.slice(k)));
}
function specPath(n: number): string {
  const g: string[] = [];
  do {
    g.unshift(String(n % 1000).padStart(3, '0'));
    n = Math.floor(n / 1000);
  } while (n > 0);
  return g.map((x, i) => (i < g.length - 1 ? 'x' + x : x)).join('/');
}
function specOpen(note: string, vkey: string): { origin: string; size: number; root: Buffer } {
  const [name, hash, b64] = [vkey.slice(0, vkey.indexOf('+')), vkey.split('+')[1]!, vkey.slice(vkey.indexOf('+', vkey.indexOf('+') + 1) + 1)];
  const key = Buffer.from(b64, 'base64');
  assert.equal(key[0], 1, 'Ed25519 key type');
  assert.equal(sha(Buffer.from(name + '\n'), key).subarray(0, 4).toString('hex'), hash);
  const cut = note.lastIndexOf('\n\n');
  const text = note.slice(0, cut + 1);
  const pub = crypto.createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), key.subarray(1)]), format: 'der', type: 'spki' });
  let ok = false;
  for (const line of note.slice(cut + 2).trim().split('\n')) {
    const [dash, n, sig] = line.split(' ');
    assert.equal(dash, '\u2014');
    const raw = Buffer.from(sig!, 'base64');
    if (n === name && raw.subarray(0, 4).toString('hex') === hash) ok = crypto.verify(null, Buffer.from(text), pub, raw.subarray(4));
  }
  assert.ok(ok, 'the checkpoint signature verifies');
  const [origin, size, root] = text.split('\n');
  return { origin: origin!, size: Number(size), root: Buffer.from(root!, 'base64') };
}
async function specFetchLog(base: string, vkey: string) {
  const note = await (await fetch(`${base}/checkpoint`)).text();
  const cp = specOpen(note, vkey);
  const entries: Buffer[] = [];
  const leafHashes: Buffer[] = [];
  for (let n = 0; n * 256 < cp.size; n++) {
    const w = Math.min(256, cp.size - n * 256);
    const suffix = w < 256 ? `.p/${w}` : '';
    const bundle = Buffer.from(await (await fetch(`${base}/tile/entries/${specPath(n)}${suffix}`)).arrayBuffer());
    const tile = Buffer.from(await (await fetch(`${base}/tile/0/${specPath(n)}${suffix}`)).arrayBuffer());
    assert.equal(tile.length, w * 32);
    for (let at = 0, i = 0; at < bundle.length; i++) {
      const len = bundle.readUInt16BE(at);
      const e = bundle.subarray(at + 2, at + 2 + len);
      at += 2 + len;
      entries.push(e);
      leafHashes.push(specLeaf(e));
      assert.ok(tile.subarray(i * 32, i * 32 + 32).equals(specLeaf(e)), 'level-0 tile hash = leaf hash');
    }
  }
  assert.equal(entries.length, cp.size);
  assert.ok(specMth(leafHashes).equals(cp.root), 'the root rebuilt from the entries is the checkpoint root');
  return { cp, entries, note };
}

// ---------------------------------------------------------------------------------------
// A witness per C2SP tlog-witness, from the spec (the cosignature from src/audit/witness.ts).
function startWitness(logVkey: () => string) {
  const w = cosigner('witness.test/w1', crypto.randomBytes(32));
  let latest = 0;
  let requests = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests++;
      const [head, ...rest] = body.split('\n\n');
      const note = rest.join('\n\n');
      const lines = head!.split('\n');
      const old = Number(lines[0]!.replace(/^old /, ''));
      const cp = specOpen(note, logVkey());
      if (old !== latest) {
        res.writeHead(409, { 'content-type': 'text/x.tlog.size' });
        return res.end(`${latest}\n`);
      }
      latest = cp.size;
      res.writeHead(200);
      res.end(w.cosign(note.slice(0, note.lastIndexOf('\n\n') + 1)));
    });
  });
  return new Promise<{ url: string; vkey: string; close(): void; requests(): number }>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as any).port}`, vkey: w.vkey, close: () => server.close(), requests: () => requests })),
  );
}

describe('the audit log through the gateway', () => {
  let h: Harness;
  let tokyo: MockUpstream;
  let us: MockUpstream;
  let witness: Awaited<ReturnType<typeof startWitness>>;
  let vkey = '';
  before(async () => {
    [tokyo, us] = await mocks({ name: 'tokyo', reply: '東京で処理しました' }, { name: 'us', reply: 'from the US' });
    witness = await startWitness(() => vkey);
    h = await startHarness({
      backends: [tokyoBackend(tokyo.url), usBackend(us.url)],
      models: [{ name: 'default', backends: ['us-frontier', 'tokyo-llm'] }],
      audit: { checkpoint_interval_ms: 60_000, witnesses: [{ name: 'witness.test/w1', url: witness.url, vkey: witness.vkey }] },
    });
    vkey = h.gw.core.audit.vkey;
  });
  after(async () => {
    await h.close();
    witness.close();
    await Promise.all([tokyo.close(), us.close()]);
  });

  test('each answer names its leaf; the leaf holds the request id and the facts, never the text; the log reads with a spec-only client', async () => {
    const ai = h.client(await h.key({ level: 'L0' }));
    const answered: { index: number; id: string; level: string }[] = [];
    for (const level of ['L0', 'L3']) {
      const { response } = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'カナリア 議事録を要約して' }] }, { headers: { 'x-sekisho-level': level } }).withResponse();
      answered.push({ index: Number(response.headers.get('x-sekisho-audit-index')), id: response.headers.get('x-sekisho-request-id')!, level });
    }
    const { data: stream, response } = await ai.chat.completions.create({ model: 'default', stream: true, messages: [{ role: 'user', content: 'x' }] }).withResponse();
    for await (const _ of stream) void _;
    answered.push({ index: Number(response.headers.get('x-sekisho-audit-index')), id: response.headers.get('x-sekisho-request-id')!, level: 'L0' });
    // A made-up model name may carry anything: it stays out of the public log.
    await assert.rejects(ai.chat.completions.create({ model: '山田太郎 090-1234-5678', messages: [{ role: 'user', content: 'x' }] }), (e: any) => e.status === 404);
    const bad = await fetch(`${h.gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(bad.status, 401);
    answered.push({ index: Number(bad.headers.get('x-sekisho-audit-index')), id: bad.headers.get('x-sekisho-request-id')!, level: '' });

    await h.gw.core.audit.integrate();
    const base = `${h.gw.url}/audit/v1`;
    assert.equal((await (await fetch(`${base}/vkey`)).text()).trim(), vkey);
    const { entries, cp } = await specFetchLog(base, vkey);
    assert.equal(cp.origin, 'sekisho.local/acme/audit');
    for (const a of answered) {
      const leaf = JSON.parse(entries[a.index]!.toString());
      assert.equal(leaf.request_id, a.id);
      assert.equal(leaf.index, a.index);
      if (a.level === 'L3') assert.equal(leaf.level, a.level);
    }
    const l3 = JSON.parse(entries[answered[1]!.index]!.toString());
    assert.deepEqual([l3.backend, l3.country, l3.jurisdictions, l3.decision], ['tokyo-llm', 'JP', ['JP'], 'allow']);
    assert.match(l3.request_commit, /^hmac-sha256:/);
    assert.match(l3.answer_commit, /^hmac-sha256:/);
    assert.match(l3.principal, /^p-[0-9a-f]{32}$/);
    assert.match(l3.policy, /^sha256:[0-9a-f]{32}$/);
    const l0 = JSON.parse(entries[answered[2]!.index]!.toString());
    assert.deepEqual([l0.backend, l0.country, l0.jurisdictions], ['us-frontier', 'US', ['US']]);
    assert.equal(JSON.parse(entries[answered[3]!.index]!.toString()).decision, 'unauthenticated');
    const all = Buffer.concat(entries).toString();
    assert.ok(!all.includes('カナリア') && !all.includes('議事録'), 'no prompt text in the log');
    assert.ok(!all.includes('山田太郎') && !all.includes('090-1234-5678'), 'no made-up model name in the log');
    assert.ok(!all.includes('東京で処理しました'), 'no answer text in the log');
  });

  test('tiles: immutable caching for full tiles, no-cache for partial ones and the checkpoint; strict paths', async () => {
    const ps: Promise<number>[] = [];
    for (let i = 0; i < 300; i++) ps.push(h.gw.core.audit.appendEvent('admin.test', { i }));
    await Promise.all(ps);
    await h.gw.core.audit.integrate();
    const base = `${h.gw.url}/audit/v1`;
    const full = await fetch(`${base}/tile/0/000`);
    assert.equal(full.status, 200);
    assert.equal(full.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal((await full.arrayBuffer()).byteLength, 8192);
    const fullEntries = await fetch(`${base}/tile/entries/000`);
    assert.equal(fullEntries.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const size = h.gw.core.audit.size;
    const partial = await fetch(`${base}/tile/0/001.p/${size - 256}`);
    assert.equal(partial.status, 200);
    assert.equal(partial.headers.get('cache-control'), 'no-cache');
    assert.equal((await fetch(`${base}/checkpoint`)).headers.get('cache-control'), 'no-cache');
    for (const p of ['tile/0/001', 'tile/0/002.p/1', 'tile/0/x000/001', 'tile/0/001.p/256', 'tile/entries/001.p/999', 'tile/../../etc/passwd', 'tile/0/' + 'x001/'.repeat(40) + '001'])
      assert.equal((await fetch(`${base}/${p}`)).status, 404, p);
    assert.equal((await fetch(`${base}/checkpoint`, { method: 'POST', body: 'x' })).status, 405);
    await specFetchLog(base, vkey);
  });

  test('the configured witness cosigns checkpoints (tlog-witness), served with the checkpoint', async () => {
    await h.gw.core.audit.settle();
    await h.gw.core.audit.appendEvent('admin.test', { i: -1 });
    await h.gw.core.audit.integrate();
    await h.gw.core.audit.settle();
    const note = await (await fetch(`${h.gw.url}/audit/v1/checkpoint`)).text();
    assert.match(note, /\n\u2014 witness\.test\/w1 /);
    assert.ok(witness.requests() >= 2);
    const r = cli(['audit', 'verify', '--config', h.configFile, '--witness', witness.vkey, '--witness-quorum', '1', '--no-progress']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /cosigned by witness\.test\/w1/);
  });

  test('CLI: vkey, verify (local and --url, --since), prove, show', async () => {
    const v = cli(['audit', 'vkey', '--config', h.configFile]);
    assert.equal(v.out.trim(), vkey);
    const saved = path.join(h.dir, 'old.checkpoint');
    const first = cli(['audit', 'verify', '--config', h.configFile, '--save-checkpoint', saved]);
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, /^OK: /);
    await h.client(await h.key()).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] });
    await h.gw.core.audit.integrate();
    const url = await cliAsync(['audit', 'verify', '--url', h.gw.url, '--vkey', vkey, '--since', saved, '--counts']);
    assert.equal(url.code, 0, url.err);
    assert.match(url.out, /consistent with the checkpoint of size \d+/);
    assert.match(url.err, /verify \[/, 'a progress bar');
    const counts = JSON.parse(url.out.slice(url.out.indexOf('{')));
    assert.ok(counts.requests >= 4);
    const p = cli(['audit', 'prove', '--config', h.configFile, '--index', '3']);
    assert.equal(p.code, 0, p.err);
    const proof = JSON.parse(p.out);
    assert.equal(proof.index, 3);
    assert.ok(proof.proof.length > 0);
    let i = 0;
    while (JSON.parse((await h.gw.core.store.audit.entry(i))!.toString()).kind !== 'request') i++;
    const leaf = JSON.parse((await h.gw.core.store.audit.entry(i))!.toString());
    assert.equal(JSON.parse((await h.gw.core.store.audit.entry(0))!.toString()).event, 'policy.active', 'the serving process records its policy as an event');
    const s = cli(['audit', 'show', '--config', h.configFile, '--request-id', leaf.request_id]);
    assert.equal(s.code, 0, s.err);
    assert.equal(JSON.parse(s.out).leaf.request_id, leaf.request_id);
    assert.equal(cli(['audit', 'show', '--config', h.configFile, '--request-id', 'nope']).code, 1);
  });

  test('CLI: one flipped byte in an entry, in a tile, or a rewritten checkpoint makes `audit verify` fail, naming the index', async () => {
    const loaded = parseConfig(fs.readFileSync(h.configFile, 'utf8'), h.configFile);
    const db = (text: string, ...params: unknown[]) => rawQuery(loaded, text, params);
    {
      const orig = ((await db('SELECT data FROM audit_entries WHERE idx = 2'))[0] as { data: Buffer }).data;
      const bad = Buffer.from(orig);
      bad[bad.length - 5]! ^= 0x01;
      await db('UPDATE audit_entries SET data = ? WHERE idx = 2', bad);
      let r = cli(['audit', 'verify', '--config', h.configFile, '--no-progress']);
      assert.equal(r.code, 1);
      assert.match(r.err, /first bad index: 2\b/);
      await db('UPDATE audit_entries SET data = ? WHERE idx = 2', orig);
      const tile = ((await db('SELECT data FROM audit_tiles WHERE level = 0 AND n = 1'))[0] as { data: Buffer }).data;
      const badTile = Buffer.from(tile);
      badTile[3 * 32 + 9]! ^= 0x40;
      await db('UPDATE audit_tiles SET data = ? WHERE level = 0 AND n = 1', badTile);
      r = cli(['audit', 'verify', '--config', h.configFile, '--no-progress']);
      assert.equal(r.code, 1);
      assert.match(r.err, /first bad index: 259\b/);
      await db('UPDATE audit_tiles SET data = ? WHERE level = 0 AND n = 1', tile);
      const cp = (await db('SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1'))[0] as { size: number; note: string };
      const lines = cp.note.split('\n');
      lines[2] = Buffer.alloc(32, 7).toString('base64');
      await db('UPDATE audit_checkpoints SET note = ? WHERE size = ?', lines.join('\n'), cp.size);
      r = cli(['audit', 'verify', '--config', h.configFile, '--no-progress']);
      assert.equal(r.code, 1);
      assert.match(r.err, /signature of sekisho\.local\/acme\/audit does not verify/);
      await db('UPDATE audit_checkpoints SET note = ? WHERE size = ?', cp.note, cp.size);
      assert.equal(cli(['audit', 'verify', '--config', h.configFile, '--no-progress']).code, 0);
    }
  });
});

describe('auditor-only read access', () => {
  let h: Harness;
  let tokyo: MockUpstream;
  const token = 'auditor-token-' + crypto.randomBytes(8).toString('hex');
  before(async () => {
    [tokyo] = await mocks({ name: 'tokyo' });
    h = await startHarness({
      backends: [tokyoBackend(tokyo.url)],
      models: [{ name: 'default', backends: ['tokyo-llm'] }],
      audit: { read: { access: 'auditor', auditors: [{ name: 'fsa', token_sha256: crypto.createHash('sha256').update(token).digest('hex') }] } },
    });
  });
  after(async () => {
    await h.close();
    await tokyo.close();
  });
  test('without the token 401, with it 200', async () => {
    await h.gw.core.audit.appendEvent('admin.test', {});
    await h.gw.core.audit.integrate();
    const url = `${h.gw.url}/audit/v1/checkpoint`;
    assert.equal((await fetch(url)).status, 401);
    assert.equal((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    assert.equal((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    const r = await cliAsync(['audit', 'verify', '--url', h.gw.url, '--vkey', h.gw.core.audit.vkey, '--token', token, '--no-progress']);
    assert.equal(r.code, 0, r.err);
  });
});
void fs;
void usBackend;
