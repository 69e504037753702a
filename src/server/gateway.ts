/**
 * Assembles a gateway from a loaded configuration: store, keys, policy, routing, backends,
 * checkpoint and HTTP server. `close()` shuts down gracefully.
 */
import { openSqliteStore, type Store } from '../store/index.js';
import { ensureTenantKeys } from '../vault/index.js';
import { Policy, levelIndex } from '../policy/index.js';
import { Router } from '../routing/index.js';
import { createBackend, type BackendAdapter } from '../backends/index.js';
import { Authenticator, AuthError, type Principal } from '../identity/index.js';
import { Checkpoint, CheckpointError } from '../checkpoint/index.js';
import { contentStageFor } from '../checkpoint/content.js';
import { Recorder } from '../checkpoint/record.js';
import { Relay } from '../checkpoint/relay.js';
import { Routes } from '../checkpoint/routes.js';
import type { LoadedConfig } from '../config/index.js';
import { Metrics } from '../ops/metrics.js';
import { createLogger, type Logger } from '../ops/log.js';
import { startHttpServer, type RunningServer } from './http.js';
import { AuditLog } from '../audit/log.js';
import { auditKeys } from '../audit/keys.js';
import { auditHttp } from '../audit/http.js';
import { auditOrigin, backendFacts, policyVersion } from '../audit/config.js';

export interface GatewayOptions {
  host?: string;
  port?: number;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
}

/** Everything behind the HTTP server. */
export interface Core {
  checkpoint: Checkpoint;
  auth: Authenticator;
  policy: Policy;
  routes: Routes;
  router: Router;
  recorder: Recorder;
  audit: AuditLog;
  metrics: Metrics;
  store: Store;
  log: Logger;
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
  ensureTenantKeys(loaded.dataDir);
  const store = openSqliteStore(loaded.sqlitePath);
  let audit: AuditLog;
  try {
    audit = new AuditLog({
      store,
      log,
      origin: auditOrigin(config),
      keys: auditKeys(loaded.dataDir),
      checkpointIntervalMs: config.audit.checkpoint_interval_ms,
      checkpointEntries: config.audit.checkpoint_entries,
      witnesses: config.audit.witnesses,
      recover: opts.auditRole === 'serve',
      publish: opts.auditRole === 'serve',
    });
  } catch (e) {
    store.close();
    throw e;
  }
  const adapters = new Map<string, BackendAdapter>();
  try {
    for (const b of config.backends) adapters.set(b.id, await createBackend(b, { configDir: loaded.dir, ...(opts.env ? { env: opts.env } : {}) }));
  } catch (e) {
    await Promise.allSettled([...adapters.values()].map((a) => a.close()));
    audit.close();
    store.close();
    throw e;
  }
  const policy = new Policy(config.backends, config.policy);
  const routes = new Routes(config);
  const router = new Router({ failureThreshold: config.routing.failure_threshold, openMs: config.routing.open_ms });
  const metrics = new Metrics();
  const version = policyVersion(config);
  const recorder = new Recorder(audit, log, backendFacts(config), version);
  // A policy change is an event of the log: the serving process records the policy it starts with.
  if (opts.auditRole === 'serve') {
    audit.appendEvent('policy.active', { policy: version, backends: config.backends.length, models: config.models.length }).catch((e) => log.error({ err: (e as Error).message }, 'audit: policy event not recorded'));
  }
  const auth = new Authenticator(store);
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
    limits: { maxAttempts: config.routing.max_attempts, maxResponseBytes: config.limits.max_response_bytes },
  });
  const ids = config.backends.map((b) => b.id);
  metrics.beforeScrape.push(() => {
    for (const s of router.snapshot(ids)) metrics.backendUp.set({ backend: s.backend }, s.state === 'closed' ? 1 : 0);
  });
  return {
    checkpoint,
    auth,
    policy,
    routes,
    router,
    recorder,
    audit,
    metrics,
    store,
    log,
    modelsFor(principal) {
      if (levelIndex(principal.defaultLevel) > levelIndex(principal.maxLevel)) return [];
      return routes
        .all()
        .filter((r) => r.candidates.some((c) => policy.check(principal.defaultLevel, c.id).length === 0))
        .map((r) => ({ id: r.name }));
    },
    async close() {
      audit.close();
      await Promise.allSettled([...adapters.values()].map((a) => a.close()));
      await audit.settle();
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
        ready: () => core.recorder.healthy,
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
  return {
    url: http.url,
    core,
    async close(graceMs = config.limits.shutdown_grace_ms) {
      await http.close(graceMs);
      await core.close();
    },
  };
}
