/**
 * Sessions: a presentation is verified once; the holder then uses a short-lived opaque token
 * (`sks_…`, 256 bits) as the `Authorization: Bearer` of the OpenAI API. Looking a session up
 * is one SHA-256 and one Map read (the hot path: ≤ 5 µs).
 *
 * Several nodes (`redis:` configured): sessions live in a shared store (Redis, key = SHA-256 of
 * the token, value = principal, credential id, status reference and expiry, TTL = expiry), so a
 * session opened on one node works on every node. Each node keeps a small local cache; a cached
 * entry is trusted for `cacheMs` while the node receives revocation messages (the bus), after
 * which the next use reads the shared store again. A lookup that cannot reach the shared store
 * fails with a RedisError (HTTP 503): fail closed, never an unchecked session.
 *
 * Revocation: `sweep()` re-checks the status of every live session's credential against the
 * status list (every `status_refresh_s`, default 60 s), so a revoked credential's sessions end
 * within that interval. With a shared store, a revocation (`sekisho credential revoke`, or a
 * sweep on any node) also replaces the credential's sessions in the store by tombstones and
 * publishes `session.revoked`; every node drops them from its cache at once.
 */
import crypto from 'node:crypto';
import { AuthError } from './errors.js';
import type { Principal } from './principal.js';
import type { StatusRef } from './status-list.js';
import type { Bus } from '../store/shared.js';

export const SESSION_PREFIX = 'sks_';
const SESSION_RE = /^sks_[A-Za-z0-9_-]{43}$/;

/** What the shared store keeps per session. */
export interface SessionRecord {
  principal: Principal;
  credentialId: string;
  /**
   * What a revocation names (`credentialKey`): `status:<list>:<index>` for a credential the
   * tenant issued (the CLI knows it from the database row), the credential id otherwise.
   */
  credentialKey: string;
  status: StatusRef | undefined;
  /** ms since epoch: min(session TTL, credential expiry). */
  expMs: number;
}

/**
 * Sessions shared by several nodes (store/redis.ts implements it over Redis). Every method
 * rejects with a RedisError when the store cannot be reached.
 */
export interface SharedSessionStore {
  /** True while this node receives revocation messages: only then may it trust its cache. */
  readonly live: boolean;
  /** Changes whenever the revocation channel was (re)subscribed: cache entries of an older epoch are re-read. */
  readonly epoch: number;
  /** Stores a session until its expiry; false when its credential has been revoked meanwhile. */
  put(tokenHash: string, rec: SessionRecord): Promise<boolean>;
  get(tokenHash: string): Promise<SessionRecord | 'revoked' | undefined>;
  /** Replaces every session of these credentials (keys) by a tombstone; returns how many sessions ended. */
  revoke(credentialKeys: readonly string[]): Promise<number>;
}

/** The `session.revoked` message: the credentials (their keys, see `credentialKeyOf`) whose sessions end. */
export interface SessionRevokedMessage {
  credentials: string[];
}

/**
 * The key a revocation uses for a credential: its entry in the tenant's status list when the
 * tenant issued it (`status:<list>:<index>`, what `sekisho credential revoke` finds in the
 * database), else the credential id (another issuer's credential: ended by the status sweep).
 */
export function credentialKeyOf(own: { list: number; idx: number } | undefined, credentialId: string): string {
  return own ? `status:${own.list}:${own.idx}` : `vc:${credentialId}`;
}

export function parseRevokedMessage(message: string): string[] {
  try {
    const m = JSON.parse(message) as Partial<SessionRevokedMessage>;
    if (!Array.isArray(m.credentials)) return [];
    return m.credentials.filter((c): c is string => typeof c === 'string' && c.length > 0 && c.length <= 256).slice(0, 10_000);
  } catch {
    return [];
  }
}

/**
 * Ends the sessions of revoked credentials on every node: tombstones in the shared store, then a
 * `session.revoked` message. Used by `sekisho credential revoke` and by the sweep.
 */
export async function announceRevocation(store: SharedSessionStore, bus: Bus, credentialKeys: readonly string[]): Promise<number> {
  if (credentialKeys.length === 0) return 0;
  const n = await store.revoke(credentialKeys);
  await bus.publish('session.revoked', JSON.stringify({ credentials: [...credentialKeys] } satisfies SessionRevokedMessage));
  return n;
}

