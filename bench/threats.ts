/**
 * Threat detector evaluation and benchmark.
 *   node --import tsx bench/threats.ts [--errors dev] [--json]
 * For each set (dev, train and both together: tuned on; heldout: never tuned on) the TPR at ≤ 1% FPR overall, per attack
 * type and per language, the TPR/FPR at the default threshold 0.5, then µs per 1 KiB prompt.
 */
import { readFileSync } from 'node:fs';
const { scanText } = (await import('../dist/threats/detect.js').catch(() => import('../src/threats/detect.js'))) as typeof import('../src/threats/detect.js');
const { parseEvalSet, tprAtFpr } = (await import('../dist/threats/evalset.js').catch(() => import('../src/threats/evalset.js'))) as typeof import('../src/threats/evalset.js');

const args = process.argv.slice(2);
const errorsFor = args.includes('--errors') ? args[args.indexOf('--errors') + 1] : undefined;
const asJson = args.includes('--json');
const report: Record<string, unknown> = {};

const load = (n: string) => parseEvalSet(readFileSync(`test/fixtures/threats/${n}.txt`, 'utf8'));
// dev+train: everything tuned on, with one operating point (the default threshold is set from it).
for (const name of ['dev', 'train', 'dev+train', 'heldout']) {
  const set = name === 'dev+train' ? [...load('dev'), ...load('train')] : load(name);
  const scored = set.map((r) => ({ ...r, score: scanText(r.text, r.channel).max, hits: scanText(r.text, r.channel).hits }));
  const overall = tprAtFpr(scored);
  const at05 = { tpr: scored.filter((s) => s.label === 'attack' && s.score >= 0.5).length / scored.filter((s) => s.label === 'attack').length, fpr: scored.filter((s) => s.label === 'benign' && s.score >= 0.5).length / scored.filter((s) => s.label === 'benign').length };
  const perType: Record<string, { n: number; tpr: number }> = {};
  for (const t of [...new Set(scored.filter((s) => s.label === 'attack').map((s) => s.type))].sort()) {
    const xs = scored.filter((s) => s.label === 'attack' && s.type === t);
    perType[t] = { n: xs.length, tpr: xs.filter((s) => s.score > overall.threshold).length / xs.length };
  }
  const perLang: Record<string, { tpr: number; fpr: number }> = {};
  for (const l of ['ja', 'en']) {
    const xs = scored.filter((s) => s.lang === l);
    perLang[l] = { tpr: xs.filter((s) => s.label === 'attack' && s.score > overall.threshold).length / xs.filter((s) => s.label === 'attack').length, fpr: xs.filter((s) => s.label === 'benign' && s.score > overall.threshold).length / xs.filter((s) => s.label === 'benign').length };
  }
  const nA = scored.filter((s) => s.label === 'attack').length;
  const nB = scored.length - nA;
  report[name] = { attacks: nA, benign: nB, at_1pct_fpr: overall, at_default_0_5: at05, per_type: perType, per_lang: perLang };
  if (!asJson) {
    console.log(`\n${name}: ${nA} attacks, ${nB} benign`);
    console.log(`  TPR at ≤1% FPR: ${(overall.tpr * 100).toFixed(1)}% (threshold ${overall.threshold.toFixed(3)}, FPR ${(overall.fpr * 100).toFixed(1)}%)`);
    console.log(`  at the default threshold 0.5: TPR ${(at05.tpr * 100).toFixed(1)}%, FPR ${(at05.fpr * 100).toFixed(1)}%`);
    for (const [t, v] of Object.entries(perType)) console.log(`    ${t.padEnd(20)} n=${String(v.n).padStart(3)}  TPR ${(v.tpr * 100).toFixed(1)}%`);
    for (const [l, v] of Object.entries(perLang)) console.log(`    ${l}: TPR ${(v.tpr * 100).toFixed(1)}%  FPR ${(v.fpr * 100).toFixed(1)}%`);
  }
  if (errorsFor === name) {
    for (const s of scored) {
      const wrong = s.label === 'attack' ? s.score <= overall.threshold : s.score > overall.threshold;
      if (wrong || (s.label === 'benign' && s.score >= 0.3)) console.log(`  ${s.label === 'attack' ? 'FN' : 'FP'} ${s.score.toFixed(3)} ${s.type} ${JSON.stringify(s.text.slice(0, 110))} ${s.hits.map((h) => `${h.type}:${h.score}[${h.features.join(',')}]`).join(' ')}`);
    }
  }
}

// ------------------------------------------------------------ speed: 1 KiB prompts
/** 200 prompts of at most 1 KiB (UTF-8) cut from the texts laid end to end. */
function kibPrompts(pieces: string[]): string[] {
  let all = '';
  for (let k = 0; all.length < 400_000; k++) all += pieces[k % pieces.length] + '\n';
  const out: string[] = [];
  for (let off = 0; out.length < 200; off += 1499) {
    let s = all.slice(off, off + 1024);
    while (Buffer.byteLength(s) > 1024) s = s.slice(0, -1);
    out.push(s);
  }
  return out;
}
function timeScans(prompts: string[]) {
  for (let i = 0; i < 3000; i++) scanText(prompts[i % prompts.length]!);
  const lat: number[] = [];
  for (let i = 0; i < 20000; i++) {
    const p = prompts[i % prompts.length]!;
    const a = process.hrtime.bigint();
    scanText(p);
    lat.push(Number(process.hrtime.bigint() - a) / 1000);
  }
  lat.sort((a, b) => a - b);
  const bytes = prompts.reduce((n, p) => n + Buffer.byteLength(p), 0) / prompts.length;
  return { prompt_bytes: Math.round(bytes), p50_us: lat[Math.floor(lat.length / 2)]!, p99_us: lat[Math.floor(lat.length * 0.99)]!, mean_us: lat.reduce((a, b) => a + b, 0) / lat.length };
}
const evalTexts = [...parseEvalSet(readFileSync('test/fixtures/threats/dev.txt', 'utf8')), ...parseEvalSet(readFileSync('test/fixtures/threats/heldout.txt', 'utf8'))];
// The figure the target is about: text from both sets, attacks and hard benign texts mixed (nearly every
// prompt carries some cue, so all of the scoring runs).
const speed = timeScans(kibPrompts(evalTexts.map((r) => r.text)));
// For comparison: ordinary benign prompts (the benign set texts on which no detector fires).
const plain = timeScans(kibPrompts(evalTexts.filter((r) => r.label === 'benign' && scanText(r.text, r.channel).hits.length === 0).map((r) => r.text)));
report.speed = speed;
report.speed_plain_benign = plain;
if (asJson) console.log(JSON.stringify(report, null, 2));
else {
  console.log(`\nspeed (1 KiB prompts, ${speed.prompt_bytes} B avg): p50 ${speed.p50_us.toFixed(1)} µs, p99 ${speed.p99_us.toFixed(1)} µs, mean ${speed.mean_us.toFixed(1)} µs`);
  console.log(`speed, ordinary benign 1 KiB prompts (${plain.prompt_bytes} B avg): p50 ${plain.p50_us.toFixed(1)} µs, p99 ${plain.p99_us.toFixed(1)} µs, mean ${plain.mean_us.toFixed(1)} µs`);
}
