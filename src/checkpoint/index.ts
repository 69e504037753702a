/**
 * The checkpoint: every AI request passes through these stages, in this order.
 *
 *   authenticate → inspect → decide → transform → route → relay → record
 *
 * This file is the flow and nothing else; each stage lives in its own module.
 * Any stage that fails stops the request before it reaches a backend (fail closed).
 */
import type { Endpoint } from '../backends/types.js';
import type { Principal } from '../identity/index.js';
import { AuthError, attrsOf } from '../identity/index.js';
import { levelIndex, parseLevel, type Decision, type LevelName, type Policy, type Reason } from '../policy/index.js';
import type { Router } from '../routing/index.js';
import type { Metrics } from '../ops/metrics.js';
import type { Logger } from '../ops/log.js';
import { CheckpointError } from './errors.js';
import type { Recorder } from './record.js';
import type { Relay, RelayOutcome, Sink } from './relay.js';
import type { Routes, ModelRoute } from './routes.js';
import { TokenMap, type ContentStage, type RequestContent } from './content.js';
import type { Capture, Retainer } from './retain.js';
import { VaultError, type PseudonymMaps } from '../vault/index.js';
import { AuditError } from '../audit/errors.js';
import { PromptFingerprint, type ThreatEngine, type Verdict } from '../threats/engine.js';
import crypto from 'node:crypto';
import { RedisError } from '../store/redis-errors.js';

export { CheckpointError } from './errors.js';
export type { Sink } from './relay.js';

/** A request as the server hands it over: the body is read only after authentication. */
export interface CheckpointRequest {
  requestId: string;
  endpoint: Endpoint;
  authorization: string | undefined;
  /** `x-sekisho-level`: may raise the level, never lower it. */
  requestedLevel: string | undefined;
  /** `x-sekisho-conversation`: pseudonyms stay the same across the requests of a conversation. */
  conversation?: string | undefined;
  /** `x-sekisho-subject`: whose data this is (erasure unit); the principal when absent. */
  subject?: string | undefined;
  readBody(): Promise<ParsedBody>;
  signal: AbortSignal;
  /** The client's address (brute-force detection per source). */
  remote?: string | undefined;
}

/** The OpenAI request after wire-format validation (server/openai.ts). */
export interface ParsedBody {
  model: string;
  stream: boolean;
  body: Record<string, unknown>;
  /** The texts a person or tool wrote, for the inspector. */
  texts(): string[];
  /** Every text with its message role (system, user, tool …), for threat detection. */
  segments(): { role: string; text: string }[];
  /** A copy of the body with each of those texts passed through `fn` (the transform stage). */
  mapTexts(fn: (text: string) => string): Record<string, unknown>;
}

export interface Inspection {
  level: LevelName;
  flags: string[];
  reasons: Reason[];
  content: RequestContent | undefined;
}

export interface CheckpointDeps {
  /** Synchronous, or a promise when a shared session store must be read. */
  auth: { authenticate(authorization: string | undefined): Principal | Promise<Principal> };
  policy: Policy;
  routes: Routes;
  router: Router;
  relay: Relay;
  recorder: Recorder;
  metrics: Metrics;
  log: Logger;
  /** Content inspection; absent when `inspect.enabled` is false. */
  content?: ContentStage | undefined;
  /** Encrypted body retention (record stage); absent when every level keeps metadata only. */
  retain?: Retainer | undefined;
  /** Pseudonym maps per conversation, encrypted under the subject's key. */
  pseudonyms?: PseudonymMaps | undefined;
  /** The stored form of a person's department (adoption counts); absent: not recorded. */
  departments?: { pseudonym(name: string): string } | undefined;
  limits: { maxAttempts: number; maxResponseBytes: number };
  /** Threat detection (issue #7); absent when `threats.enabled` is false. */
  threats?: ThreatEngine | undefined;
}

export class Checkpoint {
  constructor(private readonly d: CheckpointDeps) {}

