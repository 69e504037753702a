/** ASCII-side detectors: e-mail, IPv6, provider secrets, passports, residence cards, Western names. */
import { isAlnum, isAsciiLetter, isDigit, isHex, isUpper, isLower, isWordChar, entropy, containsAny } from './text.js';
import { LATIN_GIVEN, LATIN_SURNAME_JP } from './lexicon.js';
import type { Finding } from './types.js';

function isLocalChar(c: number): boolean {
  return isAlnum(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
}
function isDomainChar(c: number): boolean {
  return isAlnum(c) || c === 46 || c === 45;
}

/** at '@' (index at). */
export function emailAt(n: string, at: number, out: Finding[]): number {
  let s = at;
  while (s > 0 && at - s < 64 && isLocalChar(n.charCodeAt(s - 1))) s--;
  while (s < at && (n.charCodeAt(s) === 46 || n.charCodeAt(s) === 45)) s++;
  if (s === at) return at + 1;
  const pc = n.charCodeAt(s - 1);
  if (pc === 58 || pc === 47) return at + 1; // scheme://user:pass@host — not an e-mail
  let e = at + 1;
  let lastDot = -1;
  while (e < n.length && e - at < 255 && isDomainChar(n.charCodeAt(e))) {
    if (n.charCodeAt(e) === 46) lastDot = e;
    e++;
  }
  while (e > at + 1 && (n.charCodeAt(e - 1) === 46 || n.charCodeAt(e - 1) === 45)) e--;
  if (lastDot >= e - 1) {
    lastDot = n.lastIndexOf('.', e - 1);
  }
  if (lastDot <= at + 1 || lastDot >= e - 2) return at + 1;
  for (let k = lastDot + 1; k < e; k++) if (!isAsciiLetter(n.charCodeAt(k))) return at + 1;
  out.push({ type: 'EMAIL', start: s, end: e, score: 0.95 });
  return e;
}

/** IPv6 around a ':' at index c. Returns the index to continue from. */
export function ipv6At(n: string, c: number, out: Finding[]): number {
  let s = c;
  while (s > 0 && c - s < 45 && (isHex(n.charCodeAt(s - 1)) || n.charCodeAt(s - 1) === 58)) s--;
  let e = c;
  while (e < n.length && e - s < 45 && (isHex(n.charCodeAt(e)) || n.charCodeAt(e) === 58 || (n.charCodeAt(e) === 46 && isDigit(n.charCodeAt(e + 1))))) e++;
  if (isWordChar(n.charCodeAt(s - 1)) || isWordChar(n.charCodeAt(e))) return e > c ? e : c + 1;
  // trailing single ':' (e.g. "addr:") is not part of it
  while (e > s && n.charCodeAt(e - 1) === 58 && n.charCodeAt(e - 2) !== 58) e--;
  const cand = n.slice(s, e);
  if (isIPv6(cand)) out.push({ type: 'IP_ADDRESS', start: s, end: e, score: 0.9 });
  return Math.max(e, c + 1);
}

export function isIPv6(s: string): boolean {
  if (s.length < 3 || s.indexOf(':') < 0) return false;
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return false;
  let groups = s.split(':');
  let v4 = false;
  const last = groups[groups.length - 1]!;
  if (last.includes('.')) {
    const p = last.split('.');
    if (p.length !== 4 || !p.every((x) => /^\d{1,3}$/.test(x) && +x <= 255)) return false;
    v4 = true;
  } else if (s.includes('.')) return false;
  if (dbl >= 0) {
    const [l, r] = [s.slice(0, dbl), s.slice(dbl + 2)];
    const lg = l ? l.split(':') : [];
    const rg = r ? r.split(':') : [];
    groups = [...lg, ...rg];
    const need = groups.length + (v4 ? 1 : 0);
    if (need > 7) return false;
    const hexGroups = v4 ? groups.slice(0, -1) : groups;
    if (!hexGroups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
    // need real content: at least 2 groups, or a digit somewhere ("fe80::1", "::1")
    if (groups.length === 0) return false;
    if (groups.length === 1 && !/[0-9]/.test(groups[0]!)) return false;
    return true;
  }
  const hexGroups = v4 ? groups.slice(0, -1) : groups;
  if (hexGroups.length + (v4 ? 2 : 0) !== 8) return false;
  return hexGroups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g));
}

