/**
 * OpenID for Verifiable Credential Issuance 1.0, pre-authorized code flow:
 *
 *   admin: `sekisho credential issue …` → credential offer (URI + QR code)       (§4.1)
 *   wallet: POST /oid4vci/token  grant_type=urn:ietf:params:oauth:grant-type:pre-authorized_code
 *           → access_token                                                           (§6)
 *   wallet: POST /oid4vci/nonce → c_nonce                                            (§7)
 *   wallet: POST /oid4vci/credential {credential_configuration_id, proofs:{jwt:[…]}}
 *           → {credentials:[{credential: <SD-JWT VC>}]}                              (§8)
 *
 * Codes and access tokens are stored as SHA-256 and are single use.
 */
import crypto from 'node:crypto';
import type { JWK } from 'jose';
import type { Store, CredentialRow } from '../store/index.js';
import { parseLevel, type LevelName } from '../policy/index.js';
import { AuthError } from './errors.js';
import type { KeyRing, SigningAlg } from './keys.js';
import type { ClaimsVault } from './claims-vault.js';
import { checkAlg, decodeHeader, issueSdJwt, verifyJws } from './sdjwt.js';

export const PRE_AUTH_GRANT = 'urn:ietf:params:oauth:grant-type:pre-authorized_code';
export const CONFIG_ID = 'sekisho_staff';
export const PROOF_TYP = 'openid4vci-proof+jwt';
export const STATUS_LIST_SIZE = 1 << 17;
export const STATUS_LIST_ID = 1;

export interface Training {
  id: string;
  date: string;
}

export interface StaffClaims {
  name: string;
  employee_id: string;
  department: string;
  role: string;
  clearance: LevelName;
  trainings: Training[];
}

export const vctFor = (origin: string) => `${origin}/vct/staff`;
export const statusUriFor = (origin: string) => `${origin}/status/${STATUS_LIST_ID}`;

const sha = (s: string) => crypto.createHash('sha256').update(s).digest();

export function validateClaims(c: Partial<StaffClaims>): StaffClaims {
  const s = (v: unknown, name: string, max = 128) => {
    if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new RangeError(`${name} must be 1–${max} characters`);
    return v;
  };
  const clearance = parseLevel(c.clearance);
  if (!clearance) throw new RangeError('clearance must be one of L0 to L4');
  const trainings = (c.trainings ?? []).map((t) => {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(t.id)) throw new RangeError(`training id ${t.id}: letters, digits, ".", "_" or "-"`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(t.date)) throw new RangeError(`training ${t.id}: date must be YYYY-MM-DD`);
    return { id: t.id, date: t.date };
  });
  return { name: s(c.name, 'name'), employee_id: s(c.employee_id, 'employee_id', 64), department: s(c.department ?? '-', 'department'), role: s(c.role ?? 'staff', 'role'), clearance, trainings };
}

export interface CreatedOffer {
  credentialId: string;
  offer: Record<string, unknown>;
  uri: string;
  /** The PIN, when the offer requires one (given to the person over another channel). */
  txCode?: string;
}

/** Records a credential to be issued and a single-use pre-authorized code for it. */
export function createOffer(store: Store, origin: string, sealed: ClaimsVault, claims: StaffClaims, o: { credentialTtlDays: number; offerTtlS: number; now?: Date; txCode?: boolean }): CreatedOffer {
  const now = o.now ?? new Date();
  let idx = 0;
  for (let i = 0; i < 64; i++) {
    idx = crypto.randomInt(STATUS_LIST_SIZE);
    if (!store.identity.statusIndexUsed(STATUS_LIST_ID, idx)) break;
  }
  const credentialId = crypto.randomBytes(8).toString('hex');
  const row: CredentialRow = {
    id: credentialId,
    // personal claims go to the vault; the row keeps a pseudonym of the employee id
    subject: `urn:sekisho:staff:${sealed.pseudonym(claims.employee_id)}`,
    employee_id: sealed.pseudonym(claims.employee_id),
    claims: '',
    status_list: STATUS_LIST_ID,
    status_idx: idx,
    kid: null,
    created_at: now.toISOString(),
    issued_at: null,
    expires_at: new Date(now.getTime() + o.credentialTtlDays * 86_400_000).toISOString(),
    revoked_at: null,
    // for the workforce counts of the console's adoption page: a pseudonym, never the name
    department: sealed.department?.(claims.department) ?? null,
    trained: claims.trainings.length > 0 ? 1 : 0,
  };
  sealed.seal(credentialId, claims);
  store.identity.insertCredential(row);
  return { credentialId, ...offerFor(store, origin, credentialId, o.offerTtlS, now, o.txCode) };
}

