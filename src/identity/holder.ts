/**
 * The holder side, for staff without a wallet app (`sekisho login`) and for tests: keeps a
 * key in a local file (mode 0600), obtains a credential from an OpenID4VCI offer, and
 * presents it over OpenID4VP to get a session token.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CompactEncrypt, CompactSign, exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from 'jose';
import { addKeyBinding, selectDisclosures } from './sdjwt.js';
import { claimNamesFor, parseDcql } from './dcql.js';
import { parseOfferUri, PROOF_TYP, CONFIG_ID, PRE_AUTH_GRANT } from './vci.js';
import type { SigningAlg } from './keys.js';

interface WalletFile {
  alg: SigningAlg;
  private_jwk: JWK;
  public_jwk: JWK;
  credentials: { issuer: string; sd_jwt: string; obtained_at: string }[];
  session?: { gateway: string; token: string; expires_at: string };
}

export class HolderError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const s = (body as { error?: { sekisho?: { code?: string; message?: { en?: string } } }; sekisho?: { code?: string; message?: { en?: string } } })?.error?.sekisho ?? (body as { sekisho?: { code?: string; message?: { en?: string } } })?.sekisho;
    super(`${status} ${s?.code ?? ''}: ${s?.message?.en ?? JSON.stringify(body)}`);
    this.name = 'HolderError';
  }
  get code(): string | undefined {
    const b = this.body as { error?: { sekisho?: { code?: string } }; sekisho?: { code?: string } };
    return b?.error?.sekisho?.code ?? b?.sekisho?.code;
  }
}

async function call(url: string, init: RequestInit): Promise<Record<string, unknown>> {
  const res = await fetch(url, { ...init, redirect: 'error' });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  if (!res.ok) throw new HolderError(res.status, body);
  return body as Record<string, unknown>;
}

export class Wallet {
  private key!: CryptoKey;

  private constructor(
    private readonly file: string | null,
    readonly data: WalletFile,
  ) {}

  static async open(file: string, alg: SigningAlg = 'ES256'): Promise<Wallet> {
    let data: WalletFile | undefined;
    try {
      data = JSON.parse(fs.readFileSync(file, 'utf8')) as WalletFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const w = new Wallet(file, data ?? (await Wallet.fresh(alg)));
    await w.init();
    if (!data) w.save();
    return w;
  }

  static async ephemeral(alg: SigningAlg = 'ES256'): Promise<Wallet> {
    const w = new Wallet(null, await Wallet.fresh(alg));
    await w.init();
    return w;
  }

  private static async fresh(alg: SigningAlg): Promise<WalletFile> {
    const { publicKey, privateKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true });
    return { alg, private_jwk: await exportJWK(privateKey), public_jwk: await exportJWK(publicKey), credentials: [] };
  }

  private async init(): Promise<void> {
    this.key = (await importJWK(this.data.private_jwk, this.data.alg)) as CryptoKey;
  }

  save(): void {
    if (!this.file) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.data, null, 2) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }

  get publicJwk(): JWK {
    return this.data.public_jwk;
  }

  get holderKey(): CryptoKey {
    return this.key;
  }

  get alg(): SigningAlg {
    return this.data.alg;
  }

  /** OpenID4VCI pre-authorized code flow. Returns the SD-JWT VC and keeps it. */
  async obtain(offerUri: string, txCode?: string): Promise<string> {
    const offer = parseOfferUri(offerUri);
    if (offer.txCodeRequired && !txCode) throw new Error('this offer needs the transaction code (PIN) given to you separately');
    const issuer = offer.credential_issuer.replace(/\/+$/, '');
    const meta = await call(`${issuer}/.well-known/openid-credential-issuer`, { method: 'GET' });
    const as = await call(`${issuer}/.well-known/oauth-authorization-server`, { method: 'GET' });
    const tok = await call(String(as.token_endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: PRE_AUTH_GRANT, 'pre-authorized_code': offer.code, ...(txCode ? { tx_code: txCode } : {}) }).toString(),
    });
    const { c_nonce } = await call(String(meta.nonce_endpoint), { method: 'POST' });
    const proof = await new CompactSign(Buffer.from(JSON.stringify({ aud: issuer, iat: Math.floor(Date.now() / 1000), nonce: c_nonce })))
      .setProtectedHeader({ alg: this.alg, typ: PROOF_TYP, jwk: this.publicJwk })
      .sign(this.key);
    const res = await call(String(meta.credential_endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${String(tok.access_token)}` },
      body: JSON.stringify({ credential_configuration_id: CONFIG_ID, proofs: { jwt: [proof] } }),
    });
    const sdJwt = (res.credentials as { credential: string }[])[0]!.credential;
    this.data.credentials.push({ issuer, sd_jwt: sdJwt, obtained_at: new Date().toISOString() });
    this.save();
    return sdJwt;
  }

  /** Builds a presentation for an OpenID4VP request: only the claims DCQL asks for, key-bound. */
  async presentation(request: Record<string, unknown>, sdJwt?: string, opts: { aud?: string; iat?: number } = {}): Promise<{ vp_token: string; state: string; response?: string }> {
    const dcql = parseDcql(request.dcql_query);
    const q = dcql.credentials[0]!;
    const cred = sdJwt ?? this.data.credentials.at(-1)?.sd_jwt;
    if (!cred) throw new Error('no credential in the wallet (run sekisho login --offer …)');
    const names = new Set(claimNamesFor(q));
    const selected = selectDisclosures(cred, (name) => (name === null ? names.has('trainings') : names.has(name)));
    const vp = await addKeyBinding({ sdJwt: selected, holderKey: this.key, alg: this.alg, aud: opts.aud ?? String(request.client_id), nonce: String(request.nonce), ...(opts.iat !== undefined ? { iat: opts.iat } : {}) });
    const vp_token = JSON.stringify({ [q.id]: [vp] });
    const state = String(request.state);
    if (request.response_mode !== 'direct_post.jwt') return { vp_token, state };
    // OpenID4VP §8.3: encrypt {vp_token, state} to the verifier's key from client_metadata.
    const meta = request.client_metadata as { jwks?: { keys?: JWK[] }; encrypted_response_enc_values_supported?: string[] } | undefined;
    const key = meta?.jwks?.keys?.find((k) => k.kty === 'EC' && k.crv === 'P-256');
    if (!key) throw new Error('the request asks for an encrypted response but names no P-256 key');
    const enc = meta?.encrypted_response_enc_values_supported?.includes('A128GCM') !== false ? 'A128GCM' : 'A256GCM';
    const response = await new CompactEncrypt(Buffer.from(JSON.stringify({ vp_token: JSON.parse(vp_token), state })))
      .setProtectedHeader({ alg: 'ECDH-ES', enc, ...(key.kid ? { kid: key.kid } : {}) })
      .encrypt(await importJWK(key, 'ECDH-ES'));
    return { vp_token, state, response };
  }

  /** OpenID4VP direct_post against a Sekisho gateway → session token. */
  async login(gateway: string): Promise<{ session_token: string; expires_in: number; principal: unknown }> {
    const base = gateway.replace(/\/+$/, '');
    const { request } = (await call(`${base}/oid4vp/request`, { method: 'POST' })) as { request: Record<string, unknown> };
    const { vp_token, state, response } = await this.presentation(request);
    const res = await postResponse(String(request.response_uri), vp_token, state, response);
    this.data.session = { gateway: base, token: String(res.session_token), expires_at: new Date(Date.now() + Number(res.expires_in) * 1000).toISOString() };
    this.save();
    return res as { session_token: string; expires_in: number; principal: unknown };
  }
}

/** direct_post (vp_token, state) or, when `response` is given, direct_post.jwt (the JWE only). */
export function postResponse(responseUri: string, vpToken: string, state: string, response?: string): Promise<Record<string, unknown>> {
  return call(responseUri, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(response ? { response } : { vp_token: vpToken, state }).toString(),
  });
}
