/**
 * IETF Token Status List (draft-ietf-oauth-status-list): one bit per credential, 1 = revoked.
 *
 *   credential:  "status": { "status_list": { "idx": 4711, "uri": "<origin>/status/1" } }
 *   list token:  JWT, typ "statuslist+jwt", { sub: uri, iat, exp, ttl,
 *                status_list: { bits: 1, lst: base64url(zlib(deflate(bytes))) } }
 * Bit i lives in byte i>>3 at position i&7, least significant bit first (§4.1).
 *
 * The verifier side (`StatusListCache`) keeps each list for its `ttl` and refuses to decide
 * with a list that is past its `exp` or older than the configured maximum age (stale).
 * It never fetches a URI itself: the caller gives it a source per configured issuer (no SSRF).
 */
import zlib from 'node:zlib';
import { CompactSign, type JWK } from 'jose';
import { AuthError } from './errors.js';
import type { SigningKey, SigningAlg } from './keys.js';
import { checkAlg, decodeHeader, verifyJws } from './sdjwt.js';

export const STATUS_LIST_TYP = 'statuslist+jwt';
export const STATUS_VALID = 0;
export const STATUS_INVALID = 1;

export function encodeList(bitsSet: Iterable<number>, size: number): string {
  const bytes = Buffer.alloc(Math.ceil(size / 8));
  for (const i of bitsSet) if (i >= 0 && i < size) bytes[i >> 3]! |= 1 << (i & 7);
  return zlib.deflateSync(bytes, { level: 9 }).toString('base64url');
}

export function decodeList(lst: string, maxBytes = 1 << 20): Buffer {
  return zlib.inflateSync(Buffer.from(lst, 'base64url'), { maxOutputLength: maxBytes });
}

export function bitAt(list: Buffer, idx: number): number {
  const byte = list[idx >> 3];
  if (byte === undefined) return -1;
  return (byte >> (idx & 7)) & 1;
}

export async function signStatusList(p: { uri: string; revoked: Iterable<number>; size: number; ttlS: number; key: SigningKey; iss: string; now?: Date }): Promise<string> {
  const iat = Math.floor((p.now ?? new Date()).getTime() / 1000);
  const payload = { iss: p.iss, sub: p.uri, iat, exp: iat + Math.max(2 * p.ttlS, 60), ttl: p.ttlS, status_list: { bits: 1, lst: encodeList(p.revoked, p.size) } };
  return new CompactSign(Buffer.from(JSON.stringify(payload))).setProtectedHeader({ alg: p.key.alg, typ: STATUS_LIST_TYP, kid: p.key.kid }).sign(p.key.privateKey);
}

export interface StatusRef {
  idx: number;
  uri: string;
}

export function statusRefOf(claims: Record<string, unknown>): StatusRef | undefined {
  const s = (claims.status as { status_list?: { idx?: unknown; uri?: unknown } } | undefined)?.status_list;
  if (!s) return undefined;
  if (typeof s.idx !== 'number' || !Number.isInteger(s.idx) || s.idx < 0 || typeof s.uri !== 'string' || s.uri.length > 2048) {
    throw new AuthError('status_list_invalid', '資格情報の status 参照が正しくありません', 'The credential\'s status reference is malformed');
  }
  return { idx: s.idx, uri: s.uri };
}

interface Cached {
  list: Buffer;
  fetchedAt: number;
  exp: number;
  ttlMs: number;
}

export interface StatusSource {
  /** Returns the status list token for `uri`; only URIs of configured issuers are ever asked for. */
  fetch(uri: string): Promise<string>;
  /** The key that must have signed the list. */
  key(kid: string | undefined): { jwk: JWK; alg: SigningAlg } | undefined;
}

const STALE = (uri: string) => new AuthError('status_list_stale', `失効リスト ${uri} が古く、失効していないことを確認できません`, `The status list ${uri} is stale: the credential cannot be shown to be unrevoked`);

export class StatusListCache {
  private cache = new Map<string, Cached>();
  private inflight = new Map<string, Promise<Cached>>();

  constructor(
    private readonly sourceFor: (uri: string) => StatusSource | undefined,
    /** A list older than this is refreshed; one that cannot be refreshed and is older than 2× is stale. */
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Status of `ref` (0 valid, 1 revoked); throws status_list_stale / status_list_invalid. */
  async status(ref: StatusRef, forceFresh = false): Promise<number> {
    let c = this.cache.get(ref.uri);
    const t = this.now();
    if (!c || forceFresh || t - c.fetchedAt >= Math.min(this.maxAgeMs, c.ttlMs)) {
      try {
        c = await this.refresh(ref.uri);
      } catch (e) {
        if (e instanceof AuthError && e.code !== 'status_list_stale') throw e;
        if (!c || t - c.fetchedAt > 2 * this.maxAgeMs || t / 1000 > c.exp) throw STALE(ref.uri);
      }
    }
    if (t / 1000 > c.exp) throw STALE(ref.uri);
    const bit = bitAt(c.list, ref.idx);
    if (bit < 0) throw new AuthError('status_list_invalid', '失効リストの範囲外の参照です', 'The status index is outside the status list');
    return bit;
  }

  private refresh(uri: string): Promise<Cached> {
    let p = this.inflight.get(uri);
    if (!p) {
      p = this.load(uri).finally(() => this.inflight.delete(uri));
      this.inflight.set(uri, p);
    }
    return p;
  }

  private async load(uri: string): Promise<Cached> {
    const src = this.sourceFor(uri);
    if (!src) throw new AuthError('unknown_issuer', `失効リスト ${uri} は信頼する発行者のものではありません`, `The status list ${uri} does not belong to a trusted issuer`);
    let token: string;
    try {
      token = await src.fetch(uri);
    } catch {
      throw STALE(uri);
    }
    const h = decodeHeader(token);
    const alg = checkAlg(h, 'status list');
    if (h.typ !== STATUS_LIST_TYP) throw new AuthError('status_list_invalid', '失効リストの typ が正しくありません', 'The status list token has the wrong typ');
    const k = src.key(typeof h.kid === 'string' ? h.kid : undefined);
    if (!k || k.alg !== alg) throw new AuthError('status_list_invalid', '失効リストの署名鍵が不明です', 'The status list is signed by an unknown key');
    const p = await verifyJws(token, k.jwk, alg, 'status list');
    const sl = p.status_list as { bits?: unknown; lst?: unknown } | undefined;
    if (p.sub !== uri || !sl || sl.bits !== 1 || typeof sl.lst !== 'string') throw new AuthError('status_list_invalid', '失効リストの内容が正しくありません', 'The status list token is malformed');
    const exp = typeof p.exp === 'number' ? p.exp : Infinity;
    if (this.now() / 1000 > exp) throw STALE(uri);
    let list: Buffer;
    try {
      list = decodeList(sl.lst);
    } catch {
      throw new AuthError('status_list_invalid', '失効リストを展開できません', 'The status list cannot be decompressed');
    }
    const c: Cached = { list, fetchedAt: this.now(), exp, ttlMs: typeof p.ttl === 'number' && p.ttl > 0 ? p.ttl * 1000 : this.maxAgeMs };
    this.cache.set(uri, c);
    return c;
  }
}
