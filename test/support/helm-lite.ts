/**
 * Renders deploy/helm/sekisho on a machine without helm (none is packaged for Debian, and
 * nothing else can be downloaded here): Go text/template with Helm's objects and the
 * Sprig/Helm functions the chart calls, following their Go semantics where charts usually trip
 * (values' numbers are float64 and literals int, `eq` refuses to compare them; field access on
 * nil fails; `quote` of nil is empty; `default` treats false and 0 as empty; map ranges in key
 * order; `<no value>` printed as ""). Anything outside that subset is an error, so the chart
 * cannot drift into constructs this renderer would render differently from helm. Where helm is
 * installed, test/deploy.test.ts renders with both and compares.
 *
 * Not supported on purpose: block, break/continue, tpl, lookup, Files, Capabilities.APIVersions.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

/** A Go int: template literals and the results of int and len. Values' numbers stay JS numbers (Go float64). */
export class GoInt {
  constructor(readonly v: number) {}
}

/** Marks Helm's struct objects (Release, Chart, Template): a missing field is an error, not nil. */
const STRUCT = Symbol('struct');

export class TemplateError extends Error {}

// ---------------------------------------------------------------- lexing

type Tok =
  | { k: 'str'; v: string; sp: boolean }
  | { k: 'num'; v: GoInt | number; sp: boolean }
  | { k: 'field'; v: string; sp: boolean }
  | { k: 'dot'; sp: boolean }
  | { k: 'var'; v: string; sp: boolean }
  | { k: 'ident'; v: string; sp: boolean }
  | { k: 'op'; v: '(' | ')' | '|' | ',' | ':=' | '='; sp: boolean };

interface Piece {
  text?: string;
  action?: { toks: Tok[]; line: number; comment: boolean };
}

function fail(where: string, msg: string): never {
  throw new TemplateError(`${where}: ${msg}`);
}

const WS = new Set([' ', '\t', '\r', '\n']);

function lex(src: string, name: string): Piece[] {
  const out: Piece[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const j = src.indexOf('{{', i);
    let text = src.slice(i, j < 0 ? src.length : j);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    if (j < 0) {
      if (text) out.push({ text });
      break;
    }
    const line = src.slice(0, j).split('\n').length;
    const where = `${name}:${line}`;
    let k = j + 2;
    if (src[k] === '-' && WS.has(src[k + 1] ?? '')) {
      text = text.replace(/[ \t\r\n]+$/, '');
      k += 2;
    }
    if (text) out.push({ text });
    // Find the closing delimiter outside strings and comments.
    let p = k;
    let end = -1;
    while (p < src.length) {
      const c = src[p]!;
      if (c === '"') {
        p++;
        while (p < src.length && src[p] !== '"') p += src[p] === '\\' ? 2 : 1;
        p++;
      } else if (c === '`') {
        p = src.indexOf('`', p + 1) + 1;
        if (p === 0) fail(where, 'unterminated raw string');
      } else if (c === '/' && src[p + 1] === '*') {
        p = src.indexOf('*/', p + 2);
        if (p < 0) fail(where, 'unterminated comment');
        p += 2;
      } else if (c === '}' && src[p + 1] === '}') {
        end = p;
        break;
      } else p++;
    }
    if (end < 0) fail(where, 'unclosed action');
    let inner = src.slice(k, end);
    if (inner.length >= 2 && inner.endsWith('-') && WS.has(inner[inner.length - 2]!)) {
      inner = inner.slice(0, -2);
      trimNext = true;
    }
    const trimmed = inner.trim();
    if (trimmed.startsWith('/*')) {
      if (!trimmed.endsWith('*/')) fail(where, 'a comment must end right before the closing delimiter');
      out.push({ action: { toks: [], line, comment: true } });
    } else {
      out.push({ action: { toks: tokenize(inner, where), line, comment: false } });
    }
    i = end + 2;
  }
  return out;
}

function unquoteGo(s: string, where: string): string {
  let r = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      r += c;
      continue;
    }
    const n = s[++i];
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v' };
    if (n !== undefined && n in simple) r += simple[n];
    else if (n === 'x') {
      r += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (n === 'u') {
      r += String.fromCodePoint(parseInt(s.slice(i + 1, i + 5), 16));
      i += 4;
    } else if (n === 'U') {
      r += String.fromCodePoint(parseInt(s.slice(i + 1, i + 9), 16));
      i += 8;
    } else fail(where, `unsupported escape \\${n}`);
  }
  return r;
}

