/**
 * Policy packs in the console: read the Cedar files of `policies/`, validate an edited pack
 * (Cedar syntax with line and column, the schema, the @id rules of the loader, and the
 * pack's example cases), and save it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { CedarGuard, PACKS, POLICIES_DIR, type PackName } from '../policy/cedar/index.js';
import { runExamples } from '../policy/cedar/examples.js';
import type { BackendFacts } from '../policy/index.js';

export interface PackView {
  name: PackName;
  file: string;
  text: string;
  sha256: string;
  examples: number;
}

export interface PolicyProblem {
  message: string;
  line?: number;
  col?: number;
  policy?: string;
}

export interface Validation {
  ok: boolean;
  errors: PolicyProblem[];
  /** Example cases of the pack that no longer give their expected answer (do not block saving). */
  examples: { name: string; ok: boolean; problem?: string }[];
  policies: number;
}

export const isPack = (s: string): s is PackName => (PACKS as readonly string[]).includes(s);

export function packFile(pack: PackName, dir = POLICIES_DIR): string {
  return path.join(dir, pack, 'policy.cedar');
}

export function readPacks(dir = POLICIES_DIR): { packs: PackView[]; schema: string } {
  const packs = PACKS.map((name) => {
    const file = packFile(name, dir);
    const text = fs.readFileSync(file, 'utf8');
    let examples = 0;
    try {
      examples = (JSON.parse(fs.readFileSync(path.join(dir, name, 'examples.json'), 'utf8')) as { cases: unknown[] }).cases.length;
    } catch {
      /* no examples */
    }
    return { name, file: path.relative(dir, file), text, sha256: crypto.createHash('sha256').update(text).digest('hex'), examples };
  });
  return { packs, schema: fs.readFileSync(path.join(dir, 'schema.cedarschema'), 'utf8') };
}

/** Byte offset (Cedar reports UTF-8 offsets) → 1-based line and column in characters. */
function lineCol(text: string, byteOffset: number): { line: number; col: number } {
  const before = Buffer.from(text, 'utf8').subarray(0, byteOffset).toString('utf8');
  const lines = before.split('\n');
  return { line: lines.length, col: [...lines.at(-1)!].length + 1 };
}

function located(text: string, e: cedar.DetailedError, policy?: string): PolicyProblem {
  const at = e.sourceLocations?.[0];
  const label = at?.label ? ` (${at.label})` : '';
  return { message: `${e.message}${label}${e.help ? ` — ${e.help}` : ''}`, ...(at ? lineCol(text, at.start) : {}), ...(policy ? { policy } : {}) };
}

export async function validatePack(pack: PackName, text: string, backends: readonly BackendFacts[], dir = POLICIES_DIR): Promise<Validation> {
  const out: Validation = { ok: false, errors: [], examples: [], policies: 0 };
  const parts = cedar.policySetTextToParts(text);
  if (parts.type !== 'success') {
    out.errors = parts.errors.map((e) => located(text, e));
    return out;
  }
  out.policies = parts.policies.length;
  const schema = fs.readFileSync(path.join(dir, 'schema.cedarschema'), 'utf8');
  const v = cedar.validate({ schema, policies: { staticPolicies: text }, validationSettings: { mode: 'strict' } });
  if (v.type !== 'success') out.errors.push(...v.errors.map((e) => located(text, e)));
  else out.errors.push(...v.validationErrors.map((e) => located(text, e.error, e.policyId)));
  if (out.errors.length) return out;
  // The loader's own rules (an @id on every policy, no duplicates), on a copy of the packs.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sekisho-policy-'));
  try {
    fs.copyFileSync(path.join(dir, 'schema.cedarschema'), path.join(tmp, 'schema.cedarschema'));
    if (fs.existsSync(path.join(dir, 'example-backends.json'))) fs.copyFileSync(path.join(dir, 'example-backends.json'), path.join(tmp, 'example-backends.json'));
    for (const p of new Set<PackName>(['default', pack])) {
      fs.mkdirSync(path.join(tmp, p));
      fs.writeFileSync(packFile(p, tmp), p === pack ? text : fs.readFileSync(packFile(p, dir), 'utf8'));
      const ex = path.join(dir, p, 'examples.json');
      if (fs.existsSync(ex)) fs.copyFileSync(ex, path.join(tmp, p, 'examples.json'));
    }
    try {
      await CedarGuard.load(pack, backends, tmp);
    } catch (e) {
      out.errors.push({ message: (e as Error).message.replace(tmp + path.sep, '') });
      return out;
    }
    if (fs.existsSync(path.join(tmp, pack, 'examples.json')) && fs.existsSync(path.join(tmp, 'example-backends.json'))) {
      try {
        out.examples = (await runExamples(pack, tmp)).map((r) => ({ name: r.case.name, ok: r.ok, ...(r.problem ? { problem: r.problem } : {}) }));
      } catch (e) {
        out.examples = [{ name: 'examples.json', ok: false, problem: (e as Error).message }];
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  out.ok = true;
  return out;
}

/** Writes the pack's policy file (atomically); returns its SHA-256. */
export function savePack(pack: PackName, text: string, dir = POLICIES_DIR): string {
  const file = packFile(pack, dir);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
  return crypto.createHash('sha256').update(text).digest('hex');
}
