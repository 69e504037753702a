/**
 * Content at the checkpoint: the inspect and transform stages for request texts, and the
 * answer side — inspect what the model says (streamed or not) and restore pseudonyms.
 *
 * Per finding type the tenant chooses an action: allow (the finding raises the level and
 * routing follows), mask (a typed placeholder, gone for good), pseudonymize (a placeholder
 * restored in the answer), or block. Masked and pseudonymized values never leave Sekisho, so
 * they do not raise the level: the level is computed on the text as it will be sent.
 */
import { createInspector, createRestorer, PLACEHOLDER_LABELS, type Finding, type Inspector, type CustomPattern } from '../inspect/index.js';
import { levelIndex, isLevelName, type LevelName, type Policy } from '../policy/index.js';
import type { Config } from '../config/schema.js';

export type RequestAction = 'allow' | 'mask' | 'pseudonymize' | 'block';
export type AnswerAction = 'allow' | 'mask' | 'block';

export interface ContentOptions {
  minScore: number;
  actions: Record<string, RequestAction>;
  answerActions: Record<string, AnswerAction>;
  customPatterns: CustomPattern[];
  /** flag → minimum level, from the policy (one source of truth for both stages). */
  flagLevels: Record<string, LevelName>;
}

/**
 * Placeholders such as 〔氏名1〕, consistent across all texts of one request — and across the
 * requests of one conversation when the map is persisted (toJSON / from, stored by the vault).
 */
export class TokenMap {
  private readonly byValue = new Map<string, string>();
  private readonly counters = new Map<string, number>();
  /** placeholder → original, for the pseudonymized values only (restored in the answer). */
  readonly restorable = new Map<string, string>();
  /** Whether a placeholder was added since the map was created or loaded. */
  changed = false;

  token(type: string, value: string, restorable: boolean): string {
    const key = `${type}\u0000${value}`;
    let t = this.byValue.get(key);
    if (!t) {
      const label = PLACEHOLDER_LABELS[type] ?? type;
      const n = (this.counters.get(label) ?? 0) + 1;
      this.counters.set(label, n);
      t = `〔${label}${n}〕`;
      this.byValue.set(key, t);
      this.changed = true;
    }
    if (restorable && !this.restorable.has(t)) {
      this.restorable.set(t, value);
      this.changed = true;
    }
    return t;
  }

  toJSON(): { v: 1; values: [string, string][]; counters: [string, number][]; restorable: [string, string][] } {
    return { v: 1, values: [...this.byValue], counters: [...this.counters], restorable: [...this.restorable] };
  }

  /** A map from its JSON form; throws on anything malformed. */
  static from(data: unknown): TokenMap {
    const d = data as ReturnType<TokenMap['toJSON']>;
    const pairs = (a: unknown, second: 'string' | 'number') => Array.isArray(a) && a.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === second);
    if (!d || d.v !== 1 || !pairs(d.values, 'string') || !pairs(d.counters, 'number') || !pairs(d.restorable, 'string')) throw new TypeError('malformed pseudonym map');
    const m = new TokenMap();
    for (const [k, t] of d.values) m.byValue.set(k, t);
    for (const [l, n] of d.counters) m.counters.set(l, n);
    for (const [t, v] of d.restorable) m.restorable.set(t, v);
    return m;
  }
}

/** Replace findings (sorted, non-overlapping after the inspector) by `replacement`. */
function replaceFindings(text: string, findings: readonly Finding[], replacement: (f: Finding, value: string) => string | undefined): string {
  let out = '';
  let at = 0;
  for (const f of [...findings].sort((a, b) => a.start - b.start)) {
    if (f.start < at) continue;
    const r = replacement(f, text.slice(f.start, f.end));
    if (r === undefined) continue;
    out += text.slice(at, f.start) + r;
    at = f.end;
  }
  return at === 0 ? text : out + text.slice(at);
}

export interface RequestContent {
  level: LevelName;
  flags: string[];
  /** Finding types and counts (metadata only, for the record). */
  counts: Record<string, number>;
  /** Types whose action is block, when any was found. */
  blocked: string[];
  /** Rewrites one request text (undefined when nothing is masked or pseudonymized). */
  rewrite?: (text: string) => string;
  tokens: TokenMap;
}

export class ContentStage {
  private readonly inspector: Inspector;

  constructor(private readonly opts: ContentOptions) {
    this.inspector = createInspector({
      minScore: opts.minScore,
      customPatterns: opts.customPatterns,
      classification: { flagLevels: opts.flagLevels },
    });
  }

