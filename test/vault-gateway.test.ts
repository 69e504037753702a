/**
 * The vault through the gateway, with the official `openai` client: the canary test (nothing
 * written in plaintext, anywhere), pseudonym maps per conversation, fail-closed on a
 * tampered map, and erasure and rotation end to end through the `sekisho` CLI while the
 * gateway serves.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { startHarness, mocks, usBackend, runCli, TEST_PASSPHRASE, type Harness } from './support/harness.ts';
import { pgSchemaBytes, rawQuery } from './support/store.ts';
import type { MockUpstream } from '../src/dev/mock-upstream.ts';
import { readRetained } from '../src/checkpoint/retain.ts';
import { parseConfig } from '../src/config/index.ts';
import { startGateway } from '../src/server/gateway.ts';
import { createLogger } from '../src/ops/log.ts';

// Asynchronous: the gateway lives in this process and must keep serving (and release its database
// locks) while the command runs; a synchronous spawn would stall it and can deadlock on PostgreSQL.
const sekisho = (args: string[]) => runCli(args, { SEKISHO_LANG: 'both' });

const ALL_BODIES = { L0: 'bodies', L1: 'bodies', L2: 'bodies', L3: 'bodies' };

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** The canary as it could appear: UTF-8, UTF-16LE, and base64 of either at every alignment. */
function forms(canary: string): Buffer[] {
  const out: Buffer[] = [];
  for (const raw of [Buffer.from(canary, 'utf8'), Buffer.from(canary, 'utf16le')]) {
    out.push(raw);
    for (let k = 0; k < 3; k++) {
      const b64 = Buffer.concat([Buffer.alloc(k), raw]).toString('base64');
      out.push(Buffer.from(b64.slice(4, -4)));
    }
    out.push(Buffer.from(raw.toString('hex')));
  }
  return out;
}

describe('canary: nothing about a request is written in plaintext', () => {
  let h: Harness;
  let echo: MockUpstream;
  let closed = false;
  before(async () => {
    [echo] = await mocks({ name: 'echo', echo: true, chunkChars: 5 });
    h = await startHarness({
      backends: [usBackend(echo.url)],
      models: [{ name: 'default', backends: ['us-frontier'] }],
      inspect: { actions: { PERSON_NAME: 'pseudonymize' } },
      vault: { keystore: { kind: 'file', scrypt_log_n: 14 }, retention: ALL_BODIES, poll_ms: 0 },
    });
  });
  after(async () => {
    if (!closed) await h.close();
    await echo.close();
  });

  test('a canary sent through the gateway (bodies retained) appears in no file under the data dir, the WAL, or the logs', async () => {
    const canary = `KANARIA-${crypto.randomBytes(8).toString('hex')}-カナリア検知用`;
    const name = '山田太郎';
    const ai = h.client(await h.key({ level: 'L0' }), { defaultHeaders: { 'x-sekisho-conversation': 'conv-canary' } });
    const ids: string[] = [];
    const { response } = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: `${name}さんの件: ${canary}` }] }).withResponse();
    ids.push(response.headers.get('x-sekisho-request-id')!);
    const stream = await ai.chat.completions.create({ model: 'default', stream: true, messages: [{ role: 'user', content: `${canary} と ${name}さん` }] });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    assert.match(text, new RegExp(canary));
    assert.match(text, /山田太郎/, 'the pseudonym was restored');
    // The bodies were retained (encrypted): the vault opens them.
    await h.gw.core.retainer!.drain();
    const kept = (await readRetained(h.gw.core.vault, ids[0]!, 'admin_read'))!;
    const req = kept.request;
    assert.ok(req.toString('utf8').includes(canary));
    assert.ok(kept.answer.toString('utf8').includes(canary));
    assert.equal(JSON.parse(req.toString('utf8')).model, 'default');
    // The scanner finds the canary where it is in plaintext (the opened record).
    assert.ok(req!.indexOf(forms(canary)[0]!) >= 0);
    // SQLite: every file under the data dir (the database and its WAL among them). PostgreSQL:
    // those files, and every value of every table of the gateway's schema.
    const scan = async (when: string) => {
      const all = files(h.dir);
      if (!h.pg) assert.ok(all.some((f) => f.endsWith('sekisho.db')));
      const haystacks = all.map((f) => ({ f, data: fs.readFileSync(f) }));
      haystacks.push({ f: '(logs)', data: Buffer.from(h.logs.join('\n')) });
      if (h.pg) haystacks.push({ f: `(PostgreSQL schema ${h.pg.schema}: every table)`, data: await pgSchemaBytes(h.pg) });
      for (const needle of [...forms(canary), ...forms(name)]) {
        for (const { f, data } of haystacks) assert.equal(data.indexOf(needle), -1, `${when}: found ${needle.toString('utf8').slice(0, 20)}… in ${f}`);
      }
      return all;
    };
    // While serving (the WAL holds the latest pages) and after shutdown (checkpointed).
    await h.gw.core.recorder.flush();
    const open = await scan('while serving');
    if (!h.pg) assert.ok(open.some((f) => f.endsWith('sekisho.db-wal')), 'the WAL was scanned');
    closed = true;
    await h.gw.close(2000);
    await scan('after shutdown');
    await h.pg?.drop();
    assert.ok(h.logs.length > 0);
    fs.rmSync(h.dir, { recursive: true, force: true });
  });
});

