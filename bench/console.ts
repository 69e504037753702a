/**
 * `npm run bench:console`: how long each console page's API takes with 100,000 decision
 * records (and 2,000 credentials) in the store. A real gateway (SQLite store, HTTP), records
 * spread over 8 weeks with the last hour busy, 60 % of them from people in 12 departments.
 * Each endpoint is called 7 times after one warm-up; the median and the worst are printed.
 * Target (issue #8): every page's API ≤ 300 ms.
 */
import crypto from 'node:crypto';
import { startHarness, mocks, tokyoBackend, usBackend } from '../test/support/harness.ts';
import type { DecisionRecord, CredentialRow } from '../src/store/index.ts';

const N = Number(process.env.RECORDS ?? 100_000);
const [tokyo, us] = await mocks({ name: 'tokyo', reply: 'ok' }, { name: 'us', reply: 'ok' });
const h = await startHarness({
  backends: [tokyoBackend(tokyo.url), usBackend(us.url), tokyoBackend(tokyo.url, { id: 'osaka-llm', location: { country: 'JP', region: 'osaka' } })],
  models: [{ name: 'default', backends: ['us-frontier', 'tokyo-llm', 'osaka-llm'] }],
  admin: { api_keys: ['bench-admin'] },
  log: { level: 'warn' },
});
const adminKey = h.key({ name: 'bench-admin' });
const store = h.gw.core.store;

// ---- seed ----------------------------------------------------------------------------
const DEPTS = ['経理部', '営業部', '法務部', '人事部', '情報システム部', '開発部', '広報部', '購買部', '総務部', '品質保証部', '研究所', '経営企画部'];
const LEVELS = ['L0', 'L1', 'L2', 'L3', 'L4'];
const REASONS = ['level_above_principal_max', 'no_compliant_backend', 'training_required', 'content_blocked', 'invalid_credential'];
const now = Date.now();
const t0 = performance.now();
const credentials: CredentialRow[] = [];
for (let i = 0; i < 2000; i++) {
  credentials.push({
    id: crypto.randomBytes(8).toString('hex'),
    subject: `urn:sekisho:staff:${i}`,
    employee_id: `e${i}`,
    claims: '',
    status_list: 1,
    status_idx: 100_000 + i,
    kid: null,
    created_at: new Date(now - 90 * 86_400_000).toISOString(),
    issued_at: null,
    expires_at: new Date(now + 300 * 86_400_000).toISOString(),
    revoked_at: null,
    department: DEPTS[i % DEPTS.length]!,
    trained: i % 3 === 0 ? 0 : 1,
  });
}
for (const c of credentials) store.identity.insertCredential(c);
let rng = 42;
const rand = () => ((rng = (rng * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const batch: DecisionRecord[] = [];
const base = 10_000_000;
for (let i = 0; i < N; i++) {
  // 5 % in the last hour, the rest over 8 weeks
  const age = i % 20 === 0 ? rand() * 3600_000 : rand() * 56 * 86_400_000;
  const person = rand() < 0.6;
  const c = credentials[Math.floor(rand() * 1200)]!;
  const denied = rand() < 0.04;
  const level = LEVELS[Math.floor(rand() * (denied ? 5 : 4))]!;
  batch.push({
    seq: base + i,
    request_id: crypto.randomUUID(),
    ts: new Date(now - age).toISOString(),
    principal: person ? `vc:${c.id}` : `key:k${i % 7}`,
    endpoint: 'chat.completions',
    model: 'default',
    level,
    flags: '',
    findings: '',
    decision: denied ? 'block' : 'allow',
    reason: denied ? REASONS[i % REASONS.length]! : 'allowed',
    backend: denied ? null : level === 'L0' ? 'us-frontier' : i % 2 ? 'tokyo-llm' : 'osaka-llm',
    status: denied ? 403 : 200,
    duration_ms: 3 + rand() * 20,
    upstream_ms: denied ? null : 100 + rand() * 900,
    attempts: denied ? 0 : 1,
    department: person ? c.department! : '',
    trained: person ? c.trained! : null,
  });
  if (batch.length === 5000) store.records.append(batch.splice(0));
}
store.records.append(batch.splice(0));
const seeded = performance.now() - t0;

// ---- measure -------------------------------------------------------------------------
const login = await fetch(`${h.gw.url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: adminKey }) });
const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
const some = (await store.console.search({ limit: 1, beforeSeq: base + N / 2 }))[0]!;
const from = new Date(now - 2 * 86_400_000).toISOString();
const to = new Date(now - 86_400_000).toISOString();
const ENDPOINTS: [string, string][] = [
  ['Overview', 'overview?minutes=60'],
  ['Backends', 'backends'],
  ['Policies', 'policies'],
  ['Identities', 'identities'],
  ['Audit: latest', 'audit/search?limit=50'],
  ['Audit: request id', `audit/search?request_id=${some.request_id}`],
  ['Audit: time range', `audit/search?from=${from}&to=${to}&limit=50`],
  ['Audit: checkpoints', 'audit/checkpoints?limit=10'],
  ['Threats', 'threats'],
  ['Adoption (8 weeks)', 'adoption?weeks=8'],
  ['Settings', 'settings'],
];
const rows: string[] = [];
let worstAll = 0;
for (const [name, p] of ENDPOINTS) {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 8; i++) {
    const t = performance.now();
    const r = await fetch(`${h.gw.url}/console/api/${p}`, { headers: { cookie } });
    const body = await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`${p}: HTTP ${r.status} ${Buffer.from(body).toString()}`);
    if (i > 0) times.push(performance.now() - t);
    bytes = body.byteLength;
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  const worst = times.at(-1)!;
  worstAll = Math.max(worstAll, worst);
  rows.push(`| ${name} | ${median.toFixed(1)} | ${worst.toFixed(1)} | ${(bytes / 1024).toFixed(1)} |`);
}
console.log(`console API with ${store.records.count().toLocaleString('en')} decision records and ${credentials.length} credentials (seeded in ${(seeded / 1000).toFixed(1)} s)\n`);
console.log('| page API | median ms | worst ms | response KiB |\n| --- | ---: | ---: | ---: |');
console.log(rows.join('\n'));
console.log(`\nworst of all: ${worstAll.toFixed(1)} ms (target ≤ 300 ms): ${worstAll <= 300 ? 'met' : 'NOT met'}`);
await h.close();
await Promise.all([tokyo.close(), us.close()]);
