/**
 * API keys (random 256-bit secrets, stored as SHA-256 hashes): services as principals.
 * A key's default/max level become the service's attributes (clearance = max level).
 */
import crypto from 'node:crypto';
import type { Store, ApiKeyRow } from '../store/index.js';
import { parseLevel, levelIndex, type LevelName } from '../policy/index.js';
import { AuthError } from './errors.js';
import { withAttrs, type Principal } from './principal.js';

const KEY_PREFIX = 'sk-sekisho-';
const KEY_RE = /^sk-sekisho-[A-Za-z0-9_-]{43}$/;

function sha256(s: string): Buffer {
  return crypto.createHash('sha256').update(s).digest();
}

export interface NewApiKey {
  key: string;
  row: ApiKeyRow;
}

export async function createApiKey(store: Store, opts: { name: string; defaultLevel?: LevelName; maxLevel?: LevelName; now?: Date }): Promise<NewApiKey> {
  const defaultLevel = opts.defaultLevel ?? 'L0';
  const maxLevel = opts.maxLevel ?? 'L3';
  if (levelIndex(defaultLevel) > levelIndex(maxLevel)) {
    throw new RangeError(`--level ${defaultLevel} is above --max-level ${maxLevel}`);
  }
  const key = KEY_PREFIX + crypto.randomBytes(32).toString('base64url');
  const row: ApiKeyRow = {
    id: crypto.randomBytes(6).toString('hex'),
    name: opts.name,
    prefix: key.slice(0, KEY_PREFIX.length + 4),
    hash: sha256(key),
    default_level: defaultLevel,
    max_level: maxLevel,
    created_at: (opts.now ?? new Date()).toISOString(),
    revoked_at: null,
  };
  await store.apiKeys.insert(row);
  return { key, row };
}

export const MISSING = new AuthError(
  'missing_credential',
  'API キーまたはセッショントークンがありません。Authorization: Bearer <キー> を付けてください',
  'No API key or session token. Send Authorization: Bearer <key>',
);
export const INVALID = new AuthError('invalid_credential', 'API キーが正しくありません', 'Invalid API key');
const REVOKED = new AuthError('revoked_credential', 'この API キーは失効しています', 'This API key has been revoked');

/** `Bearer <token>` → token; throws MISSING/INVALID. */
export function bearerToken(authorization: string | undefined): string {
  if (!authorization) throw MISSING;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization.length > 512 ? '' : authorization);
  if (!m) throw authorization.length > 512 ? INVALID : MISSING;
  return m[1]!;
}

/**
 * Looks keys up by hash and caches the result briefly, so revocation by another process
 * (the CLI) takes effect within `cacheMs`.
 */
export class ApiKeyAuthenticator {
  private cache = new Map<string, { principal: Principal | AuthError; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly cacheMs = 1000,
  ) {}

  /** `authorization` is the raw header value. Throws (or rejects) with AuthError. */
  authenticate(authorization: string | undefined): Principal | Promise<Principal> {
    return this.authenticateToken(bearerToken(authorization));
  }

  /**
   * Synchronous while the key is cached (the request path does not wait a turn for it); a
   * promise when the store must be read. Throws (or rejects) with AuthError.
   */
  authenticateToken(token: string): Principal | Promise<Principal> {
    if (!KEY_RE.test(token)) throw INVALID;
    const now = Date.now();
    const hit = this.cache.get(token);
    if (hit && hit.until > now) {
      if (hit.principal instanceof AuthError) throw hit.principal;
      return hit.principal;
    }
    return this.lookup(token).then((result) => {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(token, { principal: result, until: now + this.cacheMs });
      if (result instanceof AuthError) throw result;
      return result;
    });
  }

  private async lookup(token: string): Promise<Principal | AuthError> {
    const hash = sha256(token);
    const row = await this.store.apiKeys.findByHash(hash);
    // The row was found by its hash; compare again in constant time for defence in depth.
    if (!row || row.hash.length !== hash.length || !crypto.timingSafeEqual(row.hash, hash)) return INVALID;
    if (row.revoked_at) return REVOKED;
    const defaultLevel = parseLevel(row.default_level) ?? 'L0';
    const maxLevel = parseLevel(row.max_level) ?? 'L0';
    return withAttrs(
      { id: `key:${row.id}`, kind: 'service', name: row.name, defaultLevel, maxLevel },
      { kind: 'service', clearance: maxLevel, role: 'service', department: '', trainings: [] },
    );
  }
}
