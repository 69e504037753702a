/**
 * Console sessions: after sign-in (an admin API key, or an admin credential presentation) the
 * browser holds a random 256-bit session id in a cookie (HttpOnly, SameSite=Strict, Secure
 * behind TLS). The server keeps only its SHA-256, with the administrator and a CSRF token
 * that every state-changing call must echo in a header. Sessions end after IDLE_MS without
 * use and at most MAX_MS after sign-in.
 */
import crypto from 'node:crypto';

export const COOKIE = 'sekisho_console';
export const CSRF_HEADER = 'x-sekisho-csrf';
export const IDLE_MS = 30 * 60_000;
export const MAX_MS = 8 * 3600_000;

export interface ConsoleAdmin {
  /** The principal id (`key:…` or `vc:…`). */
  id: string;
  name: string;
  kind: 'service' | 'person';
  /** How the administrator signed in. */
  via: 'api_key' | 'credential';
}

interface Entry {
  admin: ConsoleAdmin;
  csrf: string;
  createdMs: number;
  seenMs: number;
}

const hashOf = (id: string) => crypto.createHash('sha256').update(id).digest('base64url');

export class ConsoleSessions {
  private byHash = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  create(admin: ConsoleAdmin): { id: string; csrf: string } {
    this.prune();
    const id = crypto.randomBytes(32).toString('base64url');
    const csrf = crypto.randomBytes(32).toString('base64url');
    const t = this.now();
    this.byHash.set(hashOf(id), { admin, csrf, createdMs: t, seenMs: t });
    return { id, csrf };
  }

  /** The live session of this id (and marks it used), or undefined. */
  get(id: string | undefined): (Entry & { expiresMs: number }) | undefined {
    if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const h = hashOf(id);
    const e = this.byHash.get(h);
    if (!e) return undefined;
    const t = this.now();
    if (t - e.seenMs > IDLE_MS || t - e.createdMs > MAX_MS) {
      this.byHash.delete(h);
      return undefined;
    }
    e.seenMs = t;
    return { ...e, expiresMs: Math.min(t + IDLE_MS, e.createdMs + MAX_MS) };
  }

  /** Whether `token` is the session's CSRF token (constant time). */
  static csrfOk(expected: string, token: string | undefined): boolean {
    if (!token) return false;
    const a = Buffer.from(expected);
    const b = Buffer.from(token);
    return a.length === b.length && crypto.timingSafeEqual(a, b);
  }

  end(id: string | undefined): void {
    if (id) this.byHash.delete(hashOf(id));
  }

  get size(): number {
    return this.byHash.size;
  }

  private prune(): void {
    if (this.byHash.size < 1000) return;
    const t = this.now();
    for (const [h, e] of this.byHash) if (t - e.seenMs > IDLE_MS || t - e.createdMs > MAX_MS) this.byHash.delete(h);
  }
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export function sessionCookie(id: string, secure: boolean): string {
  return `${COOKIE}=${id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(MAX_MS / 1000)}${secure ? '; Secure' : ''}`;
}

export function clearCookie(secure: boolean): string {
  return `${COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}
