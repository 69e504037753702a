/**
 * `npm run bench:overhead` — what a gateway adds on top of a model call, side by side, against a
 * local mock upstream on loopback:
 *
 *   direct   the mock upstream itself (baseline for "added" latency)
 *   bare     bench/bare-proxy.ts: node:http + undici Pool, pipe through (the physical reference)
 *   portkey  @portkey-ai/gateway (installed under .bench/portkey), forced onto 127.0.0.1
 *   sekisho  node bin/sekisho.js serve (needs dist/, i.e. a successful `npx tsc -p tsconfig.json`)
 *
 * For each contender, JSON and SSE (`stream: true`): req/s at 32 connections with the proxy's CPU
 * per request (utime+stime of its process group from /proc), latency p50/p99 at 1 connection and
 * the part added over direct, time to first streamed byte (sequential undici client), idle RSS.
 * Load comes from wrk (C). A contender that cannot start is reported "unavailable (reason)".
 *
 * Options:  --quick            1 s warm-up + 3 s per cell, TTFB N=100; writes no file unless --out
 *           --only=a,b         contenders to run (direct is always run: it is the baseline)
 *           --out=FILE         where the markdown goes (default bench/results/overhead.md)
 *           --keep             keep the temp dir (logs, configs) for inspection
 * Env:      BENCH_PORT_BASE (default 18600: mock +1, bare +2, portkey +3, sekisho +4),
 *           BENCH_WARMUP_S (5), BENCH_MEASURE_S (10), BENCH_TTFB_N (500),
 *           BENCH_PIN=0 to not pin the contender to CPU 0 and mock/wrk/client to CPU 1.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { chatBody, USER_PROMPT } from './prompt.js';

// ---------------------------------------------------------------------------------------------
// settings

const HERE = path.dirname(fileURLToPath(import.meta.url));
// The gateways under test open the default file keystore (throwaway key files in temp dirs).
process.env.SEKISHO_VAULT_PASSPHRASE ??= 'bench-passphrase-not-a-secret';
const ROOT = path.resolve(HERE, '..');
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const opt = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const QUICK = flag('quick');
const KEEP = flag('keep');
const envNum = (name: string, dflt: number) => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? dflt : Number(v);
  if (!Number.isFinite(n) || n <= 0) die(`${name} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
};
const WARMUP_S = envNum('BENCH_WARMUP_S', QUICK ? 1 : 5);
const MEASURE_S = envNum('BENCH_MEASURE_S', QUICK ? 3 : 10);
const TTFB_N = Math.round(envNum('BENCH_TTFB_N', QUICK ? 100 : 500));
const TTFB_WARMUP_N = Math.max(10, Math.round(TTFB_N / 10));
const PORT_BASE = Math.round(envNum('BENCH_PORT_BASE', 18600));
const PIN = process.env.BENCH_PIN !== '0' && os.availableParallelism() >= 2 && hasCmd('taskset');
const OUT = opt('out') ?? (QUICK ? undefined : path.join(HERE, 'results', 'overhead.md'));
const ALL = ['direct', 'bare', 'portkey', 'sekisho', 'sekisho-noinspect'] as const;
type Id = (typeof ALL)[number];
const ONLY = new Set<Id>(['direct', ...((opt('only')?.split(',') ?? ALL) as Id[])]);
for (const id of ONLY) if (!ALL.includes(id)) die(`--only: unknown contender ${id} (known: ${ALL.join(', ')})`);
const CONNS = 32;
const PORTS = { mock: PORT_BASE + 1, bare: PORT_BASE + 2, portkey: PORT_BASE + 3, sekisho: PORT_BASE + 4, 'sekisho-noinspect': PORT_BASE + 5 };
const PORTKEY_VERSION = '1.15.2';
const PORTKEY_DIR = path.join(ROOT, '.bench', 'portkey');
const PORTKEY_BUILD = path.join(PORTKEY_DIR, 'node_modules', '@portkey-ai', 'gateway', 'build');
const CLK_TCK = Number(tryExec('getconf', ['CLK_TCK']) ?? 100) || 100;
const CPU_PROXY = '0';
const CPU_LOAD = '1';

// ---------------------------------------------------------------------------------------------
// process hygiene: every child runs in its own process group and is killed on any way out

const groups = new Map<number, string>(); // pgid -> name

function killGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* already gone */
  }
}
function killAll(sig: NodeJS.Signals): void {
  for (const pgid of groups.keys()) killGroup(pgid, sig);
}
let tmpDir: string | undefined;
process.on('exit', () => {
  killAll('SIGKILL');
  if (tmpDir && !KEEP) fs.rmSync(tmpDir, { recursive: true, force: true });
  else if (tmpDir) process.stderr.write(`bench: logs and configs kept in ${tmpDir}\n`);
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    process.stderr.write(`\nbench: ${sig}, stopping children\n`);
    killAll('SIGTERM');
    process.exit(sig === 'SIGINT' ? 130 : 143); // the 'exit' hook SIGKILLs what is left
  });
}
process.on('uncaughtException', (err) => {
  process.stderr.write(`bench: ${err.stack ?? err}\n`);
  process.exit(1); // the 'exit' hook kills the children
});
process.on('unhandledRejection', (err) => {
  process.stderr.write(`bench: unhandled rejection: ${(err as Error)?.stack ?? err}\n`);
  process.exit(1);
});