  async handle(req: CheckpointRequest, sink: Sink): Promise<void> {
    const t0 = performance.now();
    const reserved = this.d.recorder.reserve();
    // Awaited later (overlapping the round trip with the stages before routing); handled now so a failure never goes unobserved.
    if (typeof reserved !== 'number') reserved.catch(() => {});
    const trace: Trace = { seq: typeof reserved === 'number' ? reserved : -1, principal: null, model: '', level: null, flags: [], findings: {}, decision: null, outcome: null, error: null, retained: null, requestCommit: null };
    // The end of the answer is held until the record (an audit-log leaf) is committed.
    const held = this.d.recorder.hold(sink, req.requestId);
    sink = held;
    try {
      if (!this.d.recorder.healthy || this.d.retain?.healthy === false) throw unavailable('record_unavailable', '記録ストアに書き込めないため、要求を受け付けられません', 'The record store cannot be written, so requests are refused');
      const threats = this.d.threats;
      const refused = threats?.refusedSource(req.remote);
      if (refused) throw refusal(refused);
      const authenticated = this.authenticate(req);
      const principal = (trace.principal = authenticated instanceof Promise ? await authenticated : authenticated);
      if (threats) {
        const r = await threats.admit(principal, req.requestId);
        if (r) throw refusal(r);
      }
      const parsed = await req.readBody();
      trace.requestCommit = this.d.recorder.commitRequest(req.requestId, parsed.body);
      trace.model = parsed.model;
      const route = this.modelRoute(parsed.model);
      const conversation = await this.conversation(req, principal);
      const segments = threats ? parsed.segments() : [];
      if (threats) this.threatCheck(threats.inspectRequest(principal, segments, req.requestId), trace, principal);
      const inspection = this.inspect(principal, req, parsed, conversation?.tokens);
      trace.level = inspection.level;
      trace.flags = inspection.flags;
      trace.findings = inspection.content?.counts ?? {};
      const decision = (trace.decision = this.decide(principal, inspection, route));
      const outbound = this.transform(parsed, inspection);
      if (conversation && inspection.content?.tokens.changed) {
        await this.d.pseudonyms!.save(conversation.subject, conversation.id, inspection.content.tokens.toJSON(), decision.level, req.requestId);
      }
      const order = this.route(decision, route);
      // PostgreSQL: the index reservation went out when the request started; it is needed from here on (answer headers).
      const seq = trace.seq >= 0 ? trace.seq : (trace.seq = await reserved);
      const capture = this.d.retain?.wants(decision.level) ? this.d.retain.capture(sink) : undefined;
      if (capture) trace.retained = { subject: req.subject ?? principal.id, body: parsed.body, capture };
      const answer = inspection.content && this.d.content?.answer(inspection.content.tokens);
      trace.outcome = await this.d.relay.relay(
        {
          requestId: req.requestId,
          endpoint: req.endpoint,
          stream: parsed.stream,
          body: outbound,
          order,
          upstreamModel: (id) => this.d.routes.upstreamModel(id, parsed.model),
          headers: (id) => this.answerHeaders(req.requestId, decision.level, id, seq),
          signal: req.signal,
          maxAttempts: this.d.limits.maxAttempts,
          maxResponseBytes: this.d.limits.maxResponseBytes,
          answer,
          threatAnswer: threats
            ? (text: string, tokens: number, backend: string) => {
                const fp = new PromptFingerprint(segments.filter((x) => x.role === 'system' || x.role === 'developer').map((x) => x.text));
                const secrets = this.d.content ? this.d.content.findings(text).filter((f) => f.type === 'SECRET').length : 0;
                threats.observe(principal, backend, tokens, req.requestId);
                const v = threats.inspectAnswer(principal, text, fp, secrets, req.requestId);
                for (const h of v.hits) trace.findings[`answer:threat:${h.type}`] = 1;
                if (v.action === 'step_up') threats.requireStepUp(principal);
                return v.action === 'block' || v.action === 'quarantine' || v.action === 'step_up';
              }
            : undefined,
        },
        capture?.sink ?? sink,
      );
      if (answer) for (const [type, n] of Object.entries(answer.found)) trace.findings[`answer:${type}`] = n;
    } catch (e) {
      if (!(e instanceof CheckpointError)) this.d.log.error({ request_id: req.requestId, err: (e as Error)?.message }, 'checkpoint failure');
      const err = toCheckpointError(e);
      trace.error = err;
      if (trace.seq < 0) trace.seq = await Promise.resolve(reserved).catch(() => -1);
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-sekisho-request-id': req.requestId };
      // Without an index (none could be reserved) the answer is a 503 and no leaf is written.
      if (trace.seq >= 0) headers['x-sekisho-audit-index'] = String(trace.seq);
      if (trace.level) headers['x-sekisho-level'] = trace.level;
      if (err.status === 401) headers['www-authenticate'] = err.code === 'step_up_required' ? 'Bearer realm="sekisho", error="insufficient_user_authentication", error_description="a fresh presentation is required"' : 'Bearer realm="sekisho"';
      if (typeof err.details.retry_after_s === 'number') headers['retry-after'] = String(err.details.retry_after_s);
      if (!req.signal.aborted) sink.send(err.status, headers, JSON.stringify(err.toJSON()));
    } finally {
      await held.release(this.record(req, trace, performance.now() - t0, held.answerCommit()));
    }
  }

