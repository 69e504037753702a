/** The `sekisho` command as people run it: spawned processes, real files. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { stringify } from 'yaml';
import { tmpDir, mocks, tokyoBackend, usBackend } from './support/harness.ts';
import type { MockUpstream } from '../src/dev/mock-upstream.ts';

const BIN = path.resolve('bin/sekisho.js');

function run(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...process.env, SEKISHO_VAULT_PASSPHRASE: 'sekisho-test-passphrase', SEKISHO_LANG: 'both', ...opts.env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Async, for commands that talk to the mock servers living in this process. */
function runAsync(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, SEKISHO_VAULT_PASSPHRASE: 'sekisho-test-passphrase', SEKISHO_LANG: 'both' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('sekisho CLI', () => {
  let dir: string;
  let config: string;
  let tokyo: MockUpstream;
  let us: MockUpstream;
  before(async () => {
    [tokyo, us] = await mocks({ name: 'tokyo', reply: 'こんにちは', fault: 'none' }, { name: 'us' });
    dir = tmpDir();
    config = path.join(dir, 'sekisho.yaml');
    fs.writeFileSync(
      config,
      stringify({
        listen: { host: '127.0.0.1', port: 0 },
        data_dir: './data',
        tenant: { id: 'acme', name: 'ACME株式会社' },
        backends: [tokyoBackend(tokyo.url), usBackend(us.url)],
        models: [{ name: 'default', backends: ['us-frontier', 'tokyo-llm'] }],
        log: { level: 'warn' },
      }),
    );
  });
  after(async () => {
    await Promise.all([tokyo.close(), us.close()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('apikey create prints the key as the last line; list hides it; revoke works once', () => {
    const r = run(['apikey', 'create', '--config', config, '--name', 'ops-team', '--level', 'L1', '--max-level', 'L2']);
    assert.equal(r.code, 0, r.err);
    const key = r.out.trim().split('\n').at(-1)!;
    assert.match(key, /^sk-sekisho-[A-Za-z0-9_-]{43}$/);
    const list = JSON.parse(run(['apikey', 'list', '--config', config, '--json']).out);
    const row = list.find((x: any) => x.name === 'ops-team');
    assert.equal(row.default_level, 'L1');
    assert.equal(row.max_level, 'L2');
    assert.equal(row.hash, undefined);
    assert.ok(!JSON.stringify(list).includes(key));
    assert.equal(run(['apikey', 'revoke', 'ops-team', '--config', config]).code, 0);
    assert.equal(run(['apikey', 'revoke', 'ops-team', '--config', config]).code, 1);
    const bad = run(['apikey', 'create', '--config', config, '--name', 'x', '--level', 'L3', '--max-level', 'L1']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--max-level/);
  });

  test('try shows the trace without calling a backend, and sends with --send', async () => {
    const r = run(['try', '--config', config, '--level', 'L3', '--json', '顧客の住所録を整理して']);
    assert.equal(r.code, 0, r.err);
    const t = JSON.parse(r.out);
    assert.equal(t.level, 'L3');
    assert.equal(t.decision, 'allow');
    assert.deepEqual(t.route, ['tokyo-llm']);
    const usRow = t.backends.find((b: any) => b.id === 'us-frontier');
    assert.equal(usRow.compliant, false);
    assert.ok(usRow.reasons.some((x: any) => x.code === 'foreign_jurisdiction'));
    assert.equal(t.backends.find((b: any) => b.id === 'tokyo-llm').ceiling, 'L3');
    assert.equal(tokyo.seen.length + us.seen.length, 0, 'a dry run calls nothing');

    const text = run(['try', '--config', config, '--level', 'L3', '顧客の住所録を整理して']);
    assert.match(text.out, /判定 decide: 許可 ALLOW/);
    assert.match(text.out, /送信していません/);

    const blocked = run(['try', '--config', config, '--level', 'L4', 'x']);
    assert.equal(blocked.code, 1);
    assert.match(blocked.out, /level_blocked/);

    const sent = await runAsync(['try', '--config', config, '--level', 'L2', '--send', '--json', 'hello']);
    assert.equal(sent.code, 0, sent.err);
    assert.equal(JSON.parse(sent.out).sent.answer, 'こんにちは');
    assert.equal(tokyo.seen.length, 1);
    assert.equal(us.seen.length, 0);
  });

  test('a broken config is reported with file, line, key, found and expected, in ja and en', () => {
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, fs.readFileSync(config, 'utf8').replace('country: US', 'country: America'));
    const r = run(['config', 'check', '--config', bad]);
    assert.equal(r.code, 2);
    assert.match(r.err, /bad\.yaml:\d+:\d+: backends\[1\]\.location\.country: found "America", expected/);
    assert.match(r.err, /設定エラー/);
    assert.equal(run(['serve', '--config', bad]).code, 2);
    assert.equal(run(['config', 'check', '--config', path.join(dir, 'missing.yaml')]).code, 2);
    const schema = JSON.parse(run(['config', 'schema']).out);
    assert.ok(schema.properties.backends);
  });

  test('a fresh directory gets a configuration from the example', () => {
    const fresh = tmpDir();
    const r = run(['config', 'check'], { cwd: fresh, env: { SEKISHO_CONFIG: '' } });
    assert.equal(r.code, 0, r.err);
    assert.ok(fs.existsSync(path.join(fresh, 'sekisho.yaml')));
    assert.match(r.err, /created/);
    fs.rmSync(fresh, { recursive: true, force: true });
  });

  test('serve answers, and on SIGTERM finishes the stream in flight before exiting', async () => {
    const key = run(['apikey', 'create', '--config', config, '--name', 'serve-test', '--level', 'L3']).out.trim().split('\n').at(-1)!;
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = spawn(process.execPath, [BIN, 'serve', '--config', config, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SEKISHO_VAULT_PASSPHRASE: 'sekisho-test-passphrase' } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    try {
      for (let i = 0; i < 400 && !stderr.includes('http://'); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(stderr, /関所 Sekisho: http:\/\/127\.0\.0\.1:\d+\/v1/);
      const ai = new OpenAI({ apiKey: key, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
      tokyo.failNext('slow_stream');
      const stream = await ai.chat.completions.create({ model: 'default', stream: true, messages: [{ role: 'user', content: 'x' }] });
      let text = '';
      let first = true;
      for await (const c of stream) {
        if (first) {
          child.kill('SIGTERM');
          first = false;
        }
        text += c.choices[0]?.delta?.content ?? '';
      }
      assert.equal(text, 'こんにちは', 'the stream in flight completed after SIGTERM');
      assert.equal(await exited, 0);
      await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'no longer listening');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
