/**
 * Assembles a gateway from a loaded configuration: store, keys, policy, routing, backends,
 * checkpoint and HTTP server. `close()` shuts down gracefully.
 */
import { openStore, type Store } from '../store/index.js';
import { openVault, PseudonymMaps, type Vault, type VaultEvents } from '../vault/index.js';
import { levelIndex, type Policy } from '../policy/index.js';
import { Router } from '../routing/index.js';
import { Authenticator, AuthError, IdentityService, KeyRing, vaultClaims, type Principal } from '../identity/index.js';
import { handleIdentity, isIdentityPath, type IdentityGuard } from '../identity/http.js';
import { SEALING_PURPOSE } from '../identity/keys.js';
import { CheckpointError, type Checkpoint } from '../checkpoint/index.js';
import type { Recorder } from '../checkpoint/record.js';
import { Retainer } from '../checkpoint/retain.js';
import type { Routes } from '../checkpoint/routes.js';
import type { Config, LoadedConfig } from '../config/index.js';
import { Generations, type ReloadResult } from './generations.js';

export type { ReloadResult } from './generations.js';
import { openSharedState, type SharedState } from '../store/shared-state.js';
import { RedisError } from '../store/redis-errors.js';
import type { Counters, Bus } from '../store/shared.js';
import { Metrics } from '../ops/metrics.js';
import { createLogger, type Logger } from '../ops/log.js';
import { startHttpServer, type RunningServer } from './http.js';
import { AuditLog } from '../audit/log.js';
import { auditKeysFromVault } from '../audit/keys.js';
import { VaultEventImporter } from '../audit/vault-events.js';
import { auditHttp } from '../audit/http.js';
import { auditOrigin } from '../audit/config.js';
import { AdminConsole } from '../console/index.js';
import { Departments } from '../console/departments.js';
import type { ThreatsAdmin } from '../threats/admin.js';
import { ThreatEngine, type Refusal } from '../threats/engine.js';
import { HttpProblem } from '../ops/problem.js';
import { handleThreats, isThreatPath } from '../threats/http.js';

export interface GatewayOptions {
  host?: string;
  port?: number;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
  /** Ask for the key file passphrase on a terminal when it is not in the environment (CLI). */
  interactive?: boolean;
  /** Extra sink for key access, erasure and rotation events (the audit log). */
  vaultEvents?: VaultEvents;
  /** The admin console: threat detection to show (issue #7) and where policy packs live. */
  console?: { threats?: ThreatsAdmin; policiesDir?: string };
  /** The shared state to use instead of the one the configuration names (tests). */
  shared?: SharedState;
  /** The threat engine's clock (anomaly hours, windows); tests move it. Default Date.now. */
  threatsClock?: () => number;
}

/** Everything behind the HTTP server. */
export interface Core {
  /** The checkpoint of the current configuration (a reload replaces it). */
  readonly checkpoint: Checkpoint;
  auth: { authenticate(authorization: string | undefined): Principal | Promise<Principal> };
  /** The tenant as issuer and verifier; absent when `identity.enabled` is false. */
  identity: IdentityService | undefined;
  readonly policy: Policy;
  readonly routes: Routes;
  router: Router;
  readonly recorder: Recorder;
  retainer: Retainer | undefined;
  audit: AuditLog;
  metrics: Metrics;
  store: Store;
  vault: Vault;
  /** Department pseudonyms and their sealed names (the console's adoption page). */
  departments: Departments;
  log: Logger;
  /** Threat detection (issue #7); absent when `threats.enabled` is false. */
  threats: ThreatEngine | undefined;
  /** Counters (rate limits, budgets) and the bus shared by the nodes: Redis, or memory on one node. */
  shared: SharedState;
  counters: Counters;
  bus: Bus;
  /** The configuration in force (reloadable parts as last reloaded). */
  readonly loaded: LoadedConfig;
  /** Runs a request on the current configuration; requests in flight during a reload finish on the old one. */
  handle: Checkpoint['handle'];
  /**
   * Re-reads the configuration file, validates it, and swaps policy, routes and backends
   * atomically for new requests. An invalid file keeps the running configuration.
   */
  reload(source: string): Promise<ReloadResult>;
  /** Models the principal may use: some backend on the route may receive its default level. */
  modelsFor(principal: Principal): { id: string }[];
  close(): Promise<void>;
}

