/**
 * SD-JWT (RFC 9901, Selective Disclosure for JWTs) and its key binding, written by hand on
 * node:crypto and jose because it is the core of the product. Sections cited are RFC 9901's.
 *
 *   <Issuer-signed JWT>~<Disclosure 1>~…~<Disclosure N>~[<KB-JWT>]        (§4, §5)
 *
 * Issued credentials are SD-JWT VCs (draft-ietf-oauth-sd-jwt-vc): header `typ: dc+sd-jwt`.
 * Only ES256 and EdDSA are accepted; `alg: none` and any other algorithm are refused before
 * a key is even looked up (§7.1 step 2.2; no algorithm confusion: the key's own `alg` must
 * match the header).
 */
import crypto from 'node:crypto';
import { CompactSign, compactVerify, importJWK, type JWK, type CryptoKey } from 'jose';
import { AuthError } from './errors.js';
import type { SigningAlg, SigningKey } from './keys.js';

export const SD_JWT_VC_TYP = 'dc+sd-jwt';
export const KB_JWT_TYP = 'kb+jwt';
export const ALLOWED_ALGS: readonly string[] = ['ES256', 'EdDSA'];
/** An SD-JWT presentation larger than this is refused unread. */
export const MAX_SD_JWT_BYTES = 64 * 1024;
const MAX_DISCLOSURES = 256;

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');
const fromB64uJson = (s: string): unknown => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));

/** §4.2.3: the digest of a Disclosure is over its base64url ASCII form, not the decoded JSON. */
export function digestOf(disclosure: string): string {
  return crypto.createHash('sha256').update(disclosure, 'ascii').digest('base64url');
}

/** §4.2.1 (object property) and §4.2.2 (array element) Disclosures. */
function makeDisclosure(parts: unknown[]): string {
  return b64u(JSON.stringify(parts));
}

function salt(): string {
  return crypto.randomBytes(16).toString('base64url'); // §9.3: at least 128 bits
}

export interface IssueInput {
  /** Claims always visible (iss, vct, iat, nbf, exp, cnf, status … never disclosable, SD-JWT VC §3.2.2). */
  fixed: Record<string, unknown>;
  /** Claims disclosable one by one (§4.2.1). Arrays listed in `disclosableElements` get per-element Disclosures (§4.2.2). */
  disclosable: Record<string, unknown>;
  disclosableElements?: readonly string[];
  /** Decoy digests per `_sd` array (§4.2.5), to hide how many claims there are. */
  decoys?: number;
}

export interface Issued {
  sdJwt: string;
  jwt: string;
  disclosures: string[];
}

/** Issues an SD-JWT (§4): signs the payload with `_sd` digests and returns all Disclosures. */
export async function issueSdJwt(input: IssueInput, key: SigningKey, typ = SD_JWT_VC_TYP): Promise<Issued> {
  const disclosures: string[] = [];
  const sd: string[] = [];
  for (const [name, value] of Object.entries(input.disclosable)) {
    if (name === '_sd' || name === '...' || name in input.fixed) throw new Error(`claim ${name} cannot be disclosable`);
    let v = value;
    if (Array.isArray(value) && input.disclosableElements?.includes(name)) {
      // §4.2.4.2: each element replaced by {"...": digest}
      v = value.map((el) => {
        const d = makeDisclosure([salt(), el]);
        disclosures.push(d);
        return { '...': digestOf(d) };
      });
    }
    const d = makeDisclosure([salt(), name, v]);
    disclosures.push(d);
    sd.push(digestOf(d));
  }
  for (let i = 0; i < (input.decoys ?? 0); i++) sd.push(digestOf(b64u(crypto.randomBytes(32))));
  sd.sort(); // §4.2.4.1: the order of digests must not reveal the order of claims
  const payload = { ...input.fixed, _sd: sd, _sd_alg: 'sha-256' };
  const jwt = await new CompactSign(Buffer.from(JSON.stringify(payload)))
    .setProtectedHeader({ alg: key.alg, typ, kid: key.kid })
    .sign(key.privateKey);
  return { jwt, disclosures, sdJwt: `${jwt}~${disclosures.map((d) => d + '~').join('')}` };
}

export interface ParsedSdJwt {
  jwt: string;
  disclosures: string[];
  kbJwt: string | undefined;
  /** `<jwt>~<d1>~…~<dn>~`: what sd_hash covers (§4.3.1). */
  presented: string;
}