function tokenize(s: string, where: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  let sp = true;
  while (i < s.length) {
    const c = s[i]!;
    if (WS.has(c)) {
      i++;
      sp = true;
      continue;
    }
    let m: RegExpExecArray | null;
    const rest = s.slice(i);
    if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      toks.push({ k: 'str', v: unquoteGo(s.slice(i + 1, j), where), sp });
      i = j + 1;
    } else if (c === '`') {
      const j = s.indexOf('`', i + 1);
      toks.push({ k: 'str', v: s.slice(i + 1, j), sp });
      i = j + 1;
    } else if (rest.startsWith(':=')) {
      toks.push({ k: 'op', v: ':=', sp });
      i += 2;
    } else if ('()|,='.includes(c)) {
      toks.push({ k: 'op', v: c as '(' | ')' | '|' | ',' | '=', sp });
      i++;
    } else if ((m = /^-?(0x[0-9a-fA-F]+|[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)/.exec(rest)) && (c !== '-' || /[0-9]/.test(s[i + 1] ?? ''))) {
      const t = m[0];
      const isInt = !/[.eE]/.test(t) || /^-?0x/.test(t);
      toks.push({ k: 'num', v: isInt ? new GoInt(Number(t)) : Number(t), sp });
      i += t.length;
    } else if ((m = /^\$[A-Za-z0-9_]*/.exec(rest))) {
      toks.push({ k: 'var', v: m[0], sp });
      i += m[0].length;
    } else if ((m = /^\.[A-Za-z_][A-Za-z0-9_]*/.exec(rest))) {
      toks.push({ k: 'field', v: m[0].slice(1), sp });
      i += m[0].length;
    } else if (c === '.') {
      toks.push({ k: 'dot', sp });
      i++;
    } else if ((m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest))) {
      toks.push({ k: 'ident', v: m[0], sp });
      i += m[0].length;
    } else fail(where, `unexpected ${JSON.stringify(c)} in action`);
    sp = false;
  }
  return toks;
}

// ---------------------------------------------------------------- parsing

type Arg =
  | { t: 'field'; chain: string[] }
  | { t: 'var'; name: string; chain: string[] }
  | { t: 'ident'; name: string }
  | { t: 'lit'; v: unknown }
  | { t: 'pipe'; pipe: Pipe; chain: string[] };
interface Pipe {
  decl: string[];
  assign: boolean;
  cmds: Arg[][];
  where: string;
}
type Node =
  | { t: 'text'; s: string }
  | { t: 'out'; pipe: Pipe }
  | { t: 'if' | 'with' | 'range'; pipe: Pipe; body: Node[]; alt: Node[] | null }
  | { t: 'template'; name: string; pipe: Pipe | null; where: string };

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

class Parser {
  private i = 0;
  constructor(
    private readonly pieces: Piece[],
    private readonly name: string,
    private readonly defines: Map<string, Node[]>,
  ) {}

  parseFile(): Node[] {
    const { nodes, term } = this.list();
    if (term) fail(term.where, `unexpected {{${term.word}}}`);
    return nodes;
  }

  /** Nodes until {{end}} or {{else ...}} (returned as the terminator). */
  private list(): { nodes: Node[]; term: { word: 'end' | 'else'; rest: Tok[]; where: string } | null } {
    const nodes: Node[] = [];
    while (this.i < this.pieces.length) {
      const p = this.pieces[this.i++]!;
      if (p.text !== undefined) {
        nodes.push({ t: 'text', s: p.text });
        continue;
      }
      const a = p.action!;
      if (a.comment) continue;
      const where = `${this.name}:${a.line}`;
      const [first, ...rest] = a.toks;
      if (!first) fail(where, 'empty action');
      const word = first.k === 'ident' && KEYWORDS.has(first.v) ? first.v : null;
      if (word === 'end' || word === 'else') return { nodes, term: { word, rest, where } };
      if (word === 'if' || word === 'with' || word === 'range') nodes.push(this.control(word, rest, where));
      else if (word === 'define') {
        const n = rest[0];
        if (!n || n.k !== 'str' || rest.length !== 1) fail(where, 'define needs a quoted name');
        const { nodes: body, term } = this.list();
        if (term?.word !== 'end' || term.rest.length) fail(where, `define "${n.v}" without {{end}}`);
        if (this.defines.has(n.v)) fail(where, `template "${n.v}" defined twice`);
        this.defines.set(n.v, body);
      } else if (word === 'template') {
        const n = rest[0];
        if (!n || n.k !== 'str') fail(where, 'template needs a quoted name');
        nodes.push({ t: 'template', name: n.v, pipe: rest.length > 1 ? parsePipe(rest.slice(1), where) : null, where });
      } else if (word) fail(where, `{{${word}}} is not supported by this renderer`);
      else nodes.push({ t: 'out', pipe: parsePipe(a.toks, where) });
    }
    return { nodes, term: null };
  }