  /** Threats found in the request: the strongest rule's action decides. */
  private threatCheck(v: Verdict, trace: Trace, principal: Principal): void {
    for (const h of v.hits) trace.findings[`threat:${h.type}`] = (trace.findings[`threat:${h.type}`] ?? 0) + 1;
    const rule = v.rule;
    const details = { threats: v.hits.map((h) => ({ type: h.type, score: h.score })), rule: rule?.name ?? rule?.id, alert: v.alerts[0]?.id, owasp: rule?.owasp, atlas: rule?.atlas };
    switch (v.action) {
      case 'block':
        throw new CheckpointError(403, 'permission_error', 'threat_blocked', `攻撃の可能性がある内容 (${rule?.title ?? ''}) を検知したため、送信を止めました`, `The request was stopped: it looks like an attack (${rule?.title ?? ''})`, details);
      case 'step_up':
        this.d.threats?.requireStepUp(principal);
        throw new CheckpointError(401, 'authentication_error', 'step_up_required', '追加の本人確認が必要です。資格情報をもう一度提示してください (sekisho login)', 'A fresh presentation of your credential is required (sekisho login)', details);
      case 'quarantine':
        throw new CheckpointError(403, 'permission_error', 'principal_quarantined', 'この利用者は脅威検知により隔離されました。管理者に解除を依頼してください', 'This principal has been quarantined by threat detection. Ask an administrator to release it', details);
      default:
        return;
    }
  }

  /** authenticate: bearer credential → principal; synchronous when the credential is cached (no turn waited). */
  private authenticate(req: CheckpointRequest): Principal | Promise<Principal> {
    const threats = this.d.threats;
    // A credential locked after credential stuffing is refused before it is checked (hashed only while some are locked).
    if (threats?.locksCredentials && req.authorization) {
      const locked = threats.refusedCredential(credentialHash(req.authorization));
      if (locked) throw refusal(locked);
    }
    let r: Principal | Promise<Principal>;
    try {
      r = this.d.auth.authenticate(req.authorization);
    } catch (e) {
      throw this.authFailed(req, e);
    }
    return r instanceof Promise ? r.catch((e: unknown) => Promise.reject(this.authFailed(req, e))) : r;
  }

  /** A failed authentication counts towards brute-force detection; an AuthError becomes a 401. */
  private authFailed(req: CheckpointRequest, e: unknown): unknown {
    if (e instanceof AuthError && this.d.threats && e.code !== 'missing_credential') {
      this.d.threats.authFailure(req.remote, credentialHash(req.authorization ?? ''), 'api');
    }
    return e instanceof AuthError ? new CheckpointError(401, 'authentication_error', e.code, e.ja, e.en) : e;
  }

  private modelRoute(model: string): ModelRoute {
    const route = this.d.routes.get(model);
    if (!route) {
      throw new CheckpointError(
        404,
        'not_found_error',
        'model_not_found',
        `モデル ${model} はありません。GET /v1/models で利用できるモデルを確認してください`,
        `The model ${model} does not exist. GET /v1/models lists the models you may use`,
        {},
        'model',
      );
    }
    return route;
  }

