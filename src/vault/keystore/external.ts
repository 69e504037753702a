/**
 * `external` keystore: an HTTP key service modelled on the AWS XKS proxy API
 * (`POST <url>/kms/xks/v1/keys/<keyId>/{metadata,encrypt,decrypt}`, `POST <url>/kms/xks/v1/health`).
 * The KEK stays in the service. KEK version N is the service key `key_ids[N-1]`; rotation
 * means adding a key id to the configuration. Every call carries request metadata with the
 * tenant, the operation, a request id and the reason code.
 *
 * Differences from AWS XKS: authentication is a bearer token (from an environment variable)
 * instead of SigV4, and `requestMetadata.sekishoReason` / `sekishoPurpose` are added.
 *
 * Safety: only http(s) URLs whose host is listed in `allowed_hosts` (plain http only to a
 * loopback address), no redirects, a deadline on every call, bounded response size.
 */
import crypto from 'node:crypto';
import { Agent, request } from 'undici';
import { VaultError, tampered } from '../errors.js';
import type { KeyCallContext, Keystore } from './types.js';

export interface ExternalKeystoreOptions {
  url: string;
  keyIds: string[];
  allowedHosts: string[];
  token: string | undefined;
  timeoutMs: number;
}

const MAX_RESPONSE = 64 * 1024;
const LOOPBACK = new Set(['127.0.0.1', '::1', '[::1]', 'localhost']);

/** Validates the service URL against the allowed hosts (also done when the config loads). */
export function checkServiceUrl(url: string, allowedHosts: readonly string[]): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badUrl(url, 'not a URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw badUrl(url, 'only http(s)');
  if (u.protocol === 'http:' && !LOOPBACK.has(u.hostname)) throw badUrl(url, 'plain http only to a loopback address; use https');
  if (u.username || u.password || u.search || u.hash) throw badUrl(url, 'no credentials, query or fragment');
  if (!allowedHosts.map((h) => h.toLowerCase()).includes(u.hostname.toLowerCase())) throw badUrl(url, `host ${u.hostname} is not in allowed_hosts`);
  return u;
}

function badUrl(url: string, why: string): VaultError {
  return new VaultError('vault_external_url', `外部鍵サービスの URL ${url} は使えません (${why})`, `The external key service URL ${url} is not allowed (${why})`);
}

export class ExternalKeystore implements Keystore {
  readonly kind = 'external' as const;
  private readonly base: string;
  private readonly agent: Agent;
  private known = new Set<number>();

  private constructor(private readonly opts: ExternalKeystoreOptions) {
    const u = checkServiceUrl(opts.url, opts.allowedHosts);
    this.base = u.href.replace(/\/+$/, '');
    this.agent = new Agent({ connectTimeout: opts.timeoutMs, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs, connections: 8 });
  }

  static async open(opts: ExternalKeystoreOptions, ctx: KeyCallContext): Promise<ExternalKeystore> {
    const ks = new ExternalKeystore(opts);
    try {
      await ks.health();
      // Which configured keys exist and are enabled.
      for (let v = 1; v <= opts.keyIds.length; v++) {
        const m = await ks.call(`keys/${encodeURIComponent(opts.keyIds[v - 1]!)}/metadata`, 'DescribeKey', ctx, {}, true);
        if (m && m.keyStatus === 'ENABLED') ks.known.add(v);
      }
    } catch (e) {
      await ks.close();
      throw e;
    }
    return ks;
  }

  async versions(): Promise<number[]> {
    return [...this.known].sort((a, b) => a - b);
  }

  async createVersion(version: number, ctx: KeyCallContext): Promise<void> {
    const keyId = this.opts.keyIds[version - 1];
    if (!keyId) {
      throw new VaultError(
        'vault_external_key_missing',
        `鍵バージョン ${version} に対応する鍵 ID がありません。外部鍵サービスで鍵を作成し、vault.keystore.key_ids に追加してください`,
        `No key id for key version ${version}: create the key in the external key service and add it to vault.keystore.key_ids`,
      );
    }
    const m = await this.call(`keys/${encodeURIComponent(keyId)}/metadata`, 'DescribeKey', ctx, {}, true);
    if (!m || m.keyStatus !== 'ENABLED') {
      throw new VaultError('vault_external_key_missing', `外部鍵サービスに有効な鍵 ${keyId} がありません`, `The external key service has no enabled key ${keyId}`);
    }
    this.known.add(version);
  }

  /** A version another process added (rotation): check the key exists before use. */
  private async ensure(version: number, ctx: KeyCallContext): Promise<void> {
    if (!this.known.has(version) && this.opts.keyIds[version - 1]) await this.createVersion(version, ctx);
  }

  async encrypt(version: number, plaintext: Buffer, aad: Buffer, ctx: KeyCallContext): Promise<Buffer> {
    await this.ensure(version, ctx);
    const r = await this.call(`keys/${encodeURIComponent(this.keyId(version))}/encrypt`, 'Encrypt', ctx, {
      plaintext: plaintext.toString('base64'),
      encryptionAlgorithm: 'AES_GCM',
      additionalAuthenticatedData: aad.toString('base64'),
    });
    const iv = b64(r?.initializationVector);
    const tag = b64(r?.authenticationTag);
    const ct = b64(r?.ciphertext);
    if (!iv || !tag || !ct || iv.length < 12 || iv.length > 255 || tag.length !== 16) {
      throw new VaultError('vault_external_refused', '外部鍵サービスの応答が不正です', 'The external key service gave a malformed answer');
    }
    return Buffer.concat([Buffer.from([iv.length]), iv, tag, ct]);
  }