  private control(word: 'if' | 'with' | 'range', toks: Tok[], where: string): Node {
    const pipe = parsePipe(toks, where);
    if (word === 'range' && pipe.decl.length > 2) fail(where, 'range declares at most two variables');
    if (word !== 'range' && pipe.decl.length > 1) fail(where, `${word} declares at most one variable`);
    const { nodes: body, term } = this.list();
    if (!term) fail(where, `{{${word}}} without {{end}}`);
    if (term.word === 'end') {
      if (term.rest.length) fail(term.where, 'unexpected words after end');
      return { t: word, pipe, body, alt: null };
    }
    // {{else}}, {{else if ...}}, {{else with ...}}: the chain shares one {{end}}.
    const [w, ...more] = term.rest;
    if (!w) {
      const { nodes: alt, term: t2 } = this.list();
      if (t2?.word !== 'end' || t2.rest.length) fail(where, `{{${word}}} ... {{else}} without {{end}}`);
      return { t: word, pipe, body, alt };
    }
    if (w.k === 'ident' && (w.v === 'if' || w.v === 'with') && word !== 'range') {
      return { t: word, pipe, body, alt: [this.control(w.v, more, term.where)] };
    }
    fail(term.where, 'unsupported else clause');
  }
}

function parsePipe(toks: Tok[], where: string): Pipe {
  let i = 0;
  const decl: string[] = [];
  let assign = false;
  // $x :=  |  $x =  |  $i, $e :=
  const declEnd = toks.findIndex((t) => t.k === 'op' && (t.v === ':=' || t.v === '='));
  if (declEnd > 0 && toks.slice(0, declEnd).every((t, n) => (n % 2 === 0 ? t.k === 'var' : t.k === 'op' && t.v === ','))) {
    for (let n = 0; n < declEnd; n += 2) decl.push((toks[n] as { v: string }).v);
    assign = (toks[declEnd] as { v: string }).v === '=';
    i = declEnd + 1;
  }
  const cmds: Arg[][] = [];
  let cmd: Arg[] = [];
  while (i < toks.length) {
    const t = toks[i]!;
    if (t.k === 'op' && t.v === '|') {
      if (!cmd.length) fail(where, 'empty command in pipeline');
      cmds.push(cmd);
      cmd = [];
      i++;
      continue;
    }
    const [arg, next] = operand(toks, i, where);
    cmd.push(arg);
    i = next;
  }
  if (!cmd.length) fail(where, 'missing value in pipeline');
  cmds.push(cmd);
  return { decl, assign, cmds, where };
}

function operand(toks: Tok[], i: number, where: string): [Arg, number] {
  const t = toks[i]!;
  let arg: Arg;
  let n = i + 1;
  if (t.k === 'op' && t.v === '(') {
    let depth = 1;
    let j = i + 1;
    for (; j < toks.length; j++) {
      const u = toks[j]!;
      if (u.k === 'op' && u.v === '(') depth++;
      if (u.k === 'op' && u.v === ')' && --depth === 0) break;
    }
    if (j >= toks.length) fail(where, 'unclosed (');
    arg = { t: 'pipe', pipe: parsePipe(toks.slice(i + 1, j), where), chain: [] };
    n = j + 1;
  } else if (t.k === 'str' || t.k === 'num') arg = { t: 'lit', v: t.v };
  else if (t.k === 'field') arg = { t: 'field', chain: [t.v] };
  else if (t.k === 'dot') arg = { t: 'field', chain: [] };
  else if (t.k === 'var') arg = { t: 'var', name: t.v, chain: [] };
  else if (t.k === 'ident') {
    if (t.v === 'true' || t.v === 'false') arg = { t: 'lit', v: t.v === 'true' };
    else if (t.v === 'nil') arg = { t: 'lit', v: null };
    else if (KEYWORDS.has(t.v)) fail(where, `unexpected keyword ${t.v}`);
    else arg = { t: 'ident', name: t.v };
  } else fail(where, `unexpected ${t.k === 'op' ? t.v : t.k}`);
  // A field chain right after a term without space: $x.A.B, (pipe).A
  while (n < toks.length && toks[n]!.k === 'field' && !toks[n]!.sp) {
    const f = (toks[n] as { v: string }).v;
    if (arg.t === 'field' || arg.t === 'var' || arg.t === 'pipe') arg.chain.push(f);
    else fail(where, `cannot take field ${f} of ${arg.t}`);
    n++;
  }
  return [arg, n];
}

// ---------------------------------------------------------------- values

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof GoInt);
const isNil = (v: unknown) => v === null || v === undefined;

function goType(v: unknown): string {
  if (isNil(v)) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'float64';
  if (v instanceof GoInt) return 'int';
  if (Array.isArray(v)) return '[]interface {}';
  if (isMap(v) && (v as Record<symbol, unknown>)[STRUCT]) return 'struct';
  return 'map[string]interface {}';
}