  /** The conversation's pseudonym map (header `x-sekisho-conversation`), loaded from the vault. */
  private async conversation(req: CheckpointRequest, principal: Principal): Promise<{ id: string; subject: string; tokens: TokenMap } | undefined> {
    if (req.subject !== undefined && !/^[\x21-\x7e]{1,256}$/.test(req.subject)) {
      throw new CheckpointError(400, 'invalid_request_error', 'invalid_subject_header', 'x-sekisho-subject は 1〜256 文字の ASCII で指定してください', 'x-sekisho-subject must be 1 to 256 printable ASCII characters', {}, 'x-sekisho-subject');
    }
    if (req.conversation === undefined || !this.d.content || !this.d.pseudonyms) return undefined;
    if (!/^[A-Za-z0-9._:-]{1,128}$/.test(req.conversation)) {
      throw new CheckpointError(
        400,
        'invalid_request_error',
        'invalid_conversation_header',
        'x-sekisho-conversation は英数字と . _ : - の 1〜128 文字で指定してください',
        'x-sekisho-conversation must be 1 to 128 letters, digits, ".", "_", ":" or "-"',
        {},
        'x-sekisho-conversation',
      );
    }
    const subject = req.subject ?? principal.id;
    const stored = await this.d.pseudonyms.load(subject, req.conversation, req.requestId);
    let tokens: TokenMap;
    try {
      tokens = stored === undefined ? new TokenMap() : TokenMap.from(stored);
    } catch {
      throw new VaultError('vault_tampered', 'この会話の仮名対応表が壊れています', 'The pseudonym map of this conversation is corrupted');
    }
    return { id: req.conversation, subject, tokens };
  }

  /**
   * inspect: the level is the key's default, raised (never lowered) by the x-sekisho-level
   * header and by what the inspector finds in the text as it will be sent.
   */
  private inspect(principal: Principal, req: CheckpointRequest, parsed: ParsedBody, tokens?: TokenMap): Inspection {
    let level = principal.defaultLevel;
    const reasons: Reason[] = [{ code: 'key_default_level', ja: `API キー・資格の既定レベル ${level}`, en: `the API key's (or session's) default level ${level}` }];
    if (req.requestedLevel !== undefined) {
      const asked = parseLevel(req.requestedLevel);
      if (!asked) {
        throw new CheckpointError(400, 'invalid_request_error', 'invalid_level_header', 'x-sekisho-level は L0〜L4 のいずれかで指定してください', 'x-sekisho-level must be one of L0 to L4', {}, 'x-sekisho-level');
      }
      if (levelIndex(asked) > levelIndex(level)) {
        level = asked;
        reasons.push({ code: 'header_raises_level', ja: `x-sekisho-level ヘッダーにより ${asked}`, en: `raised to ${asked} by the x-sekisho-level header` });
      }
    }
    const content = this.d.content?.inspectRequest(parsed.texts(), tokens);
    if (content && content.blocked.length > 0) {
      throw new CheckpointError(
        403,
        'permission_error',
        'content_blocked',
        `送信が禁止された情報 (${content.blocked.join(', ')}) が含まれています。該当箇所を削除してから送信してください`,
        `The request contains information that may not be sent (${content.blocked.join(', ')}). Remove it and send again`,
        { types: content.blocked, findings: content.counts },
      );
    }
    if (content && levelIndex(content.level) > levelIndex(level)) {
      level = content.level;
      const types = Object.keys(content.counts).join(', ');
      reasons.push({ code: 'content_raises_level', ja: `内容の検査 (${types}) により ${content.level}`, en: `raised to ${content.level} by content inspection (${types})` });
    }
    return { level, flags: content?.flags ?? [], reasons, content };
  }

