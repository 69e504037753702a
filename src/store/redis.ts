/**
 * Shared state of several gateway nodes over Redis (issue #9): fixed-window counters (rate
 * limits, budgets), the message bus (pub/sub: session revocation, config reload) and sessions.
 *
 * Keys and channels are prefixed per tenant: `sekisho:<prefix>:…` (the prefix defaults to the
 * tenant id), so several tenants may share one Redis.
 *
 *   sekisho:<p>:ctr:<windowMs>:<key>   hash {s: window start (ms), n: total}; expires at the window end
 *   sekisho:<p>:sess:<sha256(token)>   session JSON; TTL = session expiry; a tombstone once revoked
 *   sekisho:<p>:cred:<credential key> set of that credential's session hashes
 *   sekisho:<p>:revoked:<credential key> marker: no new session for this credential
 *   (credential key: `status:<list>:<index>` for the tenant's own credentials, see identity/sessions.ts)
 *   sekisho:<p>:bus:<channel>          pub/sub channels
 *
 * Atomicity: every counter update is one Lua script (INCR and expiry together), and the window
 * is computed from the Redis server's clock (TIME), so every node agrees on window boundaries.
 *
 * Connections: one for commands, one for subscriptions (a subscribed connection cannot send
 * other commands). Both reconnect on their own (backoff up to 2 s); channels are re-subscribed.
 * Commands are never queued while disconnected: they fail at once with a RedisError, and the
 * caller refuses the request (fail closed). Standalone Redis 6.2 or later (or the primary of a
 * replicated / Sentinel set-up); Redis Cluster is not supported (the revocation script touches
 * keys of several slots).
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../ops/log.js';
import type { Bus, BusChannel, Counters } from './shared.js';
import type { SessionRecord, SharedSessionStore } from '../identity/sessions.js';
import { RedisError, redactRedisUrl, toRedisError } from './redis-errors.js';

export { RedisError, redactRedisUrl } from './redis-errors.js';

export interface RedisSharedOptions {
  /** redis:// or rediss:// URL without credentials. */
  url: string;
  /** Tenant prefix: keys are `sekisho:<prefix>:…`. */
  prefix: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Opening gives up after this long (the gateway does not start). */
  connectTimeoutMs?: number;
  /** A command without an answer after this long fails (redis_timeout). */
  commandTimeoutMs?: number;
  /** Lifetime of the "credential revoked" marker (≥ the longest session). */
  revokedMarkerMs?: number;
  log?: Logger | undefined;
}

const COUNTER_ADD = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local w = tonumber(ARGV[2])
local start = now - (now % w)
local cur = redis.call('HGET', KEYS[1], 's')
local total
if (not cur) or tonumber(cur) ~= start then
  redis.call('HSET', KEYS[1], 's', start, 'n', ARGV[1])
  total = tonumber(ARGV[1])
  redis.call('PEXPIREAT', KEYS[1], start + w)
else
  total = redis.call('HINCRBY', KEYS[1], 'n', ARGV[1])
end
return total
`;

const COUNTER_GET = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local w = tonumber(ARGV[1])
local start = now - (now % w)
local v = redis.call('HMGET', KEYS[1], 's', 'n')
if v[1] and tonumber(v[1]) == start then return tonumber(v[2]) end
return 0
`;

/** KEYS: session, credential set, revoked marker. ARGV: value, ttl ms, token hash. */
const SESSION_PUT = `
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return 1
`;

/** KEYS: credential set, revoked marker. ARGV: session key prefix, marker ttl ms, tombstone. */
const SESSION_REVOKE = `
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
local n = 0
for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local k = ARGV[1] .. h
  local v = redis.call('GET', k)
  if v and v ~= ARGV[3] then
    redis.call('SET', k, ARGV[3], 'KEEPTTL')
    n = n + 1
  end
end
redis.call('DEL', KEYS[1])
return n
`;

const TOMBSTONE = '{"revoked":true}';

