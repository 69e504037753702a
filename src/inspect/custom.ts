/** Tenant custom patterns, compiled with re2js (RE2 semantics: linear time, no backtracking). */
import { RE2JS } from 're2js';
import type { Finding, Flag, Level } from './types.js';
import { LEVELS } from './classify.js';

export interface CustomPattern {
  type: string;
  pattern: string;
  flags?: string[];
  level?: string;
  /** score given to matches (default 0.9) */
  score?: number;
  /** case-insensitive match */
  ignoreCase?: boolean;
}

export class InspectorConfigError extends Error {
  readonly ja: string;
  readonly en: string;
  constructor(en: string, ja: string) {
    super(en);
    this.name = 'InspectorConfigError';
    this.en = en;
    this.ja = ja;
  }
}

export interface CompiledPattern {
  type: string;
  flags: Flag[];
  level?: Level;
  score: number;
  re: RE2JS;
}

const MAX_PATTERN_LEN = 4096;
const MAX_MATCHES = 10000;

export function compilePatterns(ps: CustomPattern[] = []): CompiledPattern[] {
  return ps.map((p, k) => {
    if (!p || typeof p.type !== 'string' || !/^[A-Z][A-Z0-9_]{0,63}$/.test(p.type)) {
      throw new InspectorConfigError(
        `customPatterns[${k}].type must be UPPER_SNAKE_CASE (got ${JSON.stringify(p?.type)})`,
        `customPatterns[${k}].type は英大文字・数字・_ で指定してください（指定値: ${JSON.stringify(p?.type)}）`,
      );
    }
    if (typeof p.pattern !== 'string' || p.pattern.length === 0 || p.pattern.length > MAX_PATTERN_LEN) {
      throw new InspectorConfigError(
        `customPatterns[${k}] (${p.type}): pattern must be a non-empty string of at most ${MAX_PATTERN_LEN} characters`,
        `customPatterns[${k}] (${p.type}): pattern は ${MAX_PATTERN_LEN} 文字以内の空でない文字列で指定してください`,
      );
    }
    if (p.level !== undefined && !LEVELS.includes(p.level as Level)) {
      throw new InspectorConfigError(
        `customPatterns[${k}] (${p.type}): level must be one of L0..L4 (got ${JSON.stringify(p.level)})`,
        `customPatterns[${k}] (${p.type}): level は L0〜L4 のいずれかで指定してください（指定値: ${JSON.stringify(p.level)}）`,
      );
    }
    let re: RE2JS;
    try {
      re = RE2JS.compile(p.pattern, p.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new InspectorConfigError(
        `customPatterns[${k}] (${p.type}): invalid pattern ${JSON.stringify(p.pattern)}: ${why} (RE2 syntax; backreferences and lookaround are not supported)`,
        `customPatterns[${k}] (${p.type}): 正規表現 ${JSON.stringify(p.pattern)} が不正です: ${why}（RE2 構文。後方参照・先読み/後読みは使えません）`,
      );
    }
    const out: CompiledPattern = { type: p.type, flags: (p.flags ?? []) as Flag[], score: p.score ?? 0.9, re };
    if (p.level) out.level = p.level as Level;
    return out;
  });
}

export function runPatterns(ps: CompiledPattern[], text: string, out: Finding[]): void {
  for (const p of ps) {
    const m = p.re.matcher(text);
    let count = 0;
    while (m.find()) {
      const s = m.start();
      const e = m.end();
      if (e > s) out.push({ type: p.type, start: s, end: e, score: p.score });
      if (++count >= MAX_MATCHES) break;
    }
  }
}
