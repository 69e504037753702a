/**
 * Durability: every request that received an answer is in the audit log, also when the
 * gateway is killed with SIGKILL under load. The real gateway runs as a child process;
 * concurrent clients record each complete answer's audit index and request id; the process
 * is killed mid-load, restarted (it fills the indices of unanswered requests with "lost"
 * leaves and publishes), and then every answered request must be in the log under its
 * index, and `sekisho audit verify` must pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { stringify } from 'yaml';
import { tmpDir, mocks, tokyoBackend, TEST_PASSPHRASE } from './support/harness.ts';

// the CLI processes these tests start open the tenant's vault (file keystore) too
process.env.SEKISHO_VAULT_PASSPHRASE ??= TEST_PASSPHRASE;
import { openStore } from '../src/store/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { testStoreConfig } from './support/store.ts';
import { startServe } from './support/serve.ts';

const BIN = path.resolve('bin/sekisho.js');

test('SIGKILL under load: every answered request is in the log under its index; the log verifies', async () => {
  const [mock] = await mocks({ name: 'tokyo', reply: '了解しました。議事録を要約します。', chunkChars: 3 });
  const dir = tmpDir('sekisho-sigkill-');
  const config = path.join(dir, 'sekisho.yaml');
  const engine = await testStoreConfig(dir);
  fs.writeFileSync(
    config,
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      data_dir: './data',
      tenant: { id: 'acme', name: 'ACME株式会社' },
      backends: [tokyoBackend(mock!.url)],
      models: [{ name: 'default', backends: ['tokyo-llm'] }],
      audit: { checkpoint_interval_ms: 200 },
      log: { level: 'warn' },
      ...engine.config,
    }),
  );
  try {
    const key = spawnSync(process.execPath, [BIN, 'apikey', 'create', '--config', config, '--name', 'load'], { encoding: 'utf8' }).stdout.trim().split('\n').at(-1)!;
    const { child, url } = await startServe(config);
    const answered: { index: number; id: string }[] = [];
    let stop = false;
    let errors = 0;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const stream = (w + i) % 3 === 0;
        try {
          const res = await fetch(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'default', stream, messages: [{ role: 'user', content: `要求 ${w}-${i}` }] }),
          });
          const body = await res.text();
          // A complete answer: a whole JSON body, or a stream that reached [DONE].
          const complete = res.status === 200 && (stream ? body.includes('data: [DONE]') : JSON.parse(body).choices !== undefined);
          if (complete) answered.push({ index: Number(res.headers.get('x-sekisho-audit-index')), id: res.headers.get('x-sekisho-request-id')! });
        } catch {
          errors++;
          if (stop) return;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    const workers = Array.from({ length: 24 }, (_, w) => worker(w));
    // Load for a while, then kill without warning.
    const t0 = Date.now();
    while (answered.length < 400 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    stop = true;
    await Promise.all(workers);
    const killedAt = answered.length;
    assert.ok(killedAt >= 50, `load reached the gateway before the kill (${killedAt} answers)`);

    // Restart: gaps are filled and the log is published (the checkpoint timer); then stop gracefully.
    const again = await startServe(config);
    const highest = Math.max(...answered.map((a) => a.index));
    for (const t1 = Date.now(); Date.now() - t1 < 30_000; ) {
      const note = await (await fetch(`${again.url}/audit/v1/checkpoint`)).text();
      if (Number(note.split('\n')[1]) > highest) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    again.child.kill('SIGTERM');
    await new Promise((r) => again.child.once('exit', r));

    const store = await openStore(loadConfig(config));
    try {
      const size = (await store.audit.latestCheckpoint())!.size;
      let missing = 0;
      for (const a of answered) {
        assert.ok(a.index < size, `index ${a.index} is covered by the checkpoint (size ${size})`);
        const e = await store.audit.entry(a.index);
        if (!e) {
          missing++;
          continue;
        }
        const leaf = JSON.parse(e.toString());
        assert.equal(leaf.kind, 'request', `index ${a.index}`);
        assert.equal(leaf.request_id, a.id, `index ${a.index} holds its request id`);
      }
      assert.equal(missing, 0, 'every answered request is in the log');
      console.log(`# SIGKILL test: ${killedAt} answered before the kill, all in the log; tree size ${size}; client errors after the kill ${errors}`);
    } finally {
      await store.close();
    }
    const v = spawnSync(process.execPath, [BIN, 'audit', 'verify', '--config', config, '--no-progress'], { encoding: 'utf8', env: { ...process.env, SEKISHO_LANG: 'en' } });
    assert.equal(v.status, 0, v.stderr + v.stdout);
  } finally {
    await mock!.close();
    await engine.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
