/**
 * Configuration generations: the policy, routes, backends and checkpoint of one configuration.
 * A request runs on the generation current when it starts; a reload (SIGHUP, or
 * `config.reload` on the bus) builds a new generation from the re-read file and makes it current
 * for new requests, while requests in flight finish on the old one. Backends whose settings did
 * not change keep their adapter (and connections or loaded model); the others are closed once
 * the last request using them ends.
 */
import { ConfigError, loadConfig, type Config, type LoadedConfig } from '../config/index.js';
import { Policy } from '../policy/index.js';
import { CedarGuard } from '../policy/cedar/index.js';
import type { Router } from '../routing/index.js';
import { createBackend, type BackendAdapter } from '../backends/index.js';
import type { Principal } from '../identity/index.js';
import type { PseudonymMaps } from '../vault/index.js';
import { Checkpoint } from '../checkpoint/index.js';
import { contentStageFor } from '../checkpoint/content.js';
import { Recorder } from '../checkpoint/record.js';
import type { Retainer } from '../checkpoint/retain.js';
import { Relay } from '../checkpoint/relay.js';
import { Routes } from '../checkpoint/routes.js';
import type { Metrics } from '../ops/metrics.js';
import type { Logger } from '../ops/log.js';
import type { AuditLog } from '../audit/log.js';
import type { ThreatEngine } from '../threats/engine.js';
import { backendFacts, policyVersion } from '../audit/config.js';

/** The outcome of a configuration reload. */
export type ReloadResult =
  | { ok: true; policyVersion: string; changed: string[]; restartNeeded: string[] }
  | { ok: false; code: string; ja: string; en: string };

/** The top-level keys a reload applies; every other change needs a restart. */
const RELOADABLE = ['backends', 'models', 'expose_backend_models', 'policy', 'inspect'] as const;
/** Reloadable keys inside otherwise fixed sections. */
const RELOADABLE_IN: Record<string, string[]> = { routing: ['max_attempts'], limits: ['max_response_bytes'] };

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The running configuration with the reloadable parts of `next`: what a reload applies. Also
 * returns the keys that changed and those whose change waits for a restart.
 */
export function mergeReloadable(running: Config, next: Config): { config: Config; changed: string[]; restartNeeded: string[] } {
  const changed: string[] = [];
  const restartNeeded: string[] = [];
  const merged: Record<string, unknown> = { ...running };
  const r = running as Record<string, unknown>;
  const n = next as Record<string, unknown>;
  for (const k of new Set([...Object.keys(r), ...Object.keys(n)])) {
    const a = r[k];
    const b = n[k];
    if ((RELOADABLE as readonly string[]).includes(k)) {
      merged[k] = b;
      if (!same(a, b)) changed.push(k);
    } else if (same(a, b)) {
      continue;
    } else if (isObj(a) && isObj(b)) {
      const sub: Record<string, unknown> = { ...a };
      for (const sk of new Set([...Object.keys(a), ...Object.keys(b)])) {
        if (same(a[sk], b[sk])) continue;
        if (RELOADABLE_IN[k]?.includes(sk)) {
          sub[sk] = b[sk];
          changed.push(`${k}.${sk}`);
        } else restartNeeded.push(`${k}.${sk}`);
      }
      merged[k] = sub;
    } else restartNeeded.push(k);
  }
  return { config: merged as Config, changed, restartNeeded };
}

interface AdapterSlot {
  adapter: BackendAdapter;
  /** The backend's configuration (JSON): a reload keeps the adapter while it does not change. */
  key: string;
}

/** One configuration's policy, routes, backends and checkpoint. */
export interface Generation {
  loaded: LoadedConfig;
  version: string;
  policy: Policy;
  routes: Routes;
  recorder: Recorder;
  checkpoint: Checkpoint;
  adapters: Map<string, AdapterSlot>;
  inflight: number;
  /** Set when a newer generation took over: runs once the last request on this one ends. */
  retire?: (() => void) | undefined;
}

