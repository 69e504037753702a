/**
 * `sekisho inspect [FILE|-] [--jsonl] [--min-score N] [--mask]`
 * `sekisho inspect PATH... [--jsonl] [--progress|--quiet] [--max-bytes N]`   (batch)
 *
 * --jsonl: each input line {"id": ..., "text": ...} → one output line, same order:
 *   {"id": ..., "level": "L3", "flags": [...], "findings": [{"type","start","end","score"}],
 *    "threats": [{"type","score","rule"}], "verdict": "attack"|"benign"}
 *   The verdict uses --threshold, else threats.threshold of --config / $SEKISHO_CONFIG, else 0.5.
 * A malformed line yields {"id": null, "error": {"en": ..., "ja": ...}} at the same position
 * and processing continues (exit code stays 0). Offsets are UTF-16 indices into "text".
 * Without --jsonl: the whole input is one text; prints a table of findings (coloured only when
 * stdout is a TTY), or with --mask the masked text.
 * A single .docx or .pdf FILE is read through its text. Several paths, or a directory, scan
 * every supported file (txt md csv tsv log json jsonl docx pdf) in batch: a summary table, or
 * with --jsonl one line per file {"file", "level", "flags", "findings"} (per record for .jsonl
 * files: {"file", "id", ...}); a progress bar on stderr when it is a terminal (or --progress).
 * Exit codes: 0 done, 1 input could not be read, 2 usage error.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { createInspector, mask, type Inspection, type Inspector } from '../inspect/index.js';
import { collectFiles, documentKind, DocumentError, extractText } from './documents.js';
import { scanText } from '../threats/detect.js';

/** The built-in Sigma rule of each detector (rules/content.yml). */
const RULE_OF: Record<string, string> = {
  'sekisho.prompt_injection': 'sekisho-prompt-injection',
  'sekisho.jailbreak': 'sekisho-jailbreak',
  'sekisho.indirect': 'sekisho-indirect-injection',
  'sekisho.exfiltration': 'sekisho-exfiltration-request',
  'sekisho.bulk_personal_data': 'sekisho-bulk-personal-data',
};

/** Threat fields of a JSONL output line: each detected type, and the verdict at the tenant's threshold. */
export function threatFields(text: string, threshold: number, channel: 'prompt' | 'tool' = 'prompt'): { threats: { type: string; score: number; rule: string }[]; verdict: 'attack' | 'benign' } {
  const r = scanText(text, channel);
  const threats = r.hits.filter((h) => h.score >= 0.2).map((h) => ({ type: h.type, score: h.score, rule: RULE_OF[h.detector] ?? h.detector }));
  return { threats, verdict: r.max >= threshold ? 'attack' : 'benign' };
}

