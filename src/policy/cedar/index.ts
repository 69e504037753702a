/**
 * Attribute-based policy in Cedar (@cedar-policy/cedar-wasm): "may principal P invoke at
 * level L with flags F on backend B?". Policies live in `policies/` at the package root
 * (schema.cedarschema; default/ and one folder per sector pack, each with examples.json),
 * read at runtime so that both `src` (tsx) and `dist` find them.
 *
 * Policy set and schema are preparsed once; a decision costs ~70 µs, so decisions are cached
 * by (attribute hash, level, flags, backend, policy version, date). Denials come back as
 * exclusions built from the annotations of the forbid policies that fired (@code, @ja, @en,
 * @scope, @training).
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { levelIndex, type LevelName } from '../levels.js';
import type { BackendFacts, Exclusion } from '../rules.js';

export const PACKS = ['default', 'government', 'finance', 'healthcare'] as const;
export type PackName = (typeof PACKS)[number];

export const POLICIES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../policies');

export interface GuardPrincipal {
  /** Hash of the attributes (the cache key); equal attributes, equal decisions. */
  hash: string;
  kind: 'person' | 'service';
  clearance: LevelName;
  role: string;
  department: string;
  trainings: readonly string[];
}

export interface PrincipalGuard {
  readonly version: string;
  check(p: GuardPrincipal, level: LevelName, flags: readonly string[], backendId: string, today: string): Exclusion[];
}

interface PolicyMeta {
  id: string;
  effect: 'permit' | 'forbid';
  annotations: Record<string, string>;
  file: string;
}

export interface Explained {
  decision: 'allow' | 'deny';
  /** The policies that determined the decision (forbids that fired, or the permit). */
  policies: { id: string; effect: string; file: string; exclusion?: Exclusion }[];
  exclusions: Exclusion[];
  errors: string[];
}

let seq = 0;

/**
 * The annotations and effect of one policy as split by Cedar (`policySetTextToParts`):
 * `@name("value")` lines, then `permit` or `forbid`. (Cheaper than policyToJson at start-up.)
 */
function annotationsOf(ptext: string): { annotations: Record<string, string>; effect: 'permit' | 'forbid' } {
  const annotations: Record<string, string> = {};
  const re = /^\s*@(\w+)\("((?:[^"\\]|\\.)*)"\)/;
  let rest = ptext.replace(/^\s*(?:\/\/[^\n]*\n\s*)*/, '');
  for (let m = re.exec(rest); m; m = re.exec(rest)) {
    annotations[m[1]!] = JSON.parse(`"${m[2]!}"`) as string;
    rest = rest.slice(m[0].length).replace(/^\s*(?:\/\/[^\n]*\n\s*)*/, '');
  }
  const e = /^(permit|forbid)\b/.exec(rest);
  if (!e) throw new Error(`cannot read the effect of the policy: ${ptext.slice(0, 80)}`);
  return { annotations, effect: e[1] as 'permit' | 'forbid' };
}

function fill(t: string, vars: Record<string, string>): string {
  return t.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m);
}

export function packFiles(pack: PackName, dir = POLICIES_DIR): string[] {
  const files = [path.join(dir, 'default', 'policy.cedar')];
  if (pack !== 'default') files.push(path.join(dir, pack, 'policy.cedar'));
  return files;
}

export class CedarGuard implements PrincipalGuard {
  readonly version: string;
  private readonly psetId: string;
  private readonly meta = new Map<string, PolicyMeta>();
  private backends = new Map<string, { facts: BackendFacts; day: string; entity: cedar.EntityJson }>();
  private cache = new Map<string, Exclusion[]>();

  private constructor(
    readonly pack: PackName,
    policies: Record<string, string>,
    meta: PolicyMeta[],
    schemaText: string,
    backends: readonly BackendFacts[],
  ) {
    for (const m of meta) this.meta.set(m.id, m);
    this.version = crypto.createHash('sha256').update(schemaText).update(JSON.stringify(policies)).digest('base64url').slice(0, 12);
    this.psetId = `sekisho-${pack}-${this.version}-${++seq}`;
    // Validated against the schema once here; decisions parse entities without it (cheaper).
    const v = cedar.validate({ schema: schemaText, policies: { staticPolicies: policies }, validationSettings: { mode: 'strict' } });
    if (v.type !== 'success') throw new Error(`Cedar policies: ${v.errors.map((e) => e.message).join('; ')}`);
    if (v.validationErrors.length) throw new Error(`Cedar policies do not match the schema: ${v.validationErrors.map((e) => `${e.policyId}: ${e.error.message}`).join('; ')}`);
    const p = cedar.preparsePolicySet(this.psetId, { staticPolicies: policies });
    if (p.type !== 'success') throw new Error(`Cedar policies: ${p.errors.map((e) => e.message).join('; ')}`);
    for (const b of backends) this.backends.set(b.id, { facts: b, day: '', entity: undefined as unknown as cedar.EntityJson });
  }