const bad = (code: ConstructorParameters<typeof AuthError>[0], ja: string, en: string) => new AuthError(code, ja, en);
const MALFORMED = () => bad('malformed_presentation', '提示された SD-JWT の形式が正しくありません', 'The presented SD-JWT is malformed');

/** §4 / §5: splits the compact serialization. */
export function parseSdJwt(s: string): ParsedSdJwt {
  if (typeof s !== 'string' || s.length === 0 || s.length > MAX_SD_JWT_BYTES || !/^[A-Za-z0-9_\-.~]+$/.test(s)) throw MALFORMED();
  const parts = s.split('~');
  if (parts.length < 2 || parts.length > MAX_DISCLOSURES + 2) throw MALFORMED();
  const jwt = parts[0]!;
  const kb = parts[parts.length - 1]!;
  const disclosures = parts.slice(1, -1);
  if (jwt.split('.').length !== 3 || disclosures.some((d) => d.length === 0)) throw MALFORMED();
  if (kb !== '' && kb.split('.').length !== 3) throw MALFORMED();
  return { jwt, disclosures, kbJwt: kb === '' ? undefined : kb, presented: parts.slice(0, -1).join('~') + '~' };
}

export interface JwsHeader {
  alg?: unknown;
  typ?: unknown;
  kid?: unknown;
  jwk?: unknown;
  crit?: unknown;
}

export function decodeHeader(jwt: string): JwsHeader {
  try {
    const h = fromB64uJson(jwt.split('.')[0]!);
    if (typeof h !== 'object' || h === null || Array.isArray(h)) throw new Error();
    return h as JwsHeader;
  } catch {
    throw MALFORMED();
  }
}

/** Rejects `none` and every algorithm we do not use (§7.1 2.2; RFC 8725 §3.1). */
export function checkAlg(h: JwsHeader, what: string): SigningAlg {
  if (typeof h.alg !== 'string' || !ALLOWED_ALGS.includes(h.alg)) {
    throw bad('alg_not_allowed', `${what} の署名アルゴリズム ${String(h.alg)} は受け付けません (ES256 または EdDSA のみ)`, `${what}: the signature algorithm ${String(h.alg)} is not accepted (ES256 or EdDSA only)`);
  }
  if (h.crit !== undefined) throw bad('malformed_presentation', `${what} に未対応の crit ヘッダーがあります`, `${what} carries an unsupported crit header`);
  return h.alg as SigningAlg;
}

function jwkMatchesAlg(jwk: JWK, alg: SigningAlg): boolean {
  if (alg === 'ES256') return jwk.kty === 'EC' && jwk.crv === 'P-256';
  return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
}

/** Verifies a JWS with a JWK, the header alg pinned to the key type (no algorithm confusion). */
export async function verifyJws(jwt: string, jwk: JWK, alg: SigningAlg, what: string): Promise<Record<string, unknown>> {
  if (!jwkMatchesAlg(jwk, alg) || 'd' in jwk) throw bad('alg_not_allowed', `${what} の鍵とアルゴリズム ${alg} が一致しません`, `${what}: the key does not match the algorithm ${alg}`);
  let key: CryptoKey;
  try {
    key = (await importJWK(jwk, alg)) as CryptoKey;
  } catch {
    throw bad('bad_signature', `${what} の検証鍵が不正です`, `${what}: the verification key is invalid`);
  }
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jwt, key, { algorithms: [alg] }));
  } catch {
    throw bad('bad_signature', `${what} の署名が正しくありません`, `${what}: the signature does not verify`);
  }
  try {
    const p = JSON.parse(Buffer.from(payload).toString('utf8'));
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new Error();
    return p as Record<string, unknown>;
  } catch {
    throw MALFORMED();
  }
}

/**
 * §7.1 step 3: replaces digests by the disclosed claims. Every Disclosure must be referenced
 * exactly once; a digest appearing twice, a Disclosure that matches no digest (tampered), a
 * claim named `_sd`/`...` or one that already exists are all refused.
 */
