import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createInspector, mask } from '../src/inspect/index.js';

const insp = createInspector();

function checkShape(text: string): void {
  const r = insp.inspect(text);
  assert.ok(['L0', 'L1', 'L2', 'L3', 'L4'].includes(r.level));
  let last = -1;
  for (const f of r.findings) {
    assert.ok(Number.isInteger(f.start) && Number.isInteger(f.end) && f.start >= 0 && f.end <= text.length && f.start < f.end, JSON.stringify(f));
    assert.ok(f.start >= last, 'sorted, non-overlapping');
    last = f.end;
    assert.ok(f.score >= 0 && f.score <= 1);
  }
  mask(text, r.findings);
}

const jaChars = fc.constantFrom(...'山田太郎様さん氏〒東京都千代田区1-2-3丁目番地号０９０ー１２３４－５６７８@.:ab Z _-+()\n\t😀\uD800\uDFFF\u0000\u200B個人番号マイナンバー口座普通パスワード');

test('any string (unicode, lone surrogates, control chars) never throws and returns sane offsets', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => checkShape(s)), { numRuns: 400 });
  fc.assert(fc.property(fc.string({ unit: jaChars, maxLength: 400 }), (s) => checkShape(s)), { numRuns: 600 });
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (s) => checkShape(s)), { numRuns: 200 });
});

test('pathological repetitions return in bounded time', () => {
  const cases: [string, string][] = [
    ['1', '1'.repeat(1e6)],
    ['様', '様'.repeat(1e5)],
    ['@', '@'.repeat(1e6)],
    ['a@', 'a@'.repeat(3e5)],
    [':', ':'.repeat(1e6)],
    ['1:', '1:'.repeat(3e5)],
    ['-', '-'.repeat(1e6)],
    ['BEGIN', '-----BEGIN RSA PRIVATE KEY-----\n'.repeat(3e4)],
    ['1-', '1-'.repeat(5e5)],
    ['1 ', '1 '.repeat(5e5)],
    ['a', 'a'.repeat(1e6)],
    ['password', 'password: '.repeat(1e5)],
    ['東京都', '東京都'.repeat(1e5)],
    ['一丁目', '一丁目'.repeat(1e5)],
    ['氏名', '氏名：'.repeat(1e5)],
    ['ー', 'ー'.repeat(1e6)],
    ['山田', '山田'.repeat(2e5)],
    ['eyJ', 'eyJ.'.repeat(2e5)],
  ];
  for (const [name, s] of cases) {
    const t0 = performance.now();
    insp.inspect(s);
    const ms = performance.now() - t0;
    // linear scans take ~15–150 ms here; catastrophic backtracking would take minutes. The
    // generous bound keeps a loaded CI machine from failing a correct build.
    assert.ok(ms < 10_000, `${name}: ${ms.toFixed(0)} ms`);
  }
});

test('a 10 MB input completes', () => {
  const unit = '山田太郎様の電話番号は090-1234-5678、メールは taro@example.jp です。Lorem ipsum dolor sit amet 192.168.1.1 ';
  const s = unit.repeat(Math.ceil((10 * 1024 * 1024) / Buffer.byteLength(unit)));
  const t0 = performance.now();
  const r = insp.inspect(s);
  const ms = performance.now() - t0;
  assert.ok(r.findings.length > 10000);
  assert.ok(ms < 20000, `${ms.toFixed(0)} ms`);
});

test('offsets of generated PII survive arbitrary surrounding text', () => {
  fc.assert(
    fc.property(fc.string({ unit: jaChars, maxLength: 30 }), fc.string({ unit: jaChars, maxLength: 30 }), (a, b) => {
      const pii = 'taro.yamada@example.co.jp';
      const t = `${a} ${pii} ${b}`;
      const f = insp.inspect(t).findings.filter((x) => x.type === 'EMAIL');
      assert.ok(f.some((x) => t.slice(x.start, x.end) === pii), t);
    }),
    { numRuns: 300 },
  );
});
