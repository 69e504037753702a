/**
 * Assembles a gateway from a loaded configuration: store, keys, policy, routing, backends,
 * checkpoint and HTTP server. `close()` shuts down gracefully.
 */
import { openSqliteStore, type Store } from '../store/index.js';
import { openVault, PseudonymMaps, type Vault, type VaultEvents } from '../vault/index.js';
import { Policy, levelIndex } from '../policy/index.js';
import { Router } from '../routing/index.js';
import { createBackend, type BackendAdapter } from '../backends/index.js';
import { Authenticator, AuthError, IdentityService, KeyRing, vaultClaims, type Principal } from '../identity/index.js';
import { handleIdentity, isIdentityPath } from '../identity/http.js';
import { SEALING_PURPOSE } from '../identity/keys.js';
import { CedarGuard } from '../policy/cedar/index.js';
import { Checkpoint, CheckpointError } from '../checkpoint/index.js';
import { contentStageFor } from '../checkpoint/content.js';
import { Recorder } from '../checkpoint/record.js';
import { Retainer } from '../checkpoint/retain.js';
import { Relay } from '../checkpoint/relay.js';
import { Routes } from '../checkpoint/routes.js';
import type { LoadedConfig } from '../config/index.js';
import { Metrics } from '../ops/metrics.js';
import { createLogger, type Logger } from '../ops/log.js';
import { startHttpServer, type RunningServer } from './http.js';
import { AuditLog } from '../audit/log.js';
import { auditKeysFromVault } from '../audit/keys.js';
import { VaultEventImporter } from '../audit/vault-events.js';
import { auditHttp } from '../audit/http.js';
import { auditOrigin, backendFacts, policyVersion } from '../audit/config.js';
import { ThreatEngine } from '../threats/engine.js';
import { handleThreats, isThreatPath } from '../threats/http.js';
import { MemoryBus, MemoryCounters } from '../store/memory-shared.js';
import type { Bus, Counters } from '../store/shared.js';

export interface GatewayOptions {
  host?: string;
  port?: number;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
  /** Ask for the key file passphrase on a terminal when it is not in the environment (CLI). */
  interactive?: boolean;
  /** Extra sink for key access, erasure and rotation events (the audit log). */
  vaultEvents?: VaultEvents;
  /** Shared counters and bus (Redis for several nodes); in memory by default. */
  counters?: Counters;
  bus?: Bus;
}

/** Everything behind the HTTP server. */
export interface Core {
  checkpoint: Checkpoint;
  auth: { authenticate(authorization: string | undefined): Principal };
  /** The tenant as issuer and verifier; absent when `identity.enabled` is false. */
  identity: IdentityService | undefined;
  policy: Policy;
  routes: Routes;
  router: Router;
  recorder: Recorder;
  retainer: Retainer | undefined;
  audit: AuditLog;
  metrics: Metrics;
  store: Store;
  vault: Vault;
  log: Logger;
  /** Threat detection; absent when `threats.enabled` is false. */
  threats: ThreatEngine | undefined;
  /** Models the principal may use: some backend on the route may receive its default level. */
  modelsFor(principal: Principal): { id: string }[];
  close(): Promise<void>;
}