interface ScriptCommands {
  sksCounterAdd(key: string, n: number, windowMs: number): Promise<number>;
  sksCounterGet(key: string, windowMs: number): Promise<number>;
  sksSessionPut(session: string, set: string, marker: string, value: string, ttlMs: number, hash: string): Promise<number>;
  sksSessionRevoke(set: string, marker: string, sessionPrefix: string, markerMs: number, tombstone: string): Promise<number>;
}
type Client = Redis & ScriptCommands;

/** Counter keys: printable, at most 512 characters (they are user or principal ids). */
const KEY_RE = /^[\x21-\x7e]{1,512}$/;

/** Fixed-window counters shared by every node. Rejects with a RedisError when Redis cannot be reached. */
export class RedisCounters implements Counters {
  constructor(
    private readonly client: Client,
    private readonly prefix: string,
    private readonly where: string,
  ) {}

  private key(key: string, windowMs: number): string {
    if (!KEY_RE.test(key)) throw new RedisError('redis_bad_input', `カウンタのキーが正しくありません (1〜512 文字の ASCII)`, `Invalid counter key (1 to 512 printable ASCII characters)`);
    if (!Number.isSafeInteger(windowMs) || windowMs <= 0) throw new RedisError('redis_bad_input', `カウンタの期間は正の整数 (ミリ秒) です: ${windowMs}`, `A counter window is a positive integer of milliseconds: ${windowMs}`);
    return `${this.prefix}ctr:${windowMs}:${key}`;
  }

  async add(key: string, n: number, windowMs: number): Promise<number> {
    const k = this.key(key, windowMs);
    if (!Number.isSafeInteger(n)) throw new RedisError('redis_bad_input', `カウンタに加える値は整数です: ${n}`, `A counter is added integers only: ${n}`);
    try {
      return Number(await this.client.sksCounterAdd(k, n, windowMs));
    } catch (e) {
      throw toRedisError(e, this.where);
    }
  }

  async get(key: string, windowMs: number): Promise<number> {
    const k = this.key(key, windowMs);
    try {
      return Number(await this.client.sksCounterGet(k, windowMs));
    } catch (e) {
      throw toRedisError(e, this.where);
    }
  }
}

/**
 * Pub/sub between nodes over a dedicated subscriber connection. Best effort, as Redis pub/sub
 * is: a node that is disconnected misses what is published meanwhile (the session cache is
 * dropped when the subscription comes back, see `epoch`).
 */
export class RedisBus implements Bus {
  private readonly handlers = new Map<BusChannel, Set<(m: string) => void>>();
  private closed = false;

  constructor(
    private readonly pub: Client,
    private readonly sub: Redis,
    private readonly prefix: string,
    private readonly where: string,
    private readonly log?: Logger,
  ) {
    sub.on('message', (channel: string, message: string) => {
      if (!channel.startsWith(this.channelPrefix)) return;
      const set = this.handlers.get(channel.slice(this.channelPrefix.length) as BusChannel);
      for (const h of set ?? []) {
        try {
          h(message);
        } catch (e) {
          this.log?.error({ channel, err: (e as Error).message }, 'bus handler failed');
        }
      }
    });
  }

  private get channelPrefix(): string {
    return `${this.prefix}bus:`;
  }

  /** Publishes and returns how many subscriber connections (nodes) received the message. */
  async publishCount(channel: BusChannel, message: string): Promise<number> {
    try {
      return Number(await this.pub.publish(this.channelPrefix + channel, message));
    } catch (e) {
      throw toRedisError(e, this.where);
    }
  }

  async publish(channel: BusChannel, message: string): Promise<void> {
    await this.publishCount(channel, message);
  }

