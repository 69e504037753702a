/**
 * Sigma rules (https://sigmahq.io) over Sekisho's own events (`logsource: {product: sekisho}`):
 * detection rules select events (content findings, authentication failures, limits, anomalies)
 * and say what to do; correlation rules (`correlation: {type: event_count, …}`) count the
 * events of other rules per group within a timespan. Custom attributes: `action` (log, alert,
 * block, step_up, quarantine) and `threat_type`. Tags `owasp.llm01` and `atlas.aml.t0051` give
 * the OWASP LLM Top 10 2025 and MITRE ATLAS ids.
 *
 * A malformed file stops loading with the file, the key and what was expected, in Japanese
 * and English.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { AlertView, ThreatAction, ThreatType } from './admin.js';

export type Severity = AlertView['severity'];
export type SekishoEvent = Record<string, string | number | boolean | string[] | undefined>;

export class RuleError extends Error {
  constructor(
    readonly file: string,
    readonly key: string,
    readonly ja: string,
    readonly en: string,
  ) {
    super(`${file}: ${key}: ${en}`);
    this.name = 'RuleError';
  }
  report(): string {
    return `${this.file}: ${this.key}: ${this.ja}\n${this.file}: ${this.key}: ${this.en}`;
  }
}

interface Matcher {
  field: string;
  modifiers: string[];
  values: (string | number | boolean | null)[];
}
type Selection = Matcher[][]; // OR of ANDs (a list of maps is OR)
type Cond = { op: 'ref'; name: string } | { op: 'and' | 'or'; a: Cond; b: Cond } | { op: 'not'; a: Cond } | { op: 'of'; all: boolean; pattern: string };

export interface Rule {
  id: string;
  name: string | undefined;
  title: string;
  /** `title_ja`: the Japanese title (optional; the console and the JPCERT/CC report prefer it). */
  titleJa: string | undefined;
  file: string;
  level: Severity;
  action: ThreatAction;
  threatType: ThreatType | undefined;
  owasp: string[];
  atlas: string[];
  description: string;
  /** The rule's YAML (for STIX indicators with pattern_type sigma). */
  source: string;
  detection?: { selections: Map<string, Selection>; condition: Cond };
  correlation?: { rules: string[]; groupBy: string[]; timespanMs: number; gte: number };
}

const LEVELS: Record<string, Severity> = { informational: 'low', low: 'low', medium: 'medium', high: 'high', critical: 'critical' };
const ACTIONS = ['log', 'alert', 'block', 'step_up', 'quarantine'];
const TYPES = ['PROMPT_INJECTION', 'JAILBREAK', 'INDIRECT_INJECTION', 'EXFILTRATION', 'BULK_PERSONAL_DATA', 'CREDENTIAL_STUFFING', 'BRUTE_FORCE', 'ANOMALY', 'UNBOUNDED_CONSUMPTION'];
const MODIFIERS = new Set(['gte', 'gt', 'lte', 'lt', 'contains', 'startswith', 'endswith', 're', 'all', 'exists']);