interface Io {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const USAGE = {
  ja: '使い方: sekisho inspect [ファイル|-] [--jsonl] [--min-score 0.5] [--mask]\n       sekisho inspect パス... [--jsonl] [--progress|--quiet] [--max-bytes 67108864]  (一括スキャン)',
  en: 'Usage: sekisho inspect [FILE|-] [--jsonl] [--min-score 0.5] [--mask]\n       sekisho inspect PATH... [--jsonl] [--progress|--quiet] [--max-bytes 67108864]  (batch scan)',
};

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

function write(stream: NodeJS.WritableStream, s: string): Promise<void> {
  return new Promise((resolve) => {
    if (stream.write(s)) resolve();
    else stream.once('drain', () => resolve());
  });
}

export async function runInspect(args: string[], io: Io): Promise<number> {
  let values: { jsonl?: boolean; 'min-score'?: string; mask?: boolean; help?: boolean; progress?: boolean; quiet?: boolean; batch?: boolean; 'max-bytes'?: string; threshold?: string; config?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: {
        jsonl: { type: 'boolean' },
        'min-score': { type: 'string' },
        mask: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        progress: { type: 'boolean' },
        quiet: { type: 'boolean', short: 'q' },
        batch: { type: 'boolean' },
        'max-bytes': { type: 'string' },
        threshold: { type: 'string' },
        config: { type: 'string', short: 'c' },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (e) {
    await write(io.stderr, `${USAGE.ja}\n${USAGE.en}\n${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  if (values.help) {
    await write(io.stdout, `${USAGE.ja}\n${USAGE.en}\n`);
    return 0;
  }
  let minScore: number | undefined;
  if (values['min-score'] !== undefined) {
    minScore = Number(values['min-score']);
    if (!Number.isFinite(minScore) || minScore < 0 || minScore > 1) {
      await write(io.stderr, `--min-score は 0〜1 の数値で指定してください\n--min-score must be a number between 0 and 1\n`);
      return 2;
    }
  }
  let maxBytes = DEFAULT_MAX_BYTES;
  if (values['max-bytes'] !== undefined) {
    maxBytes = Number(values['max-bytes']);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      await write(io.stderr, `--max-bytes は正の整数で指定してください\n--max-bytes must be a positive integer\n`);
      return 2;
    }
  }
  // The tenant's threshold: --threshold, else threats.threshold of --config (or $SEKISHO_CONFIG), else 0.5.
  let threshold = 0.5;
  const configFile = values.config ?? process.env.SEKISHO_CONFIG;
  if (configFile) {
    try {
      const { loadConfig } = await import('../config/index.js');
      threshold = loadConfig(configFile).config.threats.threshold;
    } catch (e) {
      await write(io.stderr, `設定を読めません: ${configFile}\ncannot read the configuration: ${configFile}\n${(e as { report?: () => string }).report?.() ?? String(e)}\n`);
      return 2;
    }
  }
  if (values.threshold !== undefined) {
    threshold = Number(values.threshold);
    if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1) {
      await write(io.stderr, `--threshold は 0〜1 の数値で指定してください\n--threshold must be a number between 0 and 1\n`);
      return 2;
    }
  }
  const inspector = createInspector(minScore === undefined ? {} : { minScore });
  const batch =
    values.batch === true ||
    positionals.length > 1 ||
    (positionals.length === 1 && positionals[0] !== '-' && (fs.statSync(positionals[0]!, { throwIfNoEntry: false })?.isDirectory() ?? false));
  if (batch) {
    if (positionals.includes('-') || values.mask) {
      await write(io.stderr, `一括スキャンでは - と --mask は使えません\n'-' and --mask cannot be used in a batch scan\n`);
      return 2;
    }
    const tty = (io.stderr as NodeJS.WriteStream).isTTY === true;
    return runBatch(positionals, inspector, io, { jsonl: values.jsonl === true, maxBytes, progress: values.quiet ? false : (values.progress ?? tty) });
  }

  const file = positionals[0] ?? '-';
  let input: NodeJS.ReadableStream;
  if (file === '-') input = io.stdin;
  else if (documentKind(file) === 'docx' || documentKind(file) === 'pdf') {
    try {
      input = (await import('node:stream')).Readable.from([await extractText(file, maxBytes)]);
    } catch (e) {
      const d = e instanceof DocumentError ? e : new DocumentError('unreadable', String(e), String(e));
      await write(io.stderr, `${file}: ${d.ja}\n${file}: ${d.en}\n`);
      return 1;
    }
  }
  else {
    try {
      fs.accessSync(file, fs.constants.R_OK);
      input = fs.createReadStream(file);
    } catch {
      await write(io.stderr, `ファイル ${file} を読めません\nCannot read the file ${file}\n`);
      return 1;
    }
  }

  if (values.jsonl) {
    const rl = readline.createInterface({ input, crlfDelay: Infinity });
    for await (const line of rl) await write(io.stdout, JSON.stringify(jsonlLine(line, inspector.inspect, threshold)) + '\n');
    return 0;
  }

  let text = '';
  try {
    input.setEncoding?.('utf8');
    for await (const chunk of input) text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
  } catch (e) {
    await write(io.stderr, `入力を読めません: ${String(e)}\nCannot read the input: ${String(e)}\n`);
    return 1;
  }
  const r = inspector.inspect(text);
  if (values.mask) {
    await write(io.stdout, mask(text, r.findings));
    return 0;
  }
  const tty = (io.stdout as NodeJS.WriteStream).isTTY === true;
  await write(io.stdout, table(text, r, tty));
  return 0;
}

interface BatchOptions {
  jsonl: boolean;
  maxBytes: number;
  progress: boolean;
}

interface FileSummary {
  file: string;
  level: string;
  flags: Set<string>;
  counts: Map<string, number>;
  error?: { ja: string; en: string };
}

/** Scans every supported file under the paths; exit code 1 when some file could not be read. */
async function runBatch(paths: string[], inspector: Inspector, io: Io, opts: BatchOptions): Promise<number> {
  const files = await collectFiles(paths);
  const total = files.reduce((n, f) => n + f.size, 0);
  let bar: { update(v: number, p?: object): void; stop(): void } | undefined;
  if (opts.progress) {
    const { SingleBar } = (await import('cli-progress')).default;
    const b = new SingleBar({
      stream: io.stderr as NodeJS.WriteStream,
      format: '{bar} {percentage}% | {done}/{files} ファイル files | {mb} MB | {name}',
      barCompleteChar: '█',
      barIncompleteChar: '░',
      hideCursor: false,
      noTTYOutput: true,
      notTTYSchedule: 500,
      etaBuffer: 20,
      fps: 10,
    });
    b.start(Math.max(total, 1), 0, { done: 0, files: files.length, mb: '0.0', name: '' });
    bar = b;
  }
  const summaries: FileSummary[] = [];
  let failed = 0;
  let doneBytes = 0;
  let done = 0;
  for (const f of files) {
    const s: FileSummary = { file: f.file, level: 'L0', flags: new Set(), counts: new Map() };
    try {
      const text = await extractText(f.file, opts.maxBytes);
      const records = documentKind(f.file) === 'jsonl' ? jsonlRecords(text) : [{ text }];
      for (const rec of records) {
        if (rec.error) {
          if (opts.jsonl) await write(io.stdout, JSON.stringify({ file: f.file, id: null, error: rec.error }) + '\n');
          continue;
        }
        const r = inspector.inspect(rec.text);
        if (r.level > s.level) s.level = r.level;
        for (const fl of r.flags) s.flags.add(fl);
        for (const x of r.findings) s.counts.set(x.type, (s.counts.get(x.type) ?? 0) + 1);
        if (opts.jsonl) {
          const head = 'id' in rec ? { file: f.file, id: rec.id ?? null } : { file: f.file };
          await write(io.stdout, JSON.stringify({ ...head, ...result(r) }) + '\n');
        }
      }
    } catch (e) {
      const d = e instanceof DocumentError ? e : new DocumentError('unreadable', String(e), String(e));
      s.error = { ja: d.ja, en: d.en };
      failed++;
      if (opts.jsonl) await write(io.stdout, JSON.stringify({ file: f.file, error: s.error }) + '\n');
    }
    summaries.push(s);
    doneBytes += f.size;
    done++;
    bar?.update(doneBytes, { done, files: files.length, mb: (doneBytes / 1e6).toFixed(1), name: f.file.length > 40 ? '…' + f.file.slice(-39) : f.file });
  }
  bar?.stop();
  if (!opts.jsonl) await write(io.stdout, batchTable(summaries, (io.stdout as NodeJS.WriteStream).isTTY === true));
  if (files.length === 0) await write(io.stderr, `スキャンできるファイルがありません\nno files to scan\n`);
  return failed > 0 ? 1 : 0;
}

function jsonlRecords(text: string): { id?: unknown; text: string; error?: { ja: string; en: string } }[] {
  const out: { id?: unknown; text: string; error?: { ja: string; en: string } }[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const r = parseRecord(line);
    if ('error' in r) out.push({ text: '', error: r.error });
    else out.push({ id: r.id, text: r.text });
  }
  return out;
}

function result(r: Inspection): { level: string; flags: string[]; findings: { type: string; start: number; end: number; score: number }[] } {
  return { level: r.level, flags: r.flags, findings: r.findings.map((f) => ({ type: f.type, start: f.start, end: f.end, score: Math.round(f.score * 1000) / 1000 })) };
}

function batchTable(rows: FileSummary[], colour: boolean): string {
  const c = (code: string, s: string): string => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const levelColour = (l: string): string => (l >= 'L3' ? '31;1' : l >= 'L1' ? '33;1' : '32;1');
  const head = ['file / ファイル', 'level', 'flags', 'findings / 検出'];
  const body = rows.map((r) => [
    r.file,
    r.error ? '-' : r.level,
    r.error ? '-' : [...r.flags].join(',') || '-',
    r.error ? `${r.error.ja} / ${r.error.en}` : [...r.counts].map(([t, n]) => `${t}×${n}`).join(' ') || '-',
  ]);
  const w = head.map((h, k) => Math.max(width(h), ...body.map((row) => width(row[k]!))));
  const pad = (s: string, k: number): string => s + ' '.repeat(Math.max(0, w[k]! - width(s)));
  const lines = [c('2', head.map((h, k) => (k < 3 ? pad(h, k) : h)).join('  '))];
  for (const row of body) lines.push([pad(row[0]!, 0), c(levelColour(row[1]!), pad(row[1]!, 1)), pad(row[2]!, 2), row[3]!].join('  '));
  const byLevel = new Map<string, number>();
  for (const r of rows) if (!r.error) byLevel.set(r.level, (byLevel.get(r.level) ?? 0) + 1);
  const failed = rows.filter((r) => r.error).length;
  lines.push(
    `${rows.length} ファイル files: ${[...byLevel].sort().map(([l, n]) => `${l}×${n}`).join(' ') || '-'}${failed ? `  読めなかったもの unreadable: ${failed}` : ''}`,
  );
  return lines.join('\n') + '\n';
}

function parseRecord(line: string): { id: unknown; text: string } | { error: { ja: string; en: string } } {
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch (e) {
    return { error: { en: `malformed JSON: ${e instanceof Error ? e.message : String(e)}`, ja: `JSON として読めません: ${e instanceof Error ? e.message : String(e)}` } };
  }
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) {
    return { error: { en: 'each line must be a JSON object {"id": ..., "text": ...}', ja: '各行は {"id": ..., "text": ...} 形式の JSON オブジェクトにしてください' } };
  }
  const o = rec as { id?: unknown; text?: unknown };
  if (typeof o.text !== 'string') return { error: { en: 'the field "text" must be a string', ja: '"text" フィールドは文字列にしてください' } };
  return { id: o.id ?? null, text: o.text };
}

function jsonlLine(line: string, inspect: (t: string) => Inspection, threshold: number): unknown {
  const rec = parseRecord(line);
  if ('error' in rec) return { id: null, error: rec.error };
  return { id: rec.id, ...result(inspect(rec.text)), ...threatFields(rec.text, threshold) };
}

function table(text: string, r: Inspection, colour: boolean): string {
  const c = (code: string, s: string): string => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const lines: string[] = [];
  lines.push(`${c('1', '区分 level')}: ${c(r.level >= 'L3' ? '31;1' : r.level >= 'L1' ? '33;1' : '32;1', r.level)}   ${c('1', 'フラグ flags')}: ${r.flags.join(', ') || '-'}`);
  if (!r.findings.length) {
    lines.push('検出なし / no findings');
    return lines.join('\n') + '\n';
  }
  const rows = r.findings.map((f) => [f.type, `${f.start}-${f.end}`, f.score.toFixed(2), oneLine(text.slice(f.start, f.end))]);
  const head = ['type', 'span', 'score', 'text'];
  const w = head.map((h, k) => Math.max(h.length, ...rows.map((row) => width(row[k]!))));
  const pad = (s: string, k: number): string => s + ' '.repeat(Math.max(0, w[k]! - width(s)));
  lines.push(c('2', head.map(pad).join('  ')));
  for (const row of rows) lines.push([c('36', pad(row[0]!, 0)), pad(row[1]!, 1), pad(row[2]!, 2), row[3]!].join('  '));
  return lines.join('\n') + '\n';
}

function oneLine(s: string): string {
  const t = s.replace(/[\r\n\t]+/g, ' ');
  return t.length > 60 ? t.slice(0, 57) + '…' : t;
}

/** display width: East Asian wide characters count 2 */
function width(s: string): number {
  let w = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    w += cp >= 0x1100 && (cp <= 0x115f || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) || cp >= 0x1f300) ? 2 : 1;
  }
  return w;
}
