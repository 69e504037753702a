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
