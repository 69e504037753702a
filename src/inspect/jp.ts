/** Japanese-side detectors: addresses, person names (lexicon + context), health context. */
import { isKanji, isKatakana, isHiragana, isDigit, isKanjiNumeral, isSpace } from './text.js';
import { SEI, MEI, SEI_MAX, MEI_MAX, SEI_ONE, SEI_PRE, MEI_ONE, MEI_PRE, type LexEntry } from './lexicon.js';
import type { Finding } from './types.js';

// ---------------------------------------------------------------- addresses
const PREFS = '北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 神奈川県 新潟県 富山県 石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府 大阪府 兵庫県 奈良県 和歌山県 鳥取県 島根県 岡山県 広島県 山口県 徳島県 香川県 愛媛県 高知県 福岡県 佐賀県 長崎県 熊本県 大分県 宮崎県 鹿児島県 沖縄県'.split(' ');
const PREF_SET = new Set(PREFS);
const HIRA_PLACE = ['みなとみらい', 'さいたま', 'つくば', 'いわき', 'ひたちなか', 'みどり', 'かすみがうら', 'あきる野', 'いすみ', 'みなかみ', 'の', 'が', 'ケ', 'ヶ'];

/** trigger chars: 都 道 府 県 市 区 郡 */
export function isAddressTrigger(c: number): boolean {
  return c === 0x90fd || c === 0x9053 || c === 0x5e9c || c === 0x770c || c === 0x5e02 || c === 0x533a || c === 0x90e1;
}

/** Try an address whose admin-unit char is at index t. Returns [start,end] or undefined. */
export function addressAt(n: string, t: number, out: Finding[]): number {
  const c = n.charCodeAt(t);
  let start = -1;
  if (c === 0x90fd || c === 0x9053 || c === 0x5e9c || c === 0x770c) {
    for (const L of [3, 4]) {
      const s = t + 1 - L;
      if (s >= 0 && PREF_SET.has(n.slice(s, t + 1))) start = s;
    }
    if (start < 0) return t + 1;
  } else {
    // city / ward / district: look back over a short kanji/katakana run
    let s = t;
    while (s > 0 && t - s < 5) {
      const pc = n.charCodeAt(s - 1);
      if (isKanji(pc) || isKatakana(pc) || pc === 0x30f6 || pc === 0x30b1) s--;
      else break;
    }
    if (s === t) {
      // hiragana city names (さいたま市, つくば市)
      for (const h of HIRA_PLACE) if (h.length > 2 && n.startsWith(h, t - h.length)) s = t - h.length;
      if (s === t) return t + 1;
    }
    start = s;
  }
  let end = scanAddressBody(n, t + 1, start);
  if (end > 0) {
    end = buildingAfter(n, end);
    out.push({ type: 'JP_ADDRESS', start, end, score: 0.9 });
    return end;
  }
  return t + 1;
}

const BUILDING_SUFFIXES = ['ビル', 'ビルディング', 'マンション', 'ハイツ', 'コーポ', 'レジデンス', 'タワー', 'アパート', 'メゾン', 'ハウス', 'パレス', 'ヒルズ', 'テラス', 'プラザ', 'コート', 'スクエア', 'センター', '荘', '寮', '棟', '館', '住宅', '団地'];

/** "5階", "501号室", "12F", "1203" (3–4 digits at a boundary): a floor or room; returns its end or -1 */
function floorOrRoom(n: string, p: number): number {
  if (!isDigit(n.charCodeAt(p))) return -1;
  let q = p;
  while (q < n.length && q - p < 5 && isDigit(n.charCodeAt(q))) q++;
  if (n.startsWith('号室', q)) return q + 2;
  const c = n.charCodeAt(q);
  if (c === 0x968e /*階*/ || c === 0x5ba4 /*室*/ || c === 0x53f7 /*号*/ || ((c === 70 || c === 102) && !isAsciiWord(n.charCodeAt(q + 1)))) return q + 1;
  if (q - p >= 3 && q - p <= 4 && !isAsciiWord(c) && c !== 45) return q;
  return -1;
}