/** What every generation shares (not reloadable). */
export interface GenerationDeps {
  log: Logger;
  audit: AuditLog;
  auth: { authenticate(h: string | undefined): Principal | Promise<Principal> };
  router: Router;
  metrics: Metrics;
  retainer: Retainer | undefined;
  pseudonyms: PseudonymMaps;
  /** Department pseudonyms for the decision records (the console's adoption page). */
  departments?: { pseudonym(name: string): string };
  env: NodeJS.ProcessEnv | undefined;
  /** Called with the policy version of the first generation and of each reload that changes it. */
  onPolicy(version: string, config: Config): void;
  /** Threat detection (issue #7), shared by every generation. */
  threats?: ThreatEngine | undefined;
}

/** Builds a generation, reusing `prev`'s adapters for backends whose configuration is unchanged. */
async function build(loaded: LoadedConfig, d: GenerationDeps, prev?: Generation): Promise<Generation> {
  const { config } = loaded;
  const adapters = new Map<string, AdapterSlot>();
  const created: BackendAdapter[] = [];
  try {
    for (const b of config.backends) {
      const key = JSON.stringify(b);
      const old = prev?.adapters.get(b.id);
      if (old && old.key === key) {
        adapters.set(b.id, old);
        continue;
      }
      const adapter = await createBackend(b, { configDir: loaded.dir, ...(d.env ? { env: d.env } : {}) });
      created.push(adapter);
      adapters.set(b.id, { adapter, key });
    }
    const guard = await CedarGuard.load(config.policy.pack, config.backends, undefined, { levelsFromConfig: Object.keys(config.policy.levels).length > 0 });
    const policy = new Policy(config.backends, config.policy, undefined, guard);
    const routes = new Routes(config);
    const version = policyVersion(config);
    const recorder = new Recorder(d.audit, d.log, backendFacts(config), version);
    const checkpoint = new Checkpoint({
      auth: d.auth,
      policy,
      routes,
      router: d.router,
      relay: new Relay(new Map([...adapters].map(([id, a]) => [id, a.adapter])), d.router, d.metrics),
      recorder,
      metrics: d.metrics,
      log: d.log,
      content: contentStageFor(config, policy),
      retain: d.retainer,
      pseudonyms: d.pseudonyms,
      departments: d.departments,
      limits: { maxAttempts: config.routing.max_attempts, maxResponseBytes: config.limits.max_response_bytes },
      threats: d.threats,
    });
    return { loaded, version, policy, routes, recorder, checkpoint, adapters, inflight: 0 };
  } catch (e) {
    await Promise.allSettled(created.map((a) => a.close()));
    throw e;
  }
}