  /** The raw findings of one text (for traces and the simulator). */
  findings(text: string): Finding[] {
    return this.inspector.inspect(text).findings;
  }

  /** inspect + plan the transform of a request's texts. */
  inspectRequest(texts: readonly string[], tokens: TokenMap = new TokenMap()): RequestContent {
    const counts: Record<string, number> = {};
    const blocked = new Set<string>();
    const perText = new Map<string, Finding[]>();
    let level: LevelName = 'L0';
    const flags = new Set<string>();
    let transforms = false;
    for (const text of texts) {
      if (text.length === 0 || perText.has(text)) continue;
      const r = this.inspector.inspect(text);
      perText.set(text, r.findings);
      for (const f of r.findings) {
        counts[f.type] = (counts[f.type] ?? 0) + 1;
        const action = this.opts.actions[f.type] ?? 'allow';
        if (action === 'block') blocked.add(f.type);
        else if (action !== 'allow') transforms = true;
      }
      if (levelIndex(r.level) > levelIndex(level)) level = r.level;
      for (const fl of r.flags) flags.add(fl);
    }
    const result: RequestContent = { level, flags: [...flags].sort(), counts, blocked: [...blocked].sort(), tokens };
    if (!transforms || blocked.size > 0) return result;
    // The level is what is left after masking: inspect the rewritten texts again.
    const rewrite = (text: string): string => {
      const findings = perText.get(text) ?? this.inspector.inspect(text).findings;
      return replaceFindings(text, findings, (f, value) => {
        const action = this.opts.actions[f.type] ?? 'allow';
        return action === 'mask' || action === 'pseudonymize' ? tokens.token(f.type, value, action === 'pseudonymize') : undefined;
      });
    };
    level = 'L0';
    flags.clear();
    for (const text of perText.keys()) {
      const r = this.inspector.inspect(rewrite(text));
      if (levelIndex(r.level) > levelIndex(level)) level = r.level;
      for (const fl of r.flags) flags.add(fl);
    }
    return { ...result, level, flags: [...flags].sort(), rewrite };
  }

  /** The answer side, or undefined when there is nothing to do for this request. */
  answer(tokens: TokenMap): AnswerGuard | undefined {
    const acting = Object.values(this.opts.answerActions).some((a) => a !== 'allow');
    if (!acting && tokens.restorable.size === 0) return undefined;
    return new AnswerGuard(this.inspector, this.opts.answerActions, tokens, acting);
  }
}

/** Types whose values are written with digits, Latin letters and a few symbols. */
const LATIN_TYPES = new Set(['JP_MY_NUMBER', 'JP_CORPORATE_NUMBER', 'CREDIT_CARD', 'SECRET', 'EMAIL', 'IP_ADDRESS', 'JP_PHONE', 'JP_POSTAL_CODE', 'JP_PASSPORT', 'JP_RESIDENCE_CARD', 'JP_DRIVERS_LICENSE']);

/** Characters that may occur inside such a value: ASCII and full-width alphanumerics, dashes, spaces, symbols. */
function isLatinish(c: number): boolean {
  return (
    (c >= 0x21 && c <= 0x7e) || // ASCII printable
    c === 0x20 ||
    c === 0x3000 || // ideographic space
    (c >= 0xff01 && c <= 0xff5e) || // full-width ASCII
    c === 0x2010 || c === 0x2011 || c === 0x2012 || c === 0x2013 || c === 0x2014 || c === 0x2212 || c === 0x30fc || c === 0x2015 || c === 0xff70
  );
}

/** Thrown when an answer contains a type whose answer action is block. */
export class AnswerBlocked extends Error {
  constructor(readonly types: string[]) {
    super(`answer contains ${types.join(', ')}`);
  }
}

/**
 * Inspects the model's text and restores pseudonyms. For streams each choice keeps a small
 * hold-back (HOLD characters) so that a finding split across chunks is still caught, plus
 * CONTEXT characters already sent as look-behind for context words.
 */
export class AnswerGuard {
  static readonly HOLD = 64;
  static readonly CONTEXT = 64;
  private readonly choices = new Map<number, { sent: string; pending: string; restorer: ReturnType<typeof createRestorer> }>();
  readonly found: Record<string, number> = {};
  /**
   * When every acted-on type is written in digits and Latin letters (numbers, keys, mail
   * addresses), only a trailing run of such characters can be an unfinished finding, so
   * Japanese prose streams on without waiting.
   */
  private readonly compactTail: boolean;