  /** Loads a pack (the default rules plus the pack's own) from `policies/`. */
  static async load(pack: PackName, backends: readonly BackendFacts[], dir = POLICIES_DIR, opts: { levelsFromConfig?: boolean } = {}): Promise<CedarGuard> {
    const schemaText = fs.readFileSync(path.join(dir, 'schema.cedarschema'), 'utf8');
    const policies: Record<string, string> = {};
    const meta: PolicyMeta[] = [];
    for (const file of packFiles(pack, dir)) {
      const text = fs.readFileSync(file, 'utf8');
      const parts = cedar.policySetTextToParts(text);
      if (parts.type !== 'success') throw new Error(`${file}: ${parts.errors.map((e) => e.message).join('; ')}`);
      for (const ptext of parts.policies) {
        const { annotations, effect } = annotationsOf(ptext);
        const id = annotations.id;
        if (!id) throw new Error(`${file}: every policy needs an @id("…") annotation`);
        if (policies[id]) throw new Error(`${file}: duplicate policy id ${id}`);
        // the tenant's `policy.levels` replace DESIGN.md's level rules (the residency table applies them)
        if (opts.levelsFromConfig && annotations.residency === 'levels') continue;
        policies[id] = ptext;
        meta.push({ id, effect, annotations, file: path.relative(dir, file) });
      }
    }
    return new CedarGuard(pack, policies, meta, schemaText, backends);
  }

  private backendEntity(id: string, today: string): cedar.EntityJson | undefined {
    const b = this.backends.get(id);
    if (!b) return undefined;
    if (b.day !== today) {
      const f = b.facts;
      b.entity = {
        uid: { type: 'Sekisho::Backend', id: f.id },
        attrs: {
          country: f.location.country,
          region: f.location.region ?? '',
          onPremises: f.location.on_premises,
          operator: f.operator.name,
          jurisdictions: f.operator.jurisdictions,
          noTraining: f.contract.no_training,
          retentionStated: f.contract.retention_days !== undefined,
          retentionDays: f.contract.retention_days ?? 0,
          clickThrough: f.contract.click_through,
          approved: f.approved,
          ismapListed: f.ismap?.listed ?? false,
          ismapValid: !!f.ismap?.listed && (!f.ismap.expires || f.ismap.expires >= today),
        },
        parents: [],
      };
      b.day = today;
    }
    return b.entity;
  }

  /** Cached: why Cedar denies (empty when it allows). */
  check(p: GuardPrincipal, level: LevelName, flags: readonly string[], backendId: string, today: string): Exclusion[] {
    const key = `${p.hash}|${level}|${flags.join(',')}|${backendId}|${this.version}|${today}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.explain(p, level, flags, backendId, today).exclusions;
      if (this.cache.size >= 50_000) this.cache.clear();
      this.cache.set(key, hit);
    }
    return hit;
  }

  /** Uncached evaluation with the determining policies (for `sekisho policy explain`). */
  explain(p: GuardPrincipal, level: LevelName, flags: readonly string[], backendId: string, today: string): Explained {
    const backend = this.backendEntity(backendId, today);
    if (!backend) {
      const ex = { code: 'unknown_backend', ja: `バックエンド ${backendId} は設定されていません`, en: `backend ${backendId} is not configured` };
      return { decision: 'deny', policies: [], exclusions: [ex], errors: [] };
    }
    const ptype = p.kind === 'person' ? 'Sekisho::Person' : 'Sekisho::Service';
    const principal: cedar.EntityJson = {
      uid: { type: ptype, id: p.hash },
      attrs: { clearance: levelIndex(p.clearance), role: p.role, department: p.department, trainings: [...p.trainings] },
      parents: [],
    };
    const answer = cedar.statefulIsAuthorized({
      principal: { type: ptype, id: p.hash },
      action: { type: 'Sekisho::Action', id: 'invoke' },
      resource: { type: 'Sekisho::Backend', id: backendId },
      context: { level: levelIndex(level), flags: [...flags] },
      preparsedPolicySetId: this.psetId,
      // The policies were validated against the schema when loaded; parsing the entities without
      // it is ~25 % cheaper per decision (numbers are Long, arrays are Sets either way).
      validateRequest: false,
      entities: [principal, backend],
    });
    if (answer.type !== 'success') {
      const msg = answer.errors.map((e) => e.message).join('; ');
      return { decision: 'deny', policies: [], exclusions: [{ code: 'policy_error', ja: `ポリシーを評価できません: ${msg}`, en: `the policy cannot be evaluated: ${msg}` }], errors: [msg] };
    }
    const r = answer.response;
    const b = this.backends.get(backendId)!.facts;
    const vars = { level, clearance: p.clearance, backend: backendId, country: b.location.country };
    const policies: Explained['policies'] = [];
    const exclusions: Exclusion[] = [];
    for (const id of r.diagnostics.reason) {
      const m = this.meta.get(id);
      if (!m) continue;
      const entry: Explained['policies'][number] = { id, effect: m.effect, file: m.file };
      if (r.decision === 'deny' && m.effect === 'forbid') {
        const a = m.annotations;
        const v = { ...vars, training: a.training ?? '' };
        const ex: Exclusion = {
          code: a.code ?? id,
          ja: fill(a.ja ?? `ポリシー ${id} により拒否されました`, v),
          en: fill(a.en ?? `denied by the policy ${id}`, v),
          policy: id,
          ...(a.scope === 'principal' ? { scope: 'principal' as const } : {}),
          ...(a.training ? { training: a.training } : {}),
        };
        entry.exclusion = ex;
        exclusions.push(ex);
      }
      policies.push(entry);
    }
    const errors = r.diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`);
    if (r.decision === 'deny' && exclusions.length === 0) {
      exclusions.push({ code: 'no_permit', ja: 'この要求を許可するポリシーがありません', en: 'no policy permits this request', policy: '' });
    }
    return { decision: r.decision, policies, exclusions, errors };
  }
}
