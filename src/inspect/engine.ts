/**
 * The single pass. Walks the normalised text once; cheap character-class tests dispatch to
 * specific validators (digits → numeric tokens, '@' → e-mail, ':' → IPv6, ASCII word starts →
 * provider secrets / passports / Western names, kanji/kana → labels, honorifics, addresses,
 * names). Every scanner is bounded (fixed look-behind/look-ahead windows) and returns an index
 * strictly greater than where it started, so the whole pass is O(n).
 */
import { normalize, isDigit, isAsciiLetter, isWordChar, isKanji, isKatakana, isHiragana } from './text.js';
import { numericAt, corporateInInvoiceId } from './numbers.js';
import { emailAt, ipv6At, privateKeyAt, wordAt, valueAfterKeyword } from './words.js';
import { HONORIFIC_BY_FIRST, LABEL_BY_FIRST, addressAt, honorificAt, nameBeforeHonorific, labelAt, nameAfterLabel, bareFullName, nameBeforeMoushimasu, nameBeforeDesu, HEALTH_WORDS } from './jp.js';
import type { Finding } from './types.js';

export interface RawResult {
  candidates: Finding[];
  /** positions of health / sensitive-context words (capped) */
  health: number[];
  /** positions of words that refer to a person (patient, 私, 本人 …), capped */
  personRefs: number[];
}

const JA_SECRET_WORDS = ['パスワード', '暗証番号', 'トークン', 'シークレット', 'APIキー', 'アクセスキー', '秘密鍵', 'パスコード'];
const PERSON_REFS = ['患者', '本人', '私', '彼女', '彼', '社員', '従業員', '職員', '利用者', '被保険者', '家族', '妻', '夫', '息子', '娘', '父', '母', '氏', 'さん', '様', '君', 'patient', 'employee', 'my ', 'his ', 'her '];

function byFirst(words: readonly string[]): Map<number, string[]> {
  const m = new Map<number, string[]>();
  for (const w of words) {
    const k = w.charCodeAt(0);
    const l = m.get(k) ?? [];
    l.push(w);
    l.sort((a, b) => b.length - a.length);
    m.set(k, l);
  }
  return m;
}
const HEALTH_MAP = byFirst(HEALTH_WORDS.flatMap((w) => (w.charCodeAt(0) < 128 ? [w, w[0]!.toUpperCase() + w.slice(1)] : [w])));
const JA_SECRET_MAP = byFirst(JA_SECRET_WORDS);
const PERSON_MAP = byFirst(PERSON_REFS);

// one table lookup per CJK char decides which (rare) handlers can fire there
const T_LABEL = 1, T_HON = 2, T_HEALTH = 4, T_PERSON = 8, T_SECRET = 16, T_ADDR = 32, T_TO = 64, T_DESU = 128;
const TRIG = new Uint8Array(65536);
for (const k of LABEL_BY_FIRST.keys()) TRIG[k]! |= T_LABEL;
for (const k of HONORIFIC_BY_FIRST.keys()) TRIG[k]! |= T_HON;
for (const k of HEALTH_MAP.keys()) TRIG[k]! |= T_HEALTH;
for (const k of PERSON_MAP.keys()) TRIG[k]! |= T_PERSON;
for (const k of JA_SECRET_MAP.keys()) TRIG[k]! |= T_SECRET;
for (const ch of '都道府県市区郡') TRIG[ch.charCodeAt(0)]! |= T_ADDR;
TRIG[0x3068] = TRIG[0x3068]! | T_TO;
TRIG[0x3067] = TRIG[0x3067]! | T_DESU; // で(す)

function firstMatch(m: Map<number, string[]>, n: string, i: number): string | undefined {
  const l = m.get(n.charCodeAt(i));
  if (!l) return undefined;
  for (const w of l) if (n.startsWith(w, i)) return w;
  return undefined;
}

