/**
 * OpenID for Verifiable Presentations 1.0, response mode `direct_post` (§8.2), with a DCQL
 * query (§6). Client identifier prefix `redirect_uri:` (§5.9.3): the request is unsigned and
 * the Key Binding JWT's `aud` must be that client_id.
 *
 *   POST /oid4vp/request   → { request (the Authorization Request), request_uri, uri }
 *   POST /oid4vp/response  vp_token={"staff":["<SD-JWT>~…~<KB-JWT>"]}&state=…
 *                          → a session token (401 with a precise reason otherwise)
 *
 * Each nonce answers one request once: a replayed presentation finds its nonce used.
 *
 * Response mode `direct_post.jwt` (§8.3, required by HAIP, the default): the request carries
 * an ephemeral ECDH-ES P-256 key in `client_metadata.jwks`; the wallet posts
 * `response=<JWE>` whose payload holds `vp_token` and `state`. A request made for an encrypted
 * response refuses a plain one (no downgrade).
 */
import crypto from 'node:crypto';
import { compactDecrypt, decodeProtectedHeader, type JWK } from 'jose';
import { AuthError } from './errors.js';
import { kbNonceOf, verifyPresentation, type IssuerKeys, type VerifiedCredential } from './credential.js';
import { satisfiedSet, staffQuery, type DcqlQuery } from './dcql.js';
import type { StatusListCache } from './status-list.js';

export interface PendingRequest {
  id: string;
  /** SHA-256 of the transaction id the initiator holds to pick up the session (cross-device). */
  txHash: string;
  nonce: string;
  state: string;
  clientId: string;
  dcql: DcqlQuery;
  expMs: number;
  /** direct_post.jwt: the ephemeral key the response is encrypted to. */
  enc?: { kid: string; privateKey: crypto.KeyObject; publicJwk: JWK };
}

export interface VerifierDeps {
  origin: () => string;
  vct: () => string;
  skewS: number;
  now: () => number;
  issuer(iss: string): IssuerKeys | undefined;
  status: StatusListCache;
  requestTtlMs?: number;
  responseMode?: 'direct_post' | 'direct_post.jwt';
}

export const ENC_VALUES = ['A128GCM', 'A256GCM'];

const MAX_PENDING = 50_000;

export class Verifier {
  private pending = new Map<string, PendingRequest>(); // nonce → request
  private byId = new Map<string, PendingRequest>();
  private byKid = new Map<string, PendingRequest>();
  private used = new Map<string, number>(); // nonce → when it may be forgotten

  constructor(private readonly d: VerifierDeps) {}

  clientId(): string {
    return `redirect_uri:${this.d.origin()}/oid4vp/response`;
  }

  createRequest(): { request: Record<string, unknown>; request_uri: string; uri: string; id: string; transaction_id: string } {
    this.prune();
    if (this.pending.size >= MAX_PENDING) throw new AuthError('unknown_request', '提示要求が多すぎます。しばらくしてから再試行してください', 'Too many pending presentation requests; try again later');
    const origin = this.d.origin();
    const transaction_id = crypto.randomBytes(32).toString('base64url');
    const r: PendingRequest = {
      id: crypto.randomBytes(12).toString('base64url'),
      txHash: crypto.createHash('sha256').update(transaction_id).digest('base64url'),
      nonce: crypto.randomBytes(24).toString('base64url'),
      state: crypto.randomBytes(16).toString('base64url'),
      clientId: this.clientId(),
      dcql: staffQuery(this.d.vct()),
      expMs: this.d.now() + (this.d.requestTtlMs ?? 300_000),
    };
    if ((this.d.responseMode ?? 'direct_post.jwt') === 'direct_post.jwt') {
      const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const kid = crypto.randomBytes(12).toString('base64url');
      r.enc = { kid, privateKey, publicJwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, use: 'enc', alg: 'ECDH-ES' } };
      this.byKid.set(kid, r);
    }
    this.pending.set(r.nonce, r);
    this.byId.set(r.id, r);
    const request = this.requestObject(r);
    const q = new URLSearchParams(Object.entries(request).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    return { id: r.id, transaction_id, request, request_uri: `${origin}/oid4vp/request/${r.id}`, uri: `openid4vp://?${q.toString()}` };
  }

  requestById(id: string): Record<string, unknown> | undefined {
    const r = this.byId.get(id);
    return r && r.expMs > this.d.now() ? this.requestObject(r) : undefined;
  }

  private requestObject(r: PendingRequest): Record<string, unknown> {
    return {
      client_id: r.clientId,
      response_type: 'vp_token',
      response_mode: r.enc ? 'direct_post.jwt' : 'direct_post',
      response_uri: `${this.d.origin()}/oid4vp/response`,
      nonce: r.nonce,
      state: r.state,
      dcql_query: r.dcql,
      ...(r.enc ? { client_metadata: { jwks: { keys: [r.enc.publicJwk] }, encrypted_response_enc_values_supported: ENC_VALUES, vp_formats_supported: { 'dc+sd-jwt': { 'sd-jwt_alg_values': ['ES256', 'EdDSA'], 'kb-jwt_alg_values': ['ES256', 'EdDSA'] } } } } : {}),
    };
  }

