/**
 * `npm run bench:vault`: what the vault costs.
 *   1. envelope seal + open of 1 KiB and 64 KiB records per second (subject-keyed and
 *      tenant-keyed), against raw node:crypto AES-256-GCM encrypt + decrypt of the same size;
 *   2. the record stage per request: metadata record, and metadata + encrypted request and
 *      answer bodies (1 KiB each), batched into SQLite, store writes included;
 *   3. keystore round trips: PKCS#11 (SoftHSM) encrypt + decrypt of a 32-byte key, the
 *      external key service on loopback, and the key file unlock (scrypt).
 * Prints a Markdown table. Options: --quick (shorter runs).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { openSqliteStore, type Store } from '../src/store/index.ts';
import { AuditLog } from '../src/audit/log.ts';
import { Vault, StoreEvents } from '../src/vault/index.ts';
import { FileKeystore } from '../src/vault/keystore/file.ts';
import { Pkcs11Keystore } from '../src/vault/keystore/pkcs11.ts';
import { ExternalKeystore } from '../src/vault/keystore/external.ts';
import { startXksServer } from '../src/dev/xks-server.ts';
import { Recorder } from '../src/checkpoint/record.ts';
import { Retainer } from '../src/checkpoint/retain.ts';
import { createLogger } from '../src/ops/log.ts';
import type { Keystore } from '../src/vault/keystore/types.ts';

const QUICK = process.argv.includes('--quick');
const MS = QUICK ? 400 : 3000;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sekisho-bench-vault-'));
const rows: string[][] = [];
const log = createLogger('silent');

/** Ops per second of `fn` over about `ms` (in slices of 64 calls; async ones awaited one at a time). */
async function slice(fn: () => unknown, ms: number): Promise<number> {
  // Collect the previous slice's garbage first, so that it is not billed to this one.
  (globalThis as { gc?: () => void }).gc?.();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 64; i++) {
      const r = fn();
      if (r instanceof Promise) await r;
    }
    n += 64;
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

/**
 * Best rate of each function over interleaved rounds (A B C A B C …), so that load from
 * other processes on a shared machine hits all of them alike.
 */
async function rates(fns: (() => unknown)[], ms = MS): Promise<number[]> {
  const best = fns.map(() => 0);
  for (const fn of fns) await slice(fn, ms / 10); // warm-up (JIT, allocation), not counted
  for (let round = 0; round < 10; round++) for (const [i, fn] of fns.entries()) best[i] = Math.max(best[i]!, await slice(fn, ms / 10));
  return best;
}

const rate = async (fn: () => unknown, ms = MS) => (await rates([fn], ms))[0]!;

async function rateAsync(fn: () => Promise<unknown>, n: number): Promise<number> {
  for (let i = 0; i < Math.min(20, n); i++) await fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (n * 1000) / (performance.now() - t0);
}

const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function openVault(dir: string, keystore: Keystore): Promise<{ vault: Vault; close(): Promise<void>; store: Store }> {
  const store = await openSqliteStore(path.join(dir, 'sekisho.db'));
  const vault = await Vault.open({ store: store.vault, keystore, tenant: 'bench', events: new StoreEvents(store.vault), pollMs: 0 });
  return {
    vault,
    store,
    async close() {
      await vault.close();
      await store.close();
    },
  };
}