  async decrypt(version: number, sealed: Buffer, aad: Buffer, ctx: KeyCallContext): Promise<Buffer> {
    await this.ensure(version, ctx);
    const ivLen = sealed[0] ?? 0;
    if (ivLen < 12 || sealed.length < 1 + ivLen + 16) throw tampered(`tenant key v${version}`, `テナント鍵 v${version}`);
    const r = await this.call(`keys/${encodeURIComponent(this.keyId(version))}/decrypt`, 'Decrypt', ctx, {
      ciphertext: sealed.subarray(1 + ivLen + 16).toString('base64'),
      encryptionAlgorithm: 'AES_GCM',
      additionalAuthenticatedData: aad.toString('base64'),
      initializationVector: sealed.subarray(1, 1 + ivLen).toString('base64'),
      authenticationTag: sealed.subarray(1 + ivLen, 1 + ivLen + 16).toString('base64'),
    });
    const pt = b64(r?.plaintext);
    if (!pt) throw new VaultError('vault_external_refused', '外部鍵サービスの応答が不正です', 'The external key service gave a malformed answer');
    return pt;
  }

  async destroyVersion(version: number): Promise<void> {
    // Keys are destroyed in the key service by its own administrators; Sekisho forgets it.
    this.known.delete(version);
  }

  async health(): Promise<void> {
    await this.call('health', 'KmsHealthCheck', { reason: 'status', tenant: '', purpose: 'health' }, {});
  }

  describe(): Record<string, string | number | boolean> {
    return { kind: 'external', url: this.base, key_ids: this.opts.keyIds.join(','), timeout_ms: this.opts.timeoutMs };
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => {});
  }

  private keyId(version: number): string {
    const id = this.opts.keyIds[version - 1];
    if (!id || !this.known.has(version)) {
      throw new VaultError('vault_external_key_missing', `鍵バージョン ${version} の鍵が外部鍵サービスにありません`, `The external key service holds no key for key version ${version}`);
    }
    return id;
  }

  /** One POST; `missingOk` turns KeyNotFoundException into undefined. */
  private async call(pathPart: string, operation: string, ctx: KeyCallContext, body: Record<string, unknown>, missingOk = false): Promise<any> {
    const url = `${this.base}/kms/xks/v1/${pathPart}`;
    const payload = JSON.stringify({
      requestMetadata: {
        awsPrincipalArn: `sekisho:tenant/${ctx.tenant}`,
        kmsOperation: operation,
        kmsRequestId: crypto.randomUUID(),
        kmsKeyArn: `sekisho:${ctx.tenant}:${ctx.purpose}`,
        sekishoReason: ctx.reason,
        sekishoPurpose: ctx.purpose,
        ...(ctx.requestId ? { sekishoRequestId: ctx.requestId } : {}),
      },
      ...body,
    });
    const signal = AbortSignal.timeout(this.opts.timeoutMs);
    let status: number;
    let text: string;
    try {
      const res = await request(url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: { 'content-type': 'application/json', ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}) },
        body: payload,
        signal,
        // undici follows no redirects (that needs its redirect interceptor): a 3xx is a refusal.
      });
      status = res.statusCode;
      text = await readBounded(res.body);
    } catch (e) {
      const err = e as { name?: string; code?: string };
      if (signal.aborted || err.name === 'TimeoutError' || err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT' || err.code === 'UND_ERR_CONNECT_TIMEOUT') {
        throw new VaultError('vault_external_timeout', `外部鍵サービスが ${this.opts.timeoutMs} ms 以内に応答しません (${operation})`, `The external key service did not answer within ${this.opts.timeoutMs} ms (${operation})`, { cause: e });
      }
      throw new VaultError('vault_external_unavailable', `外部鍵サービス ${this.base} に接続できません (${err.code ?? (e as Error).message})`, `Cannot reach the external key service ${this.base} (${err.code ?? (e as Error).message})`, { cause: e });
    }
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (status === 200 && json && typeof json === 'object') return json;
    const name = typeof json?.errorName === 'string' ? json.errorName.slice(0, 64) : `HTTP ${status}`;
    if (missingOk && name === 'KeyNotFoundException') return undefined;
    if (name === 'InvalidCiphertextException' || name === 'AuthenticationFailedException' && operation === 'Decrypt') throw tampered(`tenant key (${operation})`, `テナント鍵 (${operation})`);
    if (status >= 500) throw new VaultError('vault_external_unavailable', `外部鍵サービスが使えません (${name})`, `The external key service is not available (${name})`);
    throw new VaultError('vault_external_refused', `外部鍵サービスが ${operation} を拒否しました (${name})`, `The external key service refused ${operation} (${name})`);
  }
}

function b64(v: unknown): Buffer | undefined {
  if (typeof v !== 'string' || v.length > MAX_RESPONSE || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) return undefined;
  return Buffer.from(v, 'base64');
}

async function readBounded(body: AsyncIterable<Buffer> & { destroy?: (e?: Error) => void }): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += chunk.length;
    if (n > MAX_RESPONSE) {
      body.destroy?.();
      throw new VaultError('vault_external_refused', '外部鍵サービスの応答が大きすぎます', 'The external key service answer is too large');
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}
