/**
 * The admin console (issue #8), served by the gateway under /console:
 *   GET  /console                 the page (Japanese by default; Accept-Language, `sekisho_lang` cookie)
 *   GET  /console/assets/…        the front end (content-hashed, ETag, gzip, immutable)
 *   …    /console/api/…           the admin JSON API (console session cookie; CSRF header on writes)
 *   GET  /console/api/stream      live traffic (Server-Sent Events)
 * Every answer carries a strict Content-Security-Policy (`default-src 'self'`, no inline script).
 */
import type http from 'node:http';
import QRCode from 'qrcode';
import type { Core } from '../server/gateway.js';
import type { LoadedConfig } from '../config/index.js';
import type { ThreatsAdmin } from '../threats/admin.js';
import type { DecisionRecord } from '../store/index.js';
import { AuthError, createOffer, isAdmin, validateClaims, vaultClaims, withAttrs, type Principal } from '../identity/index.js';
import { LEVEL_LABELS, LEVEL_NAMES, parseLevel, type LevelName } from '../policy/index.js';
import { POLICIES_DIR } from '../policy/cedar/index.js';
import { contentStageFor, type ContentStage } from '../checkpoint/content.js';
import { traceRequest } from '../checkpoint/trace.js';
import { parseCheckpointBody } from '../audit/checkpoint.js';
import { parseNote } from '../audit/note.js';
import { status as vaultStatus } from '../vault/index.js';
import { ConsoleSessions, COOKIE, CSRF_HEADER, cookieValue, sessionCookie, clearCookie, IDLE_MS, type ConsoleAdmin } from './sessions.js';
import { StaticAssets, SECURITY_HEADERS, langOf } from './static.js';
import { ConsoleProblem, problem, readJsonBody, sendJson, sendProblem, str } from './http.js';
import { HttpProblem } from '../ops/problem.js';
import { placeOf } from './regions.js';
import { isPack, readPacks, savePack, validatePack } from './policies.js';
import { adoptionReport, isoWeek, weekStart } from './adoption.js';
import { LiveTail } from './live.js';
import { announceRevocation, credentialKeyOf } from '../identity/sessions.js';

export interface ConsoleOptions {
  core: Core;
  loaded: LoadedConfig;
  /** Threat detection (issue #7); absent: the Threats page says it is not enabled. */
  threats?: ThreatsAdmin | undefined;
  /** Where the Cedar packs are read and saved (default: the package's policies/). */
  policiesDir?: string;
  assets?: StaticAssets;
  now?: () => number;
}

const MAX_BODY = 512 * 1024;
const LOGIN_FAILURES_PER_MIN = 10;

type Handler = (c: Ctx) => unknown;
interface Ctx {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
  admin: ConsoleAdmin;
  params: string[];
  body(): Promise<Record<string, unknown>>;
}

export class AdminConsole {
  readonly sessions: ConsoleSessions;
  readonly assets: StaticAssets;
  private readonly now: () => number;
  private readonly policiesDir: string;
  private content: ContentStage | undefined | null = null;
  private readonly live: LiveTail;
  private failures = new Map<string, { n: number; resetMs: number }>();
  private readonly routes: { method: string; re: RegExp; write: boolean; h: Handler }[] = [];

  constructor(private readonly o: ConsoleOptions) {
    this.now = o.now ?? Date.now;
    this.sessions = new ConsoleSessions(this.now);
    this.assets = o.assets ?? new StaticAssets();
    this.policiesDir = o.policiesDir ?? POLICIES_DIR;
    this.live = new LiveTail(o.core.store, o.core.log);
    this.register();
  }

  static isPath(path: string): boolean {
    return path === '/console' || path.startsWith('/console/');
  }

  close(): void {
    this.live.close();
  }

  private get core(): Core {
    return this.o.core;
  }

