/**
 * `npm run bench:scale`: several gateway nodes on PostgreSQL (issue #9).
 *   1. requests per second through 1 node and through 2 nodes (`sekisho serve` processes on one
 *      PostgreSQL schema, non-streaming chat completions against a local mock, the full
 *      checkpoint: API key, inspection, policy, audit leaf group-committed before the answer
 *      ends); load from wrk, split evenly over the nodes;
 *   2. audit log appends per second on PostgreSQL: reserve (shared counter row) + group commit of
 *      pre-built leaves, from one process and from two processes at once (two nodes, one log).
 * PostgreSQL: SEKISHO_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test); a schema
 * of its own, dropped at the end. Options: --quick; BENCH_MEASURE_S, BENCH_CONNS.
 * Writes bench/results/scale.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { stringify } from 'yaml';
import { startMockUpstream } from '../src/dev/mock-upstream.ts';
import { openStore } from '../src/store/index.ts';
import { AuditLog } from '../src/audit/log.ts';
import { createLogger } from '../src/ops/log.ts';
import { startServe } from '../test/support/serve.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const QUICK = process.argv.includes('--quick');
const MEASURE_S = Number(process.env.BENCH_MEASURE_S ?? (QUICK ? 4 : 10));
const CONNS = Number(process.env.BENCH_CONNS ?? 32);
const BASE = process.env.SEKISHO_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const BIN = path.resolve(HERE, '../bin/sekisho.js');
process.env.SEKISHO_VAULT_PASSPHRASE ??= 'bench-passphrase-not-a-secret';

const out: string[] = [];
const say = (s: string) => {
  console.log(s);
  out.push(s);
};

// A role for the appender child: `scale.ts --append <url> <n> <seconds>` prints appends/s.
if (process.argv[2] === '--append') {
  const [url, n, seconds] = process.argv.slice(3);
  const r = await appendLoad(url!, Number(n), Number(seconds));
  console.log(JSON.stringify(r));
  process.exit(0);
}

async function appendLoad(url: string, concurrency: number, seconds: number): Promise<{ appends: number; s: number }> {
  const store = await openStore({ kind: 'postgres', url, poolMax: 8 });
  const keys = { signingSeed: Buffer.alloc(32, 1), commitKey: Buffer.alloc(32, 2), pseudonymKey: Buffer.alloc(32, 3) };
  const log = await AuditLog.open({ store, log: createLogger('silent'), origin: 'bench.example/scale', keys, checkpointIntervalMs: 0, publish: false });
  const leaf = Buffer.from(JSON.stringify({ v: 1, kind: 'event', event: 'bench', fields: { pad: 'x'.repeat(500) } }));
  let n = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  // `concurrency` requests in flight, as many requests on a node would be.
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const idx = await log.reserve();
        await log.submit({ idx, data: leaf });
        n++;
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  await log.close();
  await store.close();
  return { appends: n, s };
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: BASE });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function schemaUrl(schema: string): string {
  const u = new URL(BASE);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

function wrk(url: string, key: string, conns: number, seconds: number, script: string): Promise<{ rps: number; errors: number }> {
  fs.writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nwrk.headers["authorization"] = "Bearer ${key}"\nwrk.body = [==[${JSON.stringify({ model: 'default', messages: [{ role: 'system', content: 'あなたは役所の文書作成を手伝います。' }, { role: 'user', content: '来週の部内会議の議事録を三行で要約してください。' }] })}]==]\n`,
  );
  return new Promise((resolve, reject) => {
    const p = spawn('wrk', ['-t', '1', '-c', String(conns), '-d', `${seconds}s`, '--timeout', '5s', '-s', script, `${url}/v1/chat/completions`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    p.stdout.on('data', (d) => (text += d));
    p.on('exit', (code) => {
      const m = /Requests\/sec:\s+([\d.]+)/.exec(text);
      if (code !== 0 || !m) return reject(new Error(`wrk failed: ${text}`));
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
      resolve({ rps: Number(m[1]), errors: non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0) });
    });
  });
}

const schema = `sekisho_bench_${crypto.randomBytes(4).toString('hex')}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sekisho-bench-scale-'));
const children: ChildProcess[] = [];
const mock = await startMockUpstream({ name: 'bench', reply: '議事録の要約です。' });
await admin((c) => c.query(`CREATE SCHEMA "${schema}"`));
try {
  if (spawnSync('wrk', ['--version']).error) throw new Error('wrk not found: apt-get install -y wrk (or bash scripts/bench-setup.sh)');
  const url = schemaUrl(schema);
  const config = path.join(dir, 'sekisho.yaml');
  fs.writeFileSync(
    config,
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      data_dir: './data',
      tenant: { id: 'bench', name: 'Bench' },
      vault: { keystore: { kind: 'file', scrypt_log_n: 14 } },
      store: { postgres: url },
      backends: [{ id: 'tokyo-llm', kind: 'openai', url: mock.url, models: ['llm-jp-3'], location: { country: 'JP' }, operator: { name: '自社', jurisdictions: ['JP'] }, contract: { no_training: true, retention_days: 0 } }],
      models: [{ name: 'default', backends: ['tokyo-llm'] }],
      log: { level: 'warn' },
    }),
  );
  const key = spawnSync(process.execPath, [BIN, 'apikey', 'create', '--config', config, '--name', 'bench'], { encoding: 'utf8' }).stdout.trim().split('\n').at(-1)!;
  const ports = [31871, 31872];
  say(`# bench:scale — ${new Date().toISOString()}, ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model ?? 'cpu'}), Node ${process.version}, PostgreSQL ${(await admin((c) => c.query('SHOW server_version'))).rows[0].server_version} on the same machine; load average before: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  say('');
  say(`Requests: POST /v1/chat/completions (not streamed), full checkpoint (API key, inspection, policy, audit leaf committed before the answer ends), mock upstream on loopback; wrk -t1, ${CONNS} connections in all, ${MEASURE_S} s measured after 2 s warm-up, split evenly over the nodes.`);
  say('');
  say('| nodes | req/s | errors |');
  say('|---:|---:|---:|');
  children.push((await startServe(config, { port: ports[0]! })).child);
  for (const nodes of [1, 2]) {
    if (nodes === 2) children.push((await startServe(config, { port: ports[1]! })).child);
    const urls = ports.slice(0, nodes).map((p) => `http://127.0.0.1:${p}`);
    await Promise.all(urls.map((u, i) => wrk(u, key, Math.max(1, Math.floor(CONNS / nodes)), 2, path.join(dir, `warm-${nodes}-${i}.lua`))));
    const r = await Promise.all(urls.map((u, i) => wrk(u, key, Math.max(1, Math.floor(CONNS / nodes)), MEASURE_S, path.join(dir, `load-${nodes}-${i}.lua`))));
    say(`| ${nodes} | ${Math.round(r.reduce((a, x) => a + x.rps, 0)).toLocaleString('en')} | ${r.reduce((a, x) => a + x.errors, 0)} |`);
  }
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
  children.length = 0;

  say('');
  say(`Audit log appends on PostgreSQL: reserve an index (shared counter row, batched) + group-commit a pre-built ~560-byte leaf; 64 appends in flight per process, ${MEASURE_S} s.`);
  say('');
  say('| appending processes (nodes) | appends/s (total) |');
  say('|---:|---:|');
  const appender = () =>
    new Promise<{ appends: number; s: number }>((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--append', url, '64', String(MEASURE_S)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let t = '';
      p.stdout.on('data', (d) => (t += d));
      p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(t.trim().split('\n').at(-1)!)) : reject(new Error('appender failed'))));
    });
  for (const procs of [1, 2]) {
    const rs = await Promise.all(Array.from({ length: procs }, appender));
    say(`| ${procs} | ${Math.round(rs.reduce((a, r) => a + r.appends / r.s, 0)).toLocaleString('en')} |`);
  }
  say('');
  say(`load average after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  fs.mkdirSync(path.join(HERE, 'results'), { recursive: true });
  fs.writeFileSync(path.join(HERE, 'results', 'scale.md'), out.join('\n') + '\n');
} finally {
  for (const c of children) c.kill('SIGKILL');
  await mock.close();
  await admin((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
  fs.rmSync(dir, { recursive: true, force: true });
}