function runOf(n: string, i: number, ok: (c: number) => boolean, max = 512): number {
  let e = i;
  while (e < n.length && e - i < max && ok(n.charCodeAt(e))) e++;
  return e;
}
const tokChar = (c: number): boolean => isAlnum(c) || c === 95 || c === 45;
const b64Char = (c: number): boolean => isAlnum(c) || c === 43 || c === 47 || c === 61;
const b64url = (c: number): boolean => isAlnum(c) || c === 95 || c === 45;

/** provider-specific token formats starting at word start i. Returns end index or -1. */
// first two characters of every provider format below: ordinary words are rejected before any slicing
const PS_PREFIX = new Set(['AK', 'AS', 'AG', 'AI', 'AR', 'gh', 'gi', 'gl', 'xo', 'sk', 'rk', 'wh', 'np', 'py', 'hf', 'ey'].map((p) => (p.charCodeAt(0) << 8) | p.charCodeAt(1)));
function providerSecret(n: string, i: number): number {
  if (!PS_PREFIX.has((n.charCodeAt(i) << 8) | n.charCodeAt(i + 1))) return -1;
  const s4 = n.slice(i, i + 4);
  // AWS access key id
  if (s4 === 'AKIA' || s4 === 'ASIA' || s4 === 'AGPA' || s4 === 'AIDA' || s4 === 'AROA') {
    const e = runOf(n, i, (c) => isUpper(c) || isDigit(c), 40);
    if (e - i === 20 && !isWordChar(n.charCodeAt(e))) return e;
    return -1;
  }
  if (s4 === 'AIza') {
    const e = runOf(n, i, tokChar, 60);
    return e - i === 39 ? e : -1;
  }
  if (s4 === 'ghp_' || s4 === 'gho_' || s4 === 'ghu_' || s4 === 'ghs_' || s4 === 'ghr_') {
    const e = runOf(n, i + 4, isAlnum, 255);
    return e - i - 4 >= 30 ? e : -1;
  }
  if (n.startsWith('github_pat_', i)) {
    const e = runOf(n, i + 11, (c) => isAlnum(c) || c === 95, 255);
    return e - i - 11 >= 40 ? e : -1;
  }
  if (n.startsWith('glpat-', i)) {
    const e = runOf(n, i + 6, tokChar, 100);
    return e - i - 6 >= 20 ? e : -1;
  }
  if (s4 === 'xoxb' || s4 === 'xoxp' || s4 === 'xoxa' || s4 === 'xoxr' || s4 === 'xoxs' || s4 === 'xoxe') {
    if (n.charCodeAt(i + 4) !== 45) return -1;
    const e = runOf(n, i, tokChar, 255);
    return e - i >= 20 ? e : -1;
  }
  if (n.startsWith('sk-', i)) {
    const e = runOf(n, i + 3, tokChar, 300);
    const body = n.slice(i + 3, e);
    if (body.length >= 20 && /[0-9]/.test(body) && /[A-Za-z]/.test(body)) return e;
    return -1;
  }
  if (n.startsWith('sk_live_', i) || n.startsWith('rk_live_', i) || n.startsWith('sk_test_', i) || n.startsWith('whsec_', i)) {
    const e = runOf(n, i, (c) => isAlnum(c) || c === 95, 255);
    return e - i >= 24 ? e : -1;
  }
  if (n.startsWith('npm_', i) || n.startsWith('pypi-', i) || n.startsWith('hf_', i)) {
    const e = runOf(n, i, tokChar, 255);
    return e - i >= 30 ? e : -1;
  }
  if (n.startsWith('eyJ', i)) {
    // JWT: three base64url parts
    const e1 = runOf(n, i, b64url, 4096);
    if (n.charCodeAt(e1) !== 46 || !n.startsWith('eyJ', e1 + 1)) return -1;
    const e2 = runOf(n, e1 + 1, b64url, 8192);
    if (n.charCodeAt(e2) !== 46) return -1;
    const e3 = runOf(n, e2 + 1, b64url, 4096);
    return e3 - e2 > 10 ? e3 : -1;
  }
  return -1;
}