  /** decide: policy over (principal, level, flags, candidates). A block ends the request here. */
  private decide(principal: Principal, inspection: Inspection, route: ModelRoute): Decision {
    const attrs = attrsOf(principal);
    const decision = this.d.policy.decide({
      level: inspection.level,
      levelReasons: inspection.reasons,
      flags: inspection.flags,
      principalMax: principal.maxLevel,
      candidates: route.candidates.map((c) => c.id),
      principal: { hash: principal.attrHash ?? `${attrs.kind}:${attrs.clearance}`, ...attrs },
    });
    if (decision.action === 'block') {
      throw new CheckpointError(403, 'permission_error', decision.reason.code, decision.reason.ja, decision.reason.en, {
        level: decision.level,
        level_reasons: decision.levelReasons,
        excluded: decision.excluded,
        ...(decision.reason.training ? { training: decision.reason.training } : {}),
      });
    }
    return decision;
  }

  /** transform: mask and pseudonymize what the tenant chose to keep inside (placeholders such as 〔氏名1〕). */
  private transform(parsed: ParsedBody, inspection: Inspection): Record<string, unknown> {
    const rewrite = inspection.content?.rewrite;
    return rewrite ? parsed.mapTexts(rewrite) : parsed.body;
  }

  /** route: order the compliant backends by health, latency and weight. */
  private route(decision: Decision, route: ModelRoute): string[] {
    const compliant = new Set(decision.compliant);
    return this.d.router.order(
      route.candidates.filter((c) => compliant.has(c.id)),
      route.strategy,
    );
  }

  private answerHeaders(requestId: string, level: LevelName, backend: string, seq: number): Record<string, string> {
    return {
      'x-sekisho-request-id': requestId,
      'x-sekisho-level': level,
      'x-sekisho-backend': backend,
      'x-sekisho-audit-index': String(seq),
    };
  }

  /**
   * record: metadata only (never text) as a leaf of the audit log, group-committed to the
   * store; the bodies too, encrypted, where the level's retention says so; metrics and a log
   * line. Resolves once the leaf is committed.
   */
  private record(req: CheckpointRequest, t: Trace, ms: number, answerCommit: string | null): Promise<void> {
    if (t.retained && t.level) {
      const request = Buffer.from(JSON.stringify(t.retained.body), 'utf8');
      const answer = t.retained.capture.bytes();
      const capture = t.retained.capture;
      // Sealed off the request path (the leaf does not wait for it); the plaintext is wiped once sealed.
      this.d
        .retain!.add(req.requestId, t.level, t.retained.subject, request, answer)
        .catch((e: unknown) => this.d.log.error({ request_id: req.requestId, code: (e as VaultError).code }, 'retention failed'))
        .finally(() => {
          request.fill(0);
          answer.fill(0);
          capture.wipe();
        });
    }
    if (t.seq < 0) {
      this.d.log.error({ request_id: req.requestId }, 'request: no audit index could be reserved; no leaf written (answered 503)');
      return Promise.resolve();
    }
    const backend = t.outcome?.backend ?? null;
    const decision = t.error ? (t.error.status === 401 ? 'unauthenticated' : t.error.status === 403 ? 'block' : t.error.status === 429 ? 'limited' : 'error') : 'allow';
    const reason = t.error?.code ?? t.decision?.reason.code ?? 'allowed';
    const status = t.error?.status ?? t.outcome?.status ?? 0;
    const committed = this.d.recorder.add({
      seq: t.seq,
      request_id: req.requestId,
      ts: new Date().toISOString(),
      principal: t.principal?.id ?? 'anonymous',
      endpoint: req.endpoint,
      model: t.model,
      level: t.level ?? '',
      flags: t.flags.join(','),
      findings: Object.entries(t.findings)
        .map(([k, n]) => `${k}:${n}`)
        .join(','),
      decision,
      reason,
      backend,
      status,
      duration_ms: Math.round(ms * 1000) / 1000,
      upstream_ms: t.outcome?.upstreamMs == null ? null : Math.round(t.outcome.upstreamMs * 1000) / 1000,
      attempts: t.outcome?.attempts ?? 0,
      department: t.principal?.attrs?.kind === 'person' ? (this.d.departments?.pseudonym(t.principal.attrs.department) ?? '') : '',
      trained: t.principal?.attrs?.kind === 'person' ? (t.principal.attrs.trainings.length > 0 ? 1 : 0) : null,
    }, {
      flags: t.flags,
      findings: t.findings,
      requestCommit: t.requestCommit,
      answerCommit,
      // The log is public: a model name the client made up (it may hold anything) is not copied into it.
      model: t.model && this.d.routes.get(t.model) ? t.model : '',
    });
    this.d.metrics.countRequest(req.endpoint, t.level ?? 'none', backend ?? 'none', decision);
    this.d.metrics.observeDuration(req.endpoint, ms / 1000);
    // The log line's object is built only when it will be written (the level may be warn or higher).
    if (this.d.log.isLevelEnabled('info')) {
      this.d.log.info(
        {
          request_id: req.requestId,
          audit_index: t.seq,
          principal: t.principal?.id,
          model: t.model || undefined,
          level: t.level,
          flags: t.flags.length ? t.flags : undefined,
          findings: Object.keys(t.findings).length ? t.findings : undefined,
          decision,
          reason,
          backend,
          status,
          attempts: t.outcome?.attempts,
          stream_end: t.outcome?.streamEnd,
          ms: Math.round(ms * 1000) / 1000,
        },
        'request',
      );
    }
    return committed;
  }
}