async function main(): Promise<void> {
  const env = { SEKISHO_VAULT_PASSPHRASE: 'bench-passphrase-not-a-secret' };
  const t0 = performance.now();
  const fileKs = await FileKeystore.open({ file: path.join(tmp, 'keys', 'tenant.keyfile'), tenant: 'bench', logN: 15, passphrase: { env, envName: 'SEKISHO_VAULT_PASSPHRASE', interactive: false } });
  const v = await openVault(tmp, fileKs);
  const createMs = performance.now() - t0;
  await v.close();
  const t1 = performance.now();
  const fileKs2 = await FileKeystore.open({ file: path.join(tmp, 'keys', 'tenant.keyfile'), tenant: 'bench', logN: 15, passphrase: { env, envName: 'SEKISHO_VAULT_PASSPHRASE', interactive: false } });
  const { vault, store, close } = await openVault(tmp, fileKs2);
  const unlockMs = performance.now() - t1;

  // 1. Envelopes vs raw AES-256-GCM.
  for (const size of [1024, 64 * 1024]) {
    const data = crypto.randomBytes(size);
    const key = crypto.randomBytes(32);
    const aadBuf = Buffer.from('bench');
    const rawFn = () => {
      const iv = crypto.randomBytes(12);
      const c = crypto.createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(aadBuf);
      const ct = c.update(data);
      c.final(); // empty for GCM
      const tag = c.getAuthTag();
      const d = crypto.createDecipheriv('aes-256-gcm', key, iv);
      d.setAAD(aadBuf);
      d.setAuthTag(tag);
      d.update(ct);
      d.final();
    };
    let i = 0;
    const envFn = (subject: string | undefined) => async () => {
      const row = await vault.seal({ id: `r${i++}`, purpose: 'body.request' }, data, { subject });
      await vault.openRecord(row, 'request');
    };
    const [raw, tenantEnv, subjectEnv] = await rates([rawFn, envFn(undefined), envFn('subject-1')]);
    for (const [kind, env] of [['tenant key', tenantEnv!], ['subject key', subjectEnv!]] as const) {
      rows.push([`envelope seal + open, ${size / 1024} KiB (${kind})`, `${fmt(env)} /s`, `${fmt((env * size) / 1e6)} MB/s`, `${fmt((100 * env) / raw!)} % of raw AES-256-GCM encrypt + decrypt (${fmt(raw!)} /s, ${fmt((raw! * size) / 1e6)} MB/s)`]);
    }
  }
  await (vault.events as { flush?: () => Promise<void> }).flush?.();

  // 2. The record stage per request, store writes included (batches of 512).
  const body = Buffer.from(JSON.stringify({ model: 'default', messages: [{ role: 'user', content: 'あ'.repeat(330) }] }));
  const answer = Buffer.from('い'.repeat(340));
  const audit = await AuditLog.open({ store, log, origin: 'bench.example/audit', keys: { signingSeed: crypto.randomBytes(32), commitKey: crypto.randomBytes(32), pseudonymKey: crypto.randomBytes(32) }, checkpointIntervalMs: 0, publish: false });
  const recorder = new Recorder(audit, log, new Map(), 'bench');
  const extras = { flags: ['personal'], findings: { PERSON_NAME: 1 }, requestCommit: null, answerCommit: null, model: 'default' };
  const retainer = new Retainer(vault, log, { retention: { L2: 'bodies' }, maxBytes: 1 << 20, flushMs: 1e9, maxBatch: 1024 });
  const record = (i: number) => ({
    seq: recorder.reserve() as number,
    request_id: `req-${i}`,
    ts: new Date().toISOString(),
    principal: 'key-1',
    endpoint: 'chat.completions',
    model: 'default',
    level: 'L2',
    flags: 'personal',
    findings: 'PERSON_NAME:1',
    decision: 'allow',
    reason: 'allowed',
    backend: 'tokyo-llm',
    status: 200,
    duration_ms: 1.5,
    upstream_ms: 1.2,
    attempts: 1,
  });
  let k = 0;
  const N = 512;
  const meta =
    (await rate(async () => {
      const ps = [];
      for (let i = 0; i < N; i++) ps.push(recorder.add(record(k++), extras));
      await recorder.flush();
      await Promise.all(ps);
    }, MS / 2)) * N;
  const withBodies =
    (await rate(async () => {
      const ps = [];
      for (let i = 0; i < N; i++) {
        const id = `req-${k++}`;
        ps.push(recorder.add(record(k), extras), retainer.add(id, 'L2', `subject-${k % 100}`, body, answer));
      }
      await recorder.flush();
      await Promise.all(ps);
      await retainer.drain();
    }, MS / 2)) * N;
  const framed = Buffer.concat([Buffer.alloc(4), body, answer]);
  const sealOnly = await rate(() => vault.seal({ id: `x${k++}`, purpose: 'body' }, framed, { subject: `subject-${k % 100}` }));
  rows.push(['record stage: metadata only (default retention)', `${fmt(1e6 / meta, 1)} µs/request`, `${fmt(meta)} /s`, 'batched 512 per transaction']);
  rows.push(['record stage: metadata + request and answer bodies (≈1 KiB each), encrypted', `${fmt(1e6 / withBodies, 1)} µs/request`, `${fmt(withBodies)} /s`, 'batched 512, SQLite writes included']);
  rows.push(['  of which sealing (one envelope for both bodies)', `${fmt(1e6 / sealOnly, 1)} µs/request`, `${fmt(sealOnly)} /s`, 'cached subject key; the rest is SQLite']);
  await close();

  // 3. Keystore round trips (encrypt + decrypt of a 32-byte key).
  rows.push(['file keystore: create key file + vault (scrypt N=2^15)', `${fmt(createMs, 1)} ms`, '', 'once, at first start']);
  rows.push(['file keystore: unlock + open vault (scrypt N=2^15)', `${fmt(unlockMs, 1)} ms`, '', 'once per start']);
  const ctx = { reason: 'status' as const, tenant: 'bench', purpose: 'bench' };
  const key = crypto.randomBytes(32);
  const aadBuf = Buffer.from('bench');
  if (fs.existsSync('/usr/lib/softhsm/libsofthsm2.so')) {
    const dir = path.join(tmp, 'softhsm');
    fs.mkdirSync(path.join(dir, 'tokens'), { recursive: true });
    const conf = path.join(dir, 'softhsm2.conf');
    fs.writeFileSync(conf, `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--pin', '123456', '--so-pin', '654321'], { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'ignore' });
    process.env.SOFTHSM2_CONF = conf;
    const hsm = await Pkcs11Keystore.open({ library: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'bench', pin: '123456', pinEnv: 'X', keyLabel: 'bench' });
    await hsm.createVersion(1);
    const r = await rateAsync(async () => hsm.decrypt(1, await hsm.encrypt(1, key, aadBuf, ctx), aadBuf, ctx), QUICK ? 500 : 3000);
    rows.push(['PKCS#11 (SoftHSM 2) AES-GCM encrypt + decrypt of a 32-byte key', `${fmt(1e6 / r, 1)} µs`, `${fmt(r)} /s`, 'why the hot path never calls the HSM']);
    await hsm.close();
  } else {
    rows.push(['PKCS#11 (SoftHSM 2)', 'not measured', '', 'softhsm2 not installed']);
  }
  const xks = await startXksServer({ keyIds: ['k1'] });
  const ext = await ExternalKeystore.open({ url: xks.url, keyIds: ['k1'], allowedHosts: ['127.0.0.1'], token: undefined, timeoutMs: 2000 }, ctx);
  const r = await rateAsync(async () => ext.decrypt(1, await ext.encrypt(1, key, aadBuf, ctx), aadBuf, ctx), QUICK ? 200 : 1000);
  rows.push(['external key service (reference XKS server, loopback HTTP) encrypt + decrypt', `${fmt(1e6 / r, 1)} µs`, `${fmt(r)} /s`, '']);
  await ext.close();
  await xks.close();

  process.stdout.write(`| measure | per op | rate | note |\n|---|---|---|---|\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n`);
  process.stdout.write(`\nnode ${process.version}, ${os.cpus().length} CPU(s) ${os.cpus()[0]?.model ?? ''}, ${new Date().toISOString()}\n`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => fs.rmSync(tmp, { recursive: true, force: true }));
