/**
 * Threat detection at the checkpoint: the content detectors and the Sigma rules decide; the
 * strongest action wins (quarantine > block > step_up > alert > log). Detection is synchronous
 * and never waits on the database: alerts and incidents are queued and written in batches.
 *
 * Also: admission (quarantined principals, source addresses refused after brute force, rate
 * limits and token budgets via `Counters`), failed authentications (correlation rules per source
 * IP and per credential), per-identity anomalies (median/MAD baselines, the tenant's for new
 * identities), and the administrator's view (`ThreatsAdmin`): alerts, incidents, approval and
 * STIX export. Nothing leaves the organisation before an administrator approves it.
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Principal } from '../identity/principal.js';
import type { Counters, Bus } from '../store/shared.js';
import type { ThreatAlertRow, ThreatIncidentRow, ThreatStore } from '../store/index.js';
import type { ThreatsConfig } from '../config/schema.js';
import type { Logger } from '../ops/log.js';
import type { AlertView, IncidentView, ThreatAction, ThreatsAdmin, ThreatType } from './admin.js';
import { scanAnswer, scanText, PromptFingerprint, type Channel, type ThreatHit } from './detect.js';
import { loadRules, matches, type Rule, type SekishoEvent } from './sigma.js';
import { incidentBundle, jpcertReport } from './stix.js';
import { uuidv7 } from '../ops/ids.js';
import { HttpProblem } from '../ops/problem.js';

export const BUILTIN_RULES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../rules');
const RANK: Record<ThreatAction, number> = { log: 0, alert: 1, step_up: 2, block: 3, quarantine: 4 };
const SEV_RANK = { low: 0, medium: 1, high: 2, critical: 3 } as const;

export interface Segment {
  role: string;
  text: string;
}

export interface Verdict {
  action: ThreatAction;
  hits: ThreatHit[];
  /** The rule that chose the action. */
  rule: Rule | undefined;
  alerts: AlertView[];
  /** Every rule that fired (correlations included). */
  fired: Rule[];
}

export interface Refusal {
  status: number;
  code: string;
  ja: string;
  en: string;
  retryAfterS?: number;
}

export interface ThreatDeps {
  config: ThreatsConfig;
  configDir: string;
  counters: Counters;
  bus: Bus;
  store: ThreatStore;
  log: Logger;
  tenant: { id: string; name: string };
  /** Records approvals in the audit log. */
  audit?: { appendEvent(kind: string, fields: Record<string, unknown>): Promise<number> };
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

/** The channel of a chat message: tool results and function outputs are indirect. */
export function channelOf(role: string): Channel | undefined {
  if (role === 'tool' || role === 'function' || role === 'document') return 'tool';
  if (role === 'user') return 'prompt';
  return undefined; // system / developer / assistant: the application's own text
}

export class ThreatEngine implements ThreatsAdmin {
  readonly rules: Rule[];
  readonly threshold: number;
  private readonly quarantined = new Set<string>();
  private readonly blockedSources = new Map<string, number>();
  /** Credentials (hashes) locked after credential stuffing: until when. */
  private readonly blockedCredentials = new Map<string, number>();
  /** Principals that must present afresh: when the step-up was required (ms since epoch). */
  private readonly stepUps = new Map<string, number>();
  private unsubscribeStepUp: (() => void) | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  /** Quarantines this process decided lately (their rows may not be written yet). */
  private readonly recentQuarantines = new Map<string, number>();
  private pendingAlerts: ThreatAlertRow[] = [];
  private pendingIncidents = new Map<string, ThreatIncidentRow>();
  private openIncidents = new Map<string, ThreatIncidentRow>();
  private flushTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly now: () => number;
  private readonly anomaly = new Anomaly();
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly d: ThreatDeps) {
    this.now = d.now ?? Date.now;
    this.threshold = d.config.threshold;
    const rules: Rule[] = [];
    if (d.config.builtin_rules) rules.push(...loadRules(BUILTIN_RULES_DIR));
    if (d.config.rules_dir) rules.push(...loadRules(path.resolve(d.configDir, d.config.rules_dir)));
    for (const r of rules) {
      const over = d.config.actions[r.id] ?? (r.name ? d.config.actions[r.name] : undefined);
      if (over) r.action = over;
      if (r.correlation && r.name === 'sekisho-brute-force-ip') r.correlation.gte = d.config.auth.max_failures_per_ip;
      if (r.correlation && r.name === 'sekisho-credential-stuffing') r.correlation.gte = d.config.auth.max_failures_per_credential;
      if (r.correlation) r.correlation.timespanMs = r.name?.startsWith('sekisho-') && r.correlation.groupBy.some((g) => g === 'source_ip' || g === 'credential') ? d.config.auth.window_s * 1000 : r.correlation.timespanMs;
    }
    this.rules = rules;
  }