export async function buildCore(
  loaded: LoadedConfig,
  opts: GatewayOptions & {
    authOverride?: { authenticate(h: string | undefined): Promise<Principal> | Principal };
    /** 'serve': this process owns the audit log (fills gaps, publishes checkpoints); else it only appends. */
    auditRole?: 'serve' | 'client';
  } = {},
): Promise<Core> {
  const { config } = loaded;
  const log = opts.log ?? createLogger(config.log.level);
  // Shared state first: with `redis:` configured and Redis unreachable, nothing else starts (fail closed).
  const shared = opts.shared ?? (await openSharedState(config, { ...(opts.env ? { env: opts.env } : {}), log }));
  const closeShared = () => (opts.shared ? Promise.resolve() : shared.close().catch(() => undefined));
  if (shared.kind === 'redis') log.info({ redis: shared.where }, 'shared state: redis');
  let store: Store;
  try {
    store = await openStore(loaded);
  } catch (e) {
    await closeShared();
    throw e;
  }
  // The vault opens before anything listens: a keystore that cannot be used stops the start.
  let vault: Vault;
  try {
    vault = await openVault(loaded, {
      store: store.vault,
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.interactive ? { interactive: true } : {}),
      ...(opts.vaultEvents ? { events: opts.vaultEvents } : {}),
      onEventError: (e) => log.error({ err: e.message }, 'vault events could not be stored'),
    });
  } catch (e) {
    await store.close();
    await closeShared();
    throw e;
  }
  // The audit log's keys come from the vault (its `audit` secret).
  let audit: AuditLog;
  try {
    audit = await AuditLog.open({
      store,
      log,
      origin: auditOrigin(config),
      keys: await auditKeysFromVault(vault),
      checkpointIntervalMs: config.audit.checkpoint_interval_ms,
      checkpointEntries: config.audit.checkpoint_entries,
      witnesses: config.audit.witnesses,
      recover: opts.auditRole === 'serve',
      publish: opts.auditRole === 'serve',
    });
  } catch (e) {
    await vault.close();
    await store.close();
    await closeShared();
    throw e;
  }
  const retainsBodies = Object.values(config.vault.retention).includes('bodies');
  const retainer = retainsBodies ? new Retainer(vault, log, { retention: config.vault.retention, maxBytes: config.vault.max_retained_bytes }) : undefined;
  const router = new Router({ failureThreshold: config.routing.failure_threshold, openMs: config.routing.open_ms });
  const metrics = new Metrics();
  let identity: IdentityService | undefined;
  try {
    identity = config.identity.enabled
      ? new IdentityService({
          store,
          keys: await KeyRing.open(loaded.dataDir, await vault.secretFor(SEALING_PURPOSE)),
          claims: vaultClaims(vault),
          config: config.identity,
          shared: shared.sessions && { sessions: shared.sessions, bus: shared.bus, cacheMs: config.redis?.session_cache_ms ?? 10_000 },
        })
      : undefined;
  } catch (e) {
    await audit.close();
    await vault.close();
    await store.close();
    await closeShared();
    throw e;
  }
  const auth = identity ?? new Authenticator(store);
  const departments = new Departments(vault, log);
  // A policy change is an event of the log: the serving process records the policy it starts with,
  // and every policy a reload brings.
  const recordPolicy = (version: string, c: Config) => {
    if (opts.auditRole !== 'serve') return;
    audit.appendEvent('policy.active', { policy: version, backends: c.backends.length, models: c.models.length }).catch((e) => log.error({ err: (e as Error).message }, 'audit: policy event not recorded'));
  };
  let gens: Generations;
  let threats: ThreatEngine | undefined;
  try {
    if (config.threats.enabled) {
      threats = new ThreatEngine({
        config: config.threats,
        configDir: loaded.dir,
        counters: shared.counters,
        bus: shared.bus,
        store: store.threats,
        log,
        tenant: config.tenant,
        audit,
        ...(opts.env ? { env: opts.env } : {}),
        ...(opts.threatsClock ? { now: opts.threatsClock } : {}),
      });
      await threats.start();
    }
    gens = await Generations.start(loaded, { log, audit, auth: opts.authOverride ?? auth, router, metrics, retainer, pseudonyms: new PseudonymMaps(vault), departments, env: opts.env, onPolicy: recordPolicy, threats });
  } catch (e) {
    await threats?.close();
    identity?.close();
    await audit.close();
    await vault.close();
    await store.close();
    await closeShared();
    throw e;
  }
  // Key accesses, erasures and rotations (from this process or from `sekisho keys|erase`) reach the
  // log through the vault's event table, which the serving process tails.
  let importer: VaultEventImporter | undefined;
  if (opts.auditRole === 'serve') importer = new VaultEventImporter(store, audit, log);
  metrics.beforeScrape.push(() => {
    for (const s of router.snapshot(gens.current.loaded.config.backends.map((b) => b.id))) metrics.backendUp.set({ backend: s.backend }, s.state === 'closed' ? 1 : 0);
  });
  return {
    get checkpoint() {
      return gens.current.checkpoint;
    },
    auth,
    identity,
    get policy() {
      return gens.current.policy;
    },
    get routes() {
      return gens.current.routes;
    },
    router,
    get recorder() {
      return gens.current.recorder;
    },
    retainer,
    audit,
    metrics,
    store,
    vault,
    departments,
    log,
    threats,
    shared,
    counters: shared.counters,
    bus: shared.bus,
    get loaded() {
      return gens.current.loaded;
    },
    handle: (req, sink) => gens.handle(req, sink),
    reload: (source) => gens.reload(source),
    modelsFor(principal) {
      const g = gens.current;
      if (levelIndex(principal.defaultLevel) > levelIndex(principal.maxLevel)) return [];
      return g.routes
        .all()
        .filter((r) => r.candidates.some((c) => g.policy.check(principal.defaultLevel, c.id).length === 0))
        .map((r) => ({ id: r.name }));
    },
    async close() {
      await gens.stopReloading();
      await threats?.close();
      identity?.close();
      await retainer?.drain();
      await importer?.close();
      await audit.close();
      await gens.close();
      await audit.settle();
      await vault.close();
      await store.close();
      await closeShared();
    },
  };
}

