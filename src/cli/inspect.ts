/**
 * `sekisho inspect [FILE|-] [--jsonl] [--min-score N] [--mask]`
 *
 * --jsonl: each input line {"id": ..., "text": ...} → one output line, same order:
 *   {"id": ..., "level": "L3", "flags": [...], "findings": [{"type","start","end","score"}]}
 * A malformed line yields {"id": null, "error": {"en": ..., "ja": ...}} at the same position
 * and processing continues (exit code stays 0). Offsets are UTF-16 indices into "text".
 * Without --jsonl: the whole input is one text; prints a table of findings (coloured only when
 * stdout is a TTY), or with --mask the masked text.
 * Exit codes: 0 done, 1 input could not be read, 2 usage error.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { createInspector, mask, type Inspection } from '../inspect/index.js';

interface Io {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const USAGE = {
  ja: '使い方: sekisho inspect [ファイル|-] [--jsonl] [--min-score 0.5] [--mask]',
  en: 'Usage: sekisho inspect [FILE|-] [--jsonl] [--min-score 0.5] [--mask]',
};

function write(stream: NodeJS.WritableStream, s: string): Promise<void> {
  return new Promise((resolve) => {
    if (stream.write(s)) resolve();
    else stream.once('drain', () => resolve());
  });
}

export async function runInspect(args: string[], io: Io): Promise<number> {
  let values: { jsonl?: boolean; 'min-score'?: string; mask?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: { jsonl: { type: 'boolean' }, 'min-score': { type: 'string' }, mask: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
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
  if (positionals.length > 1) {
    await write(io.stderr, `${USAGE.ja}\n${USAGE.en}\n`);
    return 2;
  }
  let minScore: number | undefined;
  if (values['min-score'] !== undefined) {
    minScore = Number(values['min-score']);
    if (!Number.isFinite(minScore) || minScore < 0 || minScore > 1) {
      await write(io.stderr, `--min-score は 0〜1 の数値で指定してください\n--min-score must be a number between 0 and 1\n`);
      return 2;
    }
  }
  const file = positionals[0] ?? '-';
  let input: NodeJS.ReadableStream;
  if (file === '-') input = io.stdin;
  else {
    try {
      fs.accessSync(file, fs.constants.R_OK);
      input = fs.createReadStream(file);
    } catch {
      await write(io.stderr, `ファイル ${file} を読めません\nCannot read the file ${file}\n`);
      return 1;
    }
  }
  const inspector = createInspector(minScore === undefined ? {} : { minScore });

  if (values.jsonl) {
    const rl = readline.createInterface({ input, crlfDelay: Infinity });
    for await (const line of rl) await write(io.stdout, JSON.stringify(jsonlLine(line, inspector.inspect)) + '\n');
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

function jsonlLine(line: string, inspect: (t: string) => Inspection): unknown {
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch (e) {
    return { id: null, error: { en: `malformed JSON: ${e instanceof Error ? e.message : String(e)}`, ja: `JSON として読めません: ${e instanceof Error ? e.message : String(e)}` } };
  }
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) {
    return { id: null, error: { en: 'each line must be a JSON object {"id": ..., "text": ...}', ja: '各行は {"id": ..., "text": ...} 形式の JSON オブジェクトにしてください' } };
  }
  const o = rec as { id?: unknown; text?: unknown };
  if (typeof o.text !== 'string') {
    return { id: null, error: { en: 'the field "text" must be a string', ja: '"text" フィールドは文字列にしてください' } };
  }
  const r = inspect(o.text);
  return { id: o.id ?? null, level: r.level, flags: r.flags, findings: r.findings.map((f) => ({ type: f.type, start: f.start, end: f.end, score: Math.round(f.score * 1000) / 1000 })) };
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