const PEM_BEGIN = '-----BEGIN ';
/** private key block at '-' (index i). */
export function privateKeyAt(n: string, i: number, out: Finding[], memo: Map<string, number> = new Map()): number {
  if (!n.startsWith(PEM_BEGIN, i)) return i + 1;
  const lineEnd = n.indexOf('-----', i + PEM_BEGIN.length);
  if (lineEnd < 0 || lineEnd - i > 80) return i + 1;
  const label = n.slice(i + PEM_BEGIN.length, lineEnd);
  if (!label.endsWith('PRIVATE KEY') && label !== 'PGP PRIVATE KEY BLOCK') return lineEnd + 5;
  const endMarker = '-----END ' + label + '-----';
  // memo: the scan only moves forward, so a marker found (or known absent) stays valid
  let e = memo.get(endMarker);
  if (e === undefined || (e >= 0 && e < lineEnd)) {
    e = n.indexOf(endMarker, lineEnd);
    memo.set(endMarker, e);
  }
  let end: number;
  if (e < 0) {
    // truncated block: take the base64 body
    end = lineEnd + 5;
    while (end < n.length && (b64Char(n.charCodeAt(end)) || n.charCodeAt(end) === 10 || n.charCodeAt(end) === 13 || n.charCodeAt(end) === 32)) end++;
  } else end = e + endMarker.length;
  out.push({ type: 'SECRET', start: i, end, score: 0.99 });
  return end;
}

const SECRET_WORDS = ['password', 'passwd', 'pwd', 'pass', 'secret', 'token', 'apikey', 'api_key', 'api-key', 'access_key', 'secret_key', 'private_key', 'client_secret', 'auth', 'authorization', 'bearer', 'credential', 'credentials', 'key'];

const SECRET_WORD_SET = new Set(SECRET_WORDS);
/** first two letters (lower case) of every credential word */
const SECRET_PREFIX = new Set(SECRET_WORDS.map((w) => (w.charCodeAt(0) << 8) | w.charCodeAt(1)));
/** high-entropy value following a credential word (ASCII or Japanese) ending at kwEnd */
export function valueAfterKeyword(n: string, kwEnd: number, out: Finding[], strong: boolean): number {
  let p = kwEnd;
  // skip up to ~14 chars of glue: quotes, separators, ' is ', 'は'
  const lim = Math.min(n.length, kwEnd + 14);
  while (p < lim) {
    const c = n.charCodeAt(p);
    if (c === 58 || c === 61 || c === 32 || c === 34 || c === 39 || c === 96 || c === 0x3000 || c === 0xff1a || c === 0x300c || c === 0x306f /*は*/ || c === 0x3092 /*を*/ || c === 0x3001 || c === 62 || c === 44) p++;
    else if (n.startsWith('is ', p) || n.startsWith('Bearer ', p)) p += n.startsWith('is ', p) ? 3 : 7;
    else if (isWordChar(c) && n.slice(p, p + 8).match(/^(?:_?[a-z]{0,5}[:=])/)) p++;
    else break;
  }
  const vs = p;
  const ve = runOf(n, vs, (c) => c > 32 && c < 127 && c !== 34 && c !== 39 && c !== 96 && c !== 44 && c !== 59, 256);
  let e = ve;
  while (e > vs && (n.charCodeAt(e - 1) === 46 || n.charCodeAt(e - 1) === 41)) e--;
  const v = n.slice(vs, e);
  if (v.length < 8) return kwEnd;
  let classes = 0;
  if (/[a-z]/.test(v)) classes++;
  if (/[A-Z]/.test(v)) classes++;
  if (/[0-9]/.test(v)) classes++;
  if (/[^A-Za-z0-9]/.test(v)) classes++;
  const h = entropy(v);
  const looksUrl = /^(https?:|www\.)/i.test(v) || v.includes('@');
  if (looksUrl) return kwEnd;
  const ok = (strong && v.length >= 8 && classes >= 2 && h >= 2.5) || (v.length >= 16 && classes >= 2 && h >= 3.2) || (v.length >= 20 && h >= 3.5);
  if (!ok) return kwEnd;
  // avoid prose: all-lowercase single words (password is "changeme") still count when strong; plain words do not
  if (classes === 1 && /^[a-z]+$/.test(v)) return kwEnd;
  out.push({ type: 'SECRET', start: vs, end: e, score: strong ? 0.9 : 0.8 });
  return e;
}

