/**
 * Inspector evaluator and benchmark.
 *   node --import tsx bench/inspect.ts [corpus.jsonl ...] [--json] [--errors]
 * Default corpus: test/fixtures/inspect/corpus.jsonl.
 * Matching rule: a prediction is a true positive only if (type, start, end) equals a gold
 * entity exactly (UTF-16 offsets into the original text). Everything else predicted is a
 * false positive; every unmatched gold entity is a false negative. Micro-averaged overall.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

interface Ent { type: string; start: number; end: number }
interface Rec { id: string; text: string; entities: Ent[] }

const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('--'));
const showErrors = args.includes('--errors');
const asJson = args.includes('--json');
const corpus: Rec[] = [];
for (const f of files.length ? files : ['test/fixtures/inspect/corpus.jsonl']) {
  for (const line of readFileSync(f, 'utf8').split('\n')) if (line.trim()) corpus.push(JSON.parse(line) as Rec);
}

type Counts = Map<string, { tp: number; fp: number; fn: number }>;
function score(pred: (r: Rec) => Ent[], restrict?: Set<string>): { counts: Counts; errors: string[] } {
  const counts: Counts = new Map();
  const errors: string[] = [];
  const c = (t: string) => {
    let x = counts.get(t);
    if (!x) counts.set(t, (x = { tp: 0, fp: 0, fn: 0 }));
    return x;
  };
  for (const r of corpus) {
    const gold = r.entities.filter((e) => !restrict || restrict.has(e.type));
    const ps = pred(r).filter((e) => !restrict || restrict.has(e.type));
    const key = (e: Ent) => `${e.type}:${e.start}:${e.end}`;
    const g = new Set(gold.map(key));
    const p = new Set(ps.map(key));
    for (const e of ps) {
      if (g.has(key(e))) c(e.type).tp++;
      else {
        c(e.type).fp++;
        if (showErrors) errors.push(`FP ${r.id} ${e.type} [${r.text.slice(e.start, e.end)}] in ${JSON.stringify(r.text.slice(0, 90))}`);
      }
    }
    for (const e of gold) {
      if (!p.has(key(e))) {
        c(e.type).fn++;
        if (showErrors) errors.push(`FN ${r.id} ${e.type} [${r.text.slice(e.start, e.end)}] in ${JSON.stringify(r.text.slice(0, 90))}`);
      }
    }
  }
  return { counts, errors };
}
const prf = (x: { tp: number; fp: number; fn: number }) => {
  const p = x.tp + x.fp ? x.tp / (x.tp + x.fp) : 1;
  const r = x.tp + x.fn ? x.tp / (x.tp + x.fn) : 1;
  const f = p + r ? (2 * p * r) / (p + r) : 0;
  return { p, r, f };
};
function total(counts: Counts) {
  const t = { tp: 0, fp: 0, fn: 0 };
  for (const x of counts.values()) {
    t.tp += x.tp;
    t.fp += x.fp;
    t.fn += x.fn;
  }
  return t;
}

// ------------------------------------------------------------ accuracy
const heapBefore = (globalThis.gc?.(), process.memoryUsage().heapUsed);
// Measure what ships: the compiled inspector (`npm run build`), else the sources through tsx
// (whose per-closure name helpers cost a few percent).
const { createInspector } = (await import('../dist/inspect/index.js').catch(() => import('../src/inspect/index.js'))) as typeof import('../src/inspect/index.js');
const insp = createInspector();
insp.inspect('warm-up 山田太郎様');
const heapAfter = (globalThis.gc?.(), process.memoryUsage().heapUsed);
const ours = score((r) => insp.inspect(r.text).findings);

// ------------------------------------------------------------ speed
// Mixed ja/en text: each corpus record followed by two neutral sentences (so roughly one
// PII-bearing sentence in three, a realistic prompt density rather than the corpus alone).
const PROSE = [
  '来週の定例会議では、第3四半期の売上見込みと新製品の開発状況について議論します。',
  'Please summarise the attached meeting notes and list the action items for each team.',
  '生成AIの利用ガイドラインを改訂し、社内研修の資料も併せて更新しました。',
  'The migration to the new logging pipeline reduced storage costs by about 30 percent.',
  'この文章を丁寧な敬語に書き直してください。対象読者は取引先の担当者です。',
  'We need a short press release in English and Japanese for the product launch in April.',
  '東京と大阪の拠点間でデータを同期する方法について、いくつかの案を比較してください。',
  'Translate the following paragraph into natural Japanese, keeping technical terms in English.',
];
function mixedText(bytes: number): string {
  const parts = corpus.map((r) => r.text);
  // the byte count is kept as we go: measuring the growing string each time is quadratic
  const pieces: string[] = [];
  let n = 0;
  for (let k = 0; n < bytes; k++) {
    const piece = parts[k % parts.length] + '\n' + PROSE[k % PROSE.length] + ' ' + PROSE[(k * 3 + 1) % PROSE.length] + '\n';
    pieces.push(piece);
    n += Buffer.byteLength(piece);
  }
  return pieces.join('');
}
const big = mixedText(8 * 1024 * 1024);
const bigBytes = Buffer.byteLength(big);
let t0 = process.hrtime.bigint();
let reps = 0;
while (reps < 3) {
  insp.inspect(big);
  reps++;
}
const mbps = (bigBytes * reps) / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9);

// 1 KiB prompts (UTF-8 bytes), distinct windows of the mixed text
const prompts: string[] = [];
for (let off = 0; prompts.length < 200; off += 997) {
  let s = big.slice(off, off + 1024);
  while (Buffer.byteLength(s) > 1024) s = s.slice(0, -1);
  prompts.push(s);
}
for (let i = 0; i < 2000; i++) insp.inspect(prompts[i % prompts.length]!);
const lat: number[] = [];
for (let i = 0; i < 20000; i++) {
  const p = prompts[i % prompts.length]!;
  const a = process.hrtime.bigint();
  insp.inspect(p);
  lat.push(Number(process.hrtime.bigint() - a) / 1000);
}
lat.sort((a, b) => a - b);
const p50 = lat[Math.floor(lat.length / 2)]!;
const p99 = lat[Math.floor(lat.length * 0.99)]!;

// ------------------------------------------------------------ openredaction side by side
const OR_MAP: [RegExp, string][] = [
  [/^EMAIL/, 'EMAIL'],
  [/PHONE|MOBILE|TELEPHONE/, 'JP_PHONE'],
  [/CREDIT_CARD|CARD_NUMBER/, 'CREDIT_CARD'],
  [/^IPV?[46]?(_ADDRESS)?$|IP_ADDRESS|IPV6|IPV4/, 'IP_ADDRESS'],
  [/AWS|API_KEY|TOKEN|SECRET|PRIVATE_KEY|JWT|GITHUB|SLACK|OPENAI|STRIPE|GOOGLE_API|PASSWORD|BEARER/, 'SECRET'],
  [/JAPAN.*(MY_?NUMBER|INDIVIDUAL)|MY_NUMBER/, 'JP_MY_NUMBER'],
  [/PASSPORT/, 'JP_PASSPORT'],
  [/DRIV/, 'JP_DRIVERS_LICENSE'],
  [/POSTCODE|POSTAL|ZIP/, 'JP_POSTAL_CODE'],
  [/BANK_ACCOUNT|ACCOUNT_NUMBER/, 'JP_BANK_ACCOUNT'],
  [/^NAME$|PERSON|FULL_NAME/, 'PERSON_NAME'],
  [/ADDRESS/, 'JP_ADDRESS'],
];
let orResult: undefined | { f: number; oursSame: number; mbps: number; types: string[]; counts: Counts; unmapped: string[] } = undefined;
try {
  const { OpenRedaction } = (await import('@openredaction/openredaction')) as unknown as { OpenRedaction: new () => { detect(t: string): unknown } };
  const or = new OpenRedaction();
  const preds = new Map<string, Ent[]>();
  const emitted = new Set<string>();
  const unmapped = new Set<string>();
  for (const r of corpus) {
    const res = (await or.detect(r.text)) as { detections: { type: string; position: [number, number] }[] };
    const es: Ent[] = [];
    for (const d of res.detections) {
      const m = OR_MAP.find(([re]) => re.test(d.type));
      if (!m) {
        unmapped.add(d.type);
        continue;
      }
      emitted.add(m[1]);
      es.push({ type: m[1], start: d.position[0], end: d.position[1] });
    }
    preds.set(r.id, es);
  }
  const restrict = emitted;
  const orScore = score((r) => preds.get(r.id) ?? [], restrict);
  const oursSame = score((r) => insp.inspect(r.text).findings, restrict);
  // speed on 1 MiB of the mixed text
  const sample = big.slice(0, 32 * 1024);
  const sBytes = Buffer.byteLength(sample);
  t0 = process.hrtime.bigint();
  await or.detect(sample);
  const orMbps = sBytes / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9);
  orResult = { f: prf(total(orScore.counts)).f, oursSame: prf(total(oursSame.counts)).f, mbps: orMbps, types: [...restrict].sort(), counts: orScore.counts, unmapped: [...unmapped].sort() };
} catch (e) {
  console.error('openredaction comparison skipped:', e instanceof Error ? e.message : e);
}

// ------------------------------------------------------------ report
const types = [...ours.counts.keys()].sort();
const lines: string[] = [];
lines.push(`corpus: ${corpus.length} records, ${corpus.reduce((a, r) => a + r.entities.length, 0)} entities; matching: exact (type, start, end)`);
lines.push('');
lines.push('| type | gold | P | R | F1 | openredaction F1 |');
lines.push('|---|---:|---:|---:|---:|---:|');
for (const t of types) {
  const x = ours.counts.get(t)!;
  const m = prf(x);
  const o = orResult?.counts.get(t);
  const of = orResult && orResult.types.includes(t) && o ? prf(o).f.toFixed(3) : '—';
  lines.push(`| ${t} | ${x.tp + x.fn} | ${m.p.toFixed(3)} | ${m.r.toFixed(3)} | ${m.f.toFixed(3)} | ${of} |`);
}
const tot = prf(total(ours.counts));
lines.push(`| **overall (micro)** | ${total(ours.counts).tp + total(ours.counts).fn} | ${tot.p.toFixed(3)} | ${tot.r.toFixed(3)} | **${tot.f.toFixed(3)}** | |`);
lines.push('');
lines.push(`throughput (one core, ${(bigBytes / 1e6).toFixed(1)} MB mixed ja/en, UTF-8 bytes): **${mbps.toFixed(1)} MB/s**`);
lines.push(`1 KiB prompt: median **${p50.toFixed(1)} µs**, p99 ${p99.toFixed(1)} µs (${prompts.length} distinct prompts, 20k runs)`);
lines.push(`heap used by lexicons + compiled inspector: ${((heapAfter - heapBefore) / 1048576).toFixed(1)} MiB${globalThis.gc ? '' : ' (run with --expose-gc for an exact figure)'}; process RSS ${(process.memoryUsage().rss / 1048576).toFixed(0)} MiB`);
if (orResult) {
  lines.push('');
  lines.push(`openredaction 1.0.4 on the types it maps to (${orResult.types.join(', ')}): F1 **${orResult.f.toFixed(3)}** vs Sekisho ${orResult.oursSame.toFixed(3)} on the same types; speed ${orResult.mbps.toFixed(2)} MB/s (32 KiB of the same mixed text).`);
  lines.push(`openredaction types seen but not mapped (counted as nothing): ${orResult.unmapped.join(', ') || 'none'}`);
}
lines.push('');
lines.push(`machine: ${cpus().length} cpus, ${cpus()[0]?.model ?? '?'}, node ${process.version}`);
if (asJson) console.log(JSON.stringify({ overallF1: tot.f, mbps, p50, p99 }));
else console.log(lines.join('\n'));
if (showErrors) console.log('\n' + ours.errors.join('\n'));