function timespan(v: unknown, file: string, key: string): number {
  const m = typeof v === 'string' ? /^(\d+)(s|m|h|d)$/.exec(v) : null;
  if (!m) throw new RuleError(file, key, '期間は 30s, 5m, 1h, 1d のように指定してください', 'a timespan such as 30s, 5m, 1h or 1d');
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

function parseCondition(src: string, file: string, names: string[]): Cond {
  const toks = src.match(/\(|\)|[A-Za-z0-9_*]+/g) ?? [];
  let i = 0;
  const bad = (why: string) => new RuleError(file, 'detection.condition', `条件式を解釈できません (${why}): ${src}`, `cannot parse the condition (${why}): ${src}`);
  const primary = (): Cond => {
    const t = toks[i++];
    if (t === undefined) throw bad('unexpected end');
    if (t === '(') {
      const c = expr();
      if (toks[i++] !== ')') throw bad('missing )');
      return c;
    }
    if (t === 'not') return { op: 'not', a: primary() };
    if (t === '1' || t === 'all' || t === 'any') {
      if (toks[i++] !== 'of') throw bad(`"${t}" must be followed by "of"`);
      const p = toks[i++];
      if (!p) throw bad('missing selection after "of"');
      return { op: 'of', all: t === 'all', pattern: p === 'them' ? '*' : p };
    }
    if (!names.includes(t)) throw bad(`unknown selection "${t}"`);
    return { op: 'ref', name: t };
  };
  const conj = (): Cond => {
    let a = primary();
    while (toks[i] === 'and') {
      i++;
      a = { op: 'and', a, b: primary() };
    }
    return a;
  };
  const expr = (): Cond => {
    let a = conj();
    while (toks[i] === 'or') {
      i++;
      a = { op: 'or', a, b: conj() };
    }
    return a;
  };
  const c = expr();
  if (i !== toks.length) throw bad(`unexpected "${toks[i]}"`);
  return c;
}

function parseSelection(v: unknown, file: string, key: string): Selection {
  const maps = Array.isArray(v) ? v : [v];
  return maps.map((m, k) => {
    if (!m || typeof m !== 'object' || Array.isArray(m)) throw new RuleError(file, `${key}[${k}]`, 'フィールド名と値のマッピングにしてください', 'a mapping of field names to values');
    return Object.entries(m as Record<string, unknown>).map(([f, val]) => {
      const [field, ...modifiers] = f.split('|');
      for (const mod of modifiers) if (!MODIFIERS.has(mod)) throw new RuleError(file, `${key}.${f}`, `未対応の修飾子 ${mod} です (${[...MODIFIERS].join(', ')})`, `unsupported modifier ${mod} (use ${[...MODIFIERS].join(', ')})`);
      const values = (Array.isArray(val) ? val : [val]) as (string | number | boolean | null)[];
      for (const x of values) {
        if (x !== null && typeof x === 'object') throw new RuleError(file, `${key}.${f}`, '値は文字列・数値・真偽値にしてください', 'values must be strings, numbers or booleans');
      }
      if (modifiers.includes('re')) for (const x of values) new RegExp(String(x));
      return { field: field!, modifiers, values };
    });
  });
}

/** Parses one YAML document (a rule) from `file`. */
export function parseRule(doc: unknown, file: string, source: string): Rule {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new RuleError(file, '(top level)', 'ルールは YAML のマッピングにしてください', 'a rule must be a YAML mapping');
  const r = doc as Record<string, unknown>;
  const str = (k: string, required = true): string | undefined => {
    const v = r[k];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || v.length === 0) throw new RuleError(file, k, `${k} を文字列で指定してください`, `${k} must be a non-empty string`);
    return v;
  };
  const title = str('title')!;
  const titleJa = str('title_ja', false);
  const id = str('id', false) ?? str('name', false);
  if (!id) throw new RuleError(file, 'id', 'id (または name) が必要です', 'id (or name) is required');
  const level = LEVELS[String(r.level ?? 'medium')];
  if (!level) throw new RuleError(file, 'level', 'level は informational, low, medium, high, critical のいずれかにしてください', 'level must be informational, low, medium, high or critical');
  const action = String(r.action ?? 'alert');
  if (!ACTIONS.includes(action)) throw new RuleError(file, 'action', `action は ${ACTIONS.join(', ')} のいずれかにしてください`, `action must be one of ${ACTIONS.join(', ')}`);
  const threatType = r.threat_type === undefined ? undefined : String(r.threat_type);
  if (threatType !== undefined && !TYPES.includes(threatType)) throw new RuleError(file, 'threat_type', `threat_type は ${TYPES.join(', ')} のいずれかにしてください`, `threat_type must be one of ${TYPES.join(', ')}`);
  const tags = r.tags === undefined ? [] : r.tags;
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw new RuleError(file, 'tags', 'tags は文字列のリストにしてください', 'tags must be a list of strings');
  const owasp = tags.filter((t) => /^owasp\.llm\d{2}$/i.test(t)).map((t) => t.slice(6).toUpperCase());
  const atlas = tags.filter((t) => /^atlas\.aml\.t\d{4}(\.\d{3})?$/i.test(t)).map((t) => t.slice(6).toUpperCase());
  const rule: Rule = { id, name: str('name', false), title, titleJa, file, level, action: action as ThreatAction, threatType: threatType as ThreatType | undefined, owasp, atlas, description: String(r.description ?? ''), source };
  if (r.correlation !== undefined) {
    const c = r.correlation as Record<string, unknown>;
    if (!c || typeof c !== 'object') throw new RuleError(file, 'correlation', 'correlation はマッピングにしてください', 'correlation must be a mapping');
    if (c.type !== 'event_count') throw new RuleError(file, 'correlation.type', 'correlation.type は event_count にしてください', 'correlation.type must be event_count');
    const rules = Array.isArray(c.rules) ? c.rules.map(String) : typeof c.rules === 'string' ? [c.rules] : [];
    if (!rules.length) throw new RuleError(file, 'correlation.rules', '対象ルールの id か name を指定してください', 'name the rules (id or name) to correlate');
    const groupBy = Array.isArray(c['group-by']) ? c['group-by'].map(String) : [];
    const cond = c.condition as Record<string, unknown> | undefined;
    const gte = cond && typeof cond.gte === 'number' ? cond.gte : cond && typeof cond.gt === 'number' ? cond.gt + 1 : NaN;
    if (!Number.isFinite(gte) || gte < 1) throw new RuleError(file, 'correlation.condition', 'condition は {gte: N} (N ≥ 1) にしてください', 'condition must be {gte: N} with N ≥ 1');
    rule.correlation = { rules, groupBy, timespanMs: timespan(c.timespan, file, 'correlation.timespan'), gte };
    return rule;
  }
  const ls = r.logsource as Record<string, unknown> | undefined;
  if (!ls || typeof ls !== 'object' || ls.product !== 'sekisho') throw new RuleError(file, 'logsource.product', 'logsource.product は sekisho にしてください', 'logsource.product must be sekisho');
  const det = r.detection as Record<string, unknown> | undefined;
  if (!det || typeof det !== 'object') throw new RuleError(file, 'detection', 'detection が必要です', 'detection is required');
  if (typeof det.condition !== 'string') throw new RuleError(file, 'detection.condition', 'detection.condition を文字列で指定してください', 'detection.condition must be a string');
  const selections = new Map<string, Selection>();
  for (const [k, v] of Object.entries(det)) if (k !== 'condition') selections.set(k, parseSelection(v, file, `detection.${k}`));
  rule.detection = { selections, condition: parseCondition(det.condition, file, [...selections.keys()]) };
  return rule;
}