const TITLES = new Set(['Mr', 'Mrs', 'Ms', 'Miss', 'Dr', 'Prof', 'Mx', 'Sir', 'Madam', 'Mister']);
const EN_LABELS = ['name:', 'name is', 'named', 'i am', "i'm", 'dear', 'patient:', 'contact:', 'attn:', 'attention:', 'from:', 'to:', 'signed by', 'regards,', 'sincerely,', 'applicant:', 'customer:', 'employee:', 'author:', 'by'];
const EN_LABELS_SP = EN_LABELS.map((l) => l + ' ');
const EN_LABEL_LAST = new Set(EN_LABELS.map((l) => l.charCodeAt(l.length - 1) | 32));
const NOT_SURNAME = new Set(['The', 'And', 'Inc', 'Ltd', 'Corp', 'Co', 'Street', 'St', 'Avenue', 'Road', 'City', 'University', 'Company', 'Bank', 'Group', 'Team', 'Project', 'Service', 'Services', 'Japan', 'Tokyo', 'Osaka', 'Kyoto', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday', 'I', 'A', 'An', 'In', 'On', 'At', 'To', 'Of', 'For', 'Is', 'It', 'He', 'She', 'We', 'They', 'You', 'My', 'Your', 'Our', 'This', 'That', 'Please', 'Thanks', 'Thank', 'Hi', 'Hello', 'Dear', 'Best', 'Code', 'Bay', 'Hall', 'Park', 'Center', 'Centre', 'Station', 'Hospital', 'School', 'AI', 'API', 'OK']);

function capWordEnd(n: string, i: number): number {
  if (!isUpper(n.charCodeAt(i))) return -1;
  let e = i + 1;
  while (e < n.length && (isLower(n.charCodeAt(e)) || (n.charCodeAt(e) === 39 && isLower(n.charCodeAt(e + 1))) || (n.charCodeAt(e) === 45 && isUpper(n.charCodeAt(e + 1))) || isUpper(n.charCodeAt(e)))) e++;
  if (e - i < 2 || e - i > 20) return -1;
  if (isDigit(n.charCodeAt(e)) || n.charCodeAt(e) === 95) return -1;
  return e;
}

function titleCase(w: string): string {
  let plain = isUpper(w.charCodeAt(0));
  for (let k = 1; plain && k < w.length; k++) if (!isLower(w.charCodeAt(k))) plain = false;
  if (plain) return w;
  return w.length ? w[0]!.toUpperCase() + w.slice(1).toLowerCase() : w;
}

/** Western / romanized names starting at capitalised word i (word end we). */
function westernName(n: string, i: number, we: number, out: Finding[]): number {
  const w = n.slice(i, we);
  // Title + Name(s)
  if (TITLES.has(w)) {
    let p = we;
    if (n.charCodeAt(p) === 46) p++;
    if (n.charCodeAt(p) !== 32) return we;
    p++;
    const e1 = capWordEnd(n, p);
    if (e1 < 0 || NOT_SURNAME.has(n.slice(p, e1))) return we;
    let end = e1;
    if (n.charCodeAt(e1) === 32) {
      const e2 = capWordEnd(n, e1 + 1);
      if (e2 > 0 && !NOT_SURNAME.has(n.slice(e1 + 1, e2))) end = e2;
    }
    out.push({ type: 'PERSON_NAME', start: p, end, score: 0.9 });
    return end;
  }
  const tw = titleCase(w);
  const isGiven = LATIN_GIVEN.has(tw);
  const isJpSur = LATIN_SURNAME_JP.has(tw);
  if (!isGiven && !isJpSur) return we;
  if (n.charCodeAt(we) !== 32) return we;
  const e2 = capWordEnd(n, we + 1);
  if (e2 < 0) return we;
  const w2 = n.slice(we + 1, e2);
  if (NOT_SURNAME.has(w2)) return we;
  const tw2 = titleCase(w2);
  const allCaps = w === w.toUpperCase() && w2 === w2.toUpperCase();
  let score = 0;
  if (isGiven && LATIN_SURNAME_JP.has(tw2)) score = 0.9;
  else if (isJpSur && LATIN_GIVEN.has(tw2)) score = 0.9;
  else if (isGiven && !allCaps) score = 0.75;
  if (score === 0) return we;
  out.push({ type: 'PERSON_NAME', start: i, end: e2, score });
  return e2;
}

/** capitalised name(s) after an English label such as "Name:" or "Dear". */
function nameAfterLabel(n: string, p: number, out: Finding[]): void {
  while (n.charCodeAt(p) === 32) p++;
  const e1 = capWordEnd(n, p);
  if (e1 < 0 || NOT_SURNAME.has(n.slice(p, e1)) || TITLES.has(n.slice(p, e1))) return;
  let end = e1;
  if (n.charCodeAt(e1) === 32) {
    const e2 = capWordEnd(n, e1 + 1);
    if (e2 > 0 && !NOT_SURNAME.has(n.slice(e1 + 1, e2))) end = e2;
  }
  const w = n.slice(p, e1);
  if (end === e1 && !LATIN_GIVEN.has(titleCase(w)) && !LATIN_SURNAME_JP.has(titleCase(w))) return;
  out.push({ type: 'PERSON_NAME', start: p, end, score: 0.8 });
}

/**
 * ASCII word starting at i (previous char is not a word char). Returns next index.
 */
export function wordAt(n: string, i: number, out: Finding[]): number {
  const ps = providerSecret(n, i);
  if (ps > 0) {
    out.push({ type: 'SECRET', start: i, end: ps, score: 0.97 });
    return ps;
  }
  const we = runOf(n, i, isAlnum, 256);
  const len = we - i;
  const c0 = n.charCodeAt(i);
  const c1 = n.charCodeAt(i + 1);
  const nextC = n.charCodeAt(we);
  // passport: 2 letters + 7 digits; residence card: 2 letters + 8 digits + 2 letters
  if (isUpper(c0) && isUpper(c1) && !isWordChar(nextC) && nextC !== 45) {
    if (len === 9 && /^[A-Z]{2}\d{7}$/.test(n.slice(i, we))) {
      const ctx = n.slice(Math.max(0, i - 24), i).toLowerCase();
      const pctx = containsAny(ctx, ['旅券', 'パスポート', 'passport']);
      const dec = containsAny(ctx, ['注文', '型番', '品番', 'order', 'invoice', 'sku', '伝票', '会員', 'product', 'id']);
      out.push({ type: 'JP_PASSPORT', start: i, end: we, score: pctx ? 0.97 : dec ? 0.3 : 0.6 });
      return we;
    }
    if (len === 12 && /^[A-Z]{2}\d{8}[A-Z]{2}$/.test(n.slice(i, we))) {
      out.push({ type: 'JP_RESIDENCE_CARD', start: i, end: we, score: 0.92 });
      return we;
    }
  }
  // credential keywords (a two-letter prefix filter keeps ordinary words off the slow path)
  const nx = n.charCodeAt(we);
  if (len <= 20 && ((len >= 3 && SECRET_PREFIX.has(((c0 | 32) << 8) | (c1 | 32))) || nx === 95 || nx === 45)) {
    const lw = n.slice(i, we).toLowerCase();
    let kwEnd = -1;
    let strong = false;
    if (SECRET_WORD_SET.has(lw)) kwEnd = we;
    else if (nx === 95 || nx === 45 || lw.includes('_')) {
      // compound identifiers: DB_PASSWORD, aws_secret_access_key, GITHUB_TOKEN, x-api-key
      const e = runOf(n, i, tokChar, 64);
      const id = n.slice(i, e).toLowerCase();
      if (/(?:^|[_-])(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?token)$/.test(id)) kwEnd = e;
    }
    if (kwEnd > 0) {
      strong = /pass|pwd/.test(lw) || /pass|pwd/.test(n.slice(i, kwEnd).toLowerCase());
      const r = valueAfterKeyword(n, kwEnd, out, strong);
      return r > kwEnd ? r : kwEnd;
    }
  }
  // names
  if (isUpper(c0)) {
    const ce = capWordEnd(n, i);
    const r = westernName(n, i, ce > 0 ? ce : we, out);
    if (r > we || (r === we && out.length && out[out.length - 1]!.start === i)) return r;
    // English labels before this word
    if (i === 0) return we;
    // a label ends right before the word or before one space: test its last character first
    const p = n.charCodeAt(i - 1) === 32 ? i - 2 : i - 1;
    if (p < 0 || !EN_LABEL_LAST.has(n.charCodeAt(p) | 32)) return we;
    const lab = n.slice(Math.max(0, i - 12), i).toLowerCase();
    for (let k = 0; k < EN_LABELS.length; k++) {
      const l = EN_LABELS[k]!;
      if (lab.endsWith(EN_LABELS_SP[k]!) || lab.endsWith(l)) {
        if (l === 'by' && !lab.endsWith(' by ')) continue;
        const before = out.length;
        nameAfterLabel(n, i, out);
        if (out.length > before) return out[out.length - 1]!.end;
        break;
      }
    }
  }
  return we;
}
