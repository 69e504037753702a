/** Numeric tokens: digit groups with single separators, classified by validators and context. */
import { isDigit, isAsciiLetter, isWordChar, before, containsAny } from './text.js';
import { isValidMyNumber, isValidCorporateNumber, isValidDriversLicense, luhn, cardBrand, isValidEan13 } from './checks.js';
import type { Finding } from './types.js';

const PHONE_CTX = ['電話', 'tel', 'phone', '携帯', '連絡先', 'fax', 'ファックス', 'ファクス', '内線', 'call', 'mobile', 'contact', '問い合わせ', '問合せ', 'お問合', 'ダイヤル', 'ﾀﾞｲﾔﾙ', 'フリーダイヤル', '番号:'];
const MYNUM_CTX = ['個人番号', 'マイナンバー', 'my number', 'mynumber', 'individual number'];
const CORP_CTX = ['法人番号', 'corporate number', '法人', '会社番号', 'インボイス', '登録番号', 'invoice registration'];
const CARD_CTX = ['カード', 'card', 'クレジット', 'visa', 'master', 'jcb', 'amex', 'credit', '決済'];
const LICENSE_CTX = ['免許', 'license', 'licence', "driver"];
const BANK_CTX = ['口座', '普通', '当座', '預金', '銀行', '支店', '信金', '信用金庫', 'ゆうちょ', 'account', 'acct', 'a/c', '振込', '振り込み', 'bank'];
const POSTAL_CTX = ['〒', '郵便', 'postal', 'zip', 'post code', 'postcode'];
/** context that makes a number something else (order/invoice/product ids, money, counts) */
const DECOY_CTX = ['注文', '受注', '発注', '請求', '伝票', '管理番号', '会員番号', '商品', '品番', '型番', '製品', 'シリアル', 'serial', 'order', 'invoice', 'ticket', 'チケット', '問合せ番号', '受付番号', '予約番号', '追跡', 'tracking', 'jan', 'isbn', 'ean', 'バーコード', 'barcode', 'sku', 'version', 'ver.', 'バージョン', 'ロット', 'lot', '#', 'id:', 'id ', 'no.', '売上', '金額', '価格', '円', '¥', '$', 'hash', 'ハッシュ', 'build', 'ビルド'];

interface Tok {
  start: number;
  end: number;
  digits: string;
  groups: number[];
  seps: string[];
  plus: boolean;
  ends: number[]; // end index of each group
  starts: number[];
}

const MAX_GROUPS = 12;

function isSepChar(c: number): boolean {
  return c === 45 /*-*/ || c === 32 || c === 40 /*(*/ || c === 41 /*)*/ || c === 46 /*.*/ || c === 47 /*/*/;
}

/** scan a numeric token starting at i (n[i] is a digit, '+' or '('). Returns the index after it. */
function scan(n: string, i: number): Tok {
  const len = n.length;
  let p = i;
  let plus = false;
  if (n.charCodeAt(p) === 43) {
    plus = true;
    p++;
  }
  if (n.charCodeAt(p) === 40) p++;
  const tok: Tok = { start: i, end: p, digits: '', groups: [], seps: [], plus, ends: [], starts: [] };
  let digits = '';
  for (;;) {
    const g0 = p;
    while (p < len && isDigit(n.charCodeAt(p))) p++;
    if (p === g0) break;
    tok.starts.push(g0);
    tok.groups.push(p - g0);
    tok.ends.push(p);
    if (p - g0 <= 32) digits += n.slice(g0, p);
    else digits += 'x'; // absurdly long run: never a valid identifier
    tok.end = p;
    if (tok.groups.length >= MAX_GROUPS) break;
    let q = p;
    while (q < len && q - p < 3 && isSepChar(n.charCodeAt(q))) q++;
    if (q > p && isDigit(n.charCodeAt(q))) {
      const sep = n.slice(p, q);
      if (!validSep(sep)) break;
      tok.seps.push(sep);
      p = q;
      continue;
    }
    // closing paren right after the digits: "(03)" followed by nothing numeric
    break;
  }
  tok.digits = digits;
  return tok;
}

function validSep(s: string): boolean {
  if (s.length === 1) return true;
  // ") ", " (", ")-", " - ", "-(" … but not "..", "//", ". " etc.
  if (s.includes('.') || s.includes('/')) return false;
  let spaces = 0;
  let dashes = 0;
  for (const ch of s) {
    if (ch === ' ') spaces++;
    if (ch === '-') dashes++;
  }
  return spaces <= 2 && dashes <= 1;
}

function clamp(x: number): number {
  return x > 0.99 ? 0.99 : x < 0 ? 0 : x;
}

export interface NumberContext {
  lower: (from: number, to: number) => string;
}

/**
 * Handle a numeric token at i. Pushes findings; returns the index to continue from.
 */
