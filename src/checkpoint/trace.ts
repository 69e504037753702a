/**
 * The checkpoint trace of a text, without sending it: authenticate (a given principal) →
 * inspect → decide → transform → route, as the checkpoint would. Used by `sekisho try` and by
 * the console's policy simulator.
 */
import { levelIndex, type Decision, type LevelName, type Policy } from '../policy/index.js';
import type { Router } from '../routing/index.js';
import { attrsOf, type Principal } from '../identity/index.js';
import type { Routes } from './routes.js';
import type { ContentStage } from './content.js';

export interface Trace {
  principal: { name: string; default_level: LevelName; max_level: LevelName };
  model: string;
  level: LevelName;
  level_reasons: Decision['levelReasons'];
  decision: Decision['action'];
  reason: Decision['reason'];
  backends: { id: string; country: string; region?: string; operator: string; jurisdictions: string[]; compliant: boolean; ceiling: LevelName | null; reasons: { code: string; ja: string; en: string }[] }[];
  route: string[];
  findings: { type: string; start: number; end: number; score: number }[];
  flags: string[];
  /** The text as it would be sent after masking / pseudonymization. */
  outbound: string;
}

export interface TraceDeps {
  policy: Policy;
  routes: Routes;
  router: Router;
  /** Content inspection; undefined when `inspect.enabled` is false. */
  content: ContentStage | undefined;
}

export interface TraceInput {
  text: string;
  principal: Principal;
  model: string;
  /** As the x-sekisho-level header: raises the level, never lowers it. */
  requestedLevel?: LevelName | undefined;
  /** How the requested level is named in the reasons (`--level`, `x-sekisho-level`). */
  requestedBy?: string;
}

/** Throws RangeError when the model is not configured. */
export function traceRequest(d: TraceDeps, input: TraceInput): Trace {
  const { text, principal, model } = input;
  const route = d.routes.get(model);
  if (!route) throw new RangeError(`model ${model} is not configured`);
  const policy = d.policy;
  // inspect: the principal's default level, raised by the requested level and the content.
  let level = principal.defaultLevel;
  const levelReasons: Decision['levelReasons'] = [{ code: 'key_default_level', ja: `既定レベル ${level}`, en: `default level ${level}` }];
  const asked = input.requestedLevel;
  if (asked && levelIndex(asked) > levelIndex(level)) {
    level = asked;
    const by = input.requestedBy ?? '--level';
    levelReasons.push({ code: 'header_raises_level', ja: `${by} により ${asked}`, en: `raised to ${asked} by ${by}` });
  }
  const content = d.content?.inspectRequest([text]);
  if (content && levelIndex(content.level) > levelIndex(level)) {
    level = content.level;
    levelReasons.push({ code: 'content_raises_level', ja: `内容の検査により ${content.level}`, en: `raised to ${content.level} by content inspection` });
  }
  const attrs = attrsOf(principal);
  const who = { hash: principal.attrHash ?? `${attrs.kind}:${attrs.clearance}`, ...attrs };
  const decision =
    content && content.blocked.length > 0
      ? {
          ...policy.decide({ level, levelReasons, flags: content.flags, principalMax: principal.maxLevel, candidates: [], principal: who }),
          action: 'block' as const,
          compliant: [],
          reason: { code: 'content_blocked', ja: `送信が禁止された情報 (${content.blocked.join(', ')}) が含まれています`, en: `contains information that may not be sent (${content.blocked.join(', ')})` },
        }
      : policy.decide({ level, levelReasons, flags: content?.flags ?? [], principalMax: principal.maxLevel, candidates: route.candidates.map((c) => c.id), principal: who });
  const compliant = new Set(decision.compliant);
  const order = decision.action === 'allow' ? d.router.order(route.candidates.filter((c) => compliant.has(c.id)), route.strategy) : [];
  const excluded = new Map(decision.excluded.map((e) => [e.backend, e.reasons]));
  return {
    principal: { name: principal.name, default_level: principal.defaultLevel, max_level: principal.maxLevel },
    model,
    level: decision.level,
    level_reasons: decision.levelReasons,
    decision: decision.action,
    reason: decision.reason,
    backends: route.candidates.map((c) => {
      const b = d.routes.backends.get(c.id)!;
      // residency reasons, and what attribute-based policy (Cedar) adds for this principal
      const reasons = excluded.get(c.id) ?? policy.check(decision.level, c.id);
      return {
        id: c.id,
        country: b.location.country,
        ...(b.location.region ? { region: b.location.region } : {}),
        operator: b.operator.name,
        jurisdictions: b.operator.jurisdictions,
        compliant: compliant.has(c.id) && decision.action === 'allow',
        ceiling: policy.ceiling(c.id),
        reasons: reasons.map((r) => ({ code: r.code, ja: r.ja, en: r.en })),
      };
    }),
    route: order,
    findings: d.content ? d.content.findings(text).map((f) => ({ type: f.type, start: f.start, end: f.end, score: f.score })) : [],
    flags: content?.flags ?? [],
    outbound: content?.rewrite ? content.rewrite(text) : text,
  };
}