describe('pseudonym maps per conversation, erasure and rotation end to end', () => {
  let h: Harness;
  let echo: MockUpstream;
  before(async () => {
    [echo] = await mocks({ name: 'echo', echo: true });
    h = await startHarness({
      backends: [usBackend(echo.url)],
      models: [{ name: 'default', backends: ['us-frontier'] }],
      inspect: { actions: { PERSON_NAME: 'pseudonymize' } },
      vault: { keystore: { kind: 'file', scrypt_log_n: 14 }, retention: { L0: 'bodies' }, poll_ms: 100 },
    });
  });
  after(async () => {
    await h.close();
    await echo.close();
  });
  const sent = () => echo.seen.at(-1)!.body.messages.at(-1).content as string;

  test('the same name keeps its placeholder across the requests of a conversation, not across conversations', async () => {
    const key = await h.key({ level: 'L0' });
    const conv = h.client(key, { defaultHeaders: { 'x-sekisho-conversation': 'c-1' } });
    await conv.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: '鈴木一郎さんについて' }] });
    assert.equal(sent(), '〔氏名1〕さんについて');
    const r = await conv.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: '田中次郎さんと鈴木一郎さんの予定' }] });
    assert.equal(sent(), '〔氏名2〕さんと〔氏名1〕さんの予定');
    assert.equal(r.choices[0]!.message.content, '田中次郎さんと鈴木一郎さんの予定');
    // Another conversation starts afresh.
    await h.client(key, { defaultHeaders: { 'x-sekisho-conversation': 'c-2' } }).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: '田中次郎さん' }] });
    assert.equal(sent(), '〔氏名1〕さん');
    // A bad header is refused before anything is sent.
    const before = echo.seen.length;
    await assert.rejects(
      h.client(key, { defaultHeaders: { 'x-sekisho-conversation': 'a b' } }).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }),
      (e: any) => e.status === 400 && e.error.sekisho.code === 'invalid_conversation_header',
    );
    assert.equal(echo.seen.length, before);
  });

  test('a tampered pseudonym map fails closed: nothing is forwarded, the error is clear', async () => {
    const key = await h.key({ level: 'L0' });
    const conv = h.client(key, { defaultHeaders: { 'x-sekisho-conversation': 'c-tamper' } });
    await conv.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: '佐藤花子さん' }] });
    const loaded = parseConfig(fs.readFileSync(h.configFile, 'utf8'), h.configFile);
    const rows = (await rawQuery(loaded, "SELECT id, blob FROM vault_records WHERE purpose = 'pseudonyms'")) as { id: string; blob: Buffer }[];
    for (const r of rows) {
      const bad = Buffer.from(r.blob);
      bad[bad.length - 3]! ^= 0x40;
      await rawQuery(loaded, 'UPDATE vault_records SET blob = ? WHERE id = ?', [bad, r.id]);
    }
    const before = echo.seen.length;
    await assert.rejects(conv.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: '佐藤花子さんに連絡' }] }), (e: any) => {
      assert.equal(e.status, 503);
      assert.equal(e.error.sekisho.code, 'vault_tampered');
      assert.match(e.error.sekisho.message.ja, /改ざん/);
      assert.match(e.error.sekisho.message.en, /not sent to a backend/);
      return true;
    });
    assert.equal(echo.seen.length, before, 'nothing was forwarded');
  });

  test('sekisho erase --subject: the subject key is destroyed, its records and maps no longer open, the erasure is recorded', async () => {
    const key = await h.key({ level: 'L0' });
    const ai = h.client(key, { defaultHeaders: { 'x-sekisho-conversation': 'c-erase', 'x-sekisho-subject': 'customer-0042' } });
    const { response } = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: '高橋美咲さんの住所変更' }] }).withResponse();
    const id = response.headers.get('x-sekisho-request-id')!;
    await h.gw.core.retainer!.drain();
    assert.ok(await readRetained(h.gw.core.vault, id, 'admin_read'));
    const r = await sekisho(['erase', '--subject', 'customer-0042', '--config', h.configFile]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Destroyed 1 subject key\(s\); 2 record\(s\) can no longer be decrypted/);
    assert.match(r.out, /対象者の鍵/);
    // The serving gateway notices within its poll interval.
    await new Promise((res) => setTimeout(res, 300));
    await assert.rejects(async () => readRetained(h.gw.core.vault, id, 'admin_read'), (e: any) => e.code === 'vault_key_erased');
    // The conversation goes on with a fresh map (the old one is shredded).
    await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: '伊藤健太さん' }] });
    assert.equal(sent(), '〔氏名1〕さん');
    const events = await h.gw.core.store.vault.events(1000);
    assert.ok(events.some((e) => e.kind === 'erasure' && JSON.parse(e.detail).keys === 1));
    assert.ok(events.some((e) => e.kind === 'key_access' && e.reason === 'erasure'));
  });

  test('sekisho keys rotate while the gateway serves; status; retire; everything still opens', async () => {
    const key = await h.key({ level: 'L0' });
    const ai = h.client(key);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { response } = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: `記録 ${i}` }] }).withResponse();
      ids.push(response.headers.get('x-sekisho-request-id')!);
    }
    await h.gw.core.retainer!.drain();
    let s = JSON.parse((await sekisho(['keys', 'status', '--json', '--config', h.configFile])).out);
    assert.equal(s.current, 1);
    assert.equal(s.keystore.kind, 'file');
    const r = await sekisho(['keys', 'rotate', '--config', h.configFile]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Rotation complete: current v2/);
    assert.match(r.err, /Created key version v2/);
    // The gateway keeps serving and picks up v2.
    await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'during rotation' }] });
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(h.gw.core.vault.currentVersion, 2);
    for (const id of ids) assert.ok((await readRetained(h.gw.core.vault, id, 'admin_read'))?.request.length);
    // Whatever the gateway wrote under v1 meanwhile is rewrapped by a second run; then v1 retires.
    assert.equal((await sekisho(['keys', 'rotate', '--config', h.configFile])).code, 0);
    s = JSON.parse((await sekisho(['keys', 'status', '--json', '--config', h.configFile])).out);
    const ret = await sekisho(['keys', 'retire', '--version', '1', '--config', h.configFile]);
    if (s.pending === 0 && s.versions.find((v: any) => v.version === 1)?.items === 0) assert.equal(ret.code, 0, ret.err);
    await new Promise((res) => setTimeout(res, 300));
    for (const id of ids) assert.ok((await readRetained(h.gw.core.vault, id, 'admin_read'))?.request.length);
    const human = await sekisho(['keys', 'status', '--config', h.configFile]);
    assert.equal(human.code, 0);
    assert.match(human.out, /current key version: v3|current key version: v2/);
    assert.match(human.out, /現在の鍵バージョン/);
    await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'after rotation' }] });
  });
});

