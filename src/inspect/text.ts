/**
 * Character classes and width/dash normalisation.
 *
 * normalize() is deliberately 1:1 in UTF-16 code units: every code unit of the input maps to
 * exactly one code unit of the output, so offsets in the normalised text ARE offsets in the
 * original text (the offset map is the identity). What it folds:
 *  - full-width ASCII U+FF01..FF5E → ASCII, ideographic space U+3000 → ' '
 *  - hyphen/dash/minus variants (‐ ‑ ‒ – — ― − ﹣ －) → '-'
 *  - katakana prolonged sound mark ー / ｰ → '-' only between digits (090ー1234ー5678)
 *  - half-width katakana → full-width katakana (without merging voiced marks)
 * Spaces inside numbers are not removed here; the numeric scanner accepts single separators
 * between digit groups and reports the span of the whole group sequence.
 */

const HW_KATA =
  '。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン゛゜';

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isFwDigit(c: number): boolean {
  return c >= 0xff10 && c <= 0xff19;
}

const UTF16 = new TextDecoder('utf-16le');
export function normalize(text: string): string {
  const len = text.length;
  let i = 0;
  // fast path: find the first code unit that needs folding
  for (; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x2010) continue;
    if (needsFold(c)) break;
  }
  if (i === len) return text;
  const out = new Uint16Array(len);
  for (let k = 0; k < i; k++) out[k] = text.charCodeAt(k);
  for (; i < len; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0x2010) {
      if (c >= 0xff01 && c <= 0xff5e) c -= 0xfee0;
      else if (c === 0x3000) c = 32;
      else if (c === 0x2010 || c === 0x2011 || c === 0x2012 || c === 0x2013 || c === 0x2014 || c === 0x2015 || c === 0x2212 || c === 0xfe63 || c === 0x2043) c = 45;
      else if (c === 0x30fc || c === 0xff70) {
        const p = i > 0 ? out[i - 1]! : 0;
        const n = i + 1 < len ? text.charCodeAt(i + 1) : 0;
        if (isDigitCode(p) && (isDigitCode(n) || isFwDigit(n))) c = 45;
        else if (c === 0xff70) c = 0x30fc;
      } else if (c >= 0xff61 && c <= 0xff9f) c = HW_KATA.charCodeAt(c - 0xff61);
    }
    out[i] = c;
  }
  return UTF16.decode(out);
}

function needsFold(c: number): boolean {
  return (
    (c >= 0xff01 && c <= 0xff9f) || c === 0x3000 || (c >= 0x2010 && c <= 0x2015) || c === 0x2212 || c === 0xfe63 || c === 0x2043 || c === 0x30fc
  );
}

export const isDigit = isDigitCode;
export function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
export function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}
export function isLower(c: number): boolean {
  return c >= 97 && c <= 122;
}
export function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
export function isWordChar(c: number): boolean {
  return isAlnum(c) || c === 95;
}
export function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}
export function isKanji(c: number): boolean {
  return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || c === 0x3005 || c === 0x3006 || (c >= 0xf900 && c <= 0xfaff);
}
export function isHiragana(c: number): boolean {
  return c >= 0x3041 && c <= 0x309f;
}
export function isKatakana(c: number): boolean {
  return (c >= 0x30a1 && c <= 0x30fa) || c === 0x30fc || c === 0x30fd || c === 0x30fe;
}
export function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 0x3000;
}
/** kanji numerals used in addresses */
export function isKanjiNumeral(c: number): boolean {
  return (
    c === 0x3007 /*〇*/ || c === 0x4e00 /*一*/ || c === 0x4e8c /*二*/ || c === 0x4e09 /*三*/ || c === 0x56db /*四*/ || c === 0x4e94 /*五*/ ||
    c === 0x516d /*六*/ || c === 0x4e03 /*七*/ || c === 0x516b /*八*/ || c === 0x4e5d /*九*/ || c === 0x5341 /*十*/ || c === 0x767e /*百*/ || c === 0x5343 /*千*/
  );
}

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const v of counts.values()) {
    const p = v / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** lower-cased window of `n` before position `pos` (at most `k` chars). */
export function before(n: string, pos: number, k: number): string {
  return n.slice(Math.max(0, pos - k), pos);
}
export function after(n: string, pos: number, k: number): string {
  return n.slice(pos, pos + k);
}
export function containsAny(window: string, words: readonly string[]): boolean {
  for (const w of words) if (window.includes(w)) return true;
  return false;
}