  async start(): Promise<void> {
    for (const p of await this.d.store.quarantined()) this.quarantined.add(p);
    // The store is the truth: a release by `sekisho threats release` (another process, no bus
    // without Redis) or a lost bus message is picked up within QUARANTINE_SYNC_MS.
    this.syncTimer = setInterval(() => void this.syncQuarantine(), QUARANTINE_SYNC_MS);
    this.syncTimer.unref();
    this.unsubscribe = await this.d.bus.subscribe('threats.quarantine', (m) => {
      try {
        const msg = JSON.parse(m) as { principal: string; on: boolean };
        if (msg.on) (this.quarantined.add(msg.principal), this.recentQuarantines.set(msg.principal, this.now()));
        else (this.quarantined.delete(msg.principal), this.recentQuarantines.delete(msg.principal));
      } catch {
        /* not ours */
      }
    });
    this.unsubscribeStepUp = await this.d.bus.subscribe('threats.step_up', (m) => {
      try {
        const msg = JSON.parse(m) as { principal: unknown; at: unknown };
        if (typeof msg.principal === 'string' && typeof msg.at === 'number') this.markStepUp(msg.principal, msg.at);
      } catch {
        /* not ours */
      }
    });
  }

  // ------------------------------------------------------------ admission

  /** Before the body is read: quarantined principals and refused source addresses. */
  refusedSource(ip: string | undefined): Refusal | undefined {
    if (!ip) return undefined;
    const until = this.blockedSources.get(ip);
    if (until === undefined) return undefined;
    if (until <= this.now()) {
      this.blockedSources.delete(ip);
      return undefined;
    }
    return { status: 429, code: 'source_blocked', ja: '認証の失敗が続いたため、この送信元からの要求を一時的に拒否しています', en: 'Too many failed authentications: requests from this address are refused for a while', retryAfterS: Math.ceil((until - this.now()) / 1000) };
  }

  /** Before the credential is checked: a credential locked after credential stuffing. `credential` is its hash. */
  refusedCredential(credential: string): Refusal | undefined {
    if (this.blockedCredentials.size === 0) return undefined;
    const until = this.blockedCredentials.get(credential);
    if (until === undefined) return undefined;
    if (until <= this.now()) {
      this.blockedCredentials.delete(credential);
      return undefined;
    }
    return { status: 429, code: 'credential_locked', ja: 'この資格情報への失敗した試行が多数の送信元から続いたため、一時的に受け付けていません', en: 'Too many failed attempts on this credential from many addresses: it is locked for a while', retryAfterS: Math.ceil((until - this.now()) / 1000) };
  }

  /** Whether any credential is locked (callers skip hashing the credential otherwise). */
  get locksCredentials(): boolean {
    return this.blockedCredentials.size > 0;
  }