export function numericAt(n: string, i: number, out: Finding[], lowerWin: (from: number, to: number) => string): number {
  const prev = i > 0 ? n.charCodeAt(i - 1) : 0;
  const tok = scan(n, i);
  let end = tok.end;
  const next = n.charCodeAt(end);
  // part of an identifier (hash, UUID, version string, SKU)?
  let glued = false;
  if (isWordChar(prev)) {
    glued = true;
    // allow TEL03-…, Tel:…, FAX
    let k = i - 1;
    while (k >= 0 && isAsciiLetter(n.charCodeAt(k))) k--;
    const w = n.slice(k + 1, i).toLowerCase();
    if ((w === 'tel' || w === 'fax' || w === 'phone' || w === 'mobile') && !isWordChar(n.charCodeAt(k))) glued = false;
  } else if ((prev === 45 || prev === 46 || prev === 95) && i > 1 && isWordChar(n.charCodeAt(i - 2))) glued = true;
  if (isWordChar(next) || next === 95) glued = true;
  if ((next === 46 || next === 45) && isWordChar(n.charCodeAt(end + 1))) glued = true; // 1.2.3.4.5 / 2024-01-xx
  if (glued) {
    // skip the rest of the identifier
    while (end < n.length && (isWordChar(n.charCodeAt(end)) || ((n.charCodeAt(end) === 45 || n.charCodeAt(end) === 46) && isWordChar(n.charCodeAt(end + 1))))) end++;
    return Math.max(end, i + 1);
  }
  if (!classify(n, tok, 0, tok.groups.length, out, lowerWin) && tok.groups.length > 1 && tok.groups.length <= 8) {
    // fallback: a run like "〒100-0001 03-1234-5678" — split at space separators
    let a = 0;
    while (a < tok.groups.length) {
      let done = false;
      for (let b = Math.min(tok.groups.length, a + 4); b > a; b--) {
        if (b < tok.groups.length && tok.seps[b - 1] !== ' ' && !tok.seps[b - 1]!.includes(' ')) continue;
        if (a > 0 && !tok.seps[a - 1]!.includes(' ')) break;
        if (b - a === tok.groups.length) continue;
        if (classify(n, tok, a, b, out, lowerWin, true)) {
          a = b;
          done = true;
          break;
        }
      }
      if (!done) a++;
    }
  }
  return Math.max(end, i + 1);
}

