/** Masking / pseudonymisation helpers for the gateway's transform stage. */
import type { Finding } from './types.js';

export const PLACEHOLDER_LABELS: Record<string, string> = {
  PERSON_NAME: '氏名',
  JP_PHONE: '電話番号',
  EMAIL: 'メール',
  JP_ADDRESS: '住所',
  JP_POSTAL_CODE: '郵便番号',
  JP_MY_NUMBER: '個人番号',
  JP_CORPORATE_NUMBER: '法人番号',
  JP_BANK_ACCOUNT: '口座番号',
  JP_PASSPORT: '旅券番号',
  JP_RESIDENCE_CARD: '在留カード番号',
  JP_DRIVERS_LICENSE: '免許証番号',
  CREDIT_CARD: 'カード番号',
  IP_ADDRESS: 'IPアドレス',
  SECRET: '秘密情報',
};

export const PH_OPEN = '〔';
export const PH_CLOSE = '〕';

export interface MaskResult {
  text: string;
  /** placeholder → original value (keep it in the vault; never log it) */
  map: Map<string, string>;
}

/**
 * Replace each finding with a typed placeholder such as 〔氏名1〕〔電話番号1〕. The same
 * (type, value) gets the same number within one call; numbering follows first appearance.
 * Overlapping findings: the earlier (then longer) one wins.
 */
export function pseudonymize(text: string, findings: readonly Finding[], labels: Record<string, string> = PLACEHOLDER_LABELS): MaskResult {
  const fs = [...findings].filter((f) => f.start >= 0 && f.end <= text.length && f.end > f.start).sort((a, b) => a.start - b.start || b.end - a.end);
  const counters = new Map<string, number>();
  const byValue = new Map<string, string>();
  const map = new Map<string, string>();
  let out = '';
  let pos = 0;
  for (const f of fs) {
    if (f.start < pos) continue;
    const value = text.slice(f.start, f.end);
    const key = f.type + '\u0000' + value;
    let ph = byValue.get(key);
    if (!ph) {
      const label = labels[f.type] ?? f.type;
      const k = (counters.get(label) ?? 0) + 1;
      counters.set(label, k);
      ph = PH_OPEN + label + k + PH_CLOSE;
      byValue.set(key, ph);
      map.set(ph, value);
    }
    out += text.slice(pos, f.start) + ph;
    pos = f.end;
  }
  out += text.slice(pos);
  return { text: out, map };
}

/** Mask: the text with placeholders only. */
export function mask(text: string, findings: readonly Finding[], labels?: Record<string, string>): string {
  return pseudonymize(text, findings, labels).text;
}

/** Restore placeholders in a complete string. Unknown placeholders are left as they are. */
export function restore(text: string, map: ReadonlyMap<string, string>): string {
  if (!text.includes(PH_OPEN)) return text;
  return text.replace(/〔[^〔〕]{1,40}〕/g, (m) => map.get(m) ?? m);
}

/**
 * Streaming restoration across chunk boundaries (SSE deltas). A placeholder may be split
 * between chunks ("…〔氏" + "名1〕…"); the restorer holds back the shortest suffix that could
 * still become a placeholder (from an unmatched 〔, at most MAX_HOLD code units), emits the
 * rest, and never splits a surrogate pair. Call end() at the end of the stream to flush.
 */
export function createRestorer(map: ReadonlyMap<string, string>, maxHold = 48): { push(chunk: string): string; end(): string } {
  let buf = '';
  return {
    push(chunk: string): string {
      buf += chunk;
      const open = buf.lastIndexOf(PH_OPEN);
      let emitUpTo = buf.length;
      if (open >= 0 && buf.indexOf(PH_CLOSE, open) < 0 && buf.length - open <= maxHold) emitUpTo = open;
      // keep a trailing high surrogate with its pair
      const last = buf.charCodeAt(emitUpTo - 1);
      if (emitUpTo > 0 && last >= 0xd800 && last <= 0xdbff) emitUpTo--;
      const ready = buf.slice(0, emitUpTo);
      buf = buf.slice(emitUpTo);
      return restore(ready, map);
    },
    end(): string {
      const r = restore(buf, map);
      buf = '';
      return r;
    },
  };
}
