/**
 * Loading the YAML configuration: parse, validate against the schema, check references,
 * and report every problem with file, line, key path, what was found and what is expected,
 * in Japanese and English.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { Config } from './schema.js';

export * from './schema.js';

export interface ConfigProblem {
  file: string;
  line?: number;
  col?: number;
  /** Key path such as backends[0].location.country. */
  key: string;
  found?: string;
  expected: string;
  en: string;
  ja: string;
}

export class ConfigError extends Error {
  readonly code = 'config_invalid';
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => p.en).join('\n'));
    this.name = 'ConfigError';
  }
  /** Human-readable, both languages. */
  report(): string {
    return this.problems.map((p) => `${p.ja}\n${p.en}`).join('\n');
  }
}

export interface LoadedConfig {
  config: Config;
  file: string;
  dir: string;
  /** Absolute paths derived from the config. */
  dataDir: string;
  sqlitePath: string;
}

function keyPath(p: readonly PropertyKey[]): string {
  let s = '';
  for (const k of p) s += typeof k === 'number' ? `[${k}]` : s === '' ? String(k) : `.${String(k)}`;
  return s || '(top level)';
}

/** Credentials inside a URL (`scheme://user:password@host`) never reach a message or a log. */
function redactUrlCredentials(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/i, '$1***@');
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') v = redactUrlCredentials(v);
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? s.slice(0, 77) + '...' : s;
}

function valueAt(root: unknown, p: readonly PropertyKey[]): unknown {
  let cur: any = root;
  for (const k of p) {
    if (cur == null || typeof cur !== 'object') return undefined;
    cur = cur[k as any];
  }
  return cur;
}

const TYPE_JA: Record<string, string> = { number: '数値', string: '文字列', boolean: '真偽値 (true/false)', object: 'マッピング', array: 'リスト' };

function expectedOf(issue: z.core.$ZodIssue): { en: string; ja: string } {
  switch (issue.code) {
    case 'invalid_type':
      return { en: `a value of type ${issue.expected}`, ja: `${TYPE_JA[issue.expected] ?? issue.expected} の値` };
    case 'invalid_value': {
      const list = issue.values.map((v) => JSON.stringify(v)).join(', ');
      return { en: `one of ${list}`, ja: `${list} のいずれか` };
    }
    case 'too_small': {
      const m = String(issue.minimum);
      return issue.origin === 'array' ? { en: `at least ${m} item(s)`, ja: `${m} 個以上の要素` } : { en: `at least ${m}`, ja: `${m} 以上` };
    }
    case 'too_big': {
      const m = String(issue.maximum);
      return issue.origin === 'array' ? { en: `at most ${m} item(s)`, ja: `${m} 個以下の要素` } : { en: `at most ${m}`, ja: `${m} 以下` };
    }
    case 'invalid_union':
      return { en: 'one of the allowed shapes (check `kind`)', ja: '許可された形式のいずれか (`kind` を確認してください)' };
    default:
      return { en: issue.message, ja: issue.message };
  }
}

function locate(doc: Document, lc: LineCounter, p: readonly PropertyKey[]): { line?: number; col?: number } {
  // The node itself, else the closest existing ancestor.
  for (let n = p.length; n >= 0; n--) {
    const node = doc.getIn(p.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) {
      const pos = lc.linePos(node.range[0]);
      return { line: pos.line, col: pos.col };
    }
  }
  return {};
}

function problem(
  file: string,
  where: { line?: number; col?: number },
  key: string,
  found: string | undefined,
  expected: string | { en: string; ja: string },
  detail?: string,
): ConfigProblem {
  const exp = typeof expected === 'string' ? { en: expected, ja: expected } : expected;
  const at = where.line ? `${file}:${where.line}:${where.col}` : file;
  const foundEn = found === undefined ? '' : `found ${found}, `;
  const foundJa = found === undefined ? '' : `${found} が指定されていますが、`;
  return {
    file,
    ...where,
    key,
    ...(found !== undefined ? { found } : {}),
    expected: exp.en,
    en: `${at}: ${key}: ${foundEn}expected ${exp.en}${detail ? ` (${detail})` : ''}`,
    ja: `設定エラー ${at}: ${key}: ${foundJa}${exp.ja} が必要です${detail ? ` (${detail})` : ''}`,
  };
}

function unknownKeys(file: string, where: { line?: number; col?: number }, key: string, keys: string[]): ConfigProblem {
  const at = where.line ? `${file}:${where.line}:${where.col}` : file;
  return {
    file,
    ...where,
    key,
    found: keys.join(', '),
    expected: 'only the keys of the schema',
    en: `${at}: ${key}: unknown key(s) ${keys.join(', ')} (misspelt? see \`sekisho config schema\`)`,
    ja: `設定エラー ${at}: ${key}: 不明なキー ${keys.join(', ')} (綴りを確認してください。\`sekisho config schema\` 参照)`,
  };
}

/** Parse and validate YAML text. `file` is used in messages and to resolve relative paths. */
export function parseConfig(text: string, file: string): LoadedConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = lc.linePos(e.pos[0]);
        return problem(file, { line: pos.line, col: pos.col }, '(syntax)', undefined, 'valid YAML', e.message.split('\n')[0]);
      }),
    );
  }
  const raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const parsed = Config.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const p = issue.path;
        if (issue.code === 'unrecognized_keys') return unknownKeys(file, locate(doc, lc, [...p, issue.keys[0]!]), keyPath(p), issue.keys);
        return problem(file, locate(doc, lc, p), keyPath(p), show(valueAt(raw, p)), expectedOf(issue));
      }),
    );
  }
  const config = parsed.data;
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  config.backends.forEach((b, i) => {
    if (seen.has(b.id)) problems.push(problem(file, locate(doc, lc, ['backends', i, 'id']), `backends[${i}].id`, show(b.id), 'a backend id not used before'));
    seen.add(b.id);
  });
  const names = new Set<string>();
  config.models.forEach((m, i) => {
    if (names.has(m.name)) problems.push(problem(file, locate(doc, lc, ['models', i, 'name']), `models[${i}].name`, show(m.name), 'a model name not used before'));
    names.add(m.name);
    m.backends.forEach((id, j) => {
      if (!seen.has(id)) {
        problems.push(
          problem(file, locate(doc, lc, ['models', i, 'backends', j]), `models[${i}].backends[${j}]`, show(id), `the id of a backend defined under backends (${[...seen].join(', ') || 'none defined'})`),
        );
      }
    });
  });
  if (problems.length > 0) throw new ConfigError(problems);
  const dir = path.dirname(path.resolve(file));
  const dataDir = path.resolve(dir, config.data_dir);
  const sqlitePath = path.resolve(dir, config.store.sqlite ?? path.join(config.data_dir, 'sekisho.db'));
  return { config, file, dir, dataDir, sqlitePath };
}

export function loadConfig(file: string): LoadedConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new ConfigError([
      {
        file,
        key: '(file)',
        expected: 'a readable YAML file',
        en: `${file}: cannot read the configuration file (${code})`,
        ja: `設定ファイル ${file} を読み込めません (${code})`,
      },
    ]);
  }
  return parseConfig(text, file);
}
