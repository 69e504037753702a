/**
 * Verifying an SD-JWT VC presentation (RFC 9901 §7.1 issuer-signed JWT, §7.3 key binding;
 * SD-JWT VC for `typ`, `vct`, `iss`, validity and `status`). Every failure is an AuthError
 * with a precise code; nothing here starts a session.
 */
import crypto from 'node:crypto';
import type { JWK } from 'jose';
import { AuthError } from './errors.js';
import type { SigningAlg } from './keys.js';
import { checkAlg, decodeHeader, KB_JWT_TYP, parseSdJwt, processDisclosures, SD_JWT_VC_TYP, verifyJws, type ParsedSdJwt } from './sdjwt.js';
import { statusRefOf, StatusListCache, STATUS_VALID, type StatusRef } from './status-list.js';

export interface IssuerKeys {
  id: string;
  key(kid: string | undefined): { jwk: JWK; alg: SigningAlg } | undefined;
}

export interface VerifyPresentationOptions {
  /** The verifier's client_id: the KB-JWT `aud` must equal it. */
  aud: string;
  nonce: string;
  nowMs: number;
  skewS: number;
  /** Trusted issuers only; anything else is `unknown_issuer`. */
  issuer(iss: string): IssuerKeys | undefined;
  status: StatusListCache;
  vcts?: readonly string[];
}

export interface VerifiedCredential {
  iss: string;
  vct: string;
  /** Disclosed and always-visible claims. */
  claims: Record<string, unknown>;
  holderJwk: JWK;
  status: StatusRef | undefined;
  exp: number;
  /** A stable id of this credential (hash of its issuer-signed JWT). */
  credentialId: string;
}

const err = (code: ConstructorParameters<typeof AuthError>[0], ja: string, en: string) => new AuthError(code, ja, en);

function decodePayloadUnverified(jwt: string): Record<string, unknown> {
  try {
    const p = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));
    if (p && typeof p === 'object' && !Array.isArray(p)) return p as Record<string, unknown>;
  } catch {
    /* fall through */
  }
  throw err('malformed_presentation', '提示された SD-JWT を読み取れません', 'The presented SD-JWT cannot be decoded');
}

/** The KB-JWT's nonce, read before verification to find the request it answers. */
export function kbNonceOf(presentation: string): string | undefined {
  const p: ParsedSdJwt = parseSdJwt(presentation);
  if (!p.kbJwt) return undefined;
  const n = decodePayloadUnverified(p.kbJwt).nonce;
  return typeof n === 'string' && n.length <= 256 ? n : undefined;
}

function timingSafeStrEq(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && crypto.timingSafeEqual(ab, bb);
}

