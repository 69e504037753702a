/**
 * The log over HTTP, per C2SP tlog-tiles, under /audit/v1/:
 *   GET checkpoint                    the signed checkpoint with witness cosignatures (no-cache)
 *   GET tile/<L>/<N>[.p/<W>]          hash tiles (full tiles immutable)
 *   GET tile/entries/<N>[.p/<W>]      entry bundles (full bundles immutable)
 *   GET vkey                          the log's verifier key (signed-note key format)
 * Read access is public or for auditors holding a bearer token (config `audit.read`);
 * tokens are compared as SHA-256 digests in constant time.
 */
import crypto from 'node:crypto';
import type { Store } from '../store/index.js';
import { parseTilePath, TILE_WIDTH } from './tiles.js';
import { storeSource } from './source.js';

export interface AuditHttpOptions {
  store: Store;
  vkey: string;
  access: 'public' | 'auditor';
  /** SHA-256 digests of the auditors' bearer tokens. */
  auditorTokenHashes: Buffer[];
}

export interface AuditHttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

const PREFIX = '/audit/v1/';
const IMMUTABLE = 'public, max-age=31536000, immutable';
const TEXT = 'text/plain; charset=utf-8';

function msg(status: number, ja: string, en: string, extra: Record<string, string> = {}): AuditHttpResponse {
  return { status, headers: { 'content-type': TEXT, 'cache-control': 'no-store', ...extra }, body: `${ja}\n${en}\n` };
}

export function isAuditPath(path: string): boolean {
  return path.startsWith(PREFIX);
}

export function auditHttp(opts: AuditHttpOptions): (method: string, path: string, authorization: string | undefined) => Promise<AuditHttpResponse> {
  const source = storeSource(opts.store);
  const authorized = (authorization: string | undefined): boolean => {
    if (opts.access === 'public') return true;
    const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(authorization ?? '');
    const digest = crypto.createHash('sha256').update(m ? m[1]! : '').digest();
    let ok = false;
    for (const h of opts.auditorTokenHashes) ok = crypto.timingSafeEqual(h, digest) || ok;
    return ok && m !== null;
  };
  return async (method, path, authorization) => {
    if (method !== 'GET' && method !== 'HEAD') return msg(405, 'GET を使ってください', 'Use GET', { allow: 'GET, HEAD' });
    if (!authorized(authorization)) return msg(401, '監査人の資格情報が必要です', 'Auditor credentials are required', { 'www-authenticate': 'Bearer realm="sekisho-audit"' });
    const rest = path.slice(PREFIX.length);
    if (rest === 'checkpoint') {
      const note = await source.checkpointOrUndefined();
      if (!note) return msg(404, 'チェックポイントはまだありません', 'No checkpoint yet');
      return { status: 200, headers: { 'content-type': TEXT, 'cache-control': 'no-cache' }, body: note };
    }
    if (rest === 'vkey') return { status: 200, headers: { 'content-type': TEXT, 'cache-control': 'no-cache' }, body: opts.vkey + '\n' };
    const ref = parseTilePath(rest);
    if (!ref) return msg(404, `${path} はありません`, `${path} does not exist`);
    const body = ref.level === 'entries' ? await source.entriesOrUndefined(ref.n, ref.width) : await source.tileOrUndefined(ref.level, ref.n, ref.width);
    if (!body) return msg(404, `${path} はありません`, `${path} does not exist`);
    const full = ref.width === TILE_WIDTH;
    return {
      status: 200,
      headers: { 'content-type': 'application/octet-stream', 'cache-control': full ? IMMUTABLE : 'no-cache' },
      body,
    };
  };
}