  async admit(principal: Principal, requestId: string): Promise<Refusal | undefined> {
    if (this.quarantined.has(principal.id)) {
      return { status: 403, code: 'principal_quarantined', ja: 'この利用者は脅威検知により隔離されています。管理者に解除を依頼してください', en: 'This principal is quarantined by threat detection. Ask an administrator to release it' };
    }
    if (this.stepUps.size > 0) {
      const at = this.stepUps.get(principal.id);
      // Only a session opened by a presentation after the step-up is accepted.
      if (at !== undefined && principal.authTime !== undefined && principal.authTime <= at) {
        return { status: 401, code: 'step_up_required', ja: '追加の本人確認が必要です。資格情報をもう一度提示して新しいセッションを取得してください (sekisho login)', en: 'A fresh presentation of your credential is required: present it again for a new session (sekisho login)' };
      }
    }
    const L = this.d.config.limits;
    const checks: [number | undefined, string, string, number][] = [
      [L.principal_requests_per_minute, `rl:p:${principal.id}`, 'principal_rate', 60_000],
      [L.tenant_requests_per_minute, 'rl:tenant', 'tenant_rate', 60_000],
    ];
    for (const [limit, key, kind, win] of checks) {
      if (!limit) continue;
      const n = await this.d.counters.add(key, 1, win);
      if (n > limit) return this.limitExceeded(principal, kind, win, requestId);
    }
    const budgets: [number | undefined, string, string][] = [
      [L.principal_tokens_per_day, `tok:p:${principal.id}`, 'principal_tokens'],
      [L.tenant_tokens_per_day, 'tok:tenant', 'tenant_tokens'],
    ];
    for (const [limit, key, kind] of budgets) {
      if (limit && (await this.d.counters.get(key, 86_400_000)) >= limit) return this.limitExceeded(principal, kind, 86_400_000, requestId);
    }
    return undefined;
  }

  private limitExceeded(principal: Principal, kind: string, windowMs: number, requestId: string): Refusal {
    this.fire({ event: 'limit_exceeded', limit: kind, principal: principal.id }, principal.id, requestId, 1);
    const retry = Math.max(1, Math.ceil((windowMs - (this.now() % windowMs)) / 1000));
    return kind.endsWith('tokens')
      ? { status: 429, code: 'token_budget_exceeded', ja: `トークンの上限 (${kind.startsWith('tenant') ? 'テナント' : '利用者'}・1日) に達しました`, en: `The ${kind.startsWith('tenant') ? "tenant's" : "principal's"} daily token budget is used up`, retryAfterS: retry }
      : { status: 429, code: 'rate_limited', ja: `要求が多すぎます (${kind.startsWith('tenant') ? 'テナント' : '利用者'}の上限)。しばらくしてから再試行してください`, en: `Too many requests (${kind.startsWith('tenant') ? 'tenant' : 'principal'} limit). Retry later`, retryAfterS: retry };
  }

  /** After an answer: tokens count against the budgets; the request feeds the anomaly baselines. */
  observe(principal: Principal, backend: string | null, tokens: number, requestId: string): void {
    tokens = Math.max(0, Math.round(tokens));
    if (tokens > 0) {
      // Best effort: the answer is already given; a shared store that is down is reported once per request.
      const fail = (e: unknown) => this.d.log.warn({ err: (e as Error).message }, 'threats: token use not counted');
      void this.d.counters.add(`tok:p:${principal.id}`, tokens, 86_400_000).catch(fail);
      void this.d.counters.add('tok:tenant', tokens, 86_400_000).catch(fail);
    }
    if (!this.d.config.anomaly.enabled) return;
    for (const a of this.anomaly.observe(principal.id, backend, tokens, this.now(), this.d.config.anomaly)) {
      this.fire({ event: 'anomaly', metric: a.metric, z: a.z, principal: principal.id }, principal.id, requestId, Math.min(1, a.z / (2 * this.d.config.anomaly.mad_threshold)));
    }
  }

  /** A failed authentication (API key, session, presentation) from `ip` with `credential` (a hash; undefined when the request named none). */
  authFailure(ip: string | undefined, credential: string | undefined, endpoint: string): void {
    const ev: SekishoEvent = { event: 'auth_failure', source_ip: ip ?? 'unknown', endpoint, ...(credential ? { credential } : {}) };
    const v = this.evaluate([ev], 'anonymous', null, 1);
    // A correlation rule that blocks refuses what it counted: the source address, or the credential.
    const until = this.now() + this.d.config.auth.block_s * 1000;
    for (const rule of v.fired) {
      if (RANK[rule.action] < RANK.block || !rule.correlation) continue;
      if (rule.correlation.groupBy.includes('source_ip') && ip) this.blockedSources.set(ip, until);
      if (rule.correlation.groupBy.includes('credential') && credential) {
        if (this.blockedCredentials.size > 100_000) this.blockedCredentials.clear();
        this.blockedCredentials.set(credential, until);
      }
    }
  }

