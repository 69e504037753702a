/**
 * The tenant as issuer and verifier, assembled: keys, DIDs, OpenID4VCI issuance, the status
 * list, OpenID4VP presentation and sessions, and the authenticator the checkpoint calls.
 */
import type { ClaimsVault } from './claims-vault.js';
import crypto from 'node:crypto';
import type { JWK } from 'jose';
import type { Store } from '../store/index.js';
import type { IdentityConfig } from '../config/schema.js';
import { ApiKeyAuthenticator, bearerToken } from './apikeys.js';
import type { IssuerKeys } from './credential.js';
import { didDocument, didJwkFor, didWebFor, resolveDidJwk } from './did.js';
import { AuthError } from './errors.js';
import { KeyRing, type SigningAlg } from './keys.js';
import { personFromClaims, type Principal } from './principal.js';
import { Sessions, credentialKeyOf, parseRevokedMessage, type SharedSessionStore } from './sessions.js';
import type { Bus } from '../store/shared.js';
import { signStatusList, StatusListCache, STATUS_INVALID, type StatusSource } from './status-list.js';
import { VciIssuer, statusUriFor, vctFor, STATUS_LIST_ID, STATUS_LIST_SIZE } from './vci.js';
import { Verifier } from './vp.js';

export interface SessionResult {
  session_token: string;
  token_type: 'Bearer';
  expires_in: number;
  principal: { name: string; clearance: string; trainings: string[] };
}

export interface IdentityOptions {
  store: Store;
  keys: KeyRing;
  /** personal claims of issued credentials, sealed by the vault */
  claims: ClaimsVault;
  config: IdentityConfig;
  /** Public origin; when the config names none, the server sets it once it listens. */
  origin?: string;
  now?: () => number;
  /** Sources for other trusted issuers' status lists (never fetched otherwise). */
  fetchStatus?: (uri: string) => Promise<string>;
  /** Several nodes: sessions in the shared store, revocations over the bus (`redis:`). */
  shared?: { sessions: SharedSessionStore; bus: Bus; cacheMs: number } | undefined;
}

/**
 * Fetches a status list of another trusted issuer. Only ever called with a URI listed in
 * `identity.trusted_issuers[].status_lists` (no SSRF): no redirects, 5 s, at most 1 MiB.
 */
export async function fetchStatusList(uri: string): Promise<string> {
  const res = await fetch(uri, { redirect: 'error', signal: AbortSignal.timeout(5000), headers: { accept: 'application/statuslist+jwt' } });
  if (!res.ok || !res.body) throw new Error(`status list ${uri}: HTTP ${res.status}`);
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
    n += c.byteLength;
    if (n > 1 << 20) throw new Error(`status list ${uri}: larger than 1 MiB`);
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8').trim();
}

export class IdentityService {
  readonly sessions: Sessions;
  readonly vci: VciIssuer;
  readonly verifier: Verifier;
  readonly status: StatusListCache;
  readonly apiKeys: ApiKeyAuthenticator;
  private originValue: string | undefined;
  private statusToken: { token: string; at: number } | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Sessions waiting for the device that started the request (cross-device flow), by transaction hash. */
  private pickups = new Map<string, { result: SessionResult; expMs: number }>();
  readonly now: () => number;

  constructor(private readonly o: IdentityOptions) {
    this.now = o.now ?? Date.now;
    this.originValue = o.config.origin ?? o.origin;
    const c = o.config;
    this.apiKeys = new ApiKeyAuthenticator(o.store);
    const sh = o.shared;
    this.sessions = new Sessions(c.session_ttl_s * 1000, this.now, sh && { store: sh.sessions, bus: sh.bus, cacheMs: sh.cacheMs });
    this.status = new StatusListCache((uri) => this.statusSource(uri), c.status_refresh_s * 1000, this.now);
    const alg: SigningAlg = c.signing_alg;
    this.vci = new VciIssuer({ store: o.store, keys: o.keys, claims: o.claims, origin: () => this.origin, did: () => this.did, alg, skewS: c.clock_skew_s, now: this.now });
    this.verifier = new Verifier({
      origin: () => this.origin,
      vct: () => vctFor(this.origin),
      skewS: c.clock_skew_s,
      now: this.now,
      issuer: (iss) => this.issuer(iss),
      status: this.status,
      responseMode: c.vp_response_mode,
    });
  }

  get origin(): string {
    if (!this.originValue) throw new Error('identity origin not set');
    return this.originValue;
  }

  /** Called by the server once it listens, when `identity.origin` is not configured. */
  setOrigin(origin: string): void {
    this.originValue ??= origin.replace(/\/+$/, '');
  }

  get did(): string {
    return didWebFor(this.origin);
  }

  get keys(): KeyRing {
    return this.o.keys;
  }

  didDocument(): unknown {
    return didDocument(this.did, this.o.keys.published(new Date(this.now())));
  }

  /** did:jwk of the active key of each algorithm (portable identifiers). */
  didJwks(): Record<SigningAlg, string> {
    return { ES256: didJwkFor(this.o.keys.signer('ES256').publicJwk), EdDSA: didJwkFor(this.o.keys.signer('EdDSA').publicJwk) };
  }