/** fmt's %v of a float64: shortest digits, exponent form from 1e+06 (strconv 'g', -1). */
export function goFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const [mant, e] = f.toExponential().split('e') as [string, string];
  const exp = Number(e);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let s: string;
  if (exp < -4 || exp >= 6) {
    s = digits[0]! + (digits.length > 1 ? '.' + digits.slice(1) : '') + 'e' + (exp < 0 ? '-' : '+') + String(Math.abs(exp)).padStart(2, '0');
  } else if (exp < 0) {
    s = '0.' + '0'.repeat(-exp - 1) + digits;
  } else {
    s = digits.length > exp + 1 ? digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1) : digits + '0'.repeat(exp + 1 - digits.length);
  }
  return (neg ? '-' : '') + s;
}

/** fmt.Sprint of one value (%v). */
function goSprint(v: unknown): string {
  if (isNil(v)) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return goFloat(v);
  if (v instanceof GoInt) return String(v.v);
  if (Array.isArray(v)) return '[' + v.map(goSprint).join(' ') + ']';
  if (isMap(v)) return 'map[' + Object.keys(v).sort().map((k) => `${k}:${goSprint(v[k])}`).join(' ') + ']';
  return String(v);
}

/** strconv.Quote */
export function goQuote(s: string): string {
  let r = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') r += '\\"';
    else if (ch === '\\') r += '\\\\';
    else if (cp < 0x20 || cp === 0x7f) {
      const named: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };
      r += named[cp] ?? '\\x' + cp.toString(16).padStart(2, '0');
    } else if (cp < 0x80 || /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) r += ch;
    else r += cp < 0x10000 ? '\\u' + cp.toString(16).padStart(4, '0') : '\\U' + cp.toString(16).padStart(8, '0');
  }
  return r + '"';
}

