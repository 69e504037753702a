/**
 * The authenticate stage: a bearer credential → a principal with attributes.
 * Today: API keys (random 256-bit secrets, stored as SHA-256 hashes). Verifiable-credential
 * sessions plug in here later.
 */
import crypto from 'node:crypto';
import type { Store, ApiKeyRow } from '../store/index.js';
import { parseLevel, levelIndex, type LevelName } from '../policy/index.js';

export interface Principal {
  /** Stable pseudonymous id used in records: `key:<id>`. */
  id: string;
  kind: 'service';
  name: string;
  defaultLevel: LevelName;
  maxLevel: LevelName;
}

export class AuthError extends Error {
  constructor(
    readonly code: 'missing_credential' | 'invalid_credential' | 'revoked_credential',
    readonly ja: string,
    readonly en: string,
  ) {
    super(en);
    this.name = 'AuthError';
  }
}

const KEY_PREFIX = 'sk-sekisho-';
const KEY_RE = /^sk-sekisho-[A-Za-z0-9_-]{43}$/;

function sha256(s: string): Buffer {
  return crypto.createHash('sha256').update(s).digest();
}

export interface NewApiKey {
  key: string;
  row: ApiKeyRow;
}

export function createApiKey(store: Store, opts: { name: string; defaultLevel?: LevelName; maxLevel?: LevelName; now?: Date }): NewApiKey {
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
  store.apiKeys.insert(row);
  return { key, row };
}

const MISSING = new AuthError(
  'missing_credential',
  'API キーがありません。Authorization: Bearer <キー> を付けてください',
  'No API key. Send Authorization: Bearer <key>',
);
const INVALID = new AuthError('invalid_credential', 'API キーが正しくありません', 'Invalid API key');
const REVOKED = new AuthError('revoked_credential', 'この API キーは失効しています', 'This API key has been revoked');

/**
 * Looks keys up by hash and caches the result briefly, so revocation by another process
 * (the CLI) takes effect within `cacheMs`.
 */
export class Authenticator {
  private cache = new Map<string, { principal: Principal | AuthError; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly cacheMs = 1000,
  ) {}

  /** `authorization` is the raw header value. Throws AuthError. */
  authenticate(authorization: string | undefined): Principal {
    if (!authorization) throw MISSING;
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization.length > 512 ? '' : authorization);
    if (!m) throw authorization.length > 512 ? INVALID : MISSING;
    const token = m[1]!;
    if (!KEY_RE.test(token)) throw INVALID;
    const now = Date.now();
    const hit = this.cache.get(token);
    if (hit && hit.until > now) {
      if (hit.principal instanceof AuthError) throw hit.principal;
      return hit.principal;
    }
    const result = this.lookup(token);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(token, { principal: result, until: now + this.cacheMs });
    if (result instanceof AuthError) throw result;
    return result;
  }

  private lookup(token: string): Principal | AuthError {
    const hash = sha256(token);
    const row = this.store.apiKeys.findByHash(hash);
    // The row was found by its hash; compare again in constant time for defence in depth.
    if (!row || row.hash.length !== hash.length || !crypto.timingSafeEqual(row.hash, hash)) return INVALID;
    if (row.revoked_at) return REVOKED;
    return {
      id: `key:${row.id}`,
      kind: 'service',
      name: row.name,
      defaultLevel: parseLevel(row.default_level) ?? 'L0',
      maxLevel: parseLevel(row.max_level) ?? 'L0',
    };
  }
}