interface Trace {
  seq: number;
  principal: Principal | null;
  model: string;
  level: LevelName | null;
  flags: string[];
  /** Finding types and counts (metadata only). */
  findings: Record<string, number>;
  decision: Decision | null;
  outcome: RelayOutcome | null;
  error: CheckpointError | null;
  /** Bodies to retain (encrypted) when the level's retention is `bodies`. */
  retained: { subject: string; body: Record<string, unknown>; capture: Capture } | null;
  /** HMAC commitment of the request body (the audit leaf holds it, never the body). */
  requestCommit: string | null;
}

/** What the threat engine counts failures against: a short hash of the presented credential (never the credential). */
function credentialHash(authorization: string): string {
  return crypto.createHash('sha256').update(authorization).digest('base64url').slice(0, 22);
}

function refusal(r: { status: number; code: string; ja: string; en: string; retryAfterS?: number }): CheckpointError {
  const type = r.status === 429 ? 'rate_limit_error' : r.status === 401 ? 'authentication_error' : 'permission_error';
  return new CheckpointError(r.status, type, r.code, r.ja, r.en, r.retryAfterS !== undefined ? { retry_after_s: r.retryAfterS } : {});
}

function unavailable(code: string, ja: string, en: string): CheckpointError {
  return new CheckpointError(503, 'server_error', code, ja, en);
}

function toCheckpointError(e: unknown): CheckpointError {
  if (e instanceof CheckpointError) return e;
  // The shared state (Redis) cannot be used: a session, a limit or a budget could not be checked,
  // so the request is refused (fail closed) rather than let through unchecked.
  if (e instanceof RedisError) {
    return new CheckpointError(e.status, e.status === 400 ? 'invalid_request_error' : 'server_error', e.code, `${e.ja} (要求はバックエンドに送信されていません)`, `${e.en} (the request was not sent to a backend)`);
  }
  // The vault failed (tampered record, key unavailable): fail closed, nothing was sent.
  if (e instanceof VaultError) {
    const ja = `${e.ja} (要求はバックエンドに送信されていません)`;
    const en = `${e.en} (the request was not sent to a backend)`;
    return e.code === 'vault_input_invalid' ? new CheckpointError(400, 'invalid_request_error', e.code, ja, en) : new CheckpointError(503, 'server_error', e.code, ja, en);
  }
  // No audit index could be reserved (the record store is unreachable): fail closed.
  if (e instanceof AuditError && e.code === 'record_unavailable') return unavailable('record_unavailable', '記録ストアに書き込めないため、要求を受け付けられません', 'The record store cannot be written, so requests are refused');
  return new CheckpointError(500, 'server_error', 'internal_error', '内部エラーが発生しました (要求はバックエンドに送信されていません)', 'Internal error (the request was not sent to a backend)');
}