function truth(v: unknown): boolean {
  if (isNil(v)) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (v instanceof GoInt) return v.v !== 0;
  if (typeof v === 'string' || Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return (v as Record<symbol, unknown>)[STRUCT] ? true : Object.keys(v).length > 0;
  return true;
}

/** Plain JSON data: GoInt → number (what Go's encoders see). */
function plain(v: unknown): unknown {
  if (v instanceof GoInt) return v.v;
  if (isNil(v)) return null;
  if (Array.isArray(v)) return v.map(plain);
  if (isMap(v)) return Object.fromEntries(Object.keys(v).map((k) => [k, plain(v[k])]));
  return v;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (isMap(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}

/** Helm's toYaml: JSON, then YAML (YAML 1.1 quoting as go-yaml v2, keys sorted), one trailing newline removed. */
export function toYaml(v: unknown): string {
  const s = YAML.stringify(sortKeys(plain(v)), { version: '1.1', indentSeq: false, lineWidth: 0, minContentWidth: 0 });
  return s.endsWith('\n') ? s.slice(0, -1) : s;
}

// ---------------------------------------------------------------- functions

type Fn = (args: unknown[], st: Exec) => unknown;

function str(fn: string, v: unknown, n: number): string {
  if (typeof v !== 'string') throw new TemplateError(`error calling ${fn}: argument ${n}: wrong type for value; expected string; got ${goType(v)}`);
  return v;
}
function int(fn: string, v: unknown, n: number): number {
  if (!(v instanceof GoInt)) throw new TemplateError(`error calling ${fn}: argument ${n}: wrong type for value; expected int; got ${goType(v)}`);
  return v.v;
}
function map(fn: string, v: unknown, n: number): Record<string, unknown> {
  if (!isMap(v) || (v as Record<symbol, unknown>)[STRUCT]) throw new TemplateError(`error calling ${fn}: argument ${n}: wrong type for value; expected map[string]interface {}; got ${goType(v)}`);
  return v;
}
function arity(fn: string, args: unknown[], min: number, max = min): void {
  if (args.length < min || args.length > max) throw new TemplateError(`wrong number of args for ${fn}: want ${min === max ? min : `${min}..${max}`} got ${args.length}`);
}
/** Sprig's strval */
const strval = (v: unknown): string => (typeof v === 'string' ? v : goSprint(v));

function empty(v: unknown): boolean {
  return !truth(v);
}

type Kind = 'invalid' | 'bool' | 'int' | 'float' | 'string' | 'other';
function kind(v: unknown): Kind {
  if (isNil(v)) return 'invalid';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof GoInt) return 'int';
  if (typeof v === 'number') return 'float';
  if (typeof v === 'string') return 'string';
  return 'other';
}
const scalar = (v: unknown) => (v instanceof GoInt ? v.v : v);

function eq(args: unknown[]): boolean {
  if (args.length < 2) throw new TemplateError('missing argument for comparison');
  const [a, ...bs] = args;
  const ka = kind(a);
  for (const b of bs) {
    const kb = kind(b);
    if (ka !== kb) {
      if (ka !== 'invalid' && kb !== 'invalid') throw new TemplateError(`error calling eq: incompatible types for comparison (${goType(a)} and ${goType(b)})`);
      continue;
    }
    if (ka === 'other') throw new TemplateError(`error calling eq: non-comparable type ${goType(a)}`);
    if (ka === 'invalid' || scalar(a) === scalar(b)) return true;
  }
  return false;
}

function order(fn: string, a: unknown, b: unknown): number {
  const ka = kind(a);
  if (ka !== kind(b) || !['int', 'float', 'string'].includes(ka)) throw new TemplateError(`error calling ${fn}: incompatible types for comparison`);
  const x = scalar(a) as number | string;
  const y = scalar(b) as number | string;
  return x < y ? -1 : x > y ? 1 : 0;
}

function printf(format: string, args: unknown[]): string {
  let n = 0;
  const out = format.replace(/%([%svdqt])/g, (_m, verb: string) => {
    if (verb === '%') return '%';
    if (n >= args.length) return `%!${verb}(MISSING)`;
    const v = args[n++];
    const bad = () => `%!${verb}(${goType(v)}=${goSprint(v)})`;
    switch (verb) {
      case 's':
        return typeof v === 'string' ? v : Array.isArray(v) || isMap(v) ? goSprint(v) : bad();
      case 'v':
        return goSprint(v);
      case 'd':
        return v instanceof GoInt ? String(v.v) : bad();
      case 'q':
        return typeof v === 'string' ? goQuote(v) : bad();
      case 't':
        return typeof v === 'boolean' ? String(v) : bad();
    }
    return bad();
  });
  if (/%[^%svdqt]/.test(format.replace(/%%/g, ''))) throw new TemplateError(`printf: format ${JSON.stringify(format)} uses a verb this renderer does not support`);
  return n < args.length ? out + `%!(EXTRA ${args.slice(n).map((v) => `${goType(v)}=${goSprint(v)}`).join(', ')})` : out;
}

function toInt(v: unknown): GoInt {
  if (v instanceof GoInt) return v;
  if (typeof v === 'number') return new GoInt(Math.trunc(v));
  if (typeof v === 'boolean') return new GoInt(v ? 1 : 0);
  if (typeof v === 'string') {
    const n = /^[-+]?(0x[0-9a-f]+|[0-9]+)$/i.test(v.trim()) ? Number(v.trim()) : 0;
    return new GoInt(Number.isFinite(n) ? n : 0);
  }
  return new GoInt(0);
}

function indent(n: number, s: string): string {
  const pad = ' '.repeat(n);
  return pad + s.replaceAll('\n', '\n' + pad);
}

const FUNCS: Record<string, Fn> = {
  default: (a) => (a.length < 2 || empty(a[1]) ? a[0] : a[1]),
  empty: (a) => (arity('empty', a, 1), empty(a[0])),
  required: (a) => {
    arity('required', a, 2);
    const msg = str('required', a[0], 0);
    if (isNil(a[1]) || a[1] === '') throw new TemplateError(`execution error: ${msg}`);
    return a[1];
  },
  fail: (a) => {
    arity('fail', a, 1);
    throw new TemplateError(`execution error: ${str('fail', a[0], 0)}`);
  },
  quote: (a) => a.filter((v) => !isNil(v)).map((v) => goQuote(strval(v))).join(' '),
  squote: (a) => a.filter((v) => !isNil(v)).map((v) => `'${strval(v)}'`).join(' '),
  toYaml: (a) => (arity('toYaml', a, 1), toYaml(a[0])),
  toJson: (a) => (arity('toJson', a, 1), JSON.stringify(sortKeys(plain(a[0]))).replace(/[<>&]/g, (c) => '\\u00' + c.charCodeAt(0).toString(16))),
  toString: (a) => (arity('toString', a, 1), strval(a[0])),
  int: (a) => (arity('int', a, 1), toInt(a[0])),
  indent: (a) => (arity('indent', a, 2), indent(int('indent', a[0], 0), str('indent', a[1], 1))),
  nindent: (a) => (arity('nindent', a, 2), '\n' + indent(int('nindent', a[0], 0), str('nindent', a[1], 1))),
  trim: (a) => (arity('trim', a, 1), str('trim', a[0], 0).trim()),
  trunc: (a) => {
    arity('trunc', a, 2);
    const c = int('trunc', a[0], 0);
    const b = Buffer.from(str('trunc', a[1], 1));
    if (c >= 0 && b.length > c) return b.subarray(0, c).toString();
    if (c < 0 && b.length + c > 0) return b.subarray(b.length + c).toString();
    return b.toString();
  },
  trimSuffix: (a) => {
    arity('trimSuffix', a, 2);
    const [suf, s] = [str('trimSuffix', a[0], 0), str('trimSuffix', a[1], 1)];
    return suf && s.endsWith(suf) ? s.slice(0, -suf.length) : s;
  },
  trimPrefix: (a) => {
    arity('trimPrefix', a, 2);
    const [pre, s] = [str('trimPrefix', a[0], 0), str('trimPrefix', a[1], 1)];
    return pre && s.startsWith(pre) ? s.slice(pre.length) : s;
  },
  contains: (a) => (arity('contains', a, 2), str('contains', a[1], 1).includes(str('contains', a[0], 0))),
  replace: (a) => (arity('replace', a, 3), str('replace', a[2], 2).replaceAll(str('replace', a[0], 0), str('replace', a[1], 1))),
  lower: (a) => (arity('lower', a, 1), str('lower', a[0], 0).toLowerCase()),
  upper: (a) => (arity('upper', a, 1), str('upper', a[0], 0).toUpperCase()),
  printf: (a) => printf(str('printf', a[0], 0), a.slice(1)),
  print: (a) => a.map((v, i) => (i > 0 && typeof v !== 'string' && typeof a[i - 1] !== 'string' ? ' ' : '') + goSprint(v)).join(''),
  sha256sum: (a) => (arity('sha256sum', a, 1), crypto.createHash('sha256').update(str('sha256sum', a[0], 0)).digest('hex')),
  dict: (a) => {
    const d: Record<string, unknown> = {};
    for (let i = 0; i < a.length; i += 2) d[strval(a[i])] = i + 1 < a.length ? a[i + 1] : '';
    return d;
  },
  list: (a) => [...a],
  omit: (a) => {
    const m = map('omit', a[0], 0);
    const drop = new Set(a.slice(1).map((k, i) => str('omit', k, i + 1)));
    return Object.fromEntries(Object.entries(m).filter(([k]) => !drop.has(k)));
  },
  hasKey: (a) => (arity('hasKey', a, 2), Object.hasOwn(map('hasKey', a[0], 0), str('hasKey', a[1], 1))),
  len: (a) => {
    arity('len', a, 1);
    const v = a[0];
    if (typeof v === 'string') return new GoInt(Buffer.byteLength(v));
    if (Array.isArray(v)) return new GoInt(v.length);
    if (isMap(v)) return new GoInt(Object.keys(v).length);
    throw new TemplateError(`error calling len: len of type ${goType(v)}`);
  },
  index: (a) => {
    let v = a[0];
    for (const k of a.slice(1)) {
      if (isNil(v)) throw new TemplateError('error calling index: index of untyped nil');
      if (Array.isArray(v)) v = v[int('index', k, 1)];
      else if (isMap(v)) v = v[str('index', k, 1)];
      else throw new TemplateError(`error calling index: can't index item of type ${goType(v)}`);
    }
    return v;
  },
  eq: (a) => eq(a),
  ne: (a) => (arity('ne', a, 2), !eq(a)),
  lt: (a) => (arity('lt', a, 2), order('lt', a[0], a[1]) < 0),
  le: (a) => (arity('le', a, 2), order('le', a[0], a[1]) <= 0),
  gt: (a) => (arity('gt', a, 2), order('gt', a[0], a[1]) > 0),
  ge: (a) => (arity('ge', a, 2), order('ge', a[0], a[1]) >= 0),
  not: (a) => (arity('not', a, 1), !truth(a[0])),
  include: (a, st) => {
    arity('include', a, 2);
    return st.include(str('include', a[0], 0), a[1]);
  },
};

// ---------------------------------------------------------------- execution

const NONE = Symbol('none');

class Exec {
  private vars: { name: string; v: unknown }[] = [];
  private depth = 0;
  constructor(private readonly tpls: Map<string, Node[]>) {}

  run(name: string, dot: unknown): string {
    const nodes = this.tpls.get(name);
    if (!nodes) throw new TemplateError(`no template "${name}"`);
    if (++this.depth > 1000) throw new TemplateError(`rendering template has a nested reference name: ${name}: recursion`);
    const saved = this.vars;
    this.vars = [{ name: '$', v: dot }];
    try {
      return this.walk(nodes, dot);
    } finally {
      this.vars = saved;
      this.depth--;
    }
  }

  include(name: string, dot: unknown): string {
    return this.run(name, dot);
  }

  private walk(nodes: Node[], dot: unknown): string {
    let out = '';
    for (const n of nodes) {
      switch (n.t) {
        case 'text':
          out += n.s;
          break;
        case 'out': {
          const v = this.pipe(n.pipe, dot);
          if (n.pipe.decl.length === 0) out += isNil(v) ? '<no value>' : goSprint(v);
          break;
        }
        case 'template':
          out += this.run(n.name, n.pipe ? this.pipe(n.pipe, dot) : null);
          break;
        case 'if':
        case 'with': {
          const mark = this.vars.length;
          const v = this.pipe(n.pipe, dot);
          if (truth(v)) out += this.walk(n.body, n.t === 'with' ? v : dot);
          else if (n.alt) out += this.walk(n.alt, dot);
          this.vars.length = mark;
          break;
        }
        case 'range': {
          const mark = this.vars.length;
          const v = this.pipe({ ...n.pipe, decl: [] }, dot);
          let items: [unknown, unknown][] = [];
          if (Array.isArray(v)) items = v.map((e, i) => [new GoInt(i), e]);
          else if (isMap(v) && !(v as Record<symbol, unknown>)[STRUCT]) items = Object.keys(v).sort().map((k) => [k, v[k]]);
          else if (!isNil(v)) throw new TemplateError(`${n.pipe.where}: range can't iterate over ${goSprint(v)}`);
          if (items.length === 0) {
            if (n.alt) out += this.walk(n.alt, dot);
          } else {
            for (const [k, e] of items) {
              const inner = this.vars.length;
              if (n.pipe.decl.length === 1) this.vars.push({ name: n.pipe.decl[0]!, v: e });
              if (n.pipe.decl.length === 2) this.vars.push({ name: n.pipe.decl[0]!, v: k }, { name: n.pipe.decl[1]!, v: e });
              out += this.walk(n.body, e);
              this.vars.length = inner;
            }
          }
          this.vars.length = mark;
          break;
        }
      }
    }
    return out;
  }

  private pipe(p: Pipe, dot: unknown): unknown {
    let v: unknown = NONE;
    try {
      for (const cmd of p.cmds) v = this.cmd(cmd, dot, v);
    } catch (e) {
      if (e instanceof TemplateError && !e.message.startsWith(p.where)) throw new TemplateError(`${p.where}: ${e.message}`);
      throw e;
    }
    if (p.decl.length === 1) {
      const name = p.decl[0]!;
      if (p.assign) {
        const slot = [...this.vars].reverse().find((x) => x.name === name);
        if (!slot) throw new TemplateError(`${p.where}: undefined variable: ${name}`);
        slot.v = v;
      } else this.vars.push({ name, v });
    }
    return v;
  }

  private cmd(args: Arg[], dot: unknown, final: unknown): unknown {
    const [first, ...rest] = args;
    if (first!.t === 'ident') {
      const name = first!.name;
      const fn = FUNCS[name];
      if (!fn) throw new TemplateError(`function "${name}" not defined (or not supported by this renderer)`);
      if (name === 'and' || name === 'or') return this.logic(name, rest, dot, final);
      const vals = rest.map((a) => this.arg(a, dot));
      if (final !== NONE) vals.push(final);
      return fn(vals, this);
    }
    if (rest.length > 0 || final !== NONE) throw new TemplateError(`can't give argument to non-function ${describe(first!)}`);
    return this.arg(first!, dot);
  }

  private logic(name: 'and' | 'or', rest: Arg[], dot: unknown, final: unknown): unknown {
    const thunks: (() => unknown)[] = rest.map((a) => () => this.arg(a, dot));
    if (final !== NONE) thunks.push(() => final);
    if (thunks.length < 1) throw new TemplateError(`wrong number of args for ${name}`);
    let v: unknown;
    for (const t of thunks) {
      v = t();
      if (name === 'and' ? !truth(v) : truth(v)) return v;
    }
    return v;
  }

  private arg(a: Arg, dot: unknown): unknown {
    switch (a.t) {
      case 'lit':
        return a.v;
      case 'field':
        return fields(dot, a.chain);
      case 'var': {
        const slot = [...this.vars].reverse().find((x) => x.name === a.name);
        if (!slot) throw new TemplateError(`undefined variable: ${a.name}`);
        return fields(slot.v, a.chain);
      }
      case 'ident': {
        if (a.name === 'and' || a.name === 'or') return this.logic(a.name, [], dot, NONE);
        const fn = FUNCS[a.name];
        if (!fn) throw new TemplateError(`function "${a.name}" not defined (or not supported by this renderer)`);
        return fn([], this);
      }
      case 'pipe':
        return fields(this.pipe(a.pipe, dot), a.chain);
    }
  }
}
FUNCS.and = () => undefined;
FUNCS.or = () => undefined;

function describe(a: Arg): string {
  return a.t === 'field' ? '.' + a.chain.join('.') : a.t === 'var' ? a.name : a.t;
}

function fields(v: unknown, chain: string[]): unknown {
  let cur = v;
  for (const f of chain) {
    if (isNil(cur)) throw new TemplateError(`nil pointer evaluating interface {}.${f}`);
    if (!isMap(cur)) throw new TemplateError(`can't evaluate field ${f} in type ${goType(cur)}`);
    if ((cur as Record<symbol, unknown>)[STRUCT] && !Object.hasOwn(cur, f)) throw new TemplateError(`can't evaluate field ${f} in type struct`);
    cur = cur[f];
  }
  return cur;
}

// ---------------------------------------------------------------- Helm around it

function struct<T extends object>(o: T): T {
  return Object.assign(o, { [STRUCT]: true });
}

/** Helm's coalescing of values files: maps merge deeply, anything else replaces, null deletes. */
export function mergeValues(base: unknown, over: unknown): unknown {
  if (!isMap(base) || !isMap(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else out[k] = k in out ? mergeValues(out[k], v) : v;
  }
  return out;
}

export interface RenderOptions {
  releaseName?: string;
  namespace?: string;
  /** Values files merged over the chart's values.yaml, in order (as helm -f). */
  valuesFiles?: string[];
  /** Values objects merged after the files (as --set, but typed). */
  values?: Record<string, unknown>[];
}

export interface Rendered {
  values: Record<string, unknown>;
  /** path under the chart (templates/x.yaml) → rendered text, for manifests that are not empty. */
  manifests: Map<string, string>;
  notes: string;
}

/**
 * YAML 1.1 scalars as go-yaml v2 reads them into interface{} (Helm's values, the API server's
 * decoder): yes/no/on/off are booleans, 0644 is octal, but timestamps and sexagesimal numbers
 * stay strings.
 */
const PARSE_OPTIONS = {
  version: '1.1',
  uniqueKeys: true,
  customTags: (tags: YAML.Tags) => tags.filter((t) => typeof t === 'string' || (t.tag !== 'tag:yaml.org,2002:timestamp' && (t as { format?: string }).format !== 'TIME')),
} as const;

export function parseYaml11(text: string, where: string): unknown {
  const doc = YAML.parseDocument(text, PARSE_OPTIONS);
  if (doc.errors.length) throw new Error(`${where}: ${doc.errors.map((e) => e.message).join('; ')}`);
  return doc.toJS({ maxAliasCount: 100 });
}

/** A values file as Helm reads it. */
export function readYaml(file: string): unknown {
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'), PARSE_OPTIONS);
  if (doc.errors.length) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
  return doc.toJS({ maxAliasCount: 100 });
}

export function renderChart(chartDir: string, opts: RenderOptions = {}): Rendered {
  const chart = readYaml(path.join(chartDir, 'Chart.yaml')) as Record<string, unknown>;
  let values = (readYaml(path.join(chartDir, 'values.yaml')) ?? {}) as Record<string, unknown>;
  for (const f of opts.valuesFiles ?? []) values = mergeValues(values, readYaml(f) ?? {}) as Record<string, unknown>;
  for (const v of opts.values ?? []) values = mergeValues(values, v) as Record<string, unknown>;
  const name = String(chart.name);
  const tdir = path.join(chartDir, 'templates');
  const files = fs.readdirSync(tdir).filter((f) => /\.(ya?ml|tpl|txt)$/.test(f)).sort();
  const tpls = new Map<string, Node[]>();
  const defines = new Map<string, Node[]>();
  for (const f of files) {
    const tname = `${name}/templates/${f}`;
    tpls.set(tname, new Parser(lex(fs.readFileSync(path.join(tdir, f), 'utf8'), tname), tname, defines).parseFile());
  }
  for (const [k, v] of defines) tpls.set(k, v);
  const top = {
    Values: values,
    Release: struct({ Name: opts.releaseName ?? 'sekisho', Namespace: opts.namespace ?? 'default', Service: 'Helm', IsInstall: true, IsUpgrade: false, Revision: new GoInt(1) }),
    Chart: struct({ Name: name, Version: String(chart.version), AppVersion: String(chart.appVersion ?? ''), Description: String(chart.description ?? ''), Type: String(chart.type ?? 'application') }),
    Capabilities: struct({ KubeVersion: struct({ Version: 'v1.32.0', Major: '1', Minor: '32', GitVersion: 'v1.32.0' }) }),
  };
  const manifests = new Map<string, string>();
  let notes = '';
  for (const f of files) {
    if (f.startsWith('_')) continue;
    const tname = `${name}/templates/${f}`;
    const dot = { ...top, Template: struct({ Name: tname, BasePath: `${name}/templates` }) };
    const text = new Exec(tpls).run(tname, dot).replaceAll('<no value>', '');
    if (f === 'NOTES.txt') notes = text;
    else if (text.trim() !== '') manifests.set(`templates/${f}`, text);
  }
  return { values, manifests, notes };
}

/** Every rendered manifest as parsed YAML documents (YAML 1.1 as the API server's decoder), with their source. */
export function documents(r: Rendered): { source: string; doc: Record<string, unknown> }[] {
  const out: { source: string; doc: Record<string, unknown> }[] = [];
  for (const [source, text] of r.manifests) {
    for (const d of YAML.parseAllDocuments(text, PARSE_OPTIONS)) {
      if (d.errors.length) throw new Error(`${source}: ${d.errors.map((e) => e.message).join('; ')}\n${text}`);
      const js = d.toJS();
      if (js !== null && js !== undefined) out.push({ source, doc: js as Record<string, unknown> });
    }
  }
  return out;
}