export function scanText(text: string): RawResult {
  const n = normalize(text);
  const out: Finding[] = [];
  const health: number[] = [];
  const personRefs: number[] = [];
  const len = n.length;
  const lowerWin = (a: number, b: number): string => n.slice(a, b).toLowerCase();
  let i = 0;
  let ipv6Until = 0;
  let pemUntil = 0;
  const pemMemo = new Map<string, number>();
  while (i < len) {
    const c = n.charCodeAt(i);
    const prev = i > 0 ? n.charCodeAt(i - 1) : 0;
    if (c < 128) {
      if (isDigit(c)) {
        if (!isWordChar(prev)) {
          // IPv6 starting with digits (2001:db8::1)
          const r = numericAt(n, i, out, lowerWin);
          if (n.charCodeAt(r) === 58 && r >= ipv6Until) {
            ipv6Until = ipv6At(n, r, out);
          }
          i = r;
          continue;
        }
      } else if (isAsciiLetter(c)) {
        if (!isWordChar(prev)) {
          if (c === 65 && n.startsWith('APIキー', i)) {
            i = Math.max(i + 5, valueAfterKeyword(n, i + 5, out, false));
            continue;
          }
          if (c === 84 /*T*/ && isDigit(n.charCodeAt(i + 1))) {
            i = corporateInInvoiceId(n, i, out);
            continue;
          }
          // health words in English (HIV, cancer, diagnosis …)
          if (health.length < 64) {
            const hw = firstMatch(HEALTH_MAP, n, i);
            if (hw) health.push(i);
          }
          if (personRefs.length < 64 && (c === 112 || c === 80 || c === 101 || c === 109 || c === 104 || c === 77 || c === 72 || c === 69)) {
            const pw = firstMatch(PERSON_MAP, n, i);
            if (pw) personRefs.push(i);
          }
          // TEL03-…, FAX06-…: label glued to the number
          if ((c === 84 || c === 116 || c === 70 || c === 102) && isDigit(n.charCodeAt(i + 3)) && /^(tel|fax)$/i.test(n.slice(i, i + 3))) {
            i = numericAt(n, i + 3, out, lowerWin);
            continue;
          }
          const r = wordAt(n, i, out);
          if (n.charCodeAt(r) === 58 && r >= ipv6Until && r - i <= 4) ipv6Until = ipv6At(n, r, out);
          i = r > i ? r : i + 1;
          continue;
        }
      } else if (c === 64 /*@*/) {
        i = emailAt(n, i, out);
        continue;
      } else if (c === 58 /*:*/) {
        if (i >= ipv6Until && (n.charCodeAt(i + 1) === 58 || isWordChar(prev))) {
          ipv6Until = ipv6At(n, i, out);
          i = Math.max(i + 1, ipv6Until);
          continue;
        }
      } else if (c === 45 /*-*/) {
        if (i >= pemUntil && n.charCodeAt(i + 1) === 45 && n.startsWith('-----BEGIN ', i)) {
          pemUntil = privateKeyAt(n, i, out, pemMemo);
          i = Math.max(i + 1, pemUntil);
          continue;
        }
      } else if (c === 43 /*+*/ || c === 40 /*(*/) {
        if (!isWordChar(prev) && (isDigit(n.charCodeAt(i + 1)) || (c === 43 && n.charCodeAt(i + 1) === 40)) && (c === 43 || n.charCodeAt(i + 1) === 48)) {
          const before = out.length;
          const r = numericAt(n, i, out, lowerWin);
          // "(0251…)" read as a phone that turned out to be another number: the parenthesis is not part of it
          if (c === 40) for (let k = before; k < out.length; k++) if (out[k]!.start === i && out[k]!.type !== 'JP_PHONE') out[k]!.start++;
          i = r;
          continue;
        }
      }
      i++;
      continue;
    }
    // ---- non-ASCII
    const kanji = isKanji(c);
    const kata = isKatakana(c);
    const hira = isHiragana(c);
    if (kanji || kata || hira) {
      const tr = TRIG[c]!;
      if (tr !== 0) {
        if (tr & T_LABEL) {
          const lab = labelAt(n, i);
          if (lab) {
            const p = i + lab.length;
            const r = nameAfterLabel(n, lab, p, out);
            if (r > p) {
              i = r;
              continue;
            }
          }
        }
        const hl = tr & T_HON ? honorificAt(n, i) : 0;
        if (hl) {
          nameBeforeHonorific(n, i, hl, out);
          if (personRefs.length < 64) personRefs.push(i);
        }
        if (tr & T_TO && (n.startsWith('と申します', i) || n.startsWith('と申し', i) || n.startsWith('といいます', i) || n.startsWith('と言います', i))) {
          nameBeforeMoushimasu(n, i, out);
        }
        if (tr & T_DESU && n.charCodeAt(i + 1) === 0x3059 /*す*/ && i > 0) nameBeforeDesu(n, i, out);
        else if (tr & T_DESU && n.startsWith('でございます', i) && i > 0) nameBeforeDesu(n, i, out);
        if (tr & T_HEALTH && health.length < 64 && firstMatch(HEALTH_MAP, n, i)) health.push(i);
        if (tr & T_PERSON && personRefs.length < 64 && !hl && firstMatch(PERSON_MAP, n, i)) personRefs.push(i);
        if (tr & T_SECRET) {
          const sw = firstMatch(JA_SECRET_MAP, n, i);
          if (sw) {
            const r = valueAfterKeyword(n, i + sw.length, out, sw === 'パスワード' || sw === 'パスコード');
            i = Math.max(i + sw.length, r);
            continue;
          }
        }
        if (tr & T_ADDR) {
          const r = addressAt(n, i, out);
          if (r > i + 1) {
            i = r;
            continue;
          }
        }
      }
      if (kanji && !isKanji(prev) && !isKatakana(prev)) bareFullName(n, i, out);
      i++;
      continue;
    }
    i++;
  }
  return { candidates: out, health, personRefs };
}

/** Keep the best non-overlapping candidates (score, then length). Result sorted by start. */
export function resolveOverlaps(cands: Finding[], minScore: number): Finding[] {
  const xs = cands.filter((f) => f.score >= minScore && f.end > f.start);
  if (xs.length <= 1) return xs;
  xs.sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: Finding[] = [];
  // sweep into clusters of mutually-overlapping candidates, resolve each greedily
  let cluster: Finding[] = [];
  let clusterEnd = -1;
  const flush = (): void => {
    if (cluster.length === 1) kept.push(cluster[0]!);
    else if (cluster.length > 1) {
      cluster.sort((a, b) => b.score - a.score || b.end - b.start - (a.end - a.start) || a.start - b.start);
      const chosen: Finding[] = [];
      for (const f of cluster) {
        let ok = true;
        for (const k of chosen) if (f.start < k.end && k.start < f.end) { ok = false; break; }
        if (ok) chosen.push(f);
        if (chosen.length > 64) break;
      }
      chosen.sort((a, b) => a.start - b.start);
      for (const f of chosen) kept.push(f);
    }
    cluster = [];
  };
  for (const f of xs) {
    if (f.start >= clusterEnd) {
      flush();
      clusterEnd = f.end;
    } else if (f.end > clusterEnd) clusterEnd = f.end;
    if (cluster.length < 256) cluster.push(f);
  }
  flush();
  return kept;
}