  /**
   * A step-up was required of `principal`: its sessions opened until now are refused; it must
   * present its credential again. Every node hears it (the bus).
   */
  requireStepUp(principal: Principal): void {
    if (principal.authTime === undefined) return; // an API key cannot present anything: the request alone is refused
    const at = this.now();
    this.markStepUp(principal.id, at);
    void this.d.bus.publish('threats.step_up', JSON.stringify({ principal: principal.id, at })).catch((e) => this.d.log.warn({ err: (e as Error).message }, 'threats: step-up not shared'));
  }

  private markStepUp(principal: string, at: number): void {
    if ((this.stepUps.get(principal) ?? -Infinity) >= at) return;
    if (this.stepUps.size > 100_000) this.stepUps.clear();
    this.stepUps.set(principal, at);
  }

  // ------------------------------------------------------------ content

  /** The inspect stage: every user and tool text of the request (system prompts are the app's). */
  inspectRequest(principal: Principal, segments: readonly Segment[], requestId: string): Verdict {
    if (!this.d.config.enabled) return { action: 'log', hits: [], rule: undefined, alerts: [], fired: [] };
    const events: SekishoEvent[] = [];
    const hits: ThreatHit[] = [];
    for (const s of segments) {
      const channel = channelOf(s.role);
      if (!channel || !s.text) continue;
      const r = scanText(s.text, channel);
      for (const h of r.hits) {
        hits.push(h);
        events.push({ event: 'content', detector: h.detector, type: h.type, score: h.score, attack: h.score >= this.threshold, channel, principal: principal.id, obfuscation: r.obfuscation, features: h.features });
      }
    }
    if (!events.length) return { action: 'log', hits, rule: undefined, alerts: [], fired: [] };
    return { ...this.evaluate(events, principal.id, requestId, Math.max(...hits.map((h) => h.score))), hits };
  }

  /** The answer side: the whole answer text, the request's system prompt, secrets found by the inspector. */
  inspectAnswer(principal: Principal, answer: string, fp: PromptFingerprint | undefined, secrets: number, requestId: string): Verdict {
    if (!this.d.config.enabled) return { action: 'log', hits: [], rule: undefined, alerts: [], fired: [] };
    const r = scanAnswer(answer, fp, secrets);
    if (!r.hits.length) return { action: 'log', hits: [], rule: undefined, alerts: [], fired: [] };
    const events = r.hits.map((h) => ({ event: 'content', detector: h.detector, type: h.type, score: h.score, attack: h.score >= this.threshold, channel: 'answer', principal: principal.id, features: h.features }) as SekishoEvent);
    return { ...this.evaluate(events, principal.id, requestId, r.max), hits: r.hits };
  }

  private fire(ev: SekishoEvent, principal: string, requestId: string | null, score: number): Verdict {
    return this.evaluate([ev], principal, requestId, score);
  }

  /** Runs the rules over the events; records alerts (not for `log`); returns the strongest action. */
  private evaluate(events: SekishoEvent[], principal: string, requestId: string | null, score: number): Verdict {
    let best: Rule | undefined;
    const fired: { rule: Rule; score: number }[] = [];
    for (const rule of this.rules) {
      if (!rule.detection) continue;
      const hit = events.find((e) => matches(rule, e));
      if (!hit) continue;
      fired.push({ rule, score: typeof hit.score === 'number' ? hit.score : score });
      for (const c of this.rules) {
        if (!c.correlation || !c.correlation.rules.some((x) => x === rule.id || x === rule.name)) continue;
        // An event without a group-by field (a failure that named no credential) is not counted by that correlation.
        const values = c.correlation.groupBy.map((g) => hit[g] ?? (g === 'principal' ? principal : undefined));
        if (values.some((v) => v === undefined || v === '')) continue;
        const group = values.map(String).join('|');
        const n = this.countSync(`corr:${c.id}:${group}`, c.correlation.timespanMs);
        if (n >= c.correlation.gte) fired.push({ rule: c, score: 1 });
      }
    }
    const alerts: AlertView[] = [];
    for (const f of fired) {
      if (!best || RANK[f.rule.action] > RANK[best.action] || (RANK[f.rule.action] === RANK[best.action] && SEV_RANK[f.rule.level] > SEV_RANK[best.level])) best = f.rule;
      if (f.rule.action === 'log') {
        // `log`: a line in the gateway's log, no alert (failed authentications are counted, not logged one by one).
        if (!events.some((e) => e.event === 'auth_failure')) this.d.log.info({ rule: f.rule.name ?? f.rule.id, type: f.rule.threatType ?? events[0]?.type, principal, request_id: requestId, score: Math.round(f.score * 1000) / 1000 }, 'threat logged');
        continue;
      }
      alerts.push(this.alert(f.rule, principal, requestId, f.score, events));
    }
    if (best?.action === 'quarantine' && principal !== 'anonymous') this.quarantine(principal, best.id);
    return { action: best?.action ?? 'log', hits: [], rule: best, alerts, fired: fired.map((f) => f.rule) };
  }

