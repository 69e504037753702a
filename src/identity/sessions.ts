/**
 * Sessions: a presentation is verified once; the holder then uses a short-lived opaque token
 * (`sks_…`, 256 bits) as the `Authorization: Bearer` of the OpenAI API. Looking a session up
 * is one SHA-256 and one Map read (the hot path: ≤ 5 µs).
 *
 * Revocation: `sweep()` re-checks the status of every live session's credential against the
 * status list (every `status_refresh_s`, default 60 s), so a revoked credential's sessions end
 * within that interval.
 */
import crypto from 'node:crypto';
import { AuthError } from './errors.js';
import type { Principal } from './principal.js';
import type { StatusRef } from './status-list.js';

export const SESSION_PREFIX = 'sks_';
const SESSION_RE = /^sks_[A-Za-z0-9_-]{43}$/;

interface Session {
  principal: Principal;
  credentialId: string;
  status: StatusRef | undefined;
  /** ms since epoch: min(session TTL, credential expiry). */
  expMs: number;
  ended?: 'revoked';
}

const EXPIRED = new AuthError('session_expired', 'セッションの有効期限が切れています。もう一度ログインしてください (sekisho login)', 'The session has expired. Log in again (sekisho login)');
const ENDED = new AuthError('session_revoked', 'この資格情報は失効したため、セッションは終了しました', 'The session ended because its credential was revoked');
const UNKNOWN = new AuthError('invalid_credential', 'セッショントークンが正しくありません', 'Invalid session token');

const hashOf = (token: string) => crypto.createHash('sha256').update(token).digest('base64url');

export class Sessions {
  private byHash = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  static isSessionToken(token: string): boolean {
    return token.startsWith(SESSION_PREFIX);
  }

  create(principal: Principal, credentialId: string, status: StatusRef | undefined, credentialExpMs: number): { token: string; expiresAt: number } {
    const token = SESSION_PREFIX + crypto.randomBytes(32).toString('base64url');
    const expMs = Math.min(this.now() + this.ttlMs, credentialExpMs);
    this.byHash.set(hashOf(token), { principal, credentialId, status, expMs });
    if (this.byHash.size > 100_000) this.prune();
    return { token, expiresAt: expMs };
  }

  /** The hot path. Throws AuthError. */
  authenticate(token: string): Principal {
    if (!SESSION_RE.test(token)) throw UNKNOWN;
    const s = this.byHash.get(hashOf(token));
    if (!s) throw UNKNOWN;
    if (s.ended) throw ENDED;
    if (this.now() >= s.expMs) throw EXPIRED;
    return s.principal;
  }

  get size(): number {
    return this.byHash.size;
  }

  /** Ends every session whose credential `isRevoked` says is revoked (or cannot be checked). */
  async sweep(isRevoked: (ref: StatusRef) => Promise<boolean>): Promise<number> {
    this.prune();
    const verdicts = new Map<string, Promise<boolean>>();
    let ended = 0;
    for (const s of this.byHash.values()) {
      if (!s.status || s.ended) continue;
      const k = `${s.status.uri}#${s.status.idx}`;
      let v = verdicts.get(k);
      if (!v) verdicts.set(k, (v = isRevoked(s.status).catch(() => true)));
      if (await v) {
        s.ended = 'revoked';
        ended++;
      }
    }
    return ended;
  }

  /** Live sessions (for the console): a short id (of the token's hash), never the token. */
  list(): { id: string; principal: Principal; expMs: number }[] {
    const t = this.now();
    const out: { id: string; principal: Principal; expMs: number }[] = [];
    for (const [h, s] of this.byHash) if (!s.ended && t < s.expMs) out.push({ id: h.slice(0, 16), principal: s.principal, expMs: s.expMs });
    return out;
  }

  /** Ends the session whose short id (`list`) is `id`; false when there is none. */
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

  endForCredential(credentialId: string): number {
    let n = 0;
    for (const s of this.byHash.values()) if (s.credentialId === credentialId && !s.ended) ((s.ended = 'revoked'), n++);
    return n;
  }

  private prune(): void {
    const t = this.now();
    for (const [k, s] of this.byHash) if (t >= s.expMs + 3600_000 || (s.ended && t >= s.expMs)) this.byHash.delete(k);
  }
}