/** A fresh single-use offer for a recorded credential (`sekisho credential offer`). */
export function offerFor(store: Store, origin: string, credentialId: string, offerTtlS: number, now = new Date(), txCode = false): { offer: Record<string, unknown>; uri: string; txCode?: string } {
  const code = crypto.randomBytes(32).toString('base64url');
  // §4.1.1 tx_code: a PIN given to the person over another channel, so that an intercepted
  // offer (a photographed QR code) alone cannot obtain the credential. 5 wrong tries burn it.
  const pin = txCode ? String(crypto.randomInt(1_000_000)).padStart(6, '0') : undefined;
  store.identity.insertOffer({
    id: crypto.randomBytes(8).toString('hex'),
    credential_id: credentialId,
    code_hash: sha(code),
    expires_at: new Date(now.getTime() + offerTtlS * 1000).toISOString(),
    redeemed_at: null,
    access_hash: null,
    access_expires_at: null,
    issued_at: null,
    tx_code_hash: pin ? sha(pin) : null,
  });
  const grant: Record<string, unknown> = { 'pre-authorized_code': code };
  if (pin) grant.tx_code = { input_mode: 'numeric', length: 6, description: '発行担当者から別途伝えられた 6 桁の番号 / the 6-digit code given to you separately' };
  const offer = { credential_issuer: origin, credential_configuration_ids: [CONFIG_ID], grants: { [PRE_AUTH_GRANT]: grant } };
  return { offer, uri: `openid-credential-offer://?credential_offer=${encodeURIComponent(JSON.stringify(offer))}`, ...(pin ? { txCode: pin } : {}) };
}

/** Parses `openid-credential-offer://?credential_offer=…` (or the JSON itself). */
export function parseOfferUri(uri: string): { credential_issuer: string; code: string; txCodeRequired: boolean } {
  let json = uri;
  if (!uri.trim().startsWith('{')) {
    const u = new URL(uri.trim());
    json = u.searchParams.get('credential_offer') ?? '';
  }
  const o = JSON.parse(json) as { credential_issuer?: unknown; grants?: Record<string, { 'pre-authorized_code'?: unknown; tx_code?: unknown }> };
  const g = o.grants?.[PRE_AUTH_GRANT];
  const code = g?.['pre-authorized_code'];
  if (typeof o.credential_issuer !== 'string' || typeof code !== 'string') throw new Error('not a pre-authorized credential offer');
  return { credential_issuer: o.credential_issuer, code, txCodeRequired: g?.tx_code !== undefined };
}

const grantErr = (ja: string, en: string) => new AuthError('invalid_grant', ja, en);
const tokenErr = (ja: string, en: string) => new AuthError('invalid_token', ja, en);
const proofErr = (ja: string, en: string) => new AuthError('invalid_proof', ja, en);

export interface VciDeps {
  store: Store;
  keys: KeyRing;
  /** where the personal claims are sealed */
  claims: ClaimsVault;
  origin: () => string;
  did: () => string;
  alg: SigningAlg;
  skewS: number;
  now: () => number;
}

export class VciIssuer {
  private nonces = new Map<string, number>();

  constructor(private readonly d: VciDeps) {}

  metadata(): Record<string, unknown> {
    const origin = this.d.origin();
    return {
      credential_issuer: origin,
      credential_endpoint: `${origin}/oid4vci/credential`,
      nonce_endpoint: `${origin}/oid4vci/nonce`,
      display: [
        { name: '関所 Sekisho', locale: 'ja' },
        { name: 'Sekisho', locale: 'en' },
      ],
      credential_configurations_supported: {
        [CONFIG_ID]: {
          format: 'dc+sd-jwt',
          vct: vctFor(origin),
          scope: CONFIG_ID,
          cryptographic_binding_methods_supported: ['jwk'],
          credential_signing_alg_values_supported: ['ES256', 'EdDSA'],
          proof_types_supported: { jwt: { proof_signing_alg_values_supported: ['ES256', 'EdDSA'] } },
          credential_metadata: {
            display: [
              { name: '職員証明 (AI 利用)', locale: 'ja' },
              { name: 'Staff credential (AI use)', locale: 'en' },
            ],
            claims: ['name', 'employee_id', 'department', 'role', 'clearance', 'trainings'].map((c) => ({ path: [c] })),
          },
        },
      },
    };
  }