/** Every rule in the .yml/.yaml files of `dir` (a file may hold several documents, separated by ---). */
export function loadRules(dir: string): Rule[] {
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch {
    throw new RuleError(dir, '(folder)', 'ルールのフォルダを読めません', 'cannot read the rules folder');
  }
  const rules: Rule[] = [];
  for (const f of files) {
    const file = path.join(dir, f);
    const text = fs.readFileSync(file, 'utf8');
    const parts = text.split(/^---\s*$/m).filter((p) => p.trim());
    for (const part of parts) {
      let doc: unknown;
      try {
        doc = parse(part);
      } catch (e) {
        throw new RuleError(file, '(yaml)', `YAML として読めません: ${(e as Error).message}`, `not valid YAML: ${(e as Error).message}`);
      }
      rules.push(parseRule(doc, file, part.trim()));
    }
  }
  const ids = new Set<string>();
  for (const r of rules) {
    if (ids.has(r.id)) throw new RuleError(r.file, 'id', `id ${r.id} が重複しています`, `duplicate id ${r.id}`);
    ids.add(r.id);
  }
  for (const r of rules) {
    for (const ref of r.correlation?.rules ?? []) {
      if (!rules.some((x) => x.id === ref || x.name === ref)) throw new RuleError(r.file, 'correlation.rules', `ルール ${ref} がありません`, `no rule ${ref}`);
    }
  }
  return rules;
}

function matchOne(m: Matcher, ev: SekishoEvent): boolean {
  const v = ev[m.field];
  if (m.modifiers.includes('exists')) return (v !== undefined) === (m.values[0] !== false);
  if (v === undefined) return m.values.includes(null);
  const vals = Array.isArray(v) ? v : [v];
  const test = (x: string | number | boolean, want: string | number | boolean | null): boolean => {
    if (want === null) return false;
    for (const mod of m.modifiers) {
      switch (mod) {
        case 'gte':
          return Number(x) >= Number(want);
        case 'gt':
          return Number(x) > Number(want);
        case 'lte':
          return Number(x) <= Number(want);
        case 'lt':
          return Number(x) < Number(want);
        case 'contains':
          return String(x).toLowerCase().includes(String(want).toLowerCase());
        case 'startswith':
          return String(x).toLowerCase().startsWith(String(want).toLowerCase());
        case 'endswith':
          return String(x).toLowerCase().endsWith(String(want).toLowerCase());
        case 're':
          return new RegExp(String(want)).test(String(x));
      }
    }
    return typeof want === 'string' && typeof x === 'string' ? x.toLowerCase() === want.toLowerCase() : x === want;
  };
  const any = (want: string | number | boolean | null) => vals.some((x) => test(x, want));
  return m.modifiers.includes('all') ? m.values.every(any) : m.values.some(any);
}

function evalCond(c: Cond, sel: Map<string, Selection>, ev: SekishoEvent): boolean {
  const selMatch = (s: Selection) => s.some((and) => and.every((m) => matchOne(m, ev)));
  switch (c.op) {
    case 'ref':
      return selMatch(sel.get(c.name)!);
    case 'and':
      return evalCond(c.a, sel, ev) && evalCond(c.b, sel, ev);
    case 'or':
      return evalCond(c.a, sel, ev) || evalCond(c.b, sel, ev);
    case 'not':
      return !evalCond(c.a, sel, ev);
    case 'of': {
      const re = new RegExp('^' + c.pattern.replace(/\*/g, '.*') + '$');
      const names = [...sel.keys()].filter((n) => re.test(n));
      return c.all ? names.every((n) => selMatch(sel.get(n)!)) : names.some((n) => selMatch(sel.get(n)!));
    }
  }
}

/** Whether a detection rule selects the event. */
export function matches(rule: Rule, ev: SekishoEvent): boolean {
  return rule.detection !== undefined && evalCond(rule.detection.condition, rule.detection.selections, ev);
}
