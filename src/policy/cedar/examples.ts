/**
 * Example cases kept beside each pack (`policies/<pack>/examples.json`), run by
 * `sekisho policy test` and by the test suite.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { parseLevel, type LevelName } from '../levels.js';
import type { BackendFacts } from '../rules.js';
import { CedarGuard, POLICIES_DIR, type GuardPrincipal, type PackName, type Explained } from './index.js';

export interface ExampleCase {
  name: string;
  principal: { kind: 'person' | 'service'; clearance: string; role?: string; department?: string; trainings?: string[] };
  level: string;
  flags?: string[];
  backend: string;
  expect: 'allow' | 'deny';
  codes?: string[];
  training?: string;
}

export interface ExampleResult {
  case: ExampleCase;
  ok: boolean;
  got: Explained;
  problem?: string;
}

export function guardPrincipal(p: ExampleCase['principal']): GuardPrincipal {
  const attrs = { kind: p.kind, clearance: (parseLevel(p.clearance) ?? 'L0') as LevelName, role: p.role ?? '', department: p.department ?? '', trainings: [...(p.trainings ?? [])].sort() };
  return { hash: crypto.createHash('sha256').update(JSON.stringify(attrs)).digest('base64url').slice(0, 16), ...attrs };
}

export function exampleBackends(dir = POLICIES_DIR): BackendFacts[] {
  return (JSON.parse(fs.readFileSync(path.join(dir, 'example-backends.json'), 'utf8')) as { backends: BackendFacts[] }).backends;
}

export async function runExamples(pack: PackName, dir = POLICIES_DIR, today = new Date().toISOString().slice(0, 10)): Promise<ExampleResult[]> {
  const guard = await CedarGuard.load(pack, exampleBackends(dir), dir);
  const { cases } = JSON.parse(fs.readFileSync(path.join(dir, pack, 'examples.json'), 'utf8')) as { cases: ExampleCase[] };
  return cases.map((c) => {
    const level = parseLevel(c.level);
    if (!level) return { case: c, ok: false, got: { decision: 'deny', policies: [], exclusions: [], errors: [] }, problem: `level ${c.level}` };
    const got = guard.explain(guardPrincipal(c.principal), level, c.flags ?? [], c.backend, today);
    const codes = got.exclusions.map((e) => e.code);
    let problem: string | undefined;
    if (got.decision !== c.expect) problem = `expected ${c.expect}, got ${got.decision} (${codes.join(', ') || 'no reason'})`;
    else if (c.codes && !c.codes.every((x) => codes.includes(x))) problem = `expected reasons ${c.codes.join(', ')}, got ${codes.join(', ')}`;
    else if (c.training && !got.exclusions.some((e) => e.training === c.training)) problem = `expected the training ${c.training} to be named`;
    return { case: c, ok: !problem, got, ...(problem ? { problem } : {}) };
  });
}
