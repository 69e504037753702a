/**
 * Several gateway nodes, one audit log (PostgreSQL only): three `sekisho serve` processes on
 * loopback share one PostgreSQL schema (same configuration, different ports). Thousands of
 * requests, spread over them with the official `openai` client, half streamed; one node is
 * killed with SIGKILL under load. Then: the log verifies (`sekisho audit verify`), and every
 * answered request's `x-sekisho-audit-index` holds that request's leaf — exactly once in the
 * log — also for the answers the killed node gave before it died. With Redis (the shared
 * sessions of issue #9), first: a session revoked with `sekisho credential revoke` is refused
 * by every node within 1 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync, type ChildProcess } from 'node:child_process';
import OpenAI from 'openai';
import { stringify } from 'yaml';
import { tmpDir, mocks, tokyoBackend, runCli, TEST_PASSPHRASE } from './support/harness.ts';
import { REDIS_URL, redisAvailable, uniquePrefix, cleanPrefix, freePort } from './support/redis.ts';
import { Wallet } from '../src/identity/holder.ts';
import { onPostgres, testStoreConfig } from './support/store.ts';
import { openStore } from '../src/store/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { startServe } from './support/serve.ts';

process.env.SEKISHO_VAULT_PASSPHRASE ??= TEST_PASSPHRASE;
const BIN = path.resolve('bin/sekisho.js');

const withRedis = await redisAvailable();

test('three nodes, one log: thousands of requests, one node SIGKILLed under load; the log verifies and holds every answer exactly once', { skip: onPostgres ? false : 'PostgreSQL only (SEKISHO_TEST_STORE=postgres)' }, async () => {
  const [mock] = await mocks({ name: 'tokyo', reply: '了解しました。', chunkChars: 4 });
  const dir = tmpDir('sekisho-multinode-');
  const engine = await testStoreConfig(dir);
  const config = path.join(dir, 'sekisho.yaml');
  const ports = [await freePort(), await freePort(), await freePort()];
  const prefix = uniquePrefix('multinode');
  fs.writeFileSync(
    config,
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      data_dir: './data',
      tenant: { id: 'acme', name: 'ACME株式会社' },
      vault: { keystore: { kind: 'file', scrypt_log_n: 14 } },
      backends: [tokyoBackend(mock!.url)],
      models: [{ name: 'default', backends: ['tokyo-llm'] }],
      audit: { checkpoint_interval_ms: 300 },
      log: { level: 'warn' },
      // one public origin (a load balancer would stand here); the status sweep is far away, so what
      // ends revoked sessions below is the fan-out over Redis
      identity: { origin: `http://127.0.0.1:${ports[0]}`, status_refresh_s: 3600 },
      ...(withRedis ? { redis: { url: REDIS_URL, prefix } } : {}),
      ...engine.config,
    }),
  );
  const nodes: { child: ChildProcess; url: string }[] = [];
  try {
    const key = spawnSync(process.execPath, [BIN, 'apikey', 'create', '--config', config, '--name', 'load'], { encoding: 'utf8' }).stdout.trim().split('\n').at(-1)!;
    assert.match(key, /^sk-sekisho-/);
    // The first node creates the tenant's keys; the others join it.
    nodes.push(await startServe(config, { port: ports[0]! }));
    nodes.push(...(await Promise.all([startServe(config, { port: ports[1]! }), startServe(config, { port: ports[2]! })])));

    if (withRedis) {
      // A session opened on node 1 works on every node; revoked, every node refuses it within 1 s.
      const issued = await runCli(['credential', 'issue', '--config', config, '--name', '鈴木 次郎', '--employee-id', 'E9101', '--clearance', 'L2', '--json']);
      assert.equal(issued.code, 0, issued.err);
      const wallet = await Wallet.ephemeral();
      await wallet.obtain(JSON.parse(issued.out).offer_uri);
      const token = (await wallet.login(nodes[0]!.url)).session_token;
      const models = async (url: string) => {
        const r = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
        return { status: r.status, code: ((await r.json()) as any).error?.sekisho?.code as string | undefined };
      };
      for (const n of nodes) assert.equal((await models(n.url)).status, 200, `node ${n.url} accepts the session`);
      const revoked = await runCli(['credential', 'revoke', 'E9101', '--config', config]);
      assert.equal(revoked.code, 0, revoked.err);
      const t0 = Date.now();
      let all = false;
      while (!all && Date.now() - t0 < 1000) {
        all = (await Promise.all(nodes.map((n) => models(n.url)))).every((r) => r.status === 401 && r.code === 'session_revoked');
        if (!all) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(all, `every node refuses the revoked session within 1 s (${Date.now() - t0} ms)`);
      console.log(`# multinode: all three nodes refused the revoked session ${Date.now() - t0} ms after the CLI returned`);
    } else console.log(`# multinode: Redis does not answer at ${REDIS_URL}: the revocation check is skipped`);
    const clients = nodes.map((n) => new OpenAI({ apiKey: key, baseURL: `${n.url}/v1`, maxRetries: 0, timeout: 15_000 }));
    const dead = new Set<number>();
    const answered: { index: number; id: string; node: number }[] = [];
    let errors = 0;
    const TOTAL = 3000;
    let next = 0;
    const worker = async (w: number) => {
      for (;;) {
        const i = next++;
        if (i >= TOTAL) return;
        const n = (w + i) % nodes.length;
        if (dead.has(n)) continue;
        const stream = i % 2 === 0;
        try {
          if (stream) {
            const { data, response } = await clients[n]!.chat.completions.create({ model: 'default', stream: true, messages: [{ role: 'user', content: `要求 ${i}` }] }).withResponse();
            let text = '';
            for await (const c of data) text += c.choices[0]?.delta?.content ?? '';
            // The client saw the end of the stream ([DONE]): a complete answer.
            if (text === '了解しました。') answered.push({ index: Number(response.headers.get('x-sekisho-audit-index')), id: response.headers.get('x-sekisho-request-id')!, node: n });
          } else {
            const { data, response } = await clients[n]!.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: `要求 ${i}` }] }).withResponse();
            if (data.choices[0]?.message.content === '了解しました。') answered.push({ index: Number(response.headers.get('x-sekisho-audit-index')), id: response.headers.get('x-sekisho-request-id')!, node: n });
          }
        } catch {
          errors++;
        }
      }
    };
    const workers = Array.from({ length: 24 }, (_, w) => worker(w));
    // Under load, kill node 2 without warning.
    while (answered.length < TOTAL / 3) await new Promise((r) => setTimeout(r, 20));
    nodes[1]!.child.kill('SIGKILL');
    dead.add(1);
    await Promise.all(workers);
    const fromKilled = answered.filter((a) => a.node === 1).length;
    assert.ok(answered.length >= TOTAL * 0.6, `most requests were answered (${answered.length}, errors ${errors})`);
    assert.ok(fromKilled > 50, `the killed node answered requests before it died (${fromKilled})`);
    assert.equal(new Set(answered.map((a) => a.index)).size, answered.length, 'no two answers share an index');

    // One of the live nodes integrates (the killed one may have been the integrator): wait for a
    // checkpoint that covers every answer, on either live node.
    const highest = Math.max(...answered.map((a) => a.index));
    let size = 0;
    for (const t0 = Date.now(); Date.now() - t0 < 30_000 && size <= highest; ) {
      const note = await (await fetch(`${nodes[2]!.url}/audit/v1/checkpoint`)).text();
      size = Number(note.split('\n')[1]);
      if (size <= highest) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(size > highest, `a checkpoint covers every answered index (size ${size}, highest ${highest})`);
    for (const n of [0, 2]) nodes[n]!.child.kill('SIGTERM');
    await Promise.all([0, 2].map((n) => new Promise((r) => (nodes[n]!.child.exitCode !== null ? r(null) : nodes[n]!.child.once('exit', r)))));

    // Every answered request is in the log under its index, and its request id is nowhere else.
    const store = await openStore(loadConfig(config));
    try {
      const cp = (await store.audit.latestCheckpoint())!;
      const byId = new Map<string, number[]>();
      const kinds: Record<string, number> = {};
      for (let at = 0; at < cp.size; at += 4096) {
        const rows = await store.audit.entries(at, Math.min(cp.size, at + 4096));
        for (const r of rows) {
          const leaf = JSON.parse(r.data.toString('utf8'));
          kinds[leaf.kind] = (kinds[leaf.kind] ?? 0) + 1;
          if (leaf.request_id) byId.set(leaf.request_id, [...(byId.get(leaf.request_id) ?? []), r.idx]);
        }
      }
      assert.equal(Object.values(kinds).reduce((a, b) => a + b, 0), cp.size, 'no gaps: every index below the checkpoint holds an entry');
      for (const a of answered) assert.deepEqual(byId.get(a.id), [a.index], `request ${a.id} is at index ${a.index}, exactly once`);
      console.log(`# multinode: ${answered.length} answered (${fromKilled} by the killed node), client errors ${errors}; log size ${cp.size}: ${JSON.stringify(kinds)}`);
    } finally {
      await store.close();
    }
    const v = spawnSync(process.execPath, [BIN, 'audit', 'verify', '--config', config, '--no-progress'], { encoding: 'utf8', env: { ...process.env, SEKISHO_LANG: 'en' } });
    assert.equal(v.status, 0, v.stderr + v.stdout);
    assert.match(v.stdout, /OK: .* tree size \d+/);
  } finally {
    for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
    await mock!.close();
    await engine.cleanup();
    if (withRedis) await cleanPrefix(prefix);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