  /** Correlation counts: the in-process view is exact for one node; `Counters` is written too (shared). */
  private readonly local = new Map<string, { start: number; n: number }>();
  private countSync(key: string, windowMs: number): number {
    const t = this.now();
    let w = this.local.get(key);
    if (!w || t - w.start >= windowMs) {
      if (this.local.size > 100_000) this.local.clear();
      w = { start: t, n: 0 };
      this.local.set(key, w);
    }
    w.n++;
    void this.d.counters.add(key, 1, windowMs).catch(() => undefined);
    return w.n;
  }

  private async syncQuarantine(): Promise<void> {
    try {
      const rows = new Set(await this.d.store.quarantined());
      const t = this.now();
      for (const [p, at] of this.recentQuarantines) if (t - at > 10 * QUARANTINE_SYNC_MS) this.recentQuarantines.delete(p);
      for (const p of this.quarantined) if (!rows.has(p) && !this.recentQuarantines.has(p)) this.quarantined.delete(p);
      for (const p of rows) this.quarantined.add(p);
    } catch (e) {
      this.d.log.warn({ err: (e as Error).message }, 'threats: quarantine list not read');
    }
  }

  private quarantine(principal: string, rule: string): void {
    if (this.quarantined.has(principal)) return;
    this.quarantined.add(principal);
    this.recentQuarantines.set(principal, this.now());
    const at = new Date(this.now()).toISOString();
    void this.d.store.setQuarantine(principal, true, at, rule).catch((e) => this.d.log.error({ err: (e as Error).message }, 'threats: quarantine not stored'));
    void this.d.bus.publish('threats.quarantine', JSON.stringify({ principal, on: true })).catch(() => undefined);
  }

  /** An administrator releases a quarantined principal. */
  async release(principal: string, admin: string): Promise<boolean> {
    const was = this.quarantined.delete(principal);
    this.recentQuarantines.delete(principal);
    await this.d.store.setQuarantine(principal, false, new Date(this.now()).toISOString(), '');
    await this.d.bus.publish('threats.quarantine', JSON.stringify({ principal, on: false }));
    await this.d.audit?.appendEvent('threats.released', { principal, admin });
    return was;
  }

  isQuarantined(principal: string): boolean {
    return this.quarantined.has(principal);
  }

  // ------------------------------------------------------------ alerts and incidents

  private alert(rule: Rule, principal: string, requestId: string | null, score: number, events: SekishoEvent[]): AlertView {
    const type = (rule.threatType ?? (events[0]?.type as ThreatType | undefined) ?? 'ANOMALY') as ThreatType;
    const ts = new Date(this.now()).toISOString();
    // One incident per principal while its alerts keep coming (one request's alerts, an attack
    // campaign); failed authentications have no principal: one per rule.
    const key = principal === 'anonymous' ? `anonymous|${rule.id}` : principal;
    let inc = this.openIncidents.get(key);
    if (!inc || Date.parse(inc.updated_at) < this.now() - this.d.config.incident_window_s * 1000 || inc.status !== 'open') {
      inc = { id: `inc-${uuidv7()}`, group_key: key, opened_at: ts, updated_at: ts, title: rule.title, title_ja: rule.titleJa ?? null, severity: rule.level, status: 'open', alert_count: 0, principals: JSON.stringify([principal]), approved_by: null, approved_at: null };
      this.openIncidents.set(key, inc);
      if (this.openIncidents.size > 10_000) this.openIncidents.delete(this.openIncidents.keys().next().value!);
    } else if (SEV_RANK[rule.level] > SEV_RANK[inc.severity as keyof typeof SEV_RANK]) {
      // The incident is named after its most severe rule.
      inc.severity = rule.level;
      inc.title = rule.title;
      inc.title_ja = rule.titleJa ?? null;
    }
    inc.alert_count++;
    inc.updated_at = ts;
    const view: AlertView = { id: `alert-${uuidv7()}`, ts, principal, type, rule: rule.name ?? rule.id, severity: rule.level, score: Math.round(score * 1000) / 1000, action: rule.action, request_id: requestId, incident_id: inc.id, owasp: rule.owasp, atlas: rule.atlas };
    this.pendingAlerts.push({ ...view, owasp: JSON.stringify(view.owasp), atlas: JSON.stringify(view.atlas) });
    this.pendingIncidents.set(inc.id, { ...inc });
    this.schedule();
    this.notify(view);
    const metric = events.find((e) => typeof e.metric === 'string')?.metric;
    this.d.log.warn({ alert: view.id, rule: view.rule, type, principal, action: rule.action, request_id: requestId, incident: inc.id, ...(metric ? { metric } : {}) }, 'threat alert');
    return view;
  }