  async subscribe(channel: BusChannel, handler: (message: string) => void): Promise<() => void> {
    if (this.closed) throw new RedisError('redis_unavailable', 'バスは閉じられています', 'The bus is closed');
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      try {
        await this.sub.subscribe(this.channelPrefix + channel);
      } catch (e) {
        this.handlers.delete(channel);
        throw toRedisError(e, this.where);
      }
    }
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0 && this.handlers.get(channel) === set) {
        this.handlers.delete(channel);
        if (!this.closed) this.sub.unsubscribe(this.channelPrefix + channel).catch(() => undefined);
      }
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handlers.clear();
    await quit(this.sub);
  }
}

/** Sessions shared by every node (see identity/sessions.ts). */
export class RedisSessionStore implements SharedSessionStore {
  constructor(
    private readonly client: Client,
    private readonly sub: Redis,
    private readonly prefix: string,
    private readonly where: string,
    private readonly markerMs: number,
    private readonly epochRef: { epoch: number },
  ) {}

  get live(): boolean {
    return this.sub.status === 'ready' && this.client.status === 'ready';
  }

  get epoch(): number {
    return this.epochRef.epoch;
  }

  async put(tokenHash: string, rec: SessionRecord): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(rec.expMs - Date.now()));
    const value = JSON.stringify({ v: 1, p: rec.principal, c: rec.credentialId, k: rec.credentialKey, s: rec.status ?? null, e: rec.expMs });
    try {
      const ok = await this.client.sksSessionPut(`${this.prefix}sess:${tokenHash}`, `${this.prefix}cred:${rec.credentialKey}`, `${this.prefix}revoked:${rec.credentialKey}`, value, ttl, tokenHash);
      return Number(ok) === 1;
    } catch (e) {
      throw toRedisError(e, this.where);
    }
  }

  async get(tokenHash: string): Promise<SessionRecord | 'revoked' | undefined> {
    let v: string | null;
    try {
      v = await this.client.get(`${this.prefix}sess:${tokenHash}`);
    } catch (e) {
      throw toRedisError(e, this.where);
    }
    if (v === null) return undefined;
    if (v === TOMBSTONE) return 'revoked';
    try {
      const o = JSON.parse(v) as { v?: number; p?: SessionRecord['principal']; c?: string; k?: string; s?: SessionRecord['status'] | null; e?: number };
      if (o.v !== 1 || !o.p || typeof o.p.id !== 'string' || typeof o.c !== 'string' || typeof o.k !== 'string' || typeof o.e !== 'number') return undefined;
      return { principal: o.p, credentialId: o.c, credentialKey: o.k, status: o.s ?? undefined, expMs: o.e };
    } catch {
      return undefined;
    }
  }

  async revoke(credentialKeys: readonly string[]): Promise<number> {
    let n = 0;
    try {
      for (const id of credentialKeys) {
        n += Number(await this.client.sksSessionRevoke(`${this.prefix}cred:${id}`, `${this.prefix}revoked:${id}`, `${this.prefix}sess:`, this.markerMs, TOMBSTONE));
      }
    } catch (e) {
      throw toRedisError(e, this.where);
    }
    return n;
  }
}

async function quit(c: Redis): Promise<void> {
  if (c.status === 'end') return;
  try {
    if (c.status === 'ready') await Promise.race([c.quit(), new Promise((r) => setTimeout(r, 1000).unref())]);
  } catch {
    /* closing anyway */
  }
  c.disconnect(false);
}

/** Both connections, the counters, the bus and the session store of one tenant. */
export class RedisShared {
  readonly counters: RedisCounters;
  readonly bus: RedisBus;
  readonly sessions: RedisSessionStore;
  /** The URL for logs (no credentials). */
  readonly where: string;
  private readonly epochRef = { epoch: 0 };

  private constructor(
    readonly client: Client,
    readonly sub: Redis,
    readonly prefix: string,
    opts: RedisSharedOptions,
  ) {
    this.where = redactRedisUrl(opts.url);
    this.counters = new RedisCounters(client, prefix, this.where);
    this.bus = new RedisBus(client, sub, prefix, this.where, opts.log);
    this.sessions = new RedisSessionStore(client, sub, prefix, this.where, opts.revokedMarkerMs ?? 86_400_000, this.epochRef);
  }