  authServerMetadata(): Record<string, unknown> {
    const origin = this.d.origin();
    return {
      issuer: origin,
      token_endpoint: `${origin}/oid4vci/token`,
      grant_types_supported: [PRE_AUTH_GRANT],
      'pre-authorized_grant_anonymous_access_supported': true,
    };
  }

  /** Token endpoint (§6): pre-authorized code → access token, once. */
  token(form: URLSearchParams): { access_token: string; token_type: 'Bearer'; expires_in: number } {
    if (form.get('grant_type') !== PRE_AUTH_GRANT) throw grantErr('grant_type が正しくありません', 'Unsupported grant_type');
    const code = form.get('pre-authorized_code') ?? '';
    if (code.length < 16 || code.length > 128) throw grantErr('事前認可コードが正しくありません', 'Invalid pre-authorized code');
    const offer = this.d.store.identity.offerByCodeHash(sha(code));
    const nowIso = new Date(this.d.now()).toISOString();
    if (!offer) throw grantErr('事前認可コードが正しくありません', 'Invalid pre-authorized code');
    if (offer.redeemed_at) throw grantErr('この事前認可コードは使用済みです', 'This pre-authorized code has already been used');
    if (offer.expires_at <= nowIso) throw grantErr('この事前認可コードは期限切れです', 'This pre-authorized code has expired');
    if (offer.tx_code_hash) {
      const given = sha(form.get('tx_code') ?? '');
      if ((offer.tx_attempts ?? 0) >= 5) throw grantErr('取引コードの誤りが多すぎたため、この申し出は無効です。再発行を依頼してください', 'Too many wrong transaction codes: this offer is void; ask for a new one');
      if (!crypto.timingSafeEqual(given, offer.tx_code_hash)) {
        this.d.store.identity.txCodeFailed(offer.id);
        throw grantErr('取引コード (tx_code) が正しくありません', 'The transaction code (tx_code) is wrong');
      }
    }
    const cred = this.d.store.identity.credential(offer.credential_id);
    if (!cred || cred.revoked_at) throw grantErr('この資格情報は失効しています', 'This credential has been revoked');
    const access = crypto.randomBytes(32).toString('base64url');
    const expiresIn = 300;
    if (!this.d.store.identity.redeemOffer(offer.id, nowIso, sha(access), new Date(this.d.now() + expiresIn * 1000).toISOString())) {
      throw grantErr('この事前認可コードは使用済みです', 'This pre-authorized code has already been used');
    }
    return { access_token: access, token_type: 'Bearer', expires_in: expiresIn };
  }

  /** Nonce endpoint (§7): a fresh c_nonce for the key proof, single use, 5 minutes. */
  nonce(): { c_nonce: string } {
    const t = this.d.now();
    if (this.nonces.size > 10_000) for (const [n, exp] of this.nonces) if (exp <= t) this.nonces.delete(n);
    // Unauthenticated endpoint: bounded, so a flood cannot grow memory without limit.
    if (this.nonces.size >= 100_000) throw new AuthError('invalid_proof', 'nonce の発行が多すぎます。しばらくしてから再試行してください', 'Too many nonces outstanding; try again later');
    const n = crypto.randomBytes(24).toString('base64url');
    this.nonces.set(n, t + 300_000);
    return { c_nonce: n };
  }

