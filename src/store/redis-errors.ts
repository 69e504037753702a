/**
 * Typed errors of the shared state (Redis): a code and messages in Japanese and English.
 * Kept apart from store/redis.ts so that code paths which only classify errors (the checkpoint,
 * the identity endpoints) do not load the Redis client on a single node.
 *
 * Fail closed: a caller that gets a RedisError while checking a limit, a session or a budget
 * refuses the request (HTTP 503) rather than letting it through unchecked.
 */
export type RedisErrorCode =
  /** Redis cannot be reached (refused, closed, reconnecting, DNS). */
  | 'redis_unavailable'
  /** A command got no answer within `redis.command_timeout_ms`. */
  | 'redis_timeout'
  /** Redis refused the username or password (AUTH, ACL). */
  | 'redis_auth'
  /** A caller passed a value Redis cannot store (not a safe integer, empty key…). */
  | 'redis_bad_input'
  /** Any other error reply from Redis (WRONGTYPE, OOM, script errors). */
  | 'redis_error';

export class RedisError extends Error {
  /** HTTP status a request refused because of this error gets. */
  readonly status: number;
  constructor(
    readonly code: RedisErrorCode,
    readonly ja: string,
    readonly en: string,
  ) {
    super(en);
    this.name = 'RedisError';
    this.status = code === 'redis_bad_input' ? 400 : 503;
  }
}

/** Classifies an error of the Redis client. `where` is the redacted URL (never a password). */
export function toRedisError(e: unknown, where: string): RedisError {
  if (e instanceof RedisError) return e;
  const err = e as { message?: string; code?: string; name?: string } | undefined;
  const msg = String(err?.message ?? e);
  if (/WRONGPASS|NOAUTH|NOPERM|invalid username-password|AUTH .*failed/i.test(msg)) {
    return new RedisError('redis_auth', `Redis (${where}) が認証を拒否しました。redis.username と redis.password_env を確認してください`, `Redis (${where}) refused the credentials; check redis.username and redis.password_env`);
  }
  if (/Command timed out/i.test(msg)) {
    return new RedisError('redis_timeout', `Redis (${where}) が時間内に応答しません`, `Redis (${where}) did not answer in time`);
  }
  const code = err?.code ?? '';
  if (
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$/.test(code) ||
    err?.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|enableOfflineQueue|connect ETIMEDOUT|not connected|Reached the max retries/i.test(msg)
  ) {
    return new RedisError('redis_unavailable', `Redis (${where}) に接続できません${code ? ` (${code})` : ''}`, `Cannot reach Redis (${where})${code ? ` (${code})` : ''}`);
  }
  return new RedisError('redis_error', `Redis (${where}) がエラーを返しました: ${msg.slice(0, 200)}`, `Redis (${where}) answered with an error: ${msg.slice(0, 200)}`);
}

/**
 * A Redis URL as it may appear in logs and messages: scheme, host, port and database only.
 * Credentials (which the configuration refuses anyway) are never shown.
 */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    const db = u.pathname && u.pathname !== '/' ? u.pathname : '';
    return `${u.protocol}//${u.host}${db}`;
  } catch {
    return '(invalid Redis URL)';
  }
}