function isAsciiWord(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * The building and room after an address's block number: "東京タワービル5階501号室",
 * "梅田スカイマンション1203", "101号室". A building name counts only when it ends with a
 * building word (ビル, マンション, 荘 …) or is followed by a floor or room number.
 */
function buildingAfter(n: string, end: number): number {
  let p = end;
  if (isSpace(n.charCodeAt(p))) p++;
  // room right after the block ("1-2-3 101号室")
  let r = floorOrRoom(n, p);
  // (bare digits after a space are not taken: they may be anything)
  if (r > 0 && !isDigit(n.charCodeAt(r - 1))) return roomsAfter(n, r);
  let q = p;
  while (q < n.length && q - p < 24) {
    const c = n.charCodeAt(q);
    if (isKanji(c) || isKatakana(c) || c === 0x30fb || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) q++;
    else break;
  }
  if (q - p < 2) return end;
  const name = n.slice(p, q);
  const suffixed = BUILDING_SUFFIXES.some((w) => name.endsWith(w));
  let e = q;
  if (isSpace(n.charCodeAt(e))) e++;
  r = floorOrRoom(n, e);
  if (r > 0) return roomsAfter(n, r);
  return suffixed ? q : end;
}

function roomsAfter(n: string, r: number): number {
  // "5階501号室": a second floor/room part
  const r2 = floorOrRoom(n, r);
  return r2 > 0 ? r2 : r;
}

function numberRun(n: string, p: number): number {
  const c = n.charCodeAt(p);
  let q = p;
  if (isDigit(c)) while (q < n.length && q - p < 6 && isDigit(n.charCodeAt(q))) q++;
  else if (isKanjiNumeral(c)) while (q < n.length && q - p < 6 && isKanjiNumeral(n.charCodeAt(q))) q++;
  return q;
}

function scanAddressBody(n: string, p: number, start: number): number {
  let lastEnd = -1;
  let block = false;
  let nameChars = 0;
  const len = n.length;
  while (p < len && p - start < 64) {
    const c = n.charCodeAt(p);
    if (isDigit(c) || isKanjiNumeral(c)) {
      const q = numberRun(n, p);
      const ascii = isDigit(c);
      if (n.startsWith('丁目', q)) {
        block = true;
        lastEnd = q + 2;
        p = q + 2;
        // 1丁目2-3 / 1丁目2番3号: continue; skip a "-" joiner
        if (n.charCodeAt(p) === 45 && isDigit(n.charCodeAt(p + 1))) p++;
        continue;
      }
      if (n.startsWith('番地', q)) {
        block = true;
        lastEnd = q + 2;
        p = q + 2;
        if ((n.charCodeAt(p) === 45 || n.charCodeAt(p) === 0x306e) && (isDigit(n.charCodeAt(p + 1)) || isKanjiNumeral(n.charCodeAt(p + 1)))) p++;
        continue;
      }
      const s1 = n.charCodeAt(q);
      if (s1 === 0x756a /*番*/) {
        // 一番町 is a town name, 5番3号 is a block
        if (!block && isKanji(n.charCodeAt(q + 1)) && !isKanjiNumeral(n.charCodeAt(q + 1)) && !isDigit(n.charCodeAt(q + 1))) {
          p = q + 1;
          nameChars += q + 1 - p;
          continue;
        }
        block = true;
        lastEnd = q + 1;
        p = q + 1;
        if (n.charCodeAt(p) === 45 && isDigit(n.charCodeAt(p + 1))) p++;
        continue;
      }
      if (s1 === 0x53f7 /*号*/) {
        if (n.charCodeAt(q + 1) === 0x5ba4 /*室*/ || n.charCodeAt(q + 1) === 0x9928 /*館*/ || n.charCodeAt(q + 1) === 0x7dda /*線*/) break;
        block = true;
        lastEnd = q + 1;
        p = q + 1;
        break;
      }
      if ((s1 === 45 || s1 === 0x306e /*の*/ || s1 === 0x30ce /*ノ*/) && (isDigit(n.charCodeAt(q + 1)) || isKanjiNumeral(n.charCodeAt(q + 1)))) {
        if (s1 !== 45 && !block && !ascii) {
          // 三の輪 etc: numeral+の as part of a name
        }
        block = true;
        lastEnd = q;
        p = q + 1;
        continue;
      }
      if (block) {
        if (ascii || isKanjiNumeral(c)) lastEnd = q;
        break;
      }
      // numeral inside a place name (四谷, 北1条西2丁目, 六本木)
      if (isKanji(s1) || isKatakana(s1)) {
        nameChars += q - p;
        p = q;
        if (nameChars > 24) break;
        continue;
      }
      // a bare number right after the town name (no suffix): "丸の内1" → accept only when followed by a boundary
      if (ascii && nameChars > 0) {
        lastEnd = q;
        block = true;
      }
      break;
    }
    if (block) break;
    if (isKanji(c) || isKatakana(c) || c === 0x30f6) {
      nameChars++;
      p++;
      if (nameChars > 24) break;
      continue;
    }
    if (isHiragana(c)) {
      let matched = false;
      for (const h of HIRA_PLACE) {
        if (n.startsWith(h, p)) {
          p += h.length;
          nameChars += h.length;
          matched = true;
          break;
        }
      }
      if (matched) continue;
      break;
    }
    if (isSpace(c) && nameChars === 0) {
      p++;
      continue;
    }
    if (isSpace(c) && nameChars > 0 && (isDigit(n.charCodeAt(p + 1)) || isKanjiNumeral(n.charCodeAt(p + 1)))) {
      p++;
      continue;
    }
    break;
  }
  return block ? lastEnd : -1;
}

// ---------------------------------------------------------------- names
const HONORIFICS = ['さん', '様', 'さま', '氏', '殿', '先生', '君', 'くん', 'ちゃん', '部長', '課長', '社長', '係長', '主任', '教授', '准教授', '医師', '弁護士', '会長', '専務', '常務', '次長', '室長', '所長', '院長', '看護師', '選手', '議員', '知事', '市長', '先輩', '副社長', '取締役'];
export const HONORIFIC_BY_FIRST = new Map<number, string[]>();
for (const h of HONORIFICS) {
  const k = h.charCodeAt(0);
  const l = HONORIFIC_BY_FIRST.get(k) ?? [];
  l.push(h);
  l.sort((a, b) => b.length - a.length);
  HONORIFIC_BY_FIRST.set(k, l);
}
/** honorifics strong enough to accept unknown kanji names before them */
const STRONG_HON = new Set(['さん', '様', 'さま', '氏', '殿', '先生', 'くん', 'ちゃん']);

const LABELS = ['氏名', 'お名前', '名前', 'フルネーム', '申請者', '名義人', '名義', '口座名義', '担当者', '担当', '患者名', '患者', '契約者', '被保険者', '受取人', '代表者', '代表取締役', '署名', '宛名', '差出人', '送信者', '依頼者', '保護者', '連絡者', '本人', '社員', '従業員', '上司', '部下', '医師', '主治医', '担当医', '著者', '作成者', '承認者', '記入者', '相談者', '利用者', '届出人', '世帯主', '被相続人', '相続人', '加入者', '購入者', '受診者', '入居者', '申込者', '氏 名', 'カナ', 'フリガナ', 'ふりがな', '私は', '私の名前は', 'わたしは', '僕は', '俺は', '弊社の', '担当の', '宛先', 'from:', 'to:'];
export const LABEL_BY_FIRST = new Map<number, string[]>();
for (const h of LABELS) {
  const k = h.charCodeAt(0);
  const l = LABEL_BY_FIRST.get(k) ?? [];
  l.push(h);
  l.sort((a, b) => b.length - a.length);
  LABEL_BY_FIRST.set(k, l);
}
/** labels after which only lexicon-confirmed names are accepted (no unknown fallback) */
const WEAK_LABELS = new Set(['私は', 'わたしは', '僕は', '俺は', '本人', '社員', '従業員', '上司', '部下', '医師', '患者', '担当', '利用者', '弊社の', '担当の', '宛先', 'カナ']);

/** words that end with an honorific but are not names */
const HON_STOP = new Set(['皆', '客', 'お客', '奥', '神', '仏', '王', '母', '父', '兄', '姉', '弟', '妹', '娘', '息子', '子', '孫', '彼', '彼女', '同', '仕', '模', '多', '異', '貴', '各', '上', '外', '今', '何', '誰', '苦労', '御苦労', 'ご苦労', '先方', '相手', '田舎', '殿', '奥', 'お疲れ', '様', '王子', '姫', '皇', '天皇', '患者', '担当者', '利用者', '会員', '顧客', '先', '主', '旦那', '大家', '家主', '店長', '社長', '部長', '課長', '医者', '看護', '運転手', '講師', '校長', '教頭', '担任', '監督', '本人', '先生', '皆々', '御中', '各位', '同様', '仕様', '模様', '多様', '異様', '貴様', '今様', '一様', '有様', '左様', '然様', '外様', '上様', '殿様', '神様', '王様', '奥様', '御様', '様様', '皆様', '客様', '子様', '母様', '父様']);
const STOP_TAIL = '者員方客人長家族生手主側社店局課部室所会園院屋校団庁省府局';

const EMPTY: { len: number; e: LexEntry }[] = [];
function lexAt(map: Map<string, LexEntry>, n: string, i: number, maxLen: number, minLen = 1): { len: number; e: LexEntry }[] {
  const c0 = n.charCodeAt(i);
  const isSei = map === SEI;
  const one = (isSei ? SEI_ONE : MEI_ONE).has(c0);
  const longest = maxLen >= 2 ? ((isSei ? SEI_PRE : MEI_PRE).get(c0 * 65536 + n.charCodeAt(i + 1)) ?? 0) : 0;
  if (!one && !longest) return EMPTY;
  maxLen = longest ? Math.min(maxLen, longest) : 1;
  const res: { len: number; e: LexEntry }[] = [];
  for (let L = Math.min(maxLen, n.length - i); L >= minLen; L--) {
    const e = map.get(n.substr(i, L));
    if (e) res.push({ len: L, e });
  }
  return res;
}

const PARTICLE_AFTER_NAME = 'でがはのにとをもへや、。';

/**
 * A given name in hiragana right after a surname (伊藤さくら, 伊藤 さくら): returns its end or -1.
 * `bare`: no other context, so the name must be followed by a particle, punctuation or the end.
 */
export function givenHiraganaAt(n: string, j: number, bare = false): number {
  const spaced = isSpace(n.charCodeAt(j));
  if (spaced) j++;
  if (!isHiragana(n.charCodeAt(j))) return -1;
  for (let L = 4; L >= 2; L--) {
    const w = n.substr(j, L);
    if (w.length < L) continue;
    let allH = true;
    for (let k = 0; k < L; k++) if (!isHiragana(w.charCodeAt(k))) allH = false;
    if (!allH) continue;
    const g = MEI.get(w);
    if (!g || (g.ambiguous && !spaced)) continue;
    const nx = n.charCodeAt(j + L);
    if (bare && !spaced && !(j + L >= n.length || PARTICLE_AFTER_NAME.includes(n[j + L]!) || isSpace(nx) || !isHiragana(nx))) continue;
    if (bare && isHiragana(nx) && !PARTICLE_AFTER_NAME.includes(n[j + L]!)) continue;
    return j + L;
  }
  return -1;
}

/** surname (kanji) + given name (hiragana) ending at e, before an honorific; returns its start or -1 */
function hiraganaFullNameBefore(n: string, e: number): number {
  let hs = e;
  while (hs > 0 && e - hs < 4 && isHiragana(n.charCodeAt(hs - 1))) hs--;
  for (let g = hs; g <= e - 2; g++) {
    const m = MEI.get(n.slice(g, e));
    if (!m) continue;
    let k = g;
    if (isSpace(n.charCodeAt(k - 1))) k--;
    let kr = k;
    while (kr > 0 && k - kr < SEI_MAX && isKanji(n.charCodeAt(kr - 1))) kr--;
    for (let s = kr; s <= k - 2; s++) if (SEI.get(n.slice(s, k))) return s;
  }
  return -1;
}

function isNameChar(c: number): boolean {
  return isKanji(c) || isKatakana(c);
}

/** Does [s,e) parse as surname (+space) + given name, surname alone, or given name alone? */
function parseName(n: string, s: number, e: number): { kind: 'full' | 'sei' | 'mei' | 'kata'; quality: number } | undefined {
  const seg = n.slice(s, e);
  for (const a of lexAt(SEI, n, s, Math.min(SEI_MAX, e - s))) {
    let j = s + a.len;
    if (j === e) {
      const m = MEI.get(seg);
      return { kind: 'sei', quality: 1 - a.e.bucket / 20 - (a.e.ambiguous ? 0.1 : 0) + (m ? 0 : 0) };
    }
    if (isSpace(n.charCodeAt(j))) j++;
    const g = MEI.get(n.slice(j, e));
    if (!g && e - j >= 1 && e - j <= 3 && a.len >= 2) {
      // known surname + unknown 1–3 kanji given name (陽菜, 結愛 …): only reached with context
      let allK = true;
      for (let k = j; k < e; k++) if (!isKanji(n.charCodeAt(k))) allK = false;
      if (allK) return { kind: 'full', quality: 0.75 - a.e.bucket / 40 };
    }
    if (g && e - j <= MEI_MAX) return { kind: 'full', quality: 1.1 - (a.e.bucket + g.bucket) / 40 - (a.e.ambiguous ? 0.05 : 0) - (g.ambiguous ? 0.05 : 0) };
  }
  const g = MEI.get(seg);
  if (g) return { kind: 'mei', quality: 0.9 - g.bucket / 20 - (g.ambiguous ? 0.1 : 0) };
  // katakana name(s): ヤマダ タロウ / ジョン・スミス
  let allKata = true;
  for (let k = s; k < e; k++) {
    const c = n.charCodeAt(k);
    if (!(isKatakana(c) || c === 0x30fb || isSpace(c))) {
      allKata = false;
      break;
    }
  }
  if (allKata && e - s >= 2) return { kind: 'kata', quality: 0.7 };
  return undefined;
}

function isUnknownNameShape(n: string, s: number, e: number): boolean {
  const L = e - s;
  if (L < 2 || L > 5) return false;
  let sp = 0;
  for (let k = s; k < e; k++) {
    const c = n.charCodeAt(k);
    if (isSpace(c)) sp++;
    else if (!isKanji(c)) return false;
  }
  if (sp > 1) return false;
  const seg = n.slice(s, e);
  if (HON_STOP.has(seg)) return false;
  if (STOP_TAIL.includes(seg[seg.length - 1]!)) return false;
  return true;
}

/** honorific starting at h; returns its length or 0 */
export function honorificAt(n: string, h: number): number {
  const l = HONORIFIC_BY_FIRST.get(n.charCodeAt(h));
  if (!l) return 0;
  for (const w of l) {
    if (n.startsWith(w, h)) {
      const nx = n.charCodeAt(h + w.length);
      if (w === '様' && (nx === 0x3005 || nx === 0x5b50 /*子*/ || nx === 0x5f0f /*式*/ || nx === 0x76f8 /*相*/ || nx === 0x614b /*態*/ || nx === 0x5909)) return 0;
      if (w === '氏' && (nx === 0x540d /*名*/ || nx === 0x65cf || nx === 0x795e)) return 0;
      if (w === '君' && (nx === 0x4e3b || nx === 0x81e8)) return 0;
      if (w === 'さん' && (isHiragana(nx) && nx !== 0x306f && nx !== 0x304c && nx !== 0x306e && nx !== 0x306b && nx !== 0x3068 && nx !== 0x3082 && nx !== 0x3078 && nx !== 0x3092 && nx !== 0x3001 && nx !== 0x3084 && nx !== 0x304b && nx !== 0x3067)) return 0;
      return w.length;
    }
  }
  return 0;
}

/** name ending right before an honorific at h */
export function nameBeforeHonorific(n: string, h: number, honLen: number, out: Finding[]): void {
  const hon = n.slice(h, h + honLen);
  let e = h;
  if (isSpace(n.charCodeAt(e - 1))) e--; // 山田 太郎 様
  if (isHiragana(n.charCodeAt(e - 1))) {
    const s = hiraganaFullNameBefore(n, e);
    if (s >= 0) out.push({ type: 'PERSON_NAME', start: s, end: e, score: STRONG_HON.has(hon) ? 0.9 : 0.75 });
    return;
  }
  let r = e;
  let spaces = 0;
  while (r > 0 && h - r < 10) {
    const pc = n.charCodeAt(r - 1);
    if (isNameChar(pc) || pc === 0x30fb) r--;
    else if (isSpace(pc) && spaces === 0 && r - 1 > 0 && isNameChar(n.charCodeAt(r - 2)) && r < e) {
      spaces++;
      r--;
    } else break;
  }
  if (r >= e) return;
  // prefer the longest parse ending at e
  const strong = STRONG_HON.has(hon);
  for (let s = r; s < e; s++) {
    if (isSpace(n.charCodeAt(s))) continue;
    const seg = n.slice(s, e);
    if (HON_STOP.has(seg)) return;
    const p = parseName(n, s, e);
    if (p) {
      if (p.kind === 'kata' && s !== r) continue;
      // a katakana word before a title (システム部長) is not a name
      if (p.kind === 'kata' && !strong) continue;
      // given name alone before 部長/社長 etc. is unusual
      if (p.kind === 'mei' && !strong) continue;
      const score = strong ? 0.8 + 0.15 * Math.min(1, p.quality) : 0.65 + 0.2 * Math.min(1, p.quality);
      out.push({ type: 'PERSON_NAME', start: s, end: e, score });
      return;
    }
    if (s === r && strong && isUnknownNameShape(n, s, e)) {
      // unknown but name-shaped (2–5 kanji), keep looking for a lexicon parse inside first
      let inner = false;
      for (let s2 = s + 1; s2 < e - 1; s2++) if (parseName(n, s2, e)?.kind === 'full') inner = true;
      if (!inner) {
        out.push({ type: 'PERSON_NAME', start: s, end: e, score: 0.6 });
        return;
      }
    }
  }
}

/** label (氏名, 担当者, 私は …) starting at i; returns its length or 0 */
export function labelAt(n: string, i: number): string | undefined {
  const l = LABEL_BY_FIRST.get(n.charCodeAt(i));
  if (!l) return undefined;
  for (const w of l) if (n.startsWith(w, i)) return w;
  return undefined;
}

/** name right after a label ending at p */
export function nameAfterLabel(n: string, label: string, p: number, out: Finding[]): number {
  let q = p;
  const lim = Math.min(n.length, p + 4);
  while (q < lim) {
    const c = n.charCodeAt(q);
    if (c === 58 || c === 0xff1a || isSpace(c) || c === 0x300c || c === 0x300e || c === 40 || c === 0xff08 || c === 0x306f /*は*/ || c === 0x3001 || c === 61 || c === 0x3010 || c === 0x3011 || c === 0x30fb && false) q++;
    else break;
  }
  if (label === 'カナ' || label === 'フリガナ' || label === 'ふりがな' || label === 'フルネーム') {
    // katakana (or hiragana) reading: up to two words
    let e = q;
    let sp = 0;
    while (e < n.length && e - q < 20) {
      const c = n.charCodeAt(e);
      if (isKatakana(c) || isHiragana(c) || c === 0x30fb) e++;
      else if (isSpace(c) && sp === 0 && (isKatakana(n.charCodeAt(e + 1)) || isHiragana(n.charCodeAt(e + 1)))) {
        sp++;
        e++;
      } else break;
    }
    if (e - q >= 2 && label !== 'フルネーム') {
      out.push({ type: 'PERSON_NAME', start: q, end: e, score: 0.85 });
      return e;
    }
  }
  // maximal name-char run (allow one inner space)
  let e = q;
  let sp = 0;
  while (e < n.length && e - q < 12) {
    const c = n.charCodeAt(e);
    if (isNameChar(c) || c === 0x30fb) e++;
    else if (isSpace(c) && sp === 0 && isNameChar(n.charCodeAt(e + 1)) && e > q) {
      sp++;
      e++;
    } else break;
  }
  if (e === q) return p;
  const weak = WEAK_LABELS.has(label);
  // honorific inside the run? (山田様) — trim; the honorific handler will report it
  for (let k = q + 1; k < e; k++) {
    const hl = honorificAt(n, k);
    if (hl && n.charCodeAt(k) !== 0x541b) {
      e = k;
      if (isSpace(n.charCodeAt(e - 1))) e--;
      break;
    }
  }
  // longest lexicon parse from q
  for (let t = e; t > q; t--) {
    if (isSpace(n.charCodeAt(t - 1))) continue;
    const pn = parseName(n, q, t);
    if (pn) {
      if (pn.kind === 'kata' && weak && label !== '私は') continue;
      if (weak && t < e && isKanji(n.charCodeAt(t))) continue; // 私は会社員です: must end at a boundary
      if (pn.kind === 'mei' && weak) continue;
      if (pn.kind === 'sei' && t === e) {
        const ge = givenHiraganaAt(n, t);
        if (ge > 0) t = ge;
      }
      out.push({ type: 'PERSON_NAME', start: q, end: t, score: weak ? 0.75 : 0.9 });
      return t;
    }
  }
  if (!weak && isUnknownNameShape(n, q, e)) {
    out.push({ type: 'PERSON_NAME', start: q, end: e, score: 0.7 });
    return e;
  }
  return p;
}

/** full name (surname + given) at the start of a kanji run, without other context */
export function bareFullName(n: string, i: number, out: Finding[]): number {
  for (const a of lexAt(SEI, n, i, SEI_MAX)) {
    let j = i + a.len;
    const sp = isSpace(n.charCodeAt(j));
    if (sp) j++;
    for (const g of lexAt(MEI, n, j, MEI_MAX)) {
      const e = j + g.len;
      const nx = n.charCodeAt(e);
      const total = e - i - (sp ? 1 : 0);
      if (total < 3) continue;
      const hon = honorificAt(n, e) || (isSpace(nx) ? honorificAt(n, e + 1) : 0);
      if (isKanji(nx) && !hon) continue;
      if (isKatakana(nx)) continue;
      const hiraGiven = isHiragana(n.charCodeAt(j));
      if (hiraGiven && givenHiraganaAt(n, i + a.len, true) !== e) continue;
      let score = 0.62 - (a.e.ambiguous ? 0.06 : 0) - (g.e.ambiguous ? 0.06 : 0) - (a.e.bucket > 6 ? 0.05 : 0) - (g.e.bucket > 6 ? 0.05 : 0);
      if (sp) score += 0.05;
      else if (hiraGiven) score -= 0.1; // 佐藤はな|にも: unspaced hiragana needs more context
      if (hon) continue; // the honorific handler reports it with a higher score
      out.push({ type: 'PERSON_NAME', start: i, end: e, score });
      return e;
    }
  }
  return i;
}

/** "山田と申します" / "山田です。" after 私は handled by labels; this handles と申します */
export function nameBeforeMoushimasu(n: string, t: number, out: Finding[]): void {
  let r = t;
  while (r > 0 && t - r < 10 && (isNameChar(n.charCodeAt(r - 1)) || (isSpace(n.charCodeAt(r - 1)) && r < t))) r--;
  for (let s = r; s < t; s++) {
    const p = parseName(n, s, t);
    if (p) {
      out.push({ type: 'PERSON_NAME', start: s, end: t, score: 0.85 });
      return;
    }
  }
}

const INTRO_CUES = ['お世話', 'こんにちは', 'こんばんは', 'はじめまして', '初めまして', 'お疲れ', '失礼', '株式会社', '有限会社', '会社', '部', '課', '室', '社', '担当', '私', 'わたし', 'センター', '支店', '事務所', '病院', '大学', 'チーム'];
const INTRO_BOUNDARY = '\n 、。のは!:」,';

/** self-introductions: "株式会社サンプルの佐藤です", "営業部の高橋です", "こんにちは、田中です" (です at t) */
export function nameBeforeDesu(n: string, t: number, out: Finding[]): void {
  let r = t;
  if (isHiragana(n.charCodeAt(t - 1))) {
    const s = hiraganaFullNameBefore(n, t);
    if (s >= 0 && (s === 0 || INTRO_BOUNDARY.includes(n[s - 1]!))) out.push({ type: 'PERSON_NAME', start: s, end: t, score: 0.75 });
    return;
  }
  while (r > 0 && t - r < 8 && (isKanji(n.charCodeAt(r - 1)) || (isSpace(n.charCodeAt(r - 1)) && r < t && isKanji(n.charCodeAt(r - 2))))) r--;
  if (r === t || (r > 0 && !INTRO_BOUNDARY.includes(n[r - 1]!))) return;
  const p = parseName(n, r, t);
  if (!p || p.kind === 'mei' || p.kind === 'kata') return;
  if (p.kind === 'full' && t - r < 3) return; // 東京 would parse as 東 + 京
  const before = n.slice(Math.max(0, r - 30), r);
  let cue = false;
  for (const w of INTRO_CUES) if (before.includes(w)) cue = true;
  if (p.kind === 'sei' && t - r < 2 && !cue) return;
  if (n[r - 1] === 'は' && !cue) return; // 次の停車駅は名古屋です
  const score = p.kind === 'full' ? 0.8 : cue ? 0.78 : 0.58;
  out.push({ type: 'PERSON_NAME', start: r, end: t, score });
}

// ---------------------------------------------------------------- health context (要配慮個人情報)
export const HEALTH_WORDS = ['病名', '診断', '病歴', '既往歴', '既往症', '通院', '入院', '退院', '治療', '投薬', '服薬', '処方', '手術', '症状', '疾患', '障害', '障がい', '精神', 'うつ病', '鬱病', '統合失調症', '認知症', '糖尿病', 'がん', '癌', '腫瘍', '白血病', 'HIV', 'エイズ', 'AIDS', '感染症', '肝炎', '妊娠', '不妊', '透析', 'カルテ', '診療', '病院', 'クリニック', '健康診断', '検査結果', '陽性', '難病', 'diagnosis', 'diagnosed', 'medical history', 'cancer', 'depression', 'diabetes', 'hiv', 'pregnan', 'prescription', 'treatment for', '犯罪歴', '前科', '前歴', '逮捕', '信条', '宗教', '人種', '被害'];

export function hasHealthWord(n: string): boolean {
  for (const w of HEALTH_WORDS) if (n.includes(w)) return true;
  const l = /[A-Z]/.test(n) ? n.toLowerCase() : n;
  for (const w of HEALTH_WORDS) if (w.charCodeAt(0) < 128 && l.includes(w.toLowerCase())) return true;
  return false;
}