  private get config() {
    return this.core.loaded.config;
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    try {
      if (path.startsWith('/console/api/')) return await this.api(req, res, path);
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        req.resume();
        throw problem(405, 'method_not_allowed', 'GET を使ってください', 'Use GET', {});
      }
      req.resume();
      return this.serveStatic(req, res, path);
    } catch (e) {
      // the console's own refusals, and the threat engine's (unknown incident 404, not approved 409)
      if (e instanceof HttpProblem) return sendProblem(res, e, e.status === 405 ? { allow: 'GET, HEAD' } : {});
      if (e instanceof AuthError) return sendProblem(res, problem(e.code === 'not_admin' ? 403 : 401, e.code, e.ja, e.en));
      this.core.log.error({ err: (e as Error).message, path }, 'console: internal error');
      return sendProblem(res, problem(500, 'internal_error', '内部エラーが発生しました', 'Internal error'));
    }
  }

  // ----------------------------------------------------------------------------------
  // static

  private serveStatic(req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
    if (!this.assets.built) {
      return sendProblem(res, problem(503, 'console_not_built', 'コンソールの画面がビルドされていません (npm run build を実行してください)', 'The console front end is not built (run npm run build)'));
    }
    let a;
    let cache: string;
    if (path === '/console' || path === '/console/' || path === '/console/index.html') {
      const lang = langOf(req.headers.cookie, req.headers['accept-language']);
      a = this.assets.page(lang);
      cache = 'no-cache';
      res.setHeader('vary', 'Accept-Language, Cookie, Accept-Encoding');
      res.setHeader('content-language', lang);
    } else if (path.startsWith('/console/assets/')) {
      a = this.assets.asset(path.slice('/console/assets/'.length));
      cache = 'public, max-age=31536000, immutable';
      res.setHeader('vary', 'Accept-Encoding');
    } else {
      cache = 'no-store';
    }
    if (!a) return sendProblem(res, problem(404, 'not_found', `${path} はありません`, `${path} does not exist`));
    res.setHeader('etag', a.etag);
    res.setHeader('cache-control', cache);
    res.setHeader('content-type', a.type);
    if (req.headers['if-none-match'] === a.etag) {
      res.writeHead(304);
      res.end();
      return;
    }
    const gz = a.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gz ? a.gzip! : a.body;
    if (gz) res.setHeader('content-encoding', 'gzip');
    res.setHeader('content-length', body.length);
    res.writeHead(200);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  // ----------------------------------------------------------------------------------
  // API plumbing

  private secure(req: http.IncomingMessage): boolean {
    return (req.socket as { encrypted?: boolean }).encrypted === true || String(req.headers['x-forwarded-proto'] ?? '') === 'https' || (this.config.identity.origin ?? '').startsWith('https:');
  }

  /** Refuses requests another site made the browser send (Fetch Metadata and Origin). */
  private sameOrigin(req: http.IncomingMessage): void {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw problem(403, 'cross_site', '他のサイトからの要求は受け付けません', 'Requests from other sites are refused');
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      let host: string;
      try {
        host = new URL(origin).host;
      } catch {
        throw problem(403, 'cross_site', '他のサイトからの要求は受け付けません', 'Requests from other sites are refused');
      }
      if (host !== req.headers.host) throw problem(403, 'cross_site', '他のサイトからの要求は受け付けません', 'Requests from other sites are refused');
    }
  }

  private async api(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? path, 'http://console.invalid');
    const write = method !== 'GET' && method !== 'HEAD';
    if (write) this.sameOrigin(req);
    // Sign-in and sign-out come before the session check.
    if (path === '/console/api/login' && method === 'POST') return this.loginKey(req, res);
    if (path === '/console/api/login/vp' && method === 'POST') return this.loginVpStart(req, res);
    if (path === '/console/api/login/vp/poll' && method === 'POST') return this.loginVpPoll(req, res);
    const sid = cookieValue(req.headers.cookie, COOKIE);
    const session = this.sessions.get(sid);
    if (path === '/console/api/logout' && method === 'POST') {
      req.resume();
      if (session && !ConsoleSessions.csrfOk(session.csrf, header(req, CSRF_HEADER))) throw csrfProblem();
      this.sessions.end(sid);
      return sendJson(res, 200, { ok: true }, { 'set-cookie': clearCookie(this.secure(req)) });
    }
    if (!session) {
      req.resume();
      throw problem(401, 'console_signin_required', 'サインインしてください', 'Please sign in', {});
    }
    if (write && !ConsoleSessions.csrfOk(session.csrf, header(req, CSRF_HEADER))) {
      req.resume();
      throw csrfProblem();
    }
    if (path === '/console/api/session' && method === 'GET') {
      req.resume();
      return sendJson(res, 200, { admin: session.admin, csrf: session.csrf, expires_at: new Date(session.expiresMs).toISOString(), idle_s: IDLE_MS / 1000, tenant: this.config.tenant });
    }
    if (path === '/console/api/stream' && method === 'GET') {
      req.resume();
      return this.live.attach(req, res, () => this.sessions.get(sid) !== undefined);
    }
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const m = r.re.exec(path);
      if (!m) continue;
      if (!write) req.resume();
      let bodyP: Promise<Record<string, unknown>> | undefined;
      const out = await r.h({ req, res, url, admin: session.admin, params: m.slice(1).map(decodeURIComponent), body: () => (bodyP ??= readJsonBody(req, MAX_BODY)) });
      if (out !== undefined) sendJson(res, 200, out);
      return;
    }
    req.resume();
    throw problem(404, 'not_found', `${path} はありません`, `${path} does not exist`);
  }

  private route(method: string, pattern: string, h: Handler): void {
    const re = new RegExp(`^/console/api/${pattern.replace(/:[a-z]+/g, '([^/]+)')}$`);
    this.routes.push({ method, re, write: method !== 'GET', h });
  }

  // ----------------------------------------------------------------------------------
  // sign-in

  private throttle(req: http.IncomingMessage): string {
    const ip = req.socket.remoteAddress ?? '';
    const t = this.now();
    const f = this.failures.get(ip);
    if (f && f.resetMs > t && f.n >= LOGIN_FAILURES_PER_MIN) throw problem(429, 'too_many_attempts', 'サインインの失敗が多すぎます。1 分後にもう一度お試しください', 'Too many failed sign-ins; try again in a minute');
    return ip;
  }

  private failed(ip: string): void {
    const t = this.now();
    const f = this.failures.get(ip);
    if (!f || f.resetMs <= t) this.failures.set(ip, { n: 1, resetMs: t + 60_000 });
    else f.n++;
    if (this.failures.size > 10_000) this.failures.clear();
  }

  /** A principal from the gateway's authenticator → a console session, if it is an administrator. */
  private open(req: http.IncomingMessage, res: http.ServerResponse, p: Principal, via: ConsoleAdmin['via']): void {
    if (!isAdmin(p, this.config.admin)) throw problem(403, 'not_admin', 'この操作には管理者権限が必要です', 'This action needs an administrator');
    const admin: ConsoleAdmin = { id: p.id, name: p.name, kind: p.kind, via };
    const s = this.sessions.create(admin);
    this.event('console.signin', admin, { via });
    sendJson(res, 200, { admin, csrf: s.csrf, idle_s: IDLE_MS / 1000 }, { 'set-cookie': sessionCookie(s.id, this.secure(req)) });
  }

  private async loginKey(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const ip = this.throttle(req);
    const body = await readJsonBody(req, 4096);
    const key = typeof body.api_key === 'string' ? body.api_key.trim() : '';
    let p: Principal;
    try {
      p = await this.core.auth.authenticate(`Bearer ${key}`);
    } catch (e) {
      this.failed(ip);
      if (e instanceof AuthError) throw problem(401, e.code, e.ja, e.en);
      throw e;
    }
    if (!isAdmin(p, this.config.admin)) this.failed(ip);
    this.open(req, res, p, 'api_key');
  }

  /** Starts an OpenID4VP request for an admin credential; the page shows it as a QR code and polls. */
  private async loginVpStart(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    req.resume();
    this.throttle(req);
    const id = this.core.identity;
    if (!id) throw problem(404, 'identity_disabled', '資格情報によるサインインは無効です (identity.enabled)', 'Sign-in with a credential is disabled (identity.enabled)');
    const r = id.verifier.createRequest();
    const qr = await QRCode.toString(r.uri, { type: 'svg', errorCorrectionLevel: 'L', margin: 2 });
    sendJson(res, 200, { uri: r.uri, request_uri: r.request_uri, transaction_id: r.transaction_id, qr_svg: qr });
  }

  private async loginVpPoll(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const ip = this.throttle(req);
    const body = await readJsonBody(req, 4096);
    const id = this.core.identity;
    if (!id) throw problem(404, 'identity_disabled', '資格情報によるサインインは無効です', 'Sign-in with a credential is disabled');
    const got = id.pickup(typeof body.transaction_id === 'string' ? body.transaction_id : '');
    if (!got) return sendJson(res, 202, { status: 'pending' });
    const p = await this.core.auth.authenticate(`Bearer ${got.session_token}`);
    if (!isAdmin(p, this.config.admin)) this.failed(ip);
    this.open(req, res, p, 'credential');
  }

  /** An admin action into the audit log (the administrator as a pseudonym when a person). */
  private event(kind: string, admin: ConsoleAdmin, fields: Record<string, unknown>): void {
    const who = admin.kind === 'service' ? `key:${admin.name}` : this.core.audit.committer.pseudonym(admin.id);
    this.core.audit.appendEvent(kind, { admin: who, ...fields }).catch((e) => this.core.log.error({ err: (e as Error).message, kind }, 'console: audit event not recorded'));
  }

  private contentStage(): ContentStage | undefined {
    if (this.content === null) this.content = contentStageFor(this.config, this.core.policy);
    return this.content;
  }

  // ----------------------------------------------------------------------------------
  // pages

  private register(): void {
    this.route('GET', 'overview', (c) => this.overview(c));
    this.route('GET', 'backends', () => this.backends());
    this.route('GET', 'policies', () => this.policies());
    this.route('POST', 'policies/validate', (c) => this.policyValidate(c));
    this.route('PUT', 'policies/:pack', (c) => this.policySave(c));
    this.route('POST', 'simulate', (c) => this.simulate(c));
    this.route('GET', 'identities', () => this.identities());
    this.route('POST', 'identities/credentials', (c) => this.issue(c));
    this.route('POST', 'identities/credentials/:id/revoke', (c) => this.revoke(c));
    this.route('POST', 'identities/sessions/:id/end', (c) => this.endSession(c));
    this.route('GET', 'audit/search', (c) => this.auditSearch(c));
    this.route('GET', 'audit/proof', (c) => this.auditProof(c));
    this.route('GET', 'audit/checkpoints', (c) => this.auditCheckpoints(c));
    this.route('GET', 'threats', () => this.threats());
    this.route('POST', 'threats/incidents/:id/approve', (c) => this.threatApprove(c));
    this.route('GET', 'threats/incidents/:id/stix', (c) => this.threatStix(c));
    this.route('GET', 'adoption', (c) => this.adoption(c));
    this.route('GET', 'settings', () => this.settings());
  }

  private backendFacts() {
    return this.config.backends.map((b) => {
      const place = placeOf(b.location.country, b.location.region);
      return {
        id: b.id,
        kind: b.kind,
        models: b.models,
        country: b.location.country,
        region: b.location.region ?? null,
        on_premises: b.location.on_premises,
        operator: b.operator.name,
        jurisdictions: b.operator.jurisdictions,
        contract: b.contract,
        ismap: b.ismap ?? null,
        approved: b.approved,
        place: place ?? null,
        ceiling: this.core.policy.ceiling(b.id),
      };
    });
  }

  /** Where each level may go: the compliant backends and their countries. */
  private residency() {
    const out: Record<string, { allowed: boolean; backends: string[]; countries: string[]; rule_countries: string[] | null }> = {};
    for (const level of LEVEL_NAMES) {
      const rule = this.core.policy.rules[level];
      const backends = this.config.backends.filter((b) => this.core.policy.check(level, b.id).length === 0);
      out[level] = {
        allowed: rule.allow,
        backends: backends.map((b) => b.id),
        countries: [...new Set(backends.map((b) => b.location.country))].sort(),
        rule_countries: rule.countries ?? null,
      };
    }
    return out;
  }

  private async overview(c: Ctx) {
    const minutes = clampInt(c.url.searchParams.get('minutes'), 60, 5, 24 * 60);
    const t = this.now();
    const since = new Date(Math.floor(t / 60_000) * 60_000 - (minutes - 1) * 60_000).toISOString();
    const [traffic, denials, last] = await Promise.all([this.core.store.console.traffic(since), this.core.store.console.topDenials(since, 8), this.core.store.console.lastSeq()]);
    const health = new Map(this.core.router.snapshot(this.config.backends.map((b) => b.id)).map((h) => [h.backend, h]));
    return {
      since,
      minutes,
      traffic,
      top_denials: denials,
      last_seq: last,
      backends: this.backendFacts().map((b) => ({ ...b, state: health.get(b.id)?.state ?? 'closed' })),
      residency: this.residency(),
      levels: LEVEL_NAMES.map((l) => ({ level: l, ...LEVEL_LABELS[l] })),
    };
  }

  private async backends() {
    const since = new Date(this.now() - 24 * 3600_000).toISOString();
    const stats = new Map((await this.core.store.console.backendStats(since)).map((s) => [s.backend, s]));
    const health = new Map(this.core.router.snapshot(this.config.backends.map((b) => b.id)).map((h) => [h.backend, h]));
    const matrix: Record<string, Record<string, { code: string; ja: string; en: string }[]>> = {};
    for (const level of LEVEL_NAMES) {
      matrix[level] = {};
      for (const b of this.config.backends) matrix[level]![b.id] = this.core.policy.check(level, b.id).map((r) => ({ code: r.code, ja: r.ja, en: r.en }));
    }
    return {
      backends: this.backendFacts().map((b) => ({ ...b, health: health.get(b.id) ?? null, stats_24h: stats.get(b.id) ?? { n: 0, avg_ms: null, max_ms: null, errors: 0 } })),
      levels: LEVEL_NAMES.map((l) => ({ level: l, ...LEVEL_LABELS[l], allow: this.core.policy.rules[l].allow })),
      matrix,
      models: this.config.models.map((m) => ({ name: m.name, backends: m.backends, strategy: m.strategy })),
    };
  }

  private async policies() {
    const { packs, schema } = readPacks(this.policiesDir);
    return {
      active: this.config.policy.pack,
      version: this.core.policy.guard?.version ?? null,
      packs,
      schema,
      levels_from_config: Object.keys(this.config.policy.levels).length > 0,
      principals: await this.simPrincipals(),
      models: this.config.models.map((m) => m.name),
    };
  }

  private async policyValidate(c: Ctx) {
    const b = await c.body();
    const pack = str(b.pack, 'pack', 32);
    if (!isPack(pack)) throw problem(400, 'unknown_pack', `規程パック ${pack} はありません`, `There is no pack ${pack}`);
    return validatePack(pack, str(b.text, 'text', 256 * 1024), this.config.backends, this.policiesDir);
  }

  private async policySave(c: Ctx) {
    const pack = c.params[0]!;
    if (!isPack(pack)) throw problem(404, 'unknown_pack', `規程パック ${pack} はありません`, `There is no pack ${pack}`);
    const b = await c.body();
    const text = str(b.text, 'text', 256 * 1024);
    const v = await validatePack(pack, text, this.config.backends, this.policiesDir);
    if (!v.ok) throw problem(422, 'policy_invalid', '規程に誤りがあるため保存しませんでした', 'The policy has errors and was not saved', { validation: v });
    let sha256: string;
    try {
      sha256 = savePack(pack, text, this.policiesDir);
    } catch (e) {
      throw problem(500, 'policy_not_saved', `規程ファイルを書き込めません (${(e as NodeJS.ErrnoException).code ?? 'EIO'})`, `The policy file cannot be written (${(e as NodeJS.ErrnoException).code ?? 'EIO'})`);
    }
    this.event('policy.edited', c.admin, { pack, sha256 });
    return { saved: true, pack, sha256, validation: v, active: pack === this.config.policy.pack || pack === 'default', restart_required: true };
  }

  /** Principals the simulator offers: the API keys, and a person described by attributes. */
  private async simPrincipals() {
    return (await this.core.store.apiKeys.list())
      .filter((k) => !k.revoked_at)
      .map((k) => ({ id: k.id, name: k.name, default_level: k.default_level, max_level: k.max_level }));
  }

  private async simulate(c: Ctx) {
    const b = await c.body();
    const text = str(b.text, 'text', 64 * 1024);
    const model = typeof b.model === 'string' && b.model ? b.model : this.config.models[0]?.name;
    if (!model || !this.core.routes.get(model)) throw problem(400, 'model_not_found', `モデル ${String(model)} は設定にありません`, `The model ${String(model)} is not configured`);
    const level = b.level ? parseLevel(String(b.level)) : undefined;
    if (b.level && !level) throw problem(400, 'invalid_level', 'レベルは L0〜L4 です', 'The level must be L0 to L4');
    const p = (b.principal ?? {}) as Record<string, unknown>;
    let principal: Principal;
    if (p.type === 'key') {
      const k = (await this.core.store.apiKeys.list()).find((x) => x.id === p.id && !x.revoked_at);
      if (!k) throw problem(400, 'unknown_key', 'その API キーはありません', 'No such API key');
      const max = parseLevel(k.max_level) ?? 'L0';
      principal = withAttrs({ id: `key:${k.id}`, kind: 'service', name: k.name, defaultLevel: parseLevel(k.default_level) ?? 'L0', maxLevel: max }, { kind: 'service', clearance: max, role: 'service', department: '', trainings: [] });
    } else {
      const clearance = parseLevel(String(p.clearance ?? 'L2'));
      if (!clearance) throw problem(400, 'invalid_level', '資格レベルは L0〜L4 です', 'The clearance must be L0 to L4');
      const trainings = Array.isArray(p.trainings) ? [...new Set(p.trainings.filter((t): t is string => typeof t === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(t)))].sort() : [];
      principal = withAttrs(
        { id: 'console:simulation', kind: 'person', name: str(p.name ?? 'simulation', 'principal.name', 128), defaultLevel: 'L0', maxLevel: clearance },
        { kind: 'person', clearance, role: str(p.role ?? 'staff', 'principal.role', 128), department: str(p.department ?? '', 'principal.department', 128, true), trainings },
      );
    }
    return traceRequest({ policy: this.core.policy, routes: this.core.routes, router: this.core.router, content: this.contentStage() }, { text, principal, model, requestedLevel: level, requestedBy: 'x-sekisho-level' });
  }

  private async identities() {
    const id = this.core.identity;
    const now = new Date(this.now()).toISOString();
    return {
      enabled: id !== undefined,
      origin: id ? id.origin : null,
      credentials: (await this.core.store.identity.credentials())
        .reverse()
        .slice(0, 500)
        .map((r) => ({ id: r.id, subject: r.subject, department: r.department ? this.core.departments.name(r.department) : null, trained: r.trained ?? null, created_at: r.created_at, issued_at: r.issued_at, expires_at: r.expires_at, revoked_at: r.revoked_at, expired: r.expires_at <= now })),
      sessions: id
        ? id.sessions.list().map((s) => ({
            id: s.id,
            name: s.principal.name,
            department: s.principal.attrs?.department ?? '',
            role: s.principal.attrs?.role ?? '',
            clearance: s.principal.maxLevel,
            trainings: s.principal.attrs?.trainings ?? [],
            expires_at: new Date(s.expMs).toISOString(),
          }))
        : [],
      console_sessions: this.sessions.size,
      defaults: { credential_ttl_days: this.config.identity.credential_ttl_days, offer_ttl_s: this.config.identity.offer_ttl_s },
    };
  }

  private async issue(c: Ctx) {
    const id = this.core.identity;
    if (!id) throw problem(404, 'identity_disabled', '資格情報の発行は無効です (identity.enabled)', 'Issuing credentials is disabled (identity.enabled)');
    const b = await c.body();
    const trainings = Array.isArray(b.trainings) ? b.trainings : [];
    let claims;
    try {
      claims = validateClaims({
        name: b.name as string,
        employee_id: b.employee_id as string,
        department: (b.department as string) || undefined,
        role: (b.role as string) || undefined,
        clearance: b.clearance as LevelName,
        trainings: trainings.map((t) => (typeof t === 'string' ? { id: t, date: new Date(this.now()).toISOString().slice(0, 10) } : (t as { id: string; date: string }))),
      } as Parameters<typeof validateClaims>[0]);
    } catch (e) {
      throw problem(400, 'invalid_claims', `入力が正しくありません: ${(e as Error).message}`, `Invalid input: ${(e as Error).message}`);
    }
    this.core.departments.pseudonym(claims.department); // the name, sealed, for the adoption page
    const o = await createOffer(this.core.store, id.origin, vaultClaims(this.core.vault), claims, {
      credentialTtlDays: this.config.identity.credential_ttl_days,
      offerTtlS: this.config.identity.offer_ttl_s,
      txCode: b.pin === true,
    });
    this.event('credential.issued', c.admin, { credential: o.credentialId, clearance: claims.clearance });
    const qr = await QRCode.toString(o.uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return { credential_id: o.credentialId, uri: o.uri, qr_svg: qr, tx_code: o.txCode ?? null, expires_in: this.config.identity.offer_ttl_s };
  }

  private async revoke(c: Ctx) {
    const credId = c.params[0]!;
    if (!/^[0-9a-f]{16}$/.test(credId)) throw problem(400, 'invalid_id', '資格情報 id が正しくありません', 'Invalid credential id');
    const row = await this.core.store.identity.credential(credId);
    const n = await this.core.store.identity.revokeCredential(credId, new Date(this.now()).toISOString());
    if (n === 0 || !row) throw problem(404, 'not_found', 'その資格情報はないか、失効済みです', 'No such credential, or it is already revoked');
    this.event('credential.revoked', c.admin, { credential: credId });
    // Live sessions of the credential end now (on every node when they share Redis), not at the next sweep.
    const key = credentialKeyOf({ list: row.status_list, idx: row.status_idx }, row.id);
    let ended = 0;
    if (this.core.shared.sessions) ended = await announceRevocation(this.core.shared.sessions, this.core.bus, [key]).catch(() => 0);
    else ended = this.core.identity?.sessions.endForCredential(key) ?? 0;
    if (this.core.identity) ended += await this.core.identity.sweep().catch(() => 0);
    return { revoked: n, sessions_ended: ended };
  }

  private async endSession(c: Ctx) {
    const ok = this.core.identity?.sessions.end(c.params[0]!) ?? false;
    if (!ok) throw problem(404, 'not_found', 'そのセッションはありません', 'No such session');
    this.event('session.ended', c.admin, {});
    return { ended: true };
  }

  private async auditSearch(c: Ctx) {
    const q = c.url.searchParams;
    const requestId = q.get('request_id')?.trim() || undefined;
    if (requestId && !/^[0-9a-fA-F-]{1,64}$/.test(requestId)) throw problem(400, 'invalid_request_id', 'リクエスト ID が正しくありません', 'Invalid request id');
    const from = isoParam(q.get('from'), 'from');
    const to = isoParam(q.get('to'), 'to');
    const before = q.get('before') ? clampInt(q.get('before'), 0, 0, Number.MAX_SAFE_INTEGER) : undefined;
    const decision = q.get('decision') || undefined;
    const limit = clampInt(q.get('limit'), 50, 1, 200);
    const rows = await this.core.store.console.search({ ...(requestId ? { requestId } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}), ...(before !== undefined ? { beforeSeq: before } : {}), ...(decision ? { decision } : {}), limit });
    const cp = await this.core.store.audit.latestCheckpoint();
    return { records: rows.map((r) => ({ ...recordView(r), department: this.core.departments.name(r.department ?? '') })), checkpoint_size: cp ? checkpointSize(cp.note) : 0 };
  }

  private async auditProof(c: Ctx) {
    const index = clampInt(c.url.searchParams.get('index'), -1, -1, Number.MAX_SAFE_INTEGER);
    if (index < 0) throw problem(400, 'invalid_index', '索引を指定してください', 'Give an index');
    const cp = await this.core.store.audit.latestCheckpoint();
    const size = cp ? checkpointSize(cp.note) : 0;
    if (!cp || index >= size) {
      throw problem(409, 'not_yet_checkpointed', `索引 ${index} はまだチェックポイントに含まれていません。次のチェックポイント (${this.config.audit.checkpoint_interval_ms / 1000} 秒以内) を待ってください`, `Index ${index} is not in a checkpoint yet; wait for the next one (within ${this.config.audit.checkpoint_interval_ms / 1000} s)`);
    }
    const entry = await this.core.store.audit.entry(index);
    if (!entry) throw problem(404, 'not_found', `索引 ${index} の記録はありません`, `No entry at index ${index}`);
    const proof = await this.core.audit.inclusion(index, size);
    return { index, tree_size: size, entry: entry.toString('base64'), proof: proof.map((h) => h.toString('base64')), checkpoint: cp.note, vkey: this.core.audit.vkey, origin: this.core.audit.origin };
  }

  private async auditCheckpoints(c: Ctx) {
    const before = c.url.searchParams.get('before') ? clampInt(c.url.searchParams.get('before'), 0, 0, Number.MAX_SAFE_INTEGER) : undefined;
    const rows = await this.core.store.console.checkpoints(clampInt(c.url.searchParams.get('limit'), 20, 1, 100), before);
    return {
      vkey: this.core.audit.vkey,
      checkpoints: rows.map((r) => {
        let root = '';
        let signatures = 0;
        try {
          const n = parseNote(r.note);
          root = parseCheckpointBody(n.text).root.toString('base64');
          signatures = n.sigs.length;
        } catch {
          /* shown as is */
        }
        return { size: r.size, ts: r.ts, root, signatures, note: r.note };
      }),
    };
  }

  private requireThreats(): ThreatsAdmin {
    if (!this.o.threats) throw problem(501, 'threats_unavailable', '脅威検知は有効になっていません', 'Threat detection is not enabled');
    return this.o.threats;
  }

  private async threats() {
    if (!this.o.threats) return { enabled: false, alerts: [], incidents: [] };
    const [alerts, incidents] = await Promise.all([this.o.threats.alerts({ limit: 100 }), this.o.threats.incidents({ limit: 100 })]);
    return { enabled: true, alerts, incidents };
  }

  private async threatApprove(c: Ctx) {
    const t = this.requireThreats();
    const inc = await t.approve(c.params[0]!, c.admin.kind === 'service' ? `key:${c.admin.name}` : this.core.audit.committer.pseudonym(c.admin.id));
    this.event('threat.approved', c.admin, { incident: c.params[0]! });
    return inc;
  }

  private async threatStix(c: Ctx) {
    const t = this.requireThreats();
    const bundle = await t.exportStix(c.params[0]!);
    const text = JSON.stringify(bundle, null, 2);
    c.res.writeHead(200, {
      'content-type': 'application/stix+json;version=2.1',
      'content-disposition': `attachment; filename="incident-${c.params[0]!.replace(/[^A-Za-z0-9._-]/g, '_')}.stix.json"`,
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(text),
    });
    c.res.end(text);
    return undefined;
  }

  private async adoption(c: Ctx) {
    const n = clampInt(c.url.searchParams.get('weeks'), 8, 1, 52);
    const now = new Date(this.now());
    const start = weekStart(now, n - 1);
    const weeks: string[] = [];
    for (let i = 0; i < n; i++) weeks.push(isoWeek(new Date(start.getTime() + i * 7 * 86_400_000).toISOString().slice(0, 10)));
    const [rows, wf] = await Promise.all([this.core.store.console.adoption(start.toISOString()), this.core.store.console.workforce(now.toISOString())]);
    const d = this.core.departments;
    return {
      weeks,
      since: start.toISOString(),
      ...adoptionReport(
        rows.map((r) => ({ ...r, department: d.name(r.department) })),
        wf.map((w) => ({ ...w, department: d.name(w.department) })),
        weeks,
      ),
    };
  }

  private async settings() {
    const v = this.core.vault;
    const cfg = this.config;
    return {
      vault: await vaultStatus(v),
      retention: Object.fromEntries(LEVEL_NAMES.map((l) => [l, cfg.vault.retention[l] ?? 'metadata'])),
      max_retained_bytes: cfg.vault.max_retained_bytes,
      audit: { origin: this.core.audit.origin, vkey: this.core.audit.vkey, size: this.core.audit.size, checkpoint_interval_ms: cfg.audit.checkpoint_interval_ms, witnesses: cfg.audit.witnesses.map((w) => w.name), read_access: cfg.audit.read.access },
      identity: this.core.identity
        ? { origin: this.core.identity.origin, did: this.core.identity.did, signing_alg: cfg.identity.signing_alg, keys: this.core.identity.keys.published(new Date(this.now())).map((k) => ({ kid: k.kid, alg: k.alg, publish_until: k.publishUntil ?? null })), session_ttl_s: cfg.identity.session_ttl_s }
        : null,
      api_keys: (await this.core.store.apiKeys.list()).map((k) => ({ id: k.id, name: k.name, prefix: k.prefix, default_level: k.default_level, max_level: k.max_level, created_at: k.created_at, revoked_at: k.revoked_at, admin: cfg.admin.api_keys.includes(k.name) })),
      admin: { api_keys: cfg.admin.api_keys, roles: cfg.admin.roles, console_idle_s: IDLE_MS / 1000 },
      policy: { pack: cfg.policy.pack, version: this.core.policy.guard?.version ?? null },
    };
  }
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function csrfProblem(): ConsoleProblem {
  return problem(403, 'csrf_token_invalid', 'CSRF トークンがないか正しくありません。ページを再読み込みしてください', 'The CSRF token is missing or wrong; reload the page');
}

function clampInt(v: string | null, def: number, min: number, max: number): number {
  if (v === null || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n)) return def;
  return Math.min(max, Math.max(min, n));
}

function isoParam(v: string | null, name: string): string | undefined {
  if (!v) return undefined;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw problem(400, 'invalid_time', `${name} の日時が正しくありません`, `${name} is not a valid time`);
  return new Date(t).toISOString();
}

function checkpointSize(note: string): number {
  const m = /^[^\n]*\n(\d+)\n/.exec(note);
  return m ? Number(m[1]) : 0;
}

export function recordView(r: DecisionRecord) {
  return {
    index: r.seq,
    request_id: r.request_id,
    ts: r.ts,
    principal: r.principal,
    endpoint: r.endpoint,
    model: r.model,
    level: r.level,
    flags: r.flags,
    findings: r.findings,
    decision: r.decision,
    reason: r.reason,
    backend: r.backend,
    status: r.status,
    duration_ms: r.duration_ms,
    upstream_ms: r.upstream_ms,
    department: r.department ?? '',
    trained: r.trained ?? null,
  };
}

export { StaticAssets } from './static.js';

