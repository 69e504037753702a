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
 */
import crypto from 'node:crypto';
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
}

export interface VerifierDeps {
  origin: () => string;
  vct: () => string;
  skewS: number;
  now: () => number;
  issuer(iss: string): IssuerKeys | undefined;
  status: StatusListCache;
  requestTtlMs?: number;
}

const MAX_PENDING = 50_000;

export class Verifier {
  private pending = new Map<string, PendingRequest>(); // nonce → request
  private byId = new Map<string, PendingRequest>();
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
      response_mode: 'direct_post',
      response_uri: `${this.d.origin()}/oid4vp/response`,
      nonce: r.nonce,
      state: r.state,
      dcql_query: r.dcql,
    };
  }

  /** Verifies a direct_post response; returns the verified credential for the session. */
  async respond(vpToken: unknown, state: string | undefined): Promise<VerifiedCredential & { txHash: string }> {
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
    if (this.pending.size > 1000) for (const [n, r] of this.pending) if (r.expMs <= t) (this.pending.delete(n), this.byId.delete(r.id));
  }
}

function malformed(): AuthError {
  return new AuthError('malformed_presentation', 'vp_token の形式が正しくありません ({"<クエリ id>": ["<提示>"]})', 'The vp_token is malformed (expected {"<query id>": ["<presentation>"]})');
}