export class Generations {
  /** The current generation and the retired ones that still have requests in flight. */
  private readonly live = new Set<Generation>();
  private reloading: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private gen: Generation,
    private readonly file: string,
    private readonly d: GenerationDeps,
  ) {
    this.live.add(gen);
  }

  static async start(loaded: LoadedConfig, d: GenerationDeps): Promise<Generations> {
    const g = await build(loaded, d);
    d.onPolicy(g.version, g.loaded.config);
    return new Generations(g, loaded.file, d);
  }

  get current(): Generation {
    return this.gen;
  }

  /** Runs a request on the current generation; it keeps that generation until it ends. */
  async handle(...args: Parameters<Checkpoint['handle']>): Promise<void> {
    const g = this.gen;
    g.inflight++;
    try {
      await g.checkpoint.handle(...args);
    } finally {
      if (--g.inflight === 0 && g.retire) {
        const r = g.retire;
        g.retire = undefined;
        r();
      }
    }
  }

  /** Re-reads the configuration file and swaps generations (one reload at a time). */
  reload(source: string): Promise<ReloadResult> {
    const next = this.reloading.then(
      () => this.reloadOnce(source),
      () => this.reloadOnce(source),
    );
    this.reloading = next;
    return next;
  }

  private async reloadOnce(source: string): Promise<ReloadResult> {
    const log = this.d.log;
    if (this.closed) return { ok: false, code: 'closed', ja: 'ゲートウェイは停止中です', en: 'The gateway is shutting down' };
    let next: LoadedConfig;
    try {
      next = loadConfig(this.file);
    } catch (e) {
      const problems = e instanceof ConfigError ? e.problems : [];
      const ja = problems.length ? problems.map((p) => p.ja).join('\n') : String((e as Error).message);
      const en = problems.length ? problems.map((p) => p.en).join('\n') : String((e as Error).message);
      log.error(
        { source, file: this.file, problems: problems.map((p) => ({ file: p.file, line: p.line, col: p.col, key: p.key })), ja, en },
        `config reload refused; the running configuration stays / 設定の再読み込みを拒否しました (現在の設定のまま): ${en.split('\n')[0]}`,
      );
      return { ok: false, code: 'config_invalid', ja: `設定ファイルに誤りがあるため、現在の設定のままです:\n${ja}`, en: `The configuration file is invalid; the running configuration stays:\n${en}` };
    }
    const old = this.gen;
    const { config: merged, changed, restartNeeded } = mergeReloadable(old.loaded.config, next.config);
    let fresh: Generation;
    try {
      fresh = await build({ ...old.loaded, config: merged }, this.d, old);
    } catch (e) {
      const err = e as { ja?: string; en?: string; message?: string };
      const en = err.en ?? err.message ?? String(e);
      const ja = err.ja ?? en;
      log.error({ source, file: this.file, ja, en }, `config reload failed; the running configuration stays / 設定を適用できません (現在の設定のまま): ${en}`);
      return { ok: false, code: 'config_apply_failed', ja: `設定を適用できないため、現在の設定のままです: ${ja}`, en: `The configuration could not be applied; the running configuration stays: ${en}` };
    }
    if (this.closed) {
      await this.closeUnused(fresh);
      return { ok: false, code: 'closed', ja: 'ゲートウェイは停止中です', en: 'The gateway is shutting down' };
    }
    this.gen = fresh; // new requests run on the new generation from here on
    this.live.add(fresh);
    for (const [id, slot] of old.adapters) if (fresh.adapters.get(id) !== slot) this.d.router.forget(id);
    this.retire(old);
    if (fresh.version !== old.version) this.d.onPolicy(fresh.version, fresh.loaded.config);
    log.info({ source, file: this.file, policy: fresh.version, changed, restart_needed: restartNeeded.length ? restartNeeded : undefined }, 'config reloaded');
    if (restartNeeded.length) {
      log.warn({ keys: restartNeeded }, `config reload: changes to ${restartNeeded.join(', ')} take effect after a restart / ${restartNeeded.join(', ')} の変更は再起動後に反映されます`);
    }
    return { ok: true, policyVersion: fresh.version, changed, restartNeeded };
  }

  /** Once a retired generation's last request ends, closes the adapters no live generation uses. */
  private retire(old: Generation): void {
    const done = () => {
      this.live.delete(old);
      void this.closeUnused(old);
    };
    if (old.inflight === 0) done();
    else old.retire = done;
  }

  private async closeUnused(g: Generation): Promise<void> {
    const inUse = new Set([...this.live].flatMap((x) => [...x.adapters.values()].map((a) => a.adapter)));
    await Promise.allSettled([...g.adapters.values()].filter((a) => !inUse.has(a.adapter)).map((a) => a.adapter.close()));
  }

  /** No reload starts after this; waits for one in progress. */
  async stopReloading(): Promise<void> {
    this.closed = true;
    await this.reloading.catch(() => undefined);
  }

  /** Closes every adapter (call once requests have ended). */
  async close(): Promise<void> {
    await this.stopReloading();
    const all = new Set([...this.live].flatMap((g) => [...g.adapters.values()].map((a) => a.adapter)));
    this.live.clear();
    await Promise.allSettled([...all].map((a) => a.close()));
  }
}