interface Session extends SessionRecord {
  ended?: 'revoked';
  /** When the entry was read from (or written to) the shared store. */
  checkedAt: number;
  epoch: number;
}

const EXPIRED = new AuthError('session_expired', 'セッションの有効期限が切れています。もう一度ログインしてください (sekisho login)', 'The session has expired. Log in again (sekisho login)');
const ENDED = new AuthError('session_revoked', 'この資格情報は失効したため、セッションは終了しました', 'The session ended because its credential was revoked');
const UNKNOWN = new AuthError('invalid_credential', 'セッショントークンが正しくありません', 'Invalid session token');
const REVOKED_AT_CREATE = new AuthError('credential_revoked', 'この資格情報は失効しています', 'This credential has been revoked');

const hashOf = (token: string) => crypto.createHash('sha256').update(token).digest('base64url');

export interface SharedSessions {
  store: SharedSessionStore;
  bus: Bus;
  /** How long a cached session is trusted without reading the shared store (ms). */
  cacheMs: number;
}

export class Sessions {
  private byHash = new Map<string, Session>();
  /** Credentials this node heard were revoked (credential id → when), kept for one session TTL. */
  private revoked = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly shared?: SharedSessions,
  ) {}

  static isSessionToken(token: string): boolean {
    return token.startsWith(SESSION_PREFIX);
  }

  get isShared(): boolean {
    return this.shared !== undefined;
  }

  /** One node: a session in this process's memory. With a shared store use `open`. */
  create(principal: Principal, credentialId: string, status: StatusRef | undefined, credentialExpMs: number, credentialKey = `vc:${credentialId}`): { token: string; expiresAt: number } {
    if (this.shared) throw new Error('Sessions.create: use open() with a shared store');
    const token = SESSION_PREFIX + crypto.randomBytes(32).toString('base64url');
    const expMs = Math.min(this.now() + this.ttlMs, credentialExpMs);
    principal = { ...principal, authTime: this.now() };
    this.byHash.set(hashOf(token), { principal, credentialId, credentialKey, status, expMs, checkedAt: this.now(), epoch: 0 });
    if (this.byHash.size > 100_000) this.prune();
    return { token, expiresAt: expMs };
  }

  /** Opens a session: in the shared store when there is one (the token is handed out once it is stored). */
  async open(principal: Principal, credentialId: string, status: StatusRef | undefined, credentialExpMs: number, credentialKey = `vc:${credentialId}`): Promise<{ token: string; expiresAt: number }> {
    if (!this.shared) return this.create(principal, credentialId, status, credentialExpMs, credentialKey);
    if (this.revoked.has(credentialKey)) throw REVOKED_AT_CREATE;
    const token = SESSION_PREFIX + crypto.randomBytes(32).toString('base64url');
    const t = this.now();
    const expMs = Math.min(t + this.ttlMs, credentialExpMs);
    const rec: SessionRecord = { principal: { ...principal, authTime: t }, credentialId, credentialKey, status, expMs };
    const h = hashOf(token);
    const epoch = this.shared.store.epoch;
    if (!(await this.shared.store.put(h, rec))) throw REVOKED_AT_CREATE;
    this.remember(h, { ...rec, checkedAt: t, epoch });
    return { token, expiresAt: expMs };
  }

  /**
   * The hot path. Throws AuthError. One node, or a cached session that is still trusted:
   * synchronous. Otherwise a promise (a read of the shared store; RedisError when unreachable).
   */
  authenticate(token: string): Principal | Promise<Principal> {
    if (!SESSION_RE.test(token)) throw UNKNOWN;
    const h = hashOf(token);
    const s = this.byHash.get(h);
    if (!this.shared) {
      if (!s) throw UNKNOWN;
      return this.check(s);
    }
    if (s?.ended) throw ENDED;
    const store = this.shared.store;
    if (s) {
      const t = this.now();
      if (t - s.checkedAt < this.shared.cacheMs && s.epoch === store.epoch && store.live) {
        if (t >= s.expMs) throw EXPIRED;
        return s.principal;
      }
    }
    return this.fetch(h);
  }

  private check(s: Session): Principal {
    if (s.ended) throw ENDED;
    if (this.now() >= s.expMs) throw EXPIRED;
    return s.principal;
  }

  private async fetch(h: string): Promise<Principal> {
    const store = this.shared!.store;
    const epoch = store.epoch;
    const rec = await store.get(h);
    if (rec === undefined) {
      this.byHash.delete(h);
      throw UNKNOWN;
    }
    if (rec === 'revoked') {
      const s = this.byHash.get(h);
      if (s) s.ended = 'revoked';
      throw ENDED;
    }
    // a revocation message may have arrived while the store was being read
    if (this.byHash.get(h)?.ended || this.revoked.has(rec.credentialKey)) throw ENDED;
    const s: Session = { ...rec, checkedAt: this.now(), epoch };
    this.remember(h, s);
    return this.check(s);
  }

  private remember(h: string, s: Session): void {
    this.byHash.set(h, s);
    if (this.byHash.size > 100_000) this.prune();
  }

  get size(): number {
    return this.byHash.size;
  }

  /**
   * Ends every session whose credential `isRevoked` says is revoked (or cannot be checked).
   * With a shared store, the revocation reaches every node (`announceRevocation`).
   */
  async sweep(isRevoked: (ref: StatusRef) => Promise<boolean>): Promise<number> {
    this.prune();
    const verdicts = new Map<string, Promise<boolean>>();
    const credentials = new Set<string>();
    let ended = 0;
    for (const s of this.byHash.values()) {
      if (!s.status || s.ended) continue;
      const k = `${s.status.uri}#${s.status.idx}`;
      let v = verdicts.get(k);
      if (!v) verdicts.set(k, (v = isRevoked(s.status).catch(() => true)));
      if (await v) {
        s.ended = 'revoked';
        credentials.add(s.credentialKey);
        ended++;
      }
    }
    if (this.shared && credentials.size > 0) await announceRevocation(this.shared.store, this.shared.bus, [...credentials]);
    return ended;
  }

  /** Live sessions cached on this node (for the console): a short id (of the token's hash), never the token. */
  list(): { id: string; principal: Principal; expMs: number }[] {
    const t = this.now();
    const out: { id: string; principal: Principal; expMs: number }[] = [];
    for (const [h, s] of this.byHash) if (!s.ended && t < s.expMs) out.push({ id: h.slice(0, 16), principal: s.principal, expMs: s.expMs });
    return out;
  }

  /** Ends the session on this node whose short id (`list`) is `id`; false when there is none. */
  end(id: string): boolean {
    if (!/^[A-Za-z0-9_-]{16}$/.test(id)) return false;
    for (const [h, s] of this.byHash) {
      if (h.startsWith(id) && !s.ended) {
        s.ended = 'revoked';
        return true;
      }
    }
    return false;
  }

  /** Ends this node's sessions of a credential, by its key (a `session.revoked` message, or a local revocation). */
  endForCredential(credentialKey: string): number {
    if (this.shared) {
      if (this.revoked.size >= 100_000) this.pruneRevoked();
      this.revoked.set(credentialKey, this.now());
    }
    let n = 0;
    for (const s of this.byHash.values()) if (s.credentialKey === credentialKey && !s.ended) ((s.ended = 'revoked'), n++);
    return n;
  }

  private pruneRevoked(): void {
    const t = this.now();
    for (const [id, at] of this.revoked) if (t - at >= this.ttlMs) this.revoked.delete(id);
    if (this.revoked.size >= 100_000) this.revoked.clear(); // the store's tombstones still hold
  }

  private prune(): void {
    const t = this.now();
    this.pruneRevoked();
    for (const [k, s] of this.byHash) {
      if (t >= s.expMs + 3600_000 || (s.ended && t >= s.expMs)) this.byHash.delete(k);
      // shared: entries are only a cache; drop the ones that would be re-read anyway
      else if (this.shared && !s.ended && t - s.checkedAt >= this.shared.cacheMs) this.byHash.delete(k);
    }
  }
}