function identityGuard(t: ThreatEngine): IdentityGuard {
  const problem = (r: Refusal | undefined) => r && new HttpProblem(r.status, r.code, r.ja, r.en, r.retryAfterS);
  return {
    refusedSource: (ip) => problem(t.refusedSource(ip)),
    refusedCredential: (c) => problem(t.refusedCredential(c)),
    failed: (ip, c, endpoint) => t.authFailure(ip, c, endpoint),
  };
}

export interface Gateway {
  url: string;
  core: Core;
  console: AdminConsole;
  close(graceMs?: number): Promise<void>;
}

export async function startGateway(loaded: LoadedConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const core = await buildCore(loaded, { ...opts, auditRole: 'serve' });
  const { config } = loaded;
  const adminConsole = new AdminConsole({ core, loaded, threats: opts.console?.threats ?? core.threats, ...(opts.console?.policiesDir ? { policiesDir: opts.console.policiesDir } : {}) });
  let http: RunningServer;
  // Several nodes: revocations and reloads published by any node or by the CLI reach this one.
  let unlisten = () => {};
  try {
    await core.identity?.listenForRevocations();
    unlisten = await core.bus.subscribe('config.reload', (m) => {
      let from = 'bus';
      try {
        const o = JSON.parse(m) as { from?: unknown };
        if (typeof o.from === 'string') from = `bus:${o.from.slice(0, 128)}`;
      } catch {
        /* any message reloads */
      }
      void core.reload(from);
    });
  } catch (e) {
    await core.close();
    throw e;
  }
  try {
    http = await startHttpServer(
      {
        checkpoint: { handle: (req, sink) => core.handle(req, sink) },
        metrics: core.metrics,
        log: core.log,
        limits: { maxBodyBytes: config.limits.max_body_bytes, bodyTimeoutMs: config.limits.body_timeout_ms, writeStallMs: 60_000 },
        async listModels(authorization) {
          try {
            return core.modelsFor(await core.auth.authenticate(authorization));
          } catch (e) {
            if (e instanceof AuthError) throw new CheckpointError(401, 'authentication_error', e.code, e.ja, e.en);
            if (e instanceof RedisError) throw new CheckpointError(e.status, 'server_error', e.code, e.ja, e.en);
            throw e;
          }
        },
        ready: () => core.recorder.healthy && core.retainer?.healthy !== false,
        identity: core.identity && {
          isPath: isIdentityPath,
          // Failed PINs, tokens and presentations count towards brute-force detection; refused sources and locked credentials are turned away.
          handle: (req, res, path) => handleIdentity(core.identity!, req, res, path, core.threats && identityGuard(core.threats)),
        },
        threats: core.threats && {
          isPath: isThreatPath,
          handle: (req, res, path, query) =>
            handleThreats({ engine: core.threats!, authenticate: (a) => core.auth.authenticate(a), admin: core.loaded.config.admin, title: core.loaded.config.threats.taxii.title, taxii: core.loaded.config.threats.taxii.enabled }, req, res, path, query),
        },
        audit: auditHttp({
          store: core.store,
          vkey: core.audit.vkey,
          access: config.audit.read.access,
          auditorTokenHashes: config.audit.read.auditors.map((a) => Buffer.from(a.token_sha256, 'hex')),
        }),
        console: adminConsole,
      },
      opts.host ?? config.listen.host,
      opts.port ?? config.listen.port,
    );
  } catch (e) {
    unlisten();
    adminConsole.close();
    await core.close();
    throw e;
  }
  if (core.identity) {
    core.identity.setOrigin(http.url); // unless identity.origin is configured
    core.identity.startSweeping();
  }
  return {
    url: http.url,
    core,
    console: adminConsole,
    async close(graceMs = config.limits.shutdown_grace_ms) {
      adminConsole.close();
      unlisten();
      await http.close(graceMs);
      await core.close();
    },
  };
}