export async function buildCore(
  loaded: LoadedConfig,
  opts: GatewayOptions & {
    authOverride?: { authenticate(h: string | undefined): Principal };
    /** 'serve': this process owns the audit log (fills gaps, publishes checkpoints); else it only appends. */
    auditRole?: 'serve' | 'client';
  } = {},
): Promise<Core> {
  const { config } = loaded;
  const log = opts.log ?? createLogger(config.log.level);
  const store = openSqliteStore(loaded.sqlitePath);
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
    store.close();
    throw e;
  }
  // The audit log's keys come from the vault (its `audit` secret).
  let audit: AuditLog;
  try {
    audit = new AuditLog({
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
    store.close();
    throw e;
  }
  const adapters = new Map<string, BackendAdapter>();
  try {
    for (const b of config.backends) adapters.set(b.id, await createBackend(b, { configDir: loaded.dir, ...(opts.env ? { env: opts.env } : {}) }));
  } catch (e) {
    await Promise.allSettled([...adapters.values()].map((a) => a.close()));
    audit.close();
    await vault.close();
    store.close();
    throw e;
  }
  const retainsBodies = Object.values(config.vault.retention).includes('bodies');
  const retainer = retainsBodies ? new Retainer(vault, log, { retention: config.vault.retention, maxBytes: config.vault.max_retained_bytes }) : undefined;
  const guard = await CedarGuard.load(config.policy.pack, config.backends, undefined, { levelsFromConfig: Object.keys(config.policy.levels).length > 0 });
  const policy = new Policy(config.backends, config.policy, undefined, guard);
  const routes = new Routes(config);
  const router = new Router({ failureThreshold: config.routing.failure_threshold, openMs: config.routing.open_ms });
  const metrics = new Metrics();
  const version = policyVersion(config);
  const recorder = new Recorder(audit, log, backendFacts(config), version);
  // A policy change is an event of the log: the serving process records the policy it starts with.
  // Key accesses, erasures and rotations (from this process or from `sekisho keys|erase`) reach the
  // log through the vault's event table, which the serving process tails.
  let importer: VaultEventImporter | undefined;
  if (opts.auditRole === 'serve') {
    audit.appendEvent('policy.active', { policy: version, backends: config.backends.length, models: config.models.length }).catch((e) => log.error({ err: (e as Error).message }, 'audit: policy event not recorded'));
    importer = new VaultEventImporter(store, audit, log);
  }
  const identity = config.identity.enabled
    ? new IdentityService({ store, keys: await KeyRing.open(loaded.dataDir, await vault.secretFor(SEALING_PURPOSE)), claims: vaultClaims(vault), config: config.identity })
    : undefined;
  const auth = identity ?? new Authenticator(store);
  let threats: ThreatEngine | undefined;
  if (config.threats.enabled) {
    try {
      threats = new ThreatEngine({
        config: config.threats,
        configDir: loaded.dir,
        counters: opts.counters ?? new MemoryCounters(),
        bus: opts.bus ?? new MemoryBus(),
        store: store.threats,
        log,
        tenant: config.tenant,
        audit,
        ...(opts.env ? { env: opts.env } : {}),
      });
      await threats.start();
    } catch (e) {
      identity?.close();
      audit.close();
      await Promise.allSettled([...adapters.values()].map((a) => a.close()));
      await vault.close();
      store.close();
      throw e;
    }
  }
  const checkpoint = new Checkpoint({
    auth: opts.authOverride ?? auth,
    policy,
    routes,
    router,
    relay: new Relay(adapters, router, metrics),
    recorder,
    metrics,
    log,
    content: contentStageFor(config, policy),
    retain: retainer,
    pseudonyms: new PseudonymMaps(vault),
    limits: { maxAttempts: config.routing.max_attempts, maxResponseBytes: config.limits.max_response_bytes },
    threats,
  });
  const ids = config.backends.map((b) => b.id);
  metrics.beforeScrape.push(() => {
    for (const s of router.snapshot(ids)) metrics.backendUp.set({ backend: s.backend }, s.state === 'closed' ? 1 : 0);
  });
  return {
    checkpoint,
    auth,
    identity,
    policy,
    routes,
    router,
    recorder,
    retainer,
    audit,
    metrics,
    store,
    vault,
    log,
    threats,
    modelsFor(principal) {
      if (levelIndex(principal.defaultLevel) > levelIndex(principal.maxLevel)) return [];
      return routes
        .all()
        .filter((r) => r.candidates.some((c) => policy.check(principal.defaultLevel, c.id).length === 0))
        .map((r) => ({ id: r.name }));
    },
    async close() {
      await threats?.close();
      identity?.close();
      retainer?.flush();
      await importer?.close();
      audit.close();
      await Promise.allSettled([...adapters.values()].map((a) => a.close()));
      await audit.settle();
      await vault.close();
      store.close();
    },
  };
}

export interface Gateway {
  url: string;
  core: Core;
  close(graceMs?: number): Promise<void>;
}

export async function startGateway(loaded: LoadedConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const core = await buildCore(loaded, { ...opts, auditRole: 'serve' });
  const { config } = loaded;
  let http: RunningServer;
  try {
    http = await startHttpServer(
      {
        checkpoint: core.checkpoint,
        metrics: core.metrics,
        log: core.log,
        limits: { maxBodyBytes: config.limits.max_body_bytes, bodyTimeoutMs: config.limits.body_timeout_ms, writeStallMs: 60_000 },
        listModels(authorization) {
          try {
            return core.modelsFor(core.auth.authenticate(authorization));
          } catch (e) {
            if (e instanceof AuthError) throw new CheckpointError(401, 'authentication_error', e.code, e.ja, e.en);
            throw e;
          }
        },
        ready: () => core.recorder.healthy && core.retainer?.healthy !== false,
        identity: core.identity && {
          isPath: isIdentityPath,
          handle: async (req, res, path) => {
            await handleIdentity(core.identity!, req, res, path);
            // Failed presentations and token redemptions count towards brute-force detection.
            if (res.statusCode === 401 || (res.statusCode === 400 && path === '/oid4vci/token')) core.threats?.authFailure(req.socket.remoteAddress, `identity:${path}`, path);
          },
        },
        threats: core.threats && {
          isPath: isThreatPath,
          handle: (req, res, path, query) =>
            handleThreats({ engine: core.threats!, authenticate: (a) => core.auth.authenticate(a), admin: config.admin, title: config.threats.taxii.title, taxii: config.threats.taxii.enabled }, req, res, path, query),
        },
        audit: auditHttp({
          store: core.store,
          vkey: core.audit.vkey,
          access: config.audit.read.access,
          auditorTokenHashes: config.audit.read.auditors.map((a) => Buffer.from(a.token_sha256, 'hex')),
        }),
      },
      opts.host ?? config.listen.host,
      opts.port ?? config.listen.port,
    );
  } catch (e) {
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
    async close(graceMs = config.limits.shutdown_grace_ms) {
      await http.close(graceMs);
      await core.close();
    },
  };
}