function classify(n: string, tok: Tok, a: number, b: number, out: Finding[], lowerWin: (from: number, to: number) => string, fallback = false): boolean {
  const start = a === 0 ? tok.start : tok.starts[a]!;
  const end = tok.ends[b - 1]!;
  const groups = tok.groups.slice(a, b);
  const seps = tok.seps.slice(a, b - 1);
  let digits = '';
  for (let g = a; g < b; g++) digits += n.slice(tok.starts[g]!, tok.ends[g]!);
  const plus = a === 0 && tok.plus;
  const L = digits.length;
  const ctx = lowerWin(Math.max(0, start - 24), start);
  const near = lowerWin(Math.max(0, start - 12), start);
  let decoyMemo: boolean | undefined;
  const isDecoy = (): boolean => (decoyMemo ??= containsAny(near, DECOY_CTX) && !containsAny(near, PHONE_CTX));
  const allDots = seps.length > 0 && seps.every((s) => s === '.');
  const anyDot = seps.some((s) => s.includes('.'));
  const anySlash = seps.some((s) => s.includes('/'));
  const push = (type: string, score: number, s = start, e = end): true => {
    out.push({ type, start: s, end: e, score: clamp(score) });
    return true;
  };

  if (allDots) {
    if (groups.length === 4 && groups.every((g) => g <= 3)) {
      const parts = [];
      for (let g = a; g < b; g++) parts.push(n.slice(tok.starts[g]!, tok.ends[g]!));
      if (parts.every((p) => +p <= 255 && (p.length === 1 || p[0] !== '0'))) {
        const v = /\bver(?:sion)?\b|\bv\.|バージョン|\boid\b/.test(near);
        const prevc = n.charCodeAt(start - 1);
        if (prevc === 118 || prevc === 86) return false; // v1.2.3.4
        return push('IP_ADDRESS', v ? 0.3 : 0.9);
      }
    }
    return false;
  }
  if (anyDot || anySlash) return false; // decimals, dates, versions

  // +81 international form
  if (plus) {
    if (!digits.startsWith('81')) return false;
    let national = digits.slice(2);
    if (national.startsWith('0')) national = national.slice(1); // +81 (0)3 …
    const d = '0' + national;
    if (phoneKind(d)) return push('JP_PHONE', 0.95);
    return false;
  }
  const hasSep = groups.length > 1;
  const dashOnly = seps.every((s) => s === '-');

  // postal code 123-4567
  if (L === 7) {
    const pctx = containsAny(lowerWin(Math.max(0, start - 10), start), POSTAL_CTX);
    if (groups.length === 2 && groups[0] === 3 && groups[1] === 4 && dashOnly) {
      if (containsAny(ctx, BANK_CTX) && !pctx) return push('JP_BANK_ACCOUNT', 0.55);
      return push('JP_POSTAL_CODE', pctx ? 0.97 : isDecoy() ? 0.3 : 0.75);
    }
    if (!hasSep && pctx) return push('JP_POSTAL_CODE', 0.9);
  }
  // bank account: 6–8 digits after bank words
  if (L >= 6 && L <= 8 && !hasSep && containsAny(lowerWin(Math.max(0, start - 30), start), BANK_CTX)) {
    return push('JP_BANK_ACCOUNT', L === 7 ? 0.9 : 0.8);
  }
  // phones
  if ((L === 10 || L === 11) && digits[0] === '0') {
    const kind = phoneKind(digits);
    if (kind && (!hasSep || phoneShape(groups))) {
      const pc = containsAny(ctx, PHONE_CTX);
      let score: number;
      if (hasSep) score = 0.85;
      else score = kind === 'mobile' ? 0.65 : 0.45;
      if (pc) score += 0.3;
      if (isDecoy()) score -= 0.45;
      if (score >= 0.2) return push('JP_PHONE', score);
    }
  }
  // 12 digits: driver's licence (context) or My Number (check digit)
  if (L === 12 && (!hasSep || groups.every((g) => g === 4) || groups.length <= 3)) {
    const lic = containsAny(ctx, LICENSE_CTX);
    if (lic) {
      const valid = isValidDriversLicense(digits);
      // a My Number named as such next to the word 免許 is still a My Number
      if (valid || !(isValidMyNumber(digits) && containsAny(ctx, MYNUM_CTX))) return push('JP_DRIVERS_LICENSE', valid ? 0.97 : 0.7);
    }
    if (isValidMyNumber(digits)) {
      const mc = containsAny(ctx, MYNUM_CTX);
      if (fallback && !mc) return false; // a sub-span of a longer digit run (e.g. an invalid card)
      return push('JP_MY_NUMBER', mc ? 0.99 : isDecoy() ? 0.35 : 0.8);
    }
    return false;
  }
  // 13 digits: corporate number (leading check digit); JAN/ISBN look-alikes need context
  if (L === 13 && !hasSep) {
    if (isValidCorporateNumber(digits)) {
      const cc = containsAny(ctx, CORP_CTX);
      if (cc) return push('JP_CORPORATE_NUMBER', 0.97);
      const ean = isValidEan13(digits) && /^(45|49|97)/.test(digits);
      return push('JP_CORPORATE_NUMBER', isDecoy() || ean ? 0.3 : 0.6);
    }
    // T + 13 digits (適格請求書発行事業者登録番号) is handled by the caller through context
  }
  // payment cards
  if (L >= 13 && L <= 19 && (!hasSep || groups.every((g) => g >= 4 && g <= 6))) {
    if (cardBrand(digits) && luhn(digits)) {
      const cc = containsAny(ctx, CARD_CTX);
      let score = hasSep ? 0.9 : 0.75;
      if (cc) score += 0.2;
      if (isDecoy() && !cc) score -= 0.45;
      return push('CREDIT_CARD', score);
    }
  }
  return false;
}

type PhoneKind = 'mobile' | 'ip' | 'free' | 'fixed' | 'navi';
export function phoneKind(d: string): PhoneKind | undefined {
  if (d[0] !== '0') return undefined;
  const L = d.length;
  const p3 = d.slice(0, 3);
  const p4 = d.slice(0, 4);
  if (L === 11) {
    if (p3 === '070' || p3 === '080' || p3 === '090') return 'mobile';
    if (p3 === '050') return 'ip';
    if (p4 === '0800') return 'free';
    if (p3 === '020') return 'mobile';
    return undefined;
  }
  if (L === 10) {
    if (p4 === '0120') return 'free';
    if (p4 === '0570') return 'navi';
    if (d[1] === '0') return undefined;
    if (p3 === '070' || p3 === '080' || p3 === '090' || p3 === '050' || p3 === '020') return undefined;
    return 'fixed';
  }
  return undefined;
}

function phoneShape(groups: number[]): boolean {
  if (groups.length < 2 || groups.length > 4) return false;
  const first = groups[0]!;
  const last = groups[groups.length - 1]!;
  return first >= 2 && first <= 5 && last >= 3 && last <= 4;
}

/** exported for the word scanner: "T1234567890123" invoice registration numbers contain a corporate number */
export function corporateInInvoiceId(n: string, i: number, out: Finding[]): number {
  // n[i] === 'T'
  let p = i + 1;
  while (p < n.length && isDigit(n.charCodeAt(p))) p++;
  if (p - i - 1 === 13 && !isWordChar(n.charCodeAt(p)) && isValidCorporateNumber(n.slice(i + 1, p))) {
    out.push({ type: 'JP_CORPORATE_NUMBER', start: i + 1, end: p, score: 0.9 });
  }
  return p;
}

export { before };