export async function verifyPresentation(presentation: string, o: VerifyPresentationOptions): Promise<VerifiedCredential> {
  const p = parseSdJwt(presentation);
  const now = Math.floor(o.nowMs / 1000);

  // Issuer-signed JWT (§7.1 step 2)
  const h = decodeHeader(p.jwt);
  const alg = checkAlg(h, 'SD-JWT');
  if (h.typ !== SD_JWT_VC_TYP && h.typ !== 'vc+sd-jwt') {
    throw err('wrong_type', `資格情報の typ は ${SD_JWT_VC_TYP} である必要があります`, `The credential's typ must be ${SD_JWT_VC_TYP}`);
  }
  const unverified = decodePayloadUnverified(p.jwt);
  const iss = unverified.iss;
  const issuer = typeof iss === 'string' ? o.issuer(iss) : undefined;
  if (!issuer) throw err('unknown_issuer', `発行者 ${String(iss).slice(0, 200)} は信頼されていません`, `The issuer ${String(iss).slice(0, 200)} is not trusted`);
  const kid = typeof h.kid === 'string' ? h.kid.split('#').pop() : undefined;
  const key = issuer.key(kid);
  if (!key) throw err('unknown_issuer', `発行者の鍵 ${String(kid)} は公開されていません`, `The issuer key ${String(kid)} is not published`);
  if (key.alg !== alg) throw err('alg_not_allowed', '署名アルゴリズムが発行者の鍵と一致しません', 'The signature algorithm does not match the issuer key');
  const payload = await verifyJws(p.jwt, key.jwk, alg, 'SD-JWT');
  if (payload.iss !== iss) throw err('bad_signature', '署名の内容が一致しません', 'The signed content does not match');

  // Disclosures (§7.1 step 3)
  const claims = processDisclosures(payload, p.disclosures);

  // Validity (§7.1 step 5, RFC 7519 §4.1.4/4.1.5), with the configured tolerance for clock skew
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const exp = num(claims.exp);
  if (exp === undefined) throw err('malformed_presentation', '資格情報に有効期限 (exp) がありません', 'The credential has no expiry (exp)');
  if (now > exp + o.skewS) throw err('credential_expired', `資格情報の有効期限 (${new Date(exp * 1000).toISOString()}) が切れています`, `The credential expired at ${new Date(exp * 1000).toISOString()}`);
  const nbf = num(claims.nbf);
  if (nbf !== undefined && nbf > now + o.skewS) throw err('credential_not_yet_valid', `資格情報はまだ有効になっていません (${new Date(nbf * 1000).toISOString()} から)`, `The credential is not valid before ${new Date(nbf * 1000).toISOString()}`);
  const iat = num(claims.iat);
  if (iat !== undefined && iat > now + o.skewS) throw err('clock_skew', '資格情報の発行時刻が未来です (時計のずれが許容範囲を超えています)', 'The credential was issued in the future (clock skew beyond tolerance)');
  const vct = claims.vct;
  if (typeof vct !== 'string' || (o.vcts && !o.vcts.includes(vct))) throw err('wrong_type', `資格情報の種類 (vct) ${String(vct)} は受け付けません`, `The credential type (vct) ${String(vct)} is not accepted`);

  // Key binding (§7.3)
  const cnf = (claims.cnf as { jwk?: JWK } | undefined)?.jwk;
  if (!cnf || typeof cnf !== 'object') throw err('key_binding_missing', '資格情報に保有者の鍵 (cnf) がありません', 'The credential has no holder key (cnf)');
  if (!p.kbJwt) throw err('key_binding_missing', '保有者による鍵の結合 (KB-JWT) がありません', 'The presentation has no Key Binding JWT');
  const kh = decodeHeader(p.kbJwt);
  const kalg = checkAlg(kh, 'KB-JWT');
  if (kh.typ !== KB_JWT_TYP) throw err('key_binding_invalid', `KB-JWT の typ は ${KB_JWT_TYP} である必要があります`, `The KB-JWT typ must be ${KB_JWT_TYP}`);
  const kb = await verifyJws(p.kbJwt, cnf, kalg, 'KB-JWT').catch((e: AuthError) => {
    throw e.code === 'bad_signature' ? err('key_binding_invalid', '保有者の署名 (KB-JWT) が正しくありません', 'The holder signature (KB-JWT) does not verify') : e;
  });
  if (typeof kb.aud !== 'string' || !timingSafeStrEq(kb.aud, o.aud)) throw err('wrong_audience', `提示の宛先 (aud) がこの関所 (${o.aud}) ではありません`, `The presentation is addressed to another audience, not ${o.aud}`);
  if (typeof kb.nonce !== 'string' || !timingSafeStrEq(kb.nonce, o.nonce)) throw err('nonce_replayed', 'nonce が要求と一致しません', 'The nonce does not match the request');
  const kiat = num(kb.iat);
  if (kiat === undefined || Math.abs(now - kiat) > o.skewS) throw err('clock_skew', '提示の時刻 (iat) が許容範囲を超えてずれています', 'The presentation time (iat) is off by more than the clock-skew tolerance');
  const sdHash = crypto.createHash('sha256').update(p.presented, 'ascii').digest('base64url');
  if (typeof kb.sd_hash !== 'string' || !timingSafeStrEq(kb.sd_hash, sdHash)) throw err('disclosure_tampered', '提示内容が保有者の署名 (sd_hash) と一致しません', 'The presentation does not match the holder signature (sd_hash)');

  // Status (Token Status List)
  const status = statusRefOf(claims);
  if (status && (await o.status.status(status)) !== STATUS_VALID) throw err('credential_revoked', 'この資格情報は失効しています', 'This credential has been revoked');

  return { iss: iss as string, vct, claims, holderJwk: cnf, status, exp, credentialId: crypto.createHash('sha256').update(p.jwt).digest('base64url').slice(0, 22) };
}
