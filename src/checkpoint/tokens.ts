/**
 * The transform stage's tokens: typed placeholders such as 〔氏名1〕 that replace what the
 * inspector found. Masked values are gone for good; pseudonymized ones are kept in a
 * per-request map and restored in the answer — also when a token arrives split across
 * streamed chunks (a bounded hold-back, never more than one token long).
 */

export const TYPE_LABELS: Record<string, string> = {
  PERSON_NAME: '氏名',
  JP_MY_NUMBER: '個人番号',
  JP_CORPORATE_NUMBER: '法人番号',
  JP_PHONE: '電話番号',
  JP_POSTAL_CODE: '郵便番号',
  JP_ADDRESS: '住所',
  JP_BANK_ACCOUNT: '口座番号',
  JP_PASSPORT: '旅券番号',
  JP_RESIDENCE_CARD: '在留カード番号',
  JP_DRIVERS_LICENSE: '運転免許証番号',
  EMAIL: 'メール',
  CREDIT_CARD: 'カード番号',
  IP_ADDRESS: 'IPアドレス',
  SECRET: '秘密情報',
};

const OPEN = '〔';
const CLOSE = '〕';
/** The longest token we ever issue, in UTF-16 units: 〔 + label (≤ 8) + digits (≤ 6) + 〕. */
export const MAX_TOKEN_LENGTH = 16;

export interface Span {
  type: string;
  start: number;
  end: number;
}

export class TokenMap {
  private readonly byValue = new Map<string, string>();
  private readonly byToken = new Map<string, string>();
  private readonly counters = new Map<string, number>();

  /** The same value of the same type always gets the same token within one map. */
  token(type: string, value: string, restorable: boolean): string {
    const key = `${type}\u0000${value}`;
    const existing = this.byValue.get(key);
    if (existing) {
      if (restorable) this.byToken.set(existing, value);
      return existing;
    }
    const n = (this.counters.get(type) ?? 0) + 1;
    this.counters.set(type, n);
    const label = (TYPE_LABELS[type] ?? type).slice(0, 8);
    const t = `${OPEN}${label}${n}${CLOSE}`;
    this.byValue.set(key, t);
    if (restorable) this.byToken.set(t, value);
    return t;
  }

  original(token: string): string | undefined {
    return this.byToken.get(token);
  }

  get restorable(): number {
    return this.byToken.size;
  }

  /** Replace every restorable token in a complete text. */
  restore(text: string): string {
    if (this.byToken.size === 0 || !text.includes(OPEN)) return text;
    let out = '';
    let i = 0;
    for (;;) {
      const a = text.indexOf(OPEN, i);
      if (a === -1) break;
      const b = text.indexOf(CLOSE, a + 1);
      if (b === -1) break;
      if (b - a + 1 > MAX_TOKEN_LENGTH) {
        out += text.slice(i, a + 1);
        i = a + 1;
        continue;
      }
      const tok = text.slice(a, b + 1);
      const orig = this.byToken.get(tok);
      out += text.slice(i, a) + (orig ?? tok);
      i = b + 1;
    }
    return out + text.slice(i);
  }
}

/**
 * Replace spans of `text` (any order, overlaps resolved by keeping the earlier, longer one).
 * `replacement(span, value)` gives the new text of a span.
 */
export function replaceSpans(text: string, spans: readonly Span[], replacement: (s: Span, value: string) => string): string {
  if (spans.length === 0) return text;
  const sorted = [...spans].sort((x, y) => x.start - y.start || y.end - x.end);
  let out = '';
  let at = 0;
  for (const s of sorted) {
    if (s.start < at || s.end <= s.start || s.end > text.length) continue;
    out += text.slice(at, s.start) + replacement(s, text.slice(s.start, s.end));
    at = s.end;
  }
  return out + text.slice(at);
}

/**
 * Restores tokens in a stream of text pieces. A piece that ends inside a possible token
 * (an unclosed 〔 at most one token long) is held back until the token completes.
 */
export class StreamRestorer {
  private held = '';

  constructor(private readonly map: TokenMap) {}

  push(piece: string): string {
    const text = this.held + piece;
    this.held = '';
    const a = text.lastIndexOf(OPEN);
    if (a !== -1 && text.indexOf(CLOSE, a) === -1 && text.length - a < MAX_TOKEN_LENGTH) {
      this.held = text.slice(a);
      return this.map.restore(text.slice(0, a));
    }
    return this.map.restore(text);
  }

  flush(): string {
    const rest = this.held;
    this.held = '';
    return this.map.restore(rest);
  }
}