  constructor(
    private readonly inspector: Inspector,
    private readonly actions: Record<string, AnswerAction>,
    private readonly tokens: TokenMap,
    private readonly acting: boolean,
  ) {
    this.compactTail = Object.entries(actions).every(([type, a]) => a === 'allow' || LATIN_TYPES.has(type));
  }

  /** A whole text (non-streamed answers). */
  text(s: string): string {
    return this.tokensRestored(this.guard(s, s.length, 0).out);
  }

  private tokensRestored(s: string): string {
    if (this.tokens.restorable.size === 0) return s;
    const r = createRestorer(this.tokens.restorable);
    return r.push(s) + r.end();
  }

  /**
   * Inspect `buf`, mask findings that start before `cut` (moving `cut` back before a finding
   * that crosses it), ignore findings in the first `skip` characters (already sent).
   */
  private guard(buf: string, cut: number, skip: number): { out: string; cut: number } {
    if (!this.acting) return { out: buf.slice(skip, cut), cut };
    const findings = this.inspector.inspect(buf).findings.filter((f) => (this.actions[f.type] ?? 'allow') !== 'allow' && f.end > skip);
    for (const f of findings) if (f.start < cut && f.end > cut) cut = Math.max(skip, f.start);
    const blocked = findings.filter((f) => f.start < cut && this.actions[f.type] === 'block').map((f) => f.type);
    if (blocked.length) throw new AnswerBlocked([...new Set(blocked)]);
    const emitted = findings.filter((f) => f.start >= skip && f.end <= cut);
    for (const f of emitted) this.found[f.type] = (this.found[f.type] ?? 0) + 1;
    const masked = replaceFindings(buf.slice(0, cut), emitted, (f, value) => this.tokens.token(f.type, value, false));
    // `masked` keeps buf[0, skip) unchanged (no finding starts there), so the new part follows it.
    return { out: masked.slice(skip), cut };
  }

  /** A streamed piece of choice `index`; returns what may be sent now. */
  push(index: number, piece: string): string {
    let c = this.choices.get(index);
    if (!c) {
      c = { sent: '', pending: '', restorer: createRestorer(this.tokens.restorable) };
      this.choices.set(index, c);
    }
    if (!this.acting) return c.restorer.push(piece);
    c.pending += piece;
    if (!this.compactTail && c.pending.length <= AnswerGuard.HOLD) return '';
    const buf = c.sent + c.pending;
    let want = buf.length - AnswerGuard.HOLD;
    if (this.compactTail) {
      let i = buf.length;
      while (i > c.sent.length && buf.length - i < AnswerGuard.HOLD && isLatinish(buf.charCodeAt(i - 1))) i--;
      want = buf.length - i >= AnswerGuard.HOLD ? buf.length - AnswerGuard.HOLD : i;
      if (want <= c.sent.length) return '';
    }
    let { out, cut } = this.guard(buf, want, c.sent.length);
    // Never split a surrogate pair.
    const last = buf.charCodeAt(cut - 1);
    if (cut > c.sent.length && last >= 0xd800 && last <= 0xdbff) {
      cut--;
      out = out.slice(0, -1);
    }
    c.sent = buf.slice(Math.max(0, cut - AnswerGuard.CONTEXT), cut);
    c.pending = buf.slice(cut);
    return c.restorer.push(out);
  }

  /** The end of choice `index` (finish_reason or end of stream): everything left. */
  flush(index: number): string {
    const c = this.choices.get(index);
    if (!c) return '';
    this.choices.delete(index);
    if (!this.acting) return c.restorer.end();
    const buf = c.sent + c.pending;
    const { out } = this.guard(buf, buf.length, c.sent.length);
    return c.restorer.push(out) + c.restorer.end();
  }

  /** Choices with text still held back. */
  open(): number[] {
    return [...this.choices.keys()];
  }
}

/** The content stage for a configuration (undefined when inspection is disabled). */
export function contentStageFor(config: Config, policy: Policy): ContentStage | undefined {
  if (!config.inspect.enabled) return undefined;
  const flagLevels: Record<string, LevelName> = {};
  for (const [flag, rule] of Object.entries(policy.flagRules)) if (isLevelName(rule)) flagLevels[flag] = rule;
  return new ContentStage({
    minScore: config.inspect.min_score,
    actions: config.inspect.actions,
    answerActions: config.inspect.answer_actions,
    customPatterns: config.inspect.custom_patterns.map((p) => ({
      type: p.type,
      pattern: p.pattern,
      flags: p.flags,
      ...(p.level ? { level: p.level } : {}),
      ignoreCase: p.ignore_case,
    })),
    flagLevels,
  });
}