  /** Verifies a direct_post response; returns the verified credential for the session. */
  /** direct_post.jwt: decrypts `response` with the request's key, then verifies as below. */
  async respondEncrypted(jwe: string): Promise<VerifiedCredential & { txHash: string }> {
    if (typeof jwe !== 'string' || jwe.length > 200_000 || jwe.split('.').length !== 5) throw malformed();
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(jwe).kid;
    } catch {
      throw malformed();
    }
    const req = typeof kid === 'string' ? this.byKid.get(kid) : undefined;
    if (!req?.enc) throw new AuthError('unknown_request', '暗号化された応答に対応する要求がないか、期限切れです', 'No pending request matches the encrypted response, or it has expired');
    let payload: Record<string, unknown>;
    try {
      const out = await compactDecrypt(jwe, req.enc.privateKey, { keyManagementAlgorithms: ['ECDH-ES'], contentEncryptionAlgorithms: ENC_VALUES });
      payload = JSON.parse(Buffer.from(out.plaintext).toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new AuthError('malformed_presentation', '暗号化された応答を復号できません', 'The encrypted response cannot be decrypted');
    }
    return this.respond(payload.vp_token, typeof payload.state === 'string' ? payload.state : undefined, req);
  }

  async respond(vpToken: unknown, state: string | undefined, decryptedFor?: PendingRequest): Promise<VerifiedCredential & { txHash: string }> {
    let tok = vpToken;
    if (typeof tok === 'string' && tok.startsWith('{')) {
      try {
        tok = JSON.parse(tok);
      } catch {
        throw malformed();
      }
    }
    if (!tok || typeof tok !== 'object' || Array.isArray(tok)) throw malformed();
    const entries = Object.entries(tok as Record<string, unknown>);
    if (entries.length !== 1) throw malformed();
    const [queryId, list] = entries[0]!;
    const presentation = Array.isArray(list) && list.length === 1 ? list[0] : typeof list === 'string' ? list : undefined;
    if (typeof presentation !== 'string') throw malformed();

    // Find the request this answers by the KB-JWT nonce; a used nonce is a replay.
    const nonce = kbNonceOf(presentation);
    if (nonce === undefined) throw new AuthError('key_binding_missing', '保有者による鍵の結合 (KB-JWT) がありません', 'The presentation has no Key Binding JWT');
    this.prune();
    if (this.used.has(nonce)) throw new AuthError('nonce_replayed', 'この nonce はすでに使われています (提示の再送は受け付けません)', 'This nonce has already been used (a presentation cannot be replayed)');
    const req = this.pending.get(nonce);
    if (!req || req.expMs <= this.d.now()) throw new AuthError('unknown_request', 'この提示に対応する要求がないか、期限切れです', 'No pending request matches this presentation, or it has expired');
    // Single use from here on, whatever the outcome.
    this.pending.delete(nonce);
    this.byId.delete(req.id);
    if (req.enc) this.byKid.delete(req.enc.kid);
    if (req.enc && decryptedFor !== req) {
      this.used.set(nonce, req.expMs + 600_000);
      throw new AuthError('malformed_presentation', 'この要求への応答は暗号化 (direct_post.jwt) が必要です', 'The response to this request must be encrypted (direct_post.jwt)');
    }
    this.used.set(nonce, req.expMs + 600_000);
    if (state !== undefined && state !== req.state) throw new AuthError('unknown_request', 'state が要求と一致しません', 'The state does not match the request');

    const cq = req.dcql.credentials.find((c) => c.id === queryId);
    if (!cq) throw new AuthError('dcql_unsatisfied', `要求していない資格情報 ${queryId.slice(0, 64)} が提示されました`, `A credential that was not requested (${queryId.slice(0, 64)}) was presented`);
    const v = await verifyPresentation(presentation, {
      aud: req.clientId,
      nonce: req.nonce,
      nowMs: this.d.now(),
      skewS: this.d.skewS,
      issuer: this.d.issuer,
      status: this.d.status,
      vcts: cq.meta.vct_values,
    });
    if (!satisfiedSet(cq, v.vct, v.claims)) throw new AuthError('dcql_unsatisfied', '要求された項目 (clearance など) が開示されていません', 'The requested claims (such as clearance) were not disclosed');
    return { ...v, txHash: req.txHash };
  }

  private prune(): void {
    const t = this.d.now();
    if (this.used.size > 0) for (const [n, until] of this.used) if (until <= t) this.used.delete(n);
    if (this.pending.size > 1000) {
      for (const [n, r] of this.pending) {
        if (r.expMs > t) continue;
        this.pending.delete(n);
        this.byId.delete(r.id);
        if (r.enc) this.byKid.delete(r.enc.kid);
      }
    }
  }
}

function malformed(): AuthError {
  return new AuthError('malformed_presentation', 'vp_token の形式が正しくありません ({"<クエリ id>": ["<提示>"]})', 'The vp_token is malformed (expected {"<query id>": ["<presentation>"]})');
}