describe('retention per level', () => {
  let h: Harness;
  let echo: MockUpstream;
  before(async () => {
    [echo] = await mocks({ name: 'echo', echo: true });
    h = await startHarness({
      backends: [{ ...usBackend(echo.url), id: 'jp', location: { country: 'JP' }, operator: { name: '自社', jurisdictions: ['JP'] }, contract: { no_training: true, retention_days: 0 } }],
      models: [{ name: 'default', backends: ['jp'] }],
      vault: { keystore: { kind: 'file', scrypt_log_n: 14 }, retention: { L3: 'bodies' }, poll_ms: 0 },
    });
  });
  after(async () => {
    await h.close();
    await echo.close();
  });

  test('bodies are kept (encrypted) only at the levels configured; elsewhere metadata only', async () => {
    const key = await h.key({ level: 'L0', maxLevel: 'L3' });
    const { response: low } = await h.client(key).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'public text' }] }).withResponse();
    const { response: high } = await h
      .client(key, { defaultHeaders: { 'x-sekisho-level': 'L3' } })
      .chat.completions.create({ model: 'default', messages: [{ role: 'user', content: '極秘の内容' }] })
      .withResponse();
    assert.equal(high.headers.get('x-sekisho-level'), 'L3');
    await h.gw.core.retainer!.drain();
    await h.gw.core.recorder.flush();
    assert.equal((await readRetained(h.gw.core.vault, low.headers.get('x-sekisho-request-id')!, 'admin_read')), undefined, 'L0: metadata only');
    const kept = await readRetained(h.gw.core.vault, high.headers.get('x-sekisho-request-id')!, 'admin_read');
    assert.match(kept!.request.toString('utf8'), /極秘の内容/);
    assert.match(kept!.answer.toString('utf8'), /極秘の内容/);
    // Both requests have their metadata record.
    assert.ok(await h.gw.core.store.records.byRequestId(low.headers.get('x-sekisho-request-id')!));
    assert.ok(await h.gw.core.store.records.byRequestId(high.headers.get('x-sekisho-request-id')!));
  });
});

describe('the gateway refuses to start on a vault fault', () => {
  test('wrong passphrase, corrupted key file: startGateway rejects with the vault error before the HTTP server starts', async () => {
    const h = await startHarness({ vault: { keystore: { kind: 'file', scrypt_log_n: 14 }, poll_ms: 0 } });
    await h.gw.close(1000);
    const loaded = parseConfig(fs.readFileSync(h.configFile, 'utf8'), h.configFile);
    const quiet = { log: createLogger('silent') };
    await assert.rejects(startGateway(loaded, { ...quiet, env: { ...process.env, SEKISHO_VAULT_PASSPHRASE: 'a-wrong-passphrase' } }), (e: any) => e.code === 'vault_passphrase_wrong' && /パスフレーズが違います/.test(e.ja));
    const keyFile = path.join(h.dir, 'data', 'keys', 'tenant.keyfile');
    fs.writeFileSync(keyFile, '{"format":"sekisho-keyfile/1"');
    await assert.rejects(startGateway(loaded, { ...quiet, env: { ...process.env, SEKISHO_VAULT_PASSPHRASE: TEST_PASSPHRASE } }), (e: any) => e.code === 'vault_keyfile_corrupt');
    fs.rmSync(h.dir, { recursive: true, force: true });
  });
});
