import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInspect } from '../src/cli/inspect.js';

async function run(args: string[], input: string): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await runInspect(args, { stdin: Readable.from([input]), stdout, stderr });
  return { code, out, err };
}

test('jsonl: one output line per input line, same order, malformed lines reported in place', async () => {
  const input = [
    JSON.stringify({ id: 1, text: '山田太郎様 090-1234-5678' }),
    'not json',
    JSON.stringify({ id: 'b', text: 'マイナンバー 123456789018' }),
    JSON.stringify({ id: 3 }),
    JSON.stringify([1, 2]),
    JSON.stringify({ id: null, text: '' }),
  ].join('\n') + '\n';
  const { code, out } = await run(['--jsonl'], input);
  assert.equal(code, 0);
  const lines = out.trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 6);
  assert.equal(lines[0].id, 1);
  assert.equal(lines[0].level, 'L1');
  assert.deepEqual(lines[0].flags, ['personal']);
  assert.deepEqual(lines[0].findings.map((f: { type: string }) => f.type), ['PERSON_NAME', 'JP_PHONE']);
  assert.deepEqual(Object.keys(lines[0].findings[0]), ['type', 'start', 'end', 'score']);
  assert.equal(lines[1].id, null);
  assert.equal(typeof lines[1].error.en, 'string');
  assert.equal(typeof lines[1].error.ja, 'string');
  assert.equal(lines[2].id, 'b');
  assert.equal(lines[2].level, 'L3');
  assert.ok(lines[2].flags.includes('my_number'));
  assert.equal(lines[3].id, null);
  assert.ok(lines[3].error);
  assert.ok(lines[4].error);
  assert.equal(lines[5].level, 'L0');
});

test('table output without --jsonl, from a FILE, not coloured when not a TTY', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'insp-'));
  const f = join(dir, 'in.txt');
  writeFileSync(f, '連絡先 090-1234-5678 山田様');
  const { code, out } = await run([f], '');
  assert.equal(code, 0);
  assert.match(out, /JP_PHONE/);
  assert.match(out, /090-1234-5678/);
  assert.doesNotMatch(out, /\x1b\[/);
  const m = await run(['--mask', '-'], '山田様 090-1234-5678');
  assert.equal(m.out, '〔氏名1〕様 〔電話番号1〕');
});

test('usage errors and unreadable files', async () => {
  assert.equal((await run(['--bogus'], '')).code, 2);
  assert.equal((await run(['--min-score', 'x'], '')).code, 2);
  assert.equal((await run(['/nonexistent/file'], '')).code, 1);
});

const DOCS = join(import.meta.dirname, 'fixtures', 'documents');

test('a single .docx or .pdf file is inspected through its text', async () => {
  const d = await run([join(DOCS, 'application.docx')], '');
  assert.equal(d.code, 0);
  assert.match(d.out, /区分 level\S*: L3/);
  assert.match(d.out, /JP_MY_NUMBER/);
  assert.match(d.out, /PERSON_NAME +\S+ +\S+ +山田 太郎/);
  const p = await run([join(DOCS, 'customers.pdf')], '');
  assert.equal(p.code, 0);
  for (const t of ['PERSON_NAME', 'EMAIL', 'CREDIT_CARD']) assert.match(p.out, new RegExp(t));
  assert.match(p.out, /佐藤 花子/);
});