  /**
   * Connects both connections and checks that Redis answers; rejects with a RedisError
   * (redis_unavailable, redis_auth, redis_timeout) after `connectTimeoutMs` otherwise.
   */
  static async open(opts: RedisSharedOptions): Promise<RedisShared> {
    const where = redactRedisUrl(opts.url);
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new RedisError('redis_bad_input', 'redis.url が正しい URL ではありません', 'redis.url is not a valid URL');
    }
    if (u.password || u.username) {
      // The configuration refuses such URLs too: a password belongs in redis.password_env.
      throw new RedisError('redis_bad_input', `redis.url に認証情報を含めないでください (${where})。パスワードは redis.password_env で指定します`, `redis.url must not contain credentials (${where}); give the password through redis.password_env`);
    }
    const prefix = `sekisho:${opts.prefix}:`;
    const log = opts.log;
    const connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    const base: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: connectTimeoutMs,
      commandTimeout: opts.commandTimeoutMs ?? 1000,
      enableReadyCheck: true,
      autoResubscribe: true,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      ...(opts.username ? { username: opts.username } : {}),
      ...(opts.password ? { password: opts.password } : {}),
      connectionName: `sekisho-${opts.prefix}`.replace(/[^A-Za-z0-9._-]/g, '_'),
    };
    const client = new Redis(opts.url, base) as Client;
    const sub = new Redis(opts.url, { ...base, connectionName: `${base.connectionName}-sub` });
    client.defineCommand('sksCounterAdd', { numberOfKeys: 1, lua: COUNTER_ADD });
    client.defineCommand('sksCounterGet', { numberOfKeys: 1, lua: COUNTER_GET });
    client.defineCommand('sksSessionPut', { numberOfKeys: 3, lua: SESSION_PUT });
    client.defineCommand('sksSessionRevoke', { numberOfKeys: 2, lua: SESSION_REVOKE });
    // Connection errors are reported once per outage, not once per reconnect attempt.
    for (const [c, role] of [
      [client, 'commands'],
      [sub, 'subscriber'],
    ] as const) {
      let down = false;
      c.on('error', (e: Error) => {
        if (down) return;
        down = true;
        const err = toRedisError(e, where);
        log?.error({ redis: where, role, code: err.code }, `redis: ${err.en}`);
      });
      c.on('ready', () => {
        if (down) log?.info({ redis: where, role }, 'redis: reconnected');
        down = false;
      });
      c.on('close', () => {
        if (!down && c.status !== 'end') log?.warn({ redis: where, role }, 'redis: connection lost; reconnecting');
      });
    }
    const fail = async (e: unknown): Promise<never> => {
      client.disconnect(false);
      sub.disconnect(false);
      const err = toRedisError(e, where);
      if (err.code === 'redis_auth' || err.code === 'redis_bad_input') throw err;
      throw new RedisError(
        err.code === 'redis_error' ? 'redis_error' : 'redis_unavailable',
        `Redis (${where}) に接続できないため起動しません: ${err.ja}。redis.url を確認するか、1 台で動かす場合は設定から redis: を外してください`,
        `Not starting: cannot use Redis (${where}): ${err.en}. Check redis.url, or remove redis: from the configuration to run a single node`,
      );
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all([client.connect(), sub.connect()]).then(() => client.ping()),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' })), connectTimeoutMs);
        }),
      ]);
    } catch (e) {
      return fail(e);
    } finally {
      clearTimeout(timer);
    }
    const shared = new RedisShared(client, sub, prefix, opts);
    // Every (re)subscription starts a new epoch: sessions cached before it are read again,
    // since revocations published while this node was disconnected were missed.
    sub.on('ready', () => void shared.epochRef.epoch++);
    return shared;
  }

  async close(): Promise<void> {
    await this.bus.close();
    await quit(this.client);
  }
}
