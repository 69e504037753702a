/**
 * State that several gateway nodes share outside the database: counters (rate limits and
 * budgets) and a message bus (session revocation, config reload). One node uses the in-memory
 * implementations; several nodes use Redis (issue #9). Every method is async so that callers do
 * not care which one they have.
 */

/**
 * Fixed-window counters, keyed by strings such as `rl:principal:<id>` or `tok:tenant`.
 *
 * Over Redis, `add` and `get` reject with a `RedisError` (store/redis-errors.ts, HTTP 503 in the
 * checkpoint) when Redis cannot be reached, and `add` takes integers only. A caller checking a
 * limit or a budget lets that error refuse the request (fail closed), never treats it as zero.
 */
export interface Counters {
  /**
   * Adds `n` to the counter of the window of `windowMs` that contains now, and returns the
   * window's new total. The window expires on its own.
   */
  add(key: string, n: number, windowMs: number): Promise<number>;
  /** The current window's total (0 when none). */
  get(key: string, windowMs: number): Promise<number>;
}

/** Best-effort fan-out between nodes. A message published on one node reaches every node, itself included. */
export interface Bus {
  publish(channel: BusChannel, message: string): Promise<void>;
  /** Returns a function that unsubscribes. */
  subscribe(channel: BusChannel, handler: (message: string) => void): Promise<() => void>;
  close(): Promise<void>;
}

/** The channels Sekisho uses. */
export type BusChannel = 'session.revoked' | 'config.reload' | 'threats.quarantine' | 'threats.step_up';