function die(msg: string): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(1);
}

function hasCmd(cmd: string): boolean {
  return tryExec('sh', ['-c', `command -v ${cmd}`]) !== undefined;
}
function tryExec(cmd: string, args: string[], opts: { cwd?: string; timeout?: number } = {}): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000, ...opts }).trim();
  } catch {
    return undefined;
  }
}

interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  log: string;
  exited: Promise<number | null>;
  exitCode: () => number | null | undefined;
}

/** Starts `cmd args` in a new process group, optionally pinned to one CPU; output goes to a log. */
function startProc(name: string, cmd: string, args: string[], o: { cwd?: string; cpu?: string; env?: NodeJS.ProcessEnv; logDir: string }): Proc {
  const log = path.join(o.logDir, `${name}.log`);
  const [file, fargs] = PIN && o.cpu !== undefined ? ['taskset', ['-c', o.cpu, cmd, ...args]] : [cmd, args];
  const child = spawn(file, fargs, {
    cwd: o.cwd ?? ROOT,
    env: o.env ?? process.env,
    detached: true, // own process group: kill(-pid) reaches everything it starts
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not spawn ${file}`);
  const pid = child.pid;
  groups.set(pid, name);
  const out = fs.createWriteStream(log);
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  let code: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (c, s) => {
      code = c ?? (s ? 128 : null);
      groups.delete(pid);
      resolve(code);
    });
    child.once('error', () => {
      code = -1;
      groups.delete(pid);
      resolve(-1);
    });
  });
  return { name, child, pid, log, exited, exitCode: () => code };
}

async function stopProc(p: Proc): Promise<void> {
  if (p.exitCode() !== undefined) return;
  killGroup(p.pid, 'SIGTERM');
  const t = setTimeout(() => killGroup(p.pid, 'SIGKILL'), 3000);
  await p.exited;
  clearTimeout(t);
  killGroup(p.pid, 'SIGKILL'); // stragglers in the group
}

function tail(file: string, lines = 12): string {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .replace(/\x1b\[[0-9;]*m/g, '')
      .split(/\r?\n|\r/)
      .filter((l) => l.trim() !== '')
      .slice(-lines)
      .join(' | ')
      .slice(0, 600);
  } catch {
    return '';
  }
}

/** Resolves with the first stdout line matching `re`, or rejects on exit / timeout. */
function waitForLine(p: Proc, re: RegExp, ms: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      p.child.stdout!.off('data', onData);
      fn();
    };
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      const m = buf.match(re);
      if (m) finish(() => resolve(m));
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`no ${re} within ${ms} ms; log: ${tail(p.log)}`))), ms);
    p.child.stdout!.on('data', onData);
    // Give the log stream a moment to flush before quoting it.
    void p.exited.then(() => setTimeout(() => finish(() => reject(new Error(`exited (${p.exitCode()}) before ready; log: ${tail(p.log)}`))), 50));
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitForPort(p: Proc, port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (p.exitCode() !== undefined) throw new Error(`exited (${p.exitCode()}) before listening; log: ${tail(p.log)}`);
    if (await canConnect(port)) return;
    await sleep(100);
  }
  throw new Error(`not listening on 127.0.0.1:${port} after ${ms} ms; log: ${tail(p.log)}`);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Listening TCP sockets of a process group, from `ss -Hltnp`. */
function listeningAddrs(pgid: number): string[] | undefined {
  const out = tryExec('ss', ['-Hltnp']);
  if (out === undefined) return undefined;
  const pids = groupPids(pgid);
  const addrs: string[] = [];
  for (const line of out.split('\n')) {
    const m = [...line.matchAll(/pid=(\d+)/g)].map((x) => Number(x[1]));
    if (m.some((pid) => pids.has(pid))) addrs.push(line.trim().split(/\s+/)[3] ?? '?');
  }
  return addrs;
}

// ---------------------------------------------------------------------------------------------
// /proc accounting

function groupPids(pgid: number): Set<number> {
  const pids = new Set<number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = readStat(Number(d));
    if (st && st.pgrp === pgid) pids.add(Number(d));
  }
  return pids;
}
function readStat(pid: number): { pgrp: number; ticks: number } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return { pgrp: Number(f[2]), ticks: Number(f[11]) + Number(f[12]) }; // fields 5, 14, 15
  } catch {
    return undefined;
  }
}
/** CPU seconds (user+system) used so far by every process in the group. */
function groupCpuSeconds(pgid: number): number {
  let ticks = 0;
  for (const pid of groupPids(pgid)) ticks += readStat(pid)?.ticks ?? 0;
  return ticks / CLK_TCK;
}
/**
 * Busy CPU seconds of the whole machine (all CPUs), from /proc/stat: user, nice, system and
 * steal. irq/softirq are left out: loopback networking is charged there, to nobody's process.
 */
function systemCpuSeconds(): number {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = f;
  return (user + nice + system + steal) / CLK_TCK;
}
/** CPU seconds of this process plus its reaped children (wrk), from /proc/self/stat. */
function selfCpuSeconds(): number {
  const s = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK; // fields 14-17
}
let mockPgid: number | undefined;

function rssMiB(pid: number): number | undefined {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// load: wrk with a Lua script per contender/mode; TTFB: sequential undici client

interface Target {
  origin: string; // http://127.0.0.1:PORT
  path: string;
  headers: Record<string, string>;
  model: string;
}

interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number; // ms
  p99: number;
  errors: number;
  non2xx: number;
  cpuPerReqUs?: number;
  cpuBusyPct?: number;
  /** CPU used during the cell by processes that are not part of the bench, in % of one core. */
  otherPct?: number;
}

function luaScript(t: Target, stream: boolean): string {
  const body = chatBody(t.model, stream);
  if (body.includes(']==]')) throw new Error('body breaks the Lua long string');
  const headers = Object.entries({ 'Content-Type': 'application/json', ...t.headers })
    .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
    .join('\n');
  return `wrk.method = "POST"
wrk.path = ${JSON.stringify(t.path)}
wrk.body = [==[${body}]==]
${headers}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKJSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d,\\"p50\\":%.1f,\\"p99\\":%.1f}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;
}

async function runWrk(
  t: Target,
  script: string,
  conns: number,
  seconds: number,
  logDir: string,
  measure?: { pgid?: number },
): Promise<WrkResult> {
  const args = ['-t', '1', '-c', String(conns), '-d', `${seconds}s`, '--timeout', '5s', '-s', script, t.origin + t.path];
  const cpuPgid = measure?.pgid;
  const ours = () => (cpuPgid !== undefined ? groupCpuSeconds(cpuPgid) : 0) + (mockPgid !== undefined ? groupCpuSeconds(mockPgid) : 0) + selfCpuSeconds();
  const sys0 = measure ? systemCpuSeconds() : 0;
  const ours0 = measure ? ours() : 0;
  const before = cpuPgid !== undefined ? groupCpuSeconds(cpuPgid) : 0;
  const t0 = performance.now();
  const p = startProc(`wrk-${path.basename(script, '.lua')}-c${conns}`, 'wrk', args, { cpu: CPU_LOAD, logDir });
  const guard = setTimeout(() => killGroup(p.pid, 'SIGKILL'), (seconds + 20) * 1000);
  let out = '';
  p.child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const code = await p.exited;
  clearTimeout(guard);
  const wall = (performance.now() - t0) / 1000;
  const after = cpuPgid !== undefined ? groupCpuSeconds(cpuPgid) : 0;
  const other = measure ? Math.max(0, systemCpuSeconds() - sys0 - (ours() - ours0)) : undefined;
  const m = out.match(/WRKJSON (\{.*\})/);
  if (code !== 0 || !m) throw new Error(`wrk failed (exit ${code}): ${tail(p.log)}`);
  const j = JSON.parse(m[1]!) as Record<string, number>;
  const requests = j.requests!;
  const secs = j.duration_us! / 1e6;
  const errors = j.connect! + j.read! + j.write! + j.timeout!;
  const r: WrkResult = {
    requests,
    seconds: secs,
    rps: requests / secs,
    p50: j.p50! / 1000,
    p99: j.p99! / 1000,
    errors,
    non2xx: j.status!,
    ...(other !== undefined ? { otherPct: (other / wall) * 100 } : {}),
  };
  if (cpuPgid !== undefined && requests > 0) {
    const cpu = after - before;
    r.cpuPerReqUs = (cpu / requests) * 1e6;
    r.cpuBusyPct = (cpu / wall) * 100;
  }
  return r;
}

interface TtfbResult {
  p50: number;
  p99: number;
  errors: number;
}

async function measureTtfb(t: Target, n: number, warm: number): Promise<TtfbResult> {
  const client = new Client(t.origin, { pipelining: 1, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const body = chatBody(t.model, true);
  const headers = { 'content-type': 'application/json', ...t.headers };
  const samples: number[] = [];
  let errors = 0;
  try {
    for (let i = 0; i < warm + n; i++) {
      const t0 = performance.now();
      let first = -1;
      try {
        const res = await client.request({ path: t.path, method: 'POST', headers, body });
        for await (const chunk of res.body) {
          if (first < 0 && (chunk as Buffer).length > 0) first = performance.now();
        }
        if (res.statusCode !== 200 || first < 0) throw new Error(`status ${res.statusCode}`);
        if (i >= warm) samples.push(first - t0);
      } catch {
        if (i >= warm) errors++;
      }
    }
  } finally {
    await client.close().catch(() => undefined);
  }
  samples.sort((a, b) => a - b);
  return { p50: pct(samples, 50), p99: pct(samples, 99), errors };
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** One JSON and one SSE request through the contender; throws with a readable reason otherwise. */
async function smokeTest(t: Target): Promise<void> {
  const client = new Client(t.origin, { headersTimeout: 15_000, bodyTimeout: 15_000 });
  try {
    for (const stream of [false, true]) {
      const res = await client.request({
        path: t.path,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...t.headers },
        body: chatBody(t.model, stream),
      });
      const text = await res.body.text();
      const ok = res.statusCode === 200 && (stream ? text.includes('data: [DONE]') && text.includes('関所') : text.includes('関所'));
      if (!ok) throw new Error(`${stream ? 'streaming' : 'JSON'} request → HTTP ${res.statusCode}: ${text.replace(/\s+/g, ' ').slice(0, 240)}`);
    }
  } finally {
    await client.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// contenders

interface Running {
  target: Target;
  proc?: Proc;
  notes: string[];
}

interface Contender {
  id: Id;
  label: string;
  start(tmp: string, mockPort: number): Promise<Running>;
}

const nodeArgsTsx = ['--import', 'tsx'];

const contenders: Contender[] = [
  {
    id: 'direct',
    label: 'direct (mock upstream)',
    async start(_tmp, mockPort) {
      return {
        target: { origin: `http://127.0.0.1:${mockPort}`, path: '/v1/chat/completions', headers: {}, model: 'mock' },
        notes: ['No proxy: the load generator talks to the mock upstream itself. Baseline for "added".'],
      };
    },
  },
  {
    id: 'bare',
    label: 'bare Node proxy',
    async start(tmp, mockPort) {
      const port = PORTS.bare;
      const proc = startProc('bare', process.execPath, [...nodeArgsTsx, path.join(HERE, 'bare-proxy.ts'), String(port), `http://127.0.0.1:${mockPort}`], {
        cpu: CPU_PROXY,
        logDir: tmp,
      });
      await waitForLine(proc, /READY (\d+)/, 20_000);
      return {
        proc,
        target: { origin: `http://127.0.0.1:${port}`, path: '/v1/chat/completions', headers: {}, model: 'mock' },
        notes: [
          '`bench/bare-proxy.ts`: node:http server + undici Pool (128 connections), forwards method/path/headers and streams both bodies (`pool.stream` into the response); nothing else.',
          'Run through `node --import tsx`, so its idle RSS includes the tsx loader.',
        ],
      };
    },
  },
  {
    id: 'portkey',
    label: `Portkey gateway ${PORTKEY_VERSION}`,
    async start(tmp, mockPort) {
      const orig = path.join(PORTKEY_BUILD, 'start-server.js');
      if (!fs.existsSync(orig)) {
        throw new Error(`not installed: run \`npm install --prefix .bench/portkey @portkey-ai/gateway@${PORTKEY_VERSION}\` (or bash scripts/bench-setup.sh)`);
      }
      const installed = JSON.parse(fs.readFileSync(path.join(PORTKEY_BUILD, '..', 'package.json'), 'utf8')).version as string;
      // Streaming fix (see notes): wrap the upstream Response's headers in a fresh, mutable Headers.
      const src = fs.readFileSync(orig, 'utf8');
      const from = ':new Response(p,e)}';
      const to = ':new Response(p,{status:e.status,statusText:e.statusText,headers:new Headers(e.headers)})}';
      const hits = src.split(from).length - 1;
      if (hits !== 1) throw new Error(`streaming patch: expected 1 occurrence of ${from} in start-server.js ${installed}, found ${hits}`);
      const patched = path.join(PORTKEY_BUILD, 'start-server.bench.js'); // beside the original so its imports resolve
      fs.writeFileSync(patched, src.replace(from, to));
      const port = PORTS.portkey;
      const proc = startProc(
        'portkey',
        process.execPath,
        ['--import', pathToImport(path.join(HERE, 'loopback-only.mjs')), patched, `--port=${port}`, '--headless'],
        { cpu: CPU_PROXY, cwd: PORTKEY_DIR, logDir: tmp },
      );
      await waitForPort(proc, port, 30_000);
      return {
        proc,
        target: {
          origin: `http://127.0.0.1:${port}`,
          path: '/v1/chat/completions',
          headers: {
            'x-portkey-provider': 'openai',
            'x-portkey-custom-host': `http://127.0.0.1:${mockPort}/v1`,
            Authorization: 'Bearer x',
          },
          model: 'mock',
        },
        notes: [
          `\`@portkey-ai/gateway@${installed}\` from .bench/portkey, \`node --import bench/loopback-only.mjs build/start-server.bench.js --port=${port} --headless\`.`,
          'Bound to 127.0.0.1 by a preload that rewrites the host of every `net.Server.prototype.listen` call (it has no host flag and would listen on `::`).',
          'Streaming patched at run time in the .bench copy: its SSE path returns `new Response(stream, upstreamFetchResponse)`; under @hono/node-server\'s lightweight `Response` that reuses the upstream fetch Response\'s Headers, whose guard is "immutable", and the next `headers.append("x-portkey-…")` throws `TypeError: immutable` (HTTP 500 "Something went wrong"). The copy passes `new Headers(e.headers)` instead.',
          'Its SSE splitter waits `setTimeout(25)` before the first event of every stream (in the shipped code, kept as is).',
        ],
      };
    },
  },
  sekishoContender('sekisho', 'Sekisho (full checkpoint, content inspection on)', true),
  sekishoContender('sekisho-noinspect', 'Sekisho (inspect.enabled: false)', false),
];

function sekishoContender(id: 'sekisho' | 'sekisho-noinspect', label: string, inspect: boolean) {
  return {
    id,
    label,
    async start(tmp: string, mockPort: number) {
      const main = path.join(ROOT, 'dist', 'cli', 'main.js');
      if (!fs.existsSync(main)) throw new Error('dist/ is not built (`npx tsc -p tsconfig.json` has not succeeded)');
      const dataDir = path.join(tmp, `${id}-data`);
      fs.mkdirSync(dataDir, { recursive: true });
      const port = PORTS[id];
      const config = path.join(tmp, `${id}.yaml`);
      fs.writeFileSync(
        config,
        [
          `listen: {host: 127.0.0.1, port: ${port}}`,
          `data_dir: ${JSON.stringify(dataDir)}`,
          'tenant: {id: bench, name: Bench}',
          'backends:',
          `  - {id: mock, kind: openai, url: "http://127.0.0.1:${mockPort}/v1", models: [mock], location: {country: JP}, operator: {name: Bench, jurisdictions: [JP]}, contract: {no_training: true, retention_days: 0}}`,
          'models: [{name: default, backends: [mock]}]',
          `inspect: {enabled: ${inspect}}`,
          'log: {level: warn}',
          '',
        ].join('\n'),
      );
      const bin = path.join(ROOT, 'bin', 'sekisho.js');
      let keyOut: string;
      try {
        keyOut = execFileSync(process.execPath, [bin, 'apikey', 'create', '--config', config, '--name', 'bench'], {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 30_000,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`apikey create failed: ${(e.stderr || e.message).replace(/\s+/g, ' ').slice(0, 300)}`);
      }
      const key = keyOut.trim().split('\n').pop()?.trim();
      if (!key) throw new Error('apikey create printed no key');
      const proc = startProc(id, process.execPath, [bin, 'serve', '--config', config], { cpu: CPU_PROXY, logDir: tmp });
      await waitForPort(proc, port, 30_000);
      const rev = tryExec('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT });
      const dirty = tryExec('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src'], { cwd: ROOT });
      const built = fs.statSync(main).mtime.toISOString().replace(/\.\d+Z$/, 'Z');
      return {
        proc,
        target: { origin: `http://127.0.0.1:${port}`, path: '/v1/chat/completions', headers: { Authorization: `Bearer ${key}` }, model: 'default' },
        notes: [
          `\`node bin/sekisho.js serve --config <tmp>/${id}.yaml\` (dist/ built ${built}${rev ? `, HEAD ${rev}${dirty ? ' + uncommitted changes' : ''}` : ''}); one openai backend on the mock, log level warn, API key from \`apikey create\`.`,
          inspect
            ? 'Every request: API key check, both messages through the inspector (the ~1 KiB prompt has no personal data: level L0), policy, routing, relay, answer inspection (default answer_actions), batched SQLite record, metrics.'
            : 'The same without content inspection (`inspect: {enabled: false}`): the gateway overhead alone.',
        ],
      };
    },
  };
}

function pathToImport(p: string): string {
  return new URL(`file://${p}`).href;
}

// ---------------------------------------------------------------------------------------------
// the run

interface Row {
  id: Id;
  label: string;
  unavailable?: string;
  rssMiB?: number;
  json?: { c32: WrkResult; c1: WrkResult };
  sse?: { c32: WrkResult; c1: WrkResult; ttfb: TtfbResult };
  notes: string[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

async function preflight(): Promise<void> {
  if (process.platform !== 'linux') die('needs Linux (/proc accounting)');
  if (!hasCmd('wrk')) die('wrk not found: `apt-get update && apt-get install -y wrk` (or `bash scripts/bench-setup.sh`)');
  const needed: [string, number][] = [['mock', PORTS.mock]];
  if (ONLY.has('bare')) needed.push(['bare', PORTS.bare]);
  if (ONLY.has('portkey')) needed.push(['portkey', PORTS.portkey]);
  if (ONLY.has('sekisho')) needed.push(['sekisho', PORTS.sekisho]);
  if (ONLY.has('sekisho-noinspect')) needed.push(['sekisho-noinspect', PORTS['sekisho-noinspect']]);
  const taken: string[] = [];
  for (const [name, port] of needed) {
    if (!(await portFree(port))) {
      const holder = tryExec('ss', ['-Hltnp', `sport = :${port}`])?.replace(/\s+/g, ' ');
      taken.push(`127.0.0.1:${port} (${name})${holder ? ` held by: ${holder}` : ''}`);
    }
  }
  if (taken.length) die(`port(s) already in use: ${taken.join('; ')}. Stop that process or set BENCH_PORT_BASE.`);
}

async function benchContender(c: Contender, tmp: string, mockPort: number): Promise<Row> {
  const row: Row = { id: c.id, label: c.label, notes: [] };
  let running: Running | undefined;
  try {
    log(`${c.id}: starting`);
    running = await c.start(tmp, mockPort);
    row.notes.push(...running.notes);
    const proc = running.proc;
    if (proc) {
      const addrs = listeningAddrs(proc.pid);
      if (addrs === undefined) row.notes.push('Could not check the listening address (ss missing).');
      else if (addrs.length === 0 || addrs.some((a) => !a.startsWith('127.0.0.1:'))) {
        throw new Error(`refused to load it: listening on ${addrs.join(', ') || 'nothing'} (must be 127.0.0.1 only)`);
      } else row.notes.push(`Listening on ${addrs.join(', ')} only (checked with \`ss -ltnp\`).`);
    }
    await smokeTest(running.target);
    if (proc) {
      await sleep(1000);
      row.rssMiB = rssMiB(proc.pid);
    }
  } catch (err) {
    row.unavailable = (err as Error).message.replace(/\s+/g, ' ');
    log(`${c.id}: unavailable: ${row.unavailable}`);
    if (running?.proc) await stopProc(running.proc);
    return row;
  }

  const t = running.target;
  const pgid = running.proc?.pid;
  // A cell during which something outside the bench used the CPUs is measured once more; the
  // quieter of the two is kept (the machine is small and may be shared).
  const measured = async (cell: string, run: () => Promise<WrkResult>): Promise<WrkResult> => {
    const first = await run();
    if ((first.otherPct ?? 0) <= OTHER_WARN) return first;
    log(`${c.id}/${cell}: ${Math.round(first.otherPct!)} % of a core used by other processes, measuring again`);
    const second = await run();
    const kept = (second.otherPct ?? 0) < (first.otherPct ?? 0) ? second : first;
    row.notes.push(`${cell}: measured twice because other processes used ${Math.round(first.otherPct!)} % of a core; kept the run with ${Math.round(kept.otherPct!)} %.`);
    return kept;
  };
  try {
    for (const stream of [false, true]) {
      const mode = stream ? 'sse' : 'json';
      const script = path.join(tmp, `${c.id}-${mode}.lua`);
      fs.writeFileSync(script, luaScript(t, stream));
      log(`${c.id}/${mode}: ${CONNS} connections, ${WARMUP_S}s warm-up + ${MEASURE_S}s`);
      await runWrk(t, script, CONNS, WARMUP_S, tmp);
      const c32 = await measured(`${mode} @${CONNS}`, () => runWrk(t, script, CONNS, MEASURE_S, tmp, { pgid }));
      log(`${c.id}/${mode}: 1 connection, ${WARMUP_S}s warm-up + ${MEASURE_S}s`);
      await runWrk(t, script, 1, WARMUP_S, tmp);
      const c1 = await measured(`${mode} @1`, () => runWrk(t, script, 1, MEASURE_S, tmp, { pgid }));
      if (!stream) row.json = { c32, c1 };
      else {
        log(`${c.id}/ttfb: ${TTFB_WARMUP_N} + ${TTFB_N} sequential streaming requests`);
        const ttfb = await measureTtfb(t, TTFB_N, TTFB_WARMUP_N);
        row.sse = { c32, c1, ttfb };
      }
      if (running.proc && running.proc.exitCode() !== undefined) throw new Error(`died during the run; log: ${tail(running.proc.log)}`);
    }
  } catch (err) {
    row.unavailable = `failed during measurement: ${(err as Error).message.replace(/\s+/g, ' ')}`;
    log(`${c.id}: ${row.unavailable}`);
  } finally {
    if (running.proc) await stopProc(running.proc);
  }
  return row;
}

// ---------------------------------------------------------------------------------------------
// report

const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(2));
const added = (v: number | undefined, base: number | undefined) =>
  v === undefined || base === undefined || Number.isNaN(v) || Number.isNaN(base) ? '—' : `${v - base >= 0 ? '+' : '−'}${Math.abs(v - base).toFixed(2)}`;
const int = (v: number | undefined) => (v === undefined ? '—' : Math.round(v).toLocaleString('en-US'));
const OTHER_WARN = 10;
const otherLoad = (a: WrkResult | undefined, b: WrkResult | undefined) => {
  const v = Math.max(a?.otherPct ?? -1, b?.otherPct ?? -1);
  return v < 0 ? '—' : `${Math.round(v)} %${v > OTHER_WARN ? ' ⚠' : ''}`;
};
const errs = (r: WrkResult | undefined) => (r ? (r.errors + r.non2xx === 0 ? '0' : `${r.errors} io, ${r.non2xx} non-2xx`) : '—');

function report(rows: Row[], machine: Record<string, string>, started: Date, wallS: number): string {
  const base = rows.find((r) => r.id === 'direct');
  const L: string[] = [];
  const cmd = ['npm run bench:overhead', ...(argv.length ? ['--', ...argv] : [])].join(' ');
  const envs = ['BENCH_PORT_BASE', 'BENCH_WARMUP_S', 'BENCH_MEASURE_S', 'BENCH_TTFB_N', 'BENCH_PIN'].filter((k) => process.env[k] !== undefined).map((k) => `${k}=${process.env[k]}`);
  L.push('## Gateway overhead against a local mock upstream');
  L.push('');
  L.push(`- Command: \`${[...envs, cmd].join(' ')}\` (bench/overhead.ts)`);
  L.push(`- Date: ${started.toISOString().replace(/\.\d+Z$/, 'Z')} (run took ${Math.round(wallS)} s)`);
  L.push(`- Machine: ${machine.nproc} CPUs (nproc), ${machine.cpu}, ${machine.mem}; Linux ${machine.kernel}; Node ${process.version}; ${machine.wrk}`);
  L.push(
    `- Request: POST /v1/chat/completions, system + user message, user prompt ${Buffer.byteLength(USER_PROMPT)} bytes of Japanese (${USER_PROMPT.length} characters), body ${Buffer.byteLength(chatBody('default', false))} bytes; the mock answers a fixed reply (JSON 300 bytes, SSE 14 events).`,
  );
  L.push(
    `- Method: wrk -t1, each cell ${WARMUP_S} s warm-up then ${MEASURE_S} s measured; 32 connections for req/s, 1 connection for latency. ` +
      `CPU/req = utime+stime of the proxy's process group (/proc/PID/stat) over the measured 32-connection run ÷ requests; "CPU busy" = that CPU time ÷ wall time. ` +
      `TTFB: sequential undici client, 1 connection, ${TTFB_WARMUP_N} warm-up + ${TTFB_N} streaming requests, request start → first body chunk. Idle RSS: VmRSS 1 s after start and one smoke request of each kind.`,
  );
  L.push(
    PIN
      ? `- Placement: the proxy is pinned to CPU ${CPU_PROXY}; the mock upstream, wrk and the TTFB client share CPU ${CPU_LOAD} (taskset). So req/s is per proxy core while the proxy is the bottleneck ("CPU busy" near 100 %); near the direct figure, the mock/wrk core is the limit instead.`
      : '- Placement: not pinned (BENCH_PIN=0 or taskset missing); all processes share all CPUs.',
  );
  L.push('- Added = contender − direct at the same percentile (ms). All on 127.0.0.1; children run in their own process groups and are killed at the end.');
  L.push('');
  L.push('### Non-streaming (JSON)');
  L.push('');
  L.push('| contender | req/s @32 | CPU/req (µs) | CPU busy | p50 @1 (ms) | p99 @1 (ms) | added p50 | added p99 | errors | idle RSS (MiB) | other load |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|');
  for (const r of rows) {
    if (r.unavailable) {
      L.push(`| ${r.label} | unavailable (${r.unavailable.replace(/\|/g, '\\|')}) | | | | | | | | | |`);
      continue;
    }
    const j = r.json;
    const isBase = r.id === 'direct';
    L.push(
      `| ${r.label} | ${int(j?.c32.rps)} | ${int(j?.c32.cpuPerReqUs)} | ${j?.c32.cpuBusyPct === undefined ? '—' : `${Math.round(j.c32.cpuBusyPct)} %`} | ${ms(j?.c1.p50)} | ${ms(j?.c1.p99)} | ${isBase ? '(base)' : added(j?.c1.p50, base?.json?.c1.p50)} | ${isBase ? '(base)' : added(j?.c1.p99, base?.json?.c1.p99)} | ${errs(j?.c32)} / ${errs(j?.c1)} | ${r.rssMiB === undefined ? '—' : r.rssMiB.toFixed(1)} | ${otherLoad(j?.c32, j?.c1)} |`,
    );
  }
  L.push('');
  L.push('### Streaming (SSE, `stream: true`)');
  L.push('');
  L.push('| contender | req/s @32 | CPU/req (µs) | CPU busy | p50 @1 (ms) | p99 @1 (ms) | added p50 | added p99 | TTFB p50 (ms) | TTFB p99 (ms) | added TTFB p50 | errors | other load |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|');
  for (const r of rows) {
    if (r.unavailable) {
      L.push(`| ${r.label} | unavailable | | | | | | | | | | | |`);
      continue;
    }
    const s = r.sse;
    const isBase = r.id === 'direct';
    const ttfbErr = s && s.ttfb.errors ? `, TTFB ${s.ttfb.errors} failed` : '';
    L.push(
      `| ${r.label} | ${int(s?.c32.rps)} | ${int(s?.c32.cpuPerReqUs)} | ${s?.c32.cpuBusyPct === undefined ? '—' : `${Math.round(s.c32.cpuBusyPct)} %`} | ${ms(s?.c1.p50)} | ${ms(s?.c1.p99)} | ${isBase ? '(base)' : added(s?.c1.p50, base?.sse?.c1.p50)} | ${isBase ? '(base)' : added(s?.c1.p99, base?.sse?.c1.p99)} | ${ms(s?.ttfb.p50)} | ${ms(s?.ttfb.p99)} | ${isBase ? '(base)' : added(s?.ttfb.p50, base?.sse?.ttfb.p50)} | ${errs(s?.c32)} / ${errs(s?.c1)}${ttfbErr} | ${otherLoad(s?.c32, s?.c1)} |`,
    );
  }
  L.push('');
  L.push(
    'Other load: CPU used during the measured cells by processes outside the bench (machine user+system+steal time from /proc/stat minus proxy, mock, wrk and harness), the larger of the two cells, in % of one core. ' +
      `Above ${OTHER_WARN} % (⚠) something else competed for the CPUs: rerun before quoting that row.`,
  );
  L.push('');
  L.push('Errors: "io" = wrk connect/read/write/timeout errors, "non-2xx" = answers with another status; first for the 32-connection run, then the 1-connection run.');
  L.push('');
  L.push('### Notes per contender');
  L.push('');
  for (const r of rows) {
    L.push(`- **${r.label}**${r.unavailable ? ` — unavailable: ${r.unavailable}` : ''}`);
    for (const n of r.notes) L.push(`  - ${n}`);
  }
  for (const id of ALL) if (!ONLY.has(id)) L.push(`- **${contenders.find((c) => c.id === id)!.label}** — not run (--only).`);
  L.push('');
  return L.join('\n');
}

function machineInfo(): Record<string, string> {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: tryExec('nproc', []) ?? String(os.availableParallelism()),
    cpu: cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1]?.trim() ?? 'unknown CPU',
    mem: `${Math.round(os.totalmem() / 2 ** 30)} GiB RAM`,
    kernel: os.release(),
    wrk: (tryExec('sh', ['-c', 'wrk --version 2>&1 | head -1']) ?? 'wrk').replace(/\s+Copyright.*$/, ''),
  };
}

async function main(): Promise<void> {
  const started = new Date();
  await preflight();
  const machine = machineInfo(); // before pinning ourselves: nproc follows the affinity mask
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sekisho-bench-'));
  tmpDir = tmp;
  if (PIN) tryExec('taskset', ['-a', '-p', '-c', CPU_LOAD, String(process.pid)]); // the TTFB client runs here
  log(`temp dir ${tmp}; ${WARMUP_S}s + ${MEASURE_S}s per cell; ${PIN ? `proxy on CPU ${CPU_PROXY}, load on CPU ${CPU_LOAD}` : 'no pinning'}`);

  const mock = startProc('mock', process.execPath, [...nodeArgsTsx, path.join(HERE, 'mock-server.ts'), String(PORTS.mock)], { cpu: CPU_LOAD, logDir: tmp });
  mockPgid = mock.pid;
  let mockPort: number;
  try {
    mockPort = Number((await waitForLine(mock, /READY (\d+)/, 20_000))[1]);
  } catch (err) {
    die(`mock upstream did not start: ${(err as Error).message}`);
  }

  const rows: Row[] = [];
  try {
    for (const c of contenders) {
      if (!ONLY.has(c.id)) continue;
      if (mock.exitCode() !== undefined) throw new Error(`mock upstream died; log: ${tail(mock.log)}`);
      rows.push(await benchContender(c, tmp, mockPort));
    }
  } finally {
    await stopProc(mock);
  }

  const md = report(rows, machine, started, (Date.now() - started.getTime()) / 1000);
  process.stdout.write(`\n${md}\n`);
  if (OUT) {
    fs.mkdirSync(path.dirname(OUT), { recursive: true });
    fs.writeFileSync(OUT, md + '\n');
    log(`written to ${path.relative(process.cwd(), OUT) || OUT}`);
  }
  if (!base(rows)) process.exitCode = 1;
}

function base(rows: Row[]): boolean {
  return rows.some((r) => r.id === 'direct' && !r.unavailable);
}

await main();