  /** The tenant (did:web and its did:jwk aliases) and configured issuers; nothing else. */
  issuer(iss: string): IssuerKeys | undefined {
    const now = new Date(this.now());
    if (iss === this.did) {
      return { id: iss, key: (kid) => (kid ? this.o.keys.publicKey(kid, now) : undefined) && { jwk: this.o.keys.publicKey(kid!, now)!.publicJwk, alg: this.o.keys.publicKey(kid!, now)!.alg } };
    }
    const t = this.o.config.trusted_issuers.find((x) => x.id === iss);
    if (!t) return undefined;
    const jwks = t.jwks as JWK[];
    const fromDid = resolveDidJwk(iss);
    return {
      id: iss,
      key: (kid) => {
        const jwk = fromDid ?? jwks.find((j) => j.kid === kid) ?? (jwks.length === 1 ? jwks[0] : undefined);
        if (!jwk) return undefined;
        const alg = (jwk.alg as SigningAlg | undefined) ?? (jwk.kty === 'OKP' ? 'EdDSA' : 'ES256');
        return { jwk, alg };
      },
    };
  }

  /**
   * The signed status list of the tenant. Served over HTTP from a cache of refresh interval / 2;
   * the gateway's own checks (`fresh`) sign a new one, so a revocation reaches live sessions at
   * the next sweep, within `status_refresh_s`.
   */
  async statusListToken(fresh = false): Promise<string> {
    const t = this.now();
    const ttlS = Math.max(1, Math.floor(this.o.config.status_refresh_s / 2));
    if (!fresh && this.statusToken && t - this.statusToken.at < ttlS * 1000) return this.statusToken.token;
    const token = await signStatusList({
      uri: statusUriFor(this.origin),
      iss: this.did,
      revoked: this.o.store.identity.revokedIndexes(STATUS_LIST_ID),
      size: STATUS_LIST_SIZE,
      ttlS,
      key: this.o.keys.signer(this.o.config.signing_alg),
      now: new Date(t),
    });
    this.statusToken = { token, at: t };
    return token;
  }

  private statusSource(uri: string): StatusSource | undefined {
    if (this.originValue && uri === statusUriFor(this.origin)) {
      return {
        fetch: () => this.statusListToken(true),
        key: (kid) => {
          const k = kid ? this.o.keys.publicKey(kid, new Date(this.now())) : undefined;
          return k && { jwk: k.publicJwk, alg: k.alg };
        },
      };
    }
    const t = this.o.config.trusted_issuers.find((x) => x.status_lists.includes(uri));
    if (!t) return undefined;
    const fetch = this.o.fetchStatus ?? fetchStatusList;
    const iss = this.issuer(t.id)!;
    return { fetch: () => fetch(uri), key: (kid) => iss.key(kid) };
  }

  /** Verify a direct_post presentation and open a session. */
  async presentationToSession(vpToken: unknown, state: string | undefined, encrypted?: string): Promise<SessionResult> {
    const v = encrypted !== undefined ? await this.verifier.respondEncrypted(encrypted) : await this.verifier.respond(vpToken, state);
    const principal = personFromClaims(v.credentialId, v.claims);
    // A credential whose status is an entry of the tenant's list is revoked by that entry (the CLI
    // finds it in the database row); any other by its id.
    const own = v.status && v.status.uri === statusUriFor(this.origin) ? { list: STATUS_LIST_ID, idx: v.status.idx } : undefined;
    const s = await this.sessions.open(principal, v.credentialId, v.status, v.exp * 1000, credentialKeyOf(own, v.credentialId));
    const result: SessionResult = {
      session_token: s.token,
      token_type: 'Bearer',
      expires_in: Math.max(0, Math.floor((s.expiresAt - this.now()) / 1000)),
      principal: { name: principal.name, clearance: principal.maxLevel, trainings: principal.attrs!.trainings },
    };
    const t = this.now();
    for (const [k, p] of this.pickups) if (p.expMs <= t) this.pickups.delete(k);
    if (this.pickups.size < 10_000) this.pickups.set(v.txHash, { result, expMs: t + 300_000 });
    return result;
  }

  /**
   * Cross-device flow: the device that created the request (and holds its transaction id)
   * picks up the session once the wallet has presented. Once only; undefined while pending.
   */
  pickup(transactionId: string): SessionResult | undefined {
    if (transactionId.length > 128) return undefined;
    const k = crypto.createHash('sha256').update(transactionId).digest('base64url');
    const p = this.pickups.get(k);
    if (!p || p.expMs <= this.now()) return undefined;
    this.pickups.delete(k);
    return p.result;
  }

  /**
   * The checkpoint's authenticate stage: a session token or an API key. Synchronous on one node
   * and for a cached session; a promise when the shared session store must be read.
   */
  authenticate(authorization: string | undefined): Principal | Promise<Principal> {
    const token = bearerToken(authorization);
    if (Sessions.isSessionToken(token)) return this.sessions.authenticate(token);
    return this.apiKeys.authenticateToken(token);
  }

  /** Re-check every live session against the status list (forced refresh). */
  async sweep(): Promise<number> {
    return this.sessions.sweep(async (ref) => (await this.status.status(ref, true)) === STATUS_INVALID);
  }

  /**
   * Listens for `session.revoked` (published by `sekisho credential revoke` or by a sweep on any
   * node): this node's sessions of those credentials end at once.
   */
  async listenForRevocations(): Promise<void> {
    if (this.unsubscribe || !this.o.shared) return;
    this.unsubscribe = await this.o.shared.bus.subscribe('session.revoked', (m) => {
      for (const id of parseRevokedMessage(m)) this.sessions.endForCredential(id);
    });
  }

  startSweeping(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setInterval(() => void this.sweep().catch(() => undefined), this.o.config.status_refresh_s * 1000);
    this.sweepTimer.unref();
  }

  /** Key rotation: the old key stays in the DID document until its last credential expires. */
  async rotateKey(alg: SigningAlg): Promise<{ retired: string; active: string }> {
    const old = this.o.keys.signer(alg).kid;
    return this.o.keys.rotate(alg, this.o.store.identity.lastExpiryForKey(old), new Date(this.now()));
  }

  close(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}

export { AuthError };
