/**
 * Chooses the shared state from the configuration: no `redis:` → one node, in memory
 * (store/memory-shared.ts); `redis:` → Redis (store/redis.ts, loaded only then).
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../ops/log.js';
import type { SharedSessionStore } from '../identity/sessions.js';
import { MemoryBus, MemoryCounters } from './memory-shared.js';
import { RedisError } from './redis-errors.js';
import type { Bus, BusChannel, Counters } from './shared.js';

export interface SharedState {
  kind: 'memory' | 'redis';
  counters: Counters;
  bus: Bus;
  /** Sessions shared by the nodes (Redis only). */
  sessions: SharedSessionStore | undefined;
  /** Where the state lives, for logs (a Redis URL without credentials). */
  where: string;
  /** Publishes and returns how many nodes received the message (memory: this process's subscribers count as 1). */
  publishCount(channel: BusChannel, message: string): Promise<number>;
  close(): Promise<void>;
}

export function memorySharedState(): SharedState {
  const bus = new MemoryBus();
  return {
    kind: 'memory',
    counters: new MemoryCounters(),
    bus,
    sessions: undefined,
    where: 'memory',
    async publishCount(channel, message) {
      await bus.publish(channel, message);
      return 1;
    },
    close: () => bus.close(),
  };
}

/**
 * Opens the configured shared state. With `redis:`, rejects with a RedisError when Redis cannot
 * be reached within `redis.connect_timeout_ms` (fail closed: the gateway does not start).
 */
export async function openSharedState(config: Config, opts: { env?: NodeJS.ProcessEnv; log?: Logger } = {}): Promise<SharedState> {
  const r = config.redis;
  if (!r) return memorySharedState();
  const env = opts.env ?? process.env;
  let password: string | undefined;
  if (r.password_env) {
    password = env[r.password_env];
    if (!password) {
      throw new RedisError('redis_auth', `Redis のパスワードを環境変数 ${r.password_env} に設定してください (redis.password_env)`, `Set the Redis password in the environment variable ${r.password_env} (redis.password_env)`);
    }
  }
  const { RedisShared } = await import('./redis.js');
  const shared = await RedisShared.open({
    url: r.url,
    prefix: r.prefix ?? config.tenant.id,
    username: r.username,
    password,
    connectTimeoutMs: r.connect_timeout_ms,
    commandTimeoutMs: r.command_timeout_ms,
    revokedMarkerMs: Math.max(config.identity.session_ttl_s * 1000, 60_000) + 60_000,
    log: opts.log,
  });
  return {
    kind: 'redis',
    counters: shared.counters,
    bus: shared.bus,
    sessions: shared.sessions,
    where: shared.where,
    publishCount: (channel, message) => shared.bus.publishCount(channel, message),
    close: () => shared.close(),
  };
}