test('batch: a directory of txt/md/csv(Shift_JIS)/jsonl/docx/pdf, jsonl output per file and per record, progress on stderr', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'insp-batch-'));
  writeFileSync(join(dir, 'a.txt'), '特に問題のない文章です。');
  writeFileSync(join(dir, 'b.md'), '# 連絡\n担当: 鈴木 一郎 様 (ichiro@example.jp)\n');
  // Excel-style Japanese CSV: Shift_JIS bytes
  const csvText = '氏名,電話\n田中 花子,03-1234-5678\n';
  writeFileSync(join(dir, 'c.csv'), encodeShiftJis(csvText));
  writeFileSync(join(dir, 'd.jsonl'), [JSON.stringify({ id: 'r1', text: 'AWS key AKIAIOSFODNN7EXAMPLE' }), 'oops', JSON.stringify({ id: 'r2', text: 'こんにちは' })].join('\n') + '\n');
  writeFileSync(join(dir, 'ignored.bin'), 'マイナンバー 123456789018');
  writeFileSync(join(dir, '.hidden.txt'), 'マイナンバー 123456789018');
  const { cpSync } = await import('node:fs');
  cpSync(join(DOCS, 'application.docx'), join(dir, 'sub', 'e.docx'), { recursive: true });
  cpSync(join(DOCS, 'customers.pdf'), join(dir, 'sub', 'f.pdf'));

  const { code, out, err } = await run([dir, '--jsonl', '--progress'], '');
  assert.equal(code, 0, err);
  const lines = out.trimEnd().split('\n').map((l) => JSON.parse(l));
  const files = lines.map((l) => l.file.slice(dir.length + 1));
  assert.deepEqual(files, ['a.txt', 'b.md', 'c.csv', 'd.jsonl', 'd.jsonl', 'd.jsonl', join('sub', 'e.docx'), join('sub', 'f.pdf')]);
  const by = (i: number) => lines[i];
  assert.equal(by(0).level, 'L0');
  assert.deepEqual(by(1).findings.map((f: { type: string }) => f.type).sort(), ['EMAIL', 'PERSON_NAME']);
  // offsets index into the decoded text of the file
  const c = by(2);
  assert.deepEqual(c.findings.map((f: { type: string; start: number; end: number }) => [f.type, csvText.slice(f.start, f.end)]), [
    ['PERSON_NAME', '田中 花子'],
    ['JP_PHONE', '03-1234-5678'],
  ]);
  assert.equal(by(3).id, 'r1');
  assert.ok(by(3).flags.includes('secret'));
  assert.equal(by(4).id, null);
  assert.ok(by(4).error.ja && by(4).error.en);
  assert.equal(by(5).id, 'r2');
  assert.equal(by(6).level, 'L3');
  assert.ok(by(7).findings.some((f: { type: string }) => f.type === 'CREDIT_CARD'));
  assert.match(err, /100%/);
  assert.match(err, /6\/6/);
});

test('batch: summary table, unreadable files named with exit code 1, limits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'insp-batch2-'));
  writeFileSync(join(dir, 'a.txt'), '連絡先 090-1234-5678');
  writeFileSync(join(dir, 'big.txt'), 'x'.repeat(5000));
  const { code, out, err } = await run([join(dir, 'a.txt'), join(dir, 'big.txt'), join(dir, 'missing.txt'), '--max-bytes', '1000'], '');
  assert.equal(code, 1);
  assert.equal(err, '', 'no progress bar when stderr is not a terminal');
  assert.match(out, /a\.txt +L1 +personal +JP_PHONE×1/);
  assert.match(out, /big\.txt .*too large/);
  assert.match(out, /missing\.txt .*ENOENT/);
  assert.match(out, /3 ファイル files: L1×1 +読めなかったもの unreadable: 2/);
  assert.equal((await run([dir, '--mask'], '')).code, 2);
  assert.equal((await run([dir, '--max-bytes', '0'], '')).code, 2);
});

/** Shift_JIS encoder for the test (Node has a decoder only): via a reverse table of the decoder. */
function encodeShiftJis(s: string): Buffer {
  const dec = new TextDecoder('shift_jis');
  const table = new Map<string, number[]>();
  for (let hi = 0x81; hi <= 0xfc; hi++) {
    if (hi > 0x9f && hi < 0xe0) continue;
    for (let lo = 0x40; lo <= 0xfc; lo++) {
      if (lo === 0x7f) continue;
      const ch = dec.decode(Uint8Array.of(hi, lo));
      if (ch.length === 1 && ch !== '\ufffd' && !table.has(ch)) table.set(ch, [hi, lo]);
    }
  }
  const out: number[] = [];
  for (const ch of s) {
    if (ch.charCodeAt(0) < 0x80) out.push(ch.charCodeAt(0));
    else {
      const b = table.get(ch);
      if (!b) throw new Error(`no Shift_JIS for ${ch}`);
      out.push(...b);
    }
  }
  return Buffer.from(out);
}
