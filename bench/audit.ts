/**
 * `npm run bench:audit` — the audit log on SQLite, one process (one core):
 *   1. leaves/s appended: realistic request leaves (canonical JSON, HMAC commitments, pseudonym)
 *      submitted and group-committed to SQLite (WAL, synchronous=NORMAL), batches of 1024;
 *   2. integration: leaf hashing, tiles and a signed checkpoint, leaves/s;
 *   3. inclusion proof: generation from the tiles (random indices) and verification;
 *   4. full verification of the whole log (entries + tiles + checkpoint) — `audit verify`'s code.
 * Env: BENCH_AUDIT_N (default 1,000,000 leaves).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { openSqliteStore } from '../src/store/index.js';
import { createLogger } from '../src/ops/log.js';
import { AuditLog } from '../src/audit/log.js';
import { encodeLeaf, type RequestLeaf } from '../src/audit/leaf.js';
import { leafHash, verifyInclusion } from '../src/audit/merkle.js';
import { storeSource } from '../src/audit/source.js';
import { verifyLog } from '../src/audit/verify.js';
import { uuidv7 } from '../src/ops/ids.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const N = Number(process.env.BENCH_AUDIT_N ?? 1_000_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sekisho-bench-audit-'));
const store = await openSqliteStore(path.join(dir, 'bench.db'));
const keys = { signingSeed: crypto.randomBytes(32), commitKey: crypto.randomBytes(32), pseudonymKey: crypto.randomBytes(32) };
const log = await AuditLog.open({ store, log: createLogger('silent'), origin: 'bench.example/audit', keys, checkpointIntervalMs: 0, checkpointEntries: Number.MAX_SAFE_INTEGER });
const out: string[] = [];
const say = (s: string) => {
  console.log(s);
  out.push(s);
};

say(`audit log benchmark: ${N.toLocaleString('en')} leaves, node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} (${os.availableParallelism()} cores visible), one process`);

// 1. append
const body = JSON.stringify({ model: 'default', messages: [{ role: 'user', content: '議事録'.repeat(100) }] });
const answer = 'x'.repeat(800);
let t = performance.now();
let pending: Promise<void>[] = [];
for (let i = 0; i < N; i++) {
  const index = (await log.reserve()) as number;
  const id = uuidv7();
  const leaf: RequestLeaf = {
    v: 1,
    kind: 'request',
    index,
    ts: new Date().toISOString(),
    request_id: id,
    principal: log.committer.pseudonym('key-' + (i % 50)),
    endpoint: 'chat.completions',
    model: 'default',
    level: i % 5 === 0 ? 'L3' : 'L0',
    flags: i % 5 === 0 ? ['personal'] : [],
    findings: i % 5 === 0 ? { PERSON_NAME: 1 } : {},
    decision: 'allow',
    reason: 'allowed',
    status: 200,
    backend: 'tokyo-llm',
    country: 'JP',
    jurisdictions: ['JP'],
    on_premises: false,
    policy: 'sha256:0123456789abcdef0123456789abcdef',
    request_commit: log.committer.commit(id, 'request', body),
    answer_commit: log.committer.commit(id, 'answer', answer),
  };
  pending.push(log.submit({ idx: index, data: encodeLeaf(leaf) }));
  if (pending.length >= 8192) {
    await Promise.all(pending);
    pending = [];
  }
}
await Promise.all(pending);
let ms = performance.now() - t;
say(`append (leaf built + HMAC commitments + group commit to SQLite): ${Math.round(N / (ms / 1000)).toLocaleString('en')} leaves/s (${(ms / 1000).toFixed(2)} s)`);

// 1b. the sequencer and group commit alone: pre-built leaves (as bytes) into a second store
{
  const store2 = await openSqliteStore(path.join(dir, 'prebuilt.db'));
  const log2 = await AuditLog.open({ store: store2, log: createLogger('silent'), origin: 'bench.example/audit2', keys, checkpointIntervalMs: 0, checkpointEntries: Number.MAX_SAFE_INTEGER });
  const M = Math.min(N, 300_000);
  const sample = (await store.audit.entry(0))!;
  const t2 = performance.now();
  let ps: Promise<void>[] = [];
  for (let i = 0; i < M; i++) {
    ps.push(log2.submit({ idx: log2.reserve() as number, data: sample }));
    if (ps.length >= 8192) {
      await Promise.all(ps);
      ps = [];
    }
  }
  await Promise.all(ps);
  const ms2 = performance.now() - t2;
  say(`append, sequencer + group commit only (pre-built ${sample.length}-byte leaves, ${M.toLocaleString('en')}): ${Math.round(M / (ms2 / 1000)).toLocaleString('en')} leaves/s`);
  await log2.close();
  await store2.close();
}

// 2. integrate
t = performance.now();
await log.integrate(N);
ms = performance.now() - t;
say(`integrate (leaf hashes, tiles, signed checkpoint): ${Math.round(N / (ms / 1000)).toLocaleString('en')} leaves/s (${(ms / 1000).toFixed(2)} s), tree size ${log.size.toLocaleString('en')}`);

// 3. inclusion proofs
const root = Buffer.from((await log.checkpointNote())!.split('\n')[2]!, 'base64');
const idx = Array.from({ length: 2000 }, () => crypto.randomInt(0, log.size));
const entries: Buffer[] = [];
for (const i of idx) entries.push(leafHash((await store.audit.entry(i))!));
t = performance.now();
const proofs: Buffer[][] = [];
for (const i of idx) proofs.push(await log.inclusion(i));
const genUs = ((performance.now() - t) * 1000) / idx.length;
t = performance.now();
let ok = 0;
for (let k = 0; k < idx.length; k++) if (verifyInclusion(entries[k]!, idx[k]!, log.size, proofs[k]!, root)) ok++;
const verUs = ((performance.now() - t) * 1000) / idx.length;
if (ok !== idx.length) throw new Error('a proof did not verify');
say(`inclusion proof (tree of ${log.size.toLocaleString('en')}, ${proofs[0]!.length} hashes): generate ${genUs.toFixed(1)} µs, verify ${verUs.toFixed(1)} µs (mean of ${idx.length} random indices)`);

// 4. full verification, in a fresh process pinned to one core (as `sekisho audit verify` runs)
await log.close();
const pin = spawnSync('taskset', ['--version']).status === 0 ? ['taskset', '-c', '0'] : [];
const child = spawnSync(pin[0] ?? process.execPath, [...pin.slice(1), ...(pin.length ? [process.execPath] : []), '--import', 'tsx', path.join(HERE, 'audit-verify.ts'), path.join(dir, 'bench.db'), log.vkey], { encoding: 'utf8' });
if (child.status !== 0) throw new Error(child.stderr);
ms = JSON.parse(child.stdout.trim().split('\n').at(-1)!).ms;
say(`full verification (signature, every entry's index and leaf hash, every tile, root), fresh process${pin.length ? ' pinned to one core (taskset -c 0)' : ''}: ${(ms / 1000).toFixed(2)} s for ${log.size.toLocaleString('en')} leaves (${Math.round(log.size / (ms / 1000)).toLocaleString('en')} leaves/s)`);
t = performance.now();
await verifyLog(storeSource(store), { vkey: log.vkey });
ms = performance.now() - t;
say(`full verification in the benchmark process itself (large heap): ${(ms / 1000).toFixed(2)} s`);
const dbSize = fs.statSync(path.join(dir, 'bench.db')).size + (fs.existsSync(path.join(dir, 'bench.db-wal')) ? fs.statSync(path.join(dir, 'bench.db-wal')).size : 0);
say(`store size: ${(dbSize / 1e6).toFixed(0)} MB (${Math.round(dbSize / N)} bytes per leaf incl. tiles)`);
await store.close();
if (process.env.BENCH_AUDIT_KEEP) say(`kept: ${dir}`);
else fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(path.resolve('bench/results'), { recursive: true });
fs.writeFileSync(path.resolve('bench/results/audit.md'), out.join('\n') + '\n');