  private schedule(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => void this.flush(), 50);
    this.flushTimer.unref();
  }

  /** Writes queued alerts and incidents (one transaction). */
  flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const alerts = this.pendingAlerts;
    const incidents = [...this.pendingIncidents.values()];
    this.pendingAlerts = [];
    this.pendingIncidents.clear();
    if (!alerts.length && !incidents.length) return this.writing;
    this.writing = this.writing.then(() => this.d.store.write(alerts, incidents)).catch((e) => this.d.log.error({ err: (e as Error).message }, 'threats: alerts not stored'));
    return this.writing;
  }

  async close(): Promise<void> {
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.unsubscribe?.();
    this.unsubscribeStepUp?.();
    await this.flush();
  }

  // ------------------------------------------------------------ outside: webhooks, syslog

  private notify(a: AlertView): void {
    const body = JSON.stringify({ type: 'sekisho.threat.alert', tenant: this.d.tenant.id, alert: a });
    for (const w of this.d.config.webhooks) this.deliver(w, body, 1);
    const sl = this.d.config.syslog;
    if (sl) {
      const sev = { low: 5, medium: 4, high: 3, critical: 2 }[a.severity];
      const msg = syslogLine(4 * 8 + sev, new Date(this.now()).toISOString(), os.hostname(), a);
      if (sl.protocol === 'udp') {
        const sock = dgram.createSocket(net.isIPv6(sl.host) ? 'udp6' : 'udp4');
        sock.on('error', (e) => this.d.log.warn({ err: e.message }, 'threats: syslog failed'));
        sock.send(Buffer.from(msg), sl.port, sl.host, (e) => {
          if (e) this.d.log.warn({ err: e.message }, 'threats: syslog failed');
          sock.close();
        });
      } else {
        const c = net.connect({ host: sl.host, port: sl.port, timeout: 3000 }, () => c.end(`${Buffer.byteLength(msg)} ${msg}`));
        c.on('error', (e) => this.d.log.warn({ err: e.message }, 'threats: syslog failed'));
        c.on('timeout', () => c.destroy());
      }
    }
  }

  /**
   * POSTs one alert to a webhook, signed (HMAC-SHA256 over `t.body`, header
   * `x-sekisho-signature: t=…,v1=…`) when a key is configured; retried twice (0.5 s, 2 s) after a
   * network error, 429 or 5xx. Never awaited by a request: notifications cannot hold up or
   * change a decision.
   */
  private deliver(w: ThreatsConfig['webhooks'][number], body: string, attempt: number): void {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-sekisho-delivery-attempt': String(attempt) };
    const key = w.secret_env ? (this.d.env ?? process.env)[w.secret_env] : undefined;
    const t = String(Math.floor(Date.now() / 1000));
    if (key) headers['x-sekisho-signature'] = `t=${t},v1=${crypto.createHmac('sha256', key).update(`${t}.${body}`).digest('hex')}`;
    const retry = (why: string) => {
      if (attempt >= WEBHOOK_ATTEMPTS) {
        this.d.log.warn({ err: why, url: w.url, attempts: attempt }, 'threats: webhook failed');
        return;
      }
      setTimeout(() => this.deliver(w, body, attempt + 1), 500 * 4 ** (attempt - 1)).unref();
    };
    // Only the configured URL; no redirects; bounded time. Metadata only, never text.
    fetch(w.url, { method: 'POST', headers, body, redirect: 'error', signal: AbortSignal.timeout(w.timeout_ms) }).then(
      (r) => {
        void r.body?.cancel().catch(() => undefined);
        if (r.status === 429 || r.status >= 500) retry(`HTTP ${r.status}`);
        else if (!r.ok) this.d.log.warn({ status: r.status, url: w.url }, 'threats: webhook refused the alert');
      },
      (e) => retry((e as Error).message),
    );
  }

  // ------------------------------------------------------------ ThreatsAdmin

  async alerts(q: { limit: number; before?: string; incident?: string }): Promise<AlertView[]> {
    await this.flush();
    return (await this.d.store.alerts(q)).map(alertView);
  }

  async incidents(q: { limit: number; status?: IncidentView['status'] }): Promise<IncidentView[]> {
    await this.flush();
    return (await this.d.store.incidents(q)).map(incidentView);
  }

  async approve(incidentId: string, admin: string): Promise<IncidentView> {
    await this.flush();
    const row = await this.d.store.incident(incidentId);
    if (!row) throw new HttpProblem(404, 'incident_not_found', `インシデント ${incidentId} はありません`, `No incident ${incidentId}`);
    const at = new Date(this.now()).toISOString();
    const updated: ThreatIncidentRow = { ...row, status: 'approved', approved_by: admin, approved_at: at };
    // The approval is an audit-log event before anything can leave.
    await this.d.audit?.appendEvent('threats.approved', { incident: incidentId, admin, alerts: row.alert_count });
    await this.d.store.write([], [updated]);
    for (const [k, v] of this.openIncidents) if (v.id === incidentId) this.openIncidents.delete(k);
    // The approved bundle becomes visible to TAXII clients.
    const bundle = await this.exportStix(incidentId);
    const objects = (bundle.objects as Record<string, unknown>[]).map((o) => ({ id: String(o.id), version: String(o.modified ?? o.created ?? at), date_added: at, object: JSON.stringify(o) }));
    await this.d.store.putTaxiiObjects(SHARED_COLLECTION, objects);
    return incidentView(updated);
  }

  async exportStix(incidentId: string): Promise<Record<string, unknown>> {
    const { inc, alerts } = await this.approved(incidentId);
    return incidentBundle(inc, alerts, { tenant: this.d.tenant, tlp: 'amber', rules: this.rules });
  }

  /** The JPCERT/CC-style report (Japanese) of an approved incident. */
  async exportJpcert(incidentId: string): Promise<string> {
    const { inc, alerts } = await this.approved(incidentId);
    return jpcertReport(inc, alerts, { tenant: this.d.tenant });
  }

  private async approved(incidentId: string): Promise<{ inc: IncidentView; alerts: AlertView[] }> {
    await this.flush();
    const row = await this.d.store.incident(incidentId);
    if (!row) throw new HttpProblem(404, 'incident_not_found', `インシデント ${incidentId} はありません`, `No incident ${incidentId}`);
    if (row.status !== 'approved' && row.status !== 'shared') {
      throw new HttpProblem(409, 'not_approved', 'このインシデントは管理者の承認前のため、外部に出せません', 'This incident has not been approved by an administrator, so it cannot leave the organisation');
    }
    const alerts = (await this.d.store.alerts({ limit: 10_000, incident: incidentId })).map(alertView);
    return { inc: incidentView(row), alerts };
  }

  get store(): ThreatStore {
    return this.d.store;
  }
}