export function processDisclosures(payload: Record<string, unknown>, disclosures: readonly string[]): Record<string, unknown> {
  if (payload._sd_alg !== undefined && payload._sd_alg !== 'sha-256') {
    throw bad('malformed_presentation', `_sd_alg ${String(payload._sd_alg)} には対応していません`, `_sd_alg ${String(payload._sd_alg)} is not supported`);
  }
  const byDigest = new Map<string, unknown[]>();
  for (const d of disclosures) {
    const digest = digestOf(d);
    if (byDigest.has(digest)) throw bad('disclosure_duplicated', '同じ開示 (Disclosure) が重複しています', 'The same Disclosure is presented twice');
    let arr: unknown;
    try {
      arr = fromB64uJson(d);
    } catch {
      throw bad('disclosure_tampered', '開示 (Disclosure) を読み取れません', 'A Disclosure cannot be decoded');
    }
    if (!Array.isArray(arr) || (arr.length !== 2 && arr.length !== 3) || typeof arr[0] !== 'string') {
      throw bad('disclosure_tampered', '開示 (Disclosure) の形式が正しくありません', 'A Disclosure is not well formed');
    }
    byDigest.set(digest, arr);
  }
  const seen = new Set<string>();
  const used = (digest: string) => {
    if (seen.has(digest)) throw bad('disclosure_duplicated', 'ダイジェストが重複しています', 'A digest appears more than once');
    seen.add(digest);
  };
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > 16) throw MALFORMED();
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      for (const el of v) {
        if (el && typeof el === 'object' && !Array.isArray(el) && Object.keys(el).length === 1 && '...' in el) {
          const digest = (el as { '...': unknown })['...'];
          if (typeof digest !== 'string') throw MALFORMED();
          used(digest);
          const disc = byDigest.get(digest);
          if (!disc) continue; // not disclosed (or a decoy)
          if (disc.length !== 2) throw bad('disclosure_tampered', '配列要素の開示の形式が正しくありません', 'An array-element Disclosure is not well formed');
          byDigest.delete(digest);
          out.push(walk(disc[1], depth + 1));
        } else out.push(walk(el, depth + 1));
      }
      return out;
    }
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [k, val] of Object.entries(o)) if (k !== '_sd' && k !== '_sd_alg') out[k] = walk(val, depth + 1);
      if (o._sd !== undefined) {
        if (!Array.isArray(o._sd)) throw MALFORMED();
        for (const digest of o._sd) {
          if (typeof digest !== 'string') throw MALFORMED();
          used(digest);
          const disc = byDigest.get(digest);
          if (!disc) continue;
          if (disc.length !== 3 || typeof disc[1] !== 'string') throw bad('disclosure_tampered', 'プロパティの開示の形式が正しくありません', 'An object-property Disclosure is not well formed');
          const name = disc[1];
          if (name === '_sd' || name === '...' || name === '_sd_alg' || Object.prototype.hasOwnProperty.call(out, name)) {
            throw bad('disclosure_tampered', `開示された項目名 ${name} は使えません`, `The disclosed claim name ${name} is not allowed`);
          }
          byDigest.delete(digest);
          out[name] = walk(disc[2], depth + 1);
        }
      }
      return out;
    }
    return v;
  };
  const claims = walk(payload, 0) as Record<string, unknown>;
  if (byDigest.size > 0) throw bad('disclosure_tampered', '署名された内容に含まれない開示 (Disclosure) があります (改ざん)', 'A Disclosure is not referenced by the signed payload (tampered)');
  return claims;
}

export interface KbInput {
  sdJwt: string;
  holderKey: CryptoKey;
  alg: SigningAlg;
  aud: string;
  nonce: string;
  iat?: number;
}

/** §4.3: appends a Key Binding JWT over the presentation (which must end with `~`). */
export async function addKeyBinding(p: KbInput): Promise<string> {
  if (!p.sdJwt.endsWith('~')) throw new Error('the SD-JWT must end with ~');
  const sd_hash = crypto.createHash('sha256').update(p.sdJwt, 'ascii').digest('base64url');
  const payload = { iat: p.iat ?? Math.floor(Date.now() / 1000), aud: p.aud, nonce: p.nonce, sd_hash };
  const kb = await new CompactSign(Buffer.from(JSON.stringify(payload))).setProtectedHeader({ alg: p.alg, typ: KB_JWT_TYP }).sign(p.holderKey);
  return p.sdJwt + kb;
}

/** Keeps only the Disclosures for the claims named in `keep` (and every array element of them). */
export function selectDisclosures(sdJwt: string, keep: (name: string | null) => boolean): string {
  const { jwt, disclosures } = parseSdJwt(sdJwt.endsWith('~') ? sdJwt : sdJwt + '~');
  const chosen = disclosures.filter((d) => {
    const a = fromB64uJson(d) as unknown[];
    return keep(a.length === 3 ? (a[1] as string) : null);
  });
  return `${jwt}~${chosen.map((d) => d + '~').join('')}`;
}
