/** Runtime name lexicons compiled from the generated IPADIC extract (data/names.ts). */
import { SURNAMES, GIVEN_NAMES } from './data/names.js';
import { EN_GIVEN, ROMAJI_SURNAMES, ROMAJI_GIVEN } from './data/latin-names.js';

export interface LexEntry {
  /** 0 (most frequent) … 9 */
  bucket: number;
  /** the same surface is also an ordinary word / place / organisation in IPADIC */
  ambiguous: boolean;
}

function compile(data: string): { map: Map<string, LexEntry>; maxLen: number; pre: Map<number, number>; one: Set<number> } {
  const map = new Map<string, LexEntry>();
  /** two-character prefix → the longest entry starting with it */
  const pre = new Map<number, number>();
  const one = new Set<number>();
  let maxLen = 0;
  for (const raw of data.split('|')) {
    if (!raw) continue;
    const bucket = raw.charCodeAt(raw.length - 1) - 48;
    let w = raw.slice(0, -1);
    let ambiguous = false;
    if (w.endsWith('*')) {
      ambiguous = true;
      w = w.slice(0, -1);
    }
    map.set(w, { bucket, ambiguous });
    if (w.length === 1) one.add(w.charCodeAt(0));
    else {
      const k = w.charCodeAt(0) * 65536 + w.charCodeAt(1);
      if ((pre.get(k) ?? 0) < w.length) pre.set(k, w.length);
    }
    if (w.length > maxLen) maxLen = w.length;
  }
  return { map, maxLen, pre, one };
}

/**
 * Given names common since the 1990s that are written in hiragana but missing from IPADIC
 * (from the published baby-name rankings); bucket 3, not ambiguous.
 */
const MODERN_HIRAGANA_GIVEN = 'さくら ひなた ゆい ひな ゆな こはる ひまり めい りこ あかり つむぎ みお ゆず いろは ここな ほのか さな ゆうな ことは ひなの えま りん すず のぞみ ひかり みゆ あんな まな ゆめ ももか はるか あすか ちひろ なな るな かのん まりん ゆうき はると そら ゆうと ゆうま けんた しょうた だいき こうき あやか みく りな かれん まお ゆうか ほなみ ひより みつき'.split(' ');

const sei = compile(SURNAMES);
const mei = compile(GIVEN_NAMES + '|' + MODERN_HIRAGANA_GIVEN.map((w) => w + '3').join('|'));
export const SEI = sei.map;
export const MEI = mei.map;
/** quick reject: can any entry start at n[i]? (single-char entry or two-char prefix) */
export const SEI_ONE = sei.one;
export const SEI_PRE = sei.pre;
export const MEI_ONE = mei.one;
export const MEI_PRE = mei.pre;
export const SEI_MAX = Math.min(sei.maxLen, 5);
export const MEI_MAX = Math.min(mei.maxLen, 5);

export const LATIN_GIVEN = new Set<string>([...EN_GIVEN, ...ROMAJI_GIVEN]);
export const LATIN_SURNAME_JP = new Set<string>(ROMAJI_SURNAMES);