  /** Credential endpoint (§8): verifies the key proof and issues the SD-JWT VC bound to that key. */
  async credential(accessToken: string, body: unknown): Promise<{ credentials: { credential: string }[] }> {
    const offer = accessToken.length <= 128 ? this.d.store.identity.offerByAccessHash(sha(accessToken)) : undefined;
    const nowMs = this.d.now();
    if (!offer || !offer.access_expires_at || offer.access_expires_at <= new Date(nowMs).toISOString()) throw tokenErr('アクセストークンが正しくないか期限切れです', 'The access token is invalid or expired');
    const b = body as { credential_configuration_id?: unknown; proofs?: { jwt?: unknown }; proof?: { proof_type?: unknown; jwt?: unknown } };
    if (!b || typeof b !== 'object' || b.credential_configuration_id !== CONFIG_ID) {
      throw new AuthError('invalid_credential', `credential_configuration_id は ${CONFIG_ID} を指定してください`, `credential_configuration_id must be ${CONFIG_ID}`);
    }
    const jwts = Array.isArray(b.proofs?.jwt) ? b.proofs!.jwt : b.proof?.proof_type === 'jwt' ? [b.proof.jwt] : [];
    if (jwts.length !== 1 || typeof jwts[0] !== 'string' || jwts[0].length > 8192) throw proofErr('鍵の証明 (proof) を 1 つ付けてください', 'Send exactly one key proof');
    const holderJwk = await this.verifyProof(jwts[0], nowMs);
    const cred = this.d.store.identity.credential(offer.credential_id);
    if (!cred || cred.revoked_at) throw tokenErr('この資格情報は失効しています', 'This credential has been revoked');
    if (!this.d.store.identity.markOfferIssued(offer.id, new Date(nowMs).toISOString())) throw tokenErr('この申し出の資格情報は発行済みです', 'The credential of this offer has already been issued');
    const sdJwt = await this.issue(cred, holderJwk, nowMs);
    return { credentials: [{ credential: sdJwt }] };
  }

  private async verifyProof(jwt: string, nowMs: number): Promise<JWK> {
    const h = decodeHeader(jwt);
    const alg = checkAlg(h, 'proof');
    if (h.typ !== PROOF_TYP) throw proofErr(`proof の typ は ${PROOF_TYP} である必要があります`, `The proof typ must be ${PROOF_TYP}`);
    const jwk = h.jwk as JWK | undefined;
    if (!jwk || typeof jwk !== 'object' || 'd' in jwk) throw proofErr('proof のヘッダーに公開鍵 (jwk) がありません', 'The proof header carries no public key (jwk)');
    const p = await verifyJws(jwt, jwk, alg, 'proof').catch((e: AuthError) => {
      throw e.code === 'malformed_presentation' ? proofErr('proof を読み取れません', 'The proof cannot be read') : new AuthError('invalid_proof', e.ja, e.en);
    });
    if (p.aud !== this.d.origin()) throw proofErr('proof の aud が発行者と一致しません', 'The proof aud is not this issuer');
    const exp = typeof p.nonce === 'string' ? this.nonces.get(p.nonce) : undefined;
    if (exp === undefined || exp <= nowMs) throw proofErr('proof の nonce が正しくないか使用済みです (nonce エンドポイントで取得してください)', 'The proof nonce is invalid or used (get one from the nonce endpoint)');
    this.nonces.delete(p.nonce as string);
    if (typeof p.iat !== 'number' || Math.abs(p.iat - nowMs / 1000) > this.d.skewS + 300) throw proofErr('proof の iat が正しくありません', 'The proof iat is out of range');
    const { kty, crv, x, y } = jwk;
    return y === undefined ? { kty, crv, x } : { kty, crv, x, y };
  }

  /** The SD-JWT VC itself: registered claims visible, personal claims selectively disclosable. */
  async issue(cred: CredentialRow, holderJwk: JWK, nowMs: number): Promise<string> {
    const claims = this.d.claims.open(cred.id, 'request');
    const origin = this.d.origin();
    const key = this.d.keys.signer(this.d.alg);
    const iat = Math.floor(nowMs / 1000);
    const { sdJwt } = await issueSdJwt(
      {
        fixed: {
          iss: this.d.did(),
          vct: vctFor(origin),
          sub: cred.subject,
          iat,
          nbf: iat,
          exp: Math.floor(Date.parse(cred.expires_at) / 1000),
          cnf: { jwk: holderJwk },
          status: { status_list: { idx: cred.status_idx, uri: statusUriFor(origin) } },
        },
        disclosable: { name: claims.name, employee_id: claims.employee_id, department: claims.department, role: claims.role, clearance: claims.clearance, trainings: claims.trainings },
        disclosableElements: ['trainings'],
        decoys: 2,
      },
      key,
    );
    this.d.store.identity.markIssued(cred.id, new Date(nowMs).toISOString(), key.kid);
    return sdJwt;
  }
}