const WEBHOOK_ATTEMPTS = 3;
const QUARANTINE_SYNC_MS = 2000;

export const SHARED_COLLECTION = '6d3d1c5e-0b1f-4f7a-9a51-5e4b1a7c0001';


function alertView(r: ThreatAlertRow): AlertView {
  return { ...r, type: r.type as ThreatType, severity: r.severity as AlertView['severity'], action: r.action as ThreatAction, owasp: JSON.parse(r.owasp) as string[], atlas: JSON.parse(r.atlas) as string[] };
}

function incidentView(r: ThreatIncidentRow): IncidentView {
  return { id: r.id, opened_at: r.opened_at, updated_at: r.updated_at, title: r.title, title_ja: r.title_ja ?? null, severity: r.severity as IncidentView['severity'], status: r.status as IncidentView['status'], alert_count: r.alert_count, principals: JSON.parse(r.principals) as string[], approved_by: r.approved_by };
}

/** RFC 5424: <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG */
export function syslogLine(pri: number, ts: string, host: string, a: AlertView): string {
  const esc = (s: string) => s.replace(/["\\\]]/g, (c) => '\\' + c);
  const sd = `[sekisho@32473 alert="${esc(a.id)}" rule="${esc(a.rule)}" type="${a.type}" severity="${a.severity}" action="${a.action}" principal="${esc(a.principal)}" score="${a.score}" owasp="${a.owasp.join(',')}" atlas="${a.atlas.join(',')}"]`;
  return `<${pri}>1 ${ts} ${host.replace(/\s/g, '') || '-'} sekisho ${process.pid} threat ${sd} ${a.type} ${a.rule}`;
}

// ------------------------------------------------------------ anomalies

interface HourStats {
  hour: number;
  requests: number;
  tokens: number;
}

/**
 * Per identity: hourly request and token counts; a closed hour is compared with the identity's
 * median and MAD over its history (the tenant's pooled history while it has little of its own),
 * hours of the day it never used, and backends it never used.
 */
class Anomaly {
  private readonly ids = new Map<string, { hours: HourStats[]; cur: HourStats; activeHours: Set<number>; backends: Set<string> }>();
  private readonly tenant: number[] = [];
  private readonly tenantTokens: number[] = [];

  observe(id: string, backend: string | null, tokens: number, now: number, cfg: ThreatsConfig['anomaly']): { metric: string; z: number }[] {
    const hour = Math.floor(now / 3_600_000);
    let s = this.ids.get(id);
    const out: { metric: string; z: number }[] = [];
    if (!s) {
      if (this.ids.size > 50_000) this.ids.clear();
      s = { hours: [], cur: { hour, requests: 0, tokens: 0 }, activeHours: new Set(), backends: new Set() };
      this.ids.set(id, s);
    }
    if (s.cur.hour !== hour) {
      s.hours.push(s.cur);
      this.tenant.push(s.cur.requests);
      this.tenantTokens.push(s.cur.tokens);
      if (s.hours.length > 24 * 30) s.hours.shift();
      if (this.tenant.length > 24 * 30 * 10) (this.tenant.shift(), this.tenantTokens.shift());
      s.cur = { hour, requests: 0, tokens: 0 };
    }
    s.cur.requests++;
    s.cur.tokens += tokens;
    const own = s.hours.length >= cfg.min_history_hours;
    const reqBase = own ? s.hours.map((h) => h.requests) : this.tenant;
    const tokBase = own ? s.hours.map((h) => h.tokens) : this.tenantTokens;
    // Only the crossing of the threshold fires (once per hour and metric).
    const z1 = robustZ(s.cur.requests, reqBase);
    if (z1 >= cfg.mad_threshold && robustZ(s.cur.requests - 1, reqBase) < cfg.mad_threshold) out.push({ metric: 'requests_per_hour', z: z1 });
    const z2 = robustZ(s.cur.tokens, tokBase);
    if (tokens > 0 && z2 >= cfg.mad_threshold && robustZ(s.cur.tokens - tokens, tokBase) < cfg.mad_threshold) out.push({ metric: 'tokens_per_hour', z: z2 });
    const hod = new Date(now).getUTCHours();
    if (own && !s.activeHours.has(hod) && s.cur.requests === 1) out.push({ metric: 'unusual_hour', z: cfg.mad_threshold });
    s.activeHours.add(hod);
    if (backend && own && !s.backends.has(backend)) out.push({ metric: 'new_backend', z: cfg.mad_threshold });
    if (backend) s.backends.add(backend);
    return out;
  }
}

function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

/** (x − median) / (1.4826 · MAD), with a floor on the MAD so that a flat history is not infinitely tight. */
export function robustZ(x: number, history: number[]): number {
  if (history.length < 8) return 0;
  const med = median(history);
  const mad = median(history.map((h) => Math.abs(h - med)));
  return (x - med) / (1.4826 * Math.max(mad, 1, med * 0.1));
}

export { PromptFingerprint };
