/**
 * HTTP endpoints of the tenant as issuer and verifier (a delegate of src/server/http.ts):
 *   GET  /.well-known/did.json                     did:web document
 *   GET  /.well-known/openid-credential-issuer     OpenID4VCI issuer metadata
 *   GET  /.well-known/oauth-authorization-server   token endpoint, pre-authorized grant
 *   POST /oid4vci/token | /oid4vci/nonce | /oid4vci/credential
 *   GET  /status/1                                 Token Status List (statuslist+jwt)
 *   POST /oid4vp/request, GET /oid4vp/request/<id>, POST /oid4vp/response (direct_post)
 *   POST /oid4vp/session  transaction_id=…   the initiating device picks up the session (cross-device)
 * Bodies are bounded (64 KiB) and read with a time limit; errors carry a code and ja/en.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import { AuthError } from './errors.js';
import { HttpProblem } from '../ops/problem.js';
import { RedisError } from '../store/redis-errors.js';
import type { IdentityService } from './service.js';
import { STATUS_LIST_ID } from './vci.js';

const MAX_BODY = 64 * 1024;
const BODY_TIMEOUT_MS = 10_000;

export const IDENTITY_PATHS = new Set([
  '/.well-known/did.json',
  '/.well-known/openid-credential-issuer',
  '/.well-known/oauth-authorization-server',
  '/oid4vci/token',
  '/oid4vci/nonce',
  '/oid4vci/credential',
  `/status/${STATUS_LIST_ID}`,
  '/oid4vp/request',
  '/oid4vp/response',
  '/oid4vp/session',
]);

export function isIdentityPath(path: string): boolean {
  return IDENTITY_PATHS.has(path) || path.startsWith('/oid4vp/request/');
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** OAuth-style for the OpenID4VCI endpoints, OpenAI-style elsewhere; both carry `sekisho`. */
function sendProblem(res: http.ServerResponse, p: { status: number; code: string; ja: string; en: string; retryAfterS?: number | undefined }, oauth: string | undefined): void {
  const sekisho = { code: p.code, message: { ja: p.ja, en: p.en } };
  const headers: Record<string, string> = p.status === 401 ? { 'www-authenticate': 'Bearer realm="sekisho"' } : {};
  if (p.retryAfterS !== undefined) headers['retry-after'] = String(p.retryAfterS);
  if (oauth) send(res, p.status, { error: oauth, error_description: p.en, sekisho }, headers);
  else send(res, p.status, { error: { message: p.en, type: p.status === 401 ? 'authentication_error' : 'invalid_request_error', param: null, code: p.code, sekisho } }, headers);
}

function readBody(req: http.IncomingMessage): Promise<{ type: string; text: string }> {
  const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY) {
    req.resume();
    return Promise.reject(new HttpProblem(413, 'body_too_large', `本文が上限 ${MAX_BODY} バイトを超えています`, `The body exceeds ${MAX_BODY} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new HttpProblem(408, 'body_timeout', '本文の受信が時間切れになりました', 'Timed out while receiving the body'));
    }, BODY_TIMEOUT_MS);
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > MAX_BODY) {
        clearTimeout(timer);
        req.destroy();
        reject(new HttpProblem(413, 'body_too_large', `本文が上限 ${MAX_BODY} バイトを超えています`, `The body exceeds ${MAX_BODY} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve({ type, text: Buffer.concat(chunks).toString('utf8') });
    });
    req.on('error', () => {
      clearTimeout(timer);
      reject(new HttpProblem(400, 'body_aborted', '本文の受信が中断されました', 'The body was interrupted'));
    });
  });
}

function form(b: { type: string; text: string }): URLSearchParams {
  if (b.type === 'application/x-www-form-urlencoded') return new URLSearchParams(b.text);
  if (b.type === 'application/json' || b.type === '') {
    try {
      const o = b.text ? JSON.parse(b.text) : {};
      if (o && typeof o === 'object' && !Array.isArray(o)) return new URLSearchParams(Object.entries(o).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    } catch {
      /* fall through */
    }
  }
  throw new HttpProblem(400, 'invalid_request', '本文の形式が正しくありません', 'The body is not well formed');
}

function json(b: { type: string; text: string }): unknown {
  if (b.type !== 'application/json') throw new HttpProblem(415, 'unsupported_media_type', 'Content-Type は application/json にしてください', 'Content-Type must be application/json');
  try {
    return JSON.parse(b.text);
  } catch {
    throw new HttpProblem(400, 'invalid_json', '本文が正しい JSON ではありません', 'The body is not valid JSON');
  }
}

const OAUTH_CODES: Record<string, string> = { invalid_grant: 'invalid_grant', invalid_token: 'invalid_token', invalid_proof: 'invalid_proof', invalid_credential: 'invalid_credential_request' };

/**
 * Brute-force defence around the presentation and token endpoints (threat detection): refused
 * sources and locked credentials are turned away before anything is verified, and every failed
 * PIN, token, proof or presentation is reported with the source address and a hash of what it
 * tried (the offer's code, the access token, the presented credential), never the value itself.
 */
export interface IdentityGuard {
  refusedSource(ip: string | undefined): HttpProblem | undefined;
  refusedCredential(credential: string): HttpProblem | undefined;
  failed(ip: string | undefined, credential: string | undefined, endpoint: string): void;
}

/** What failures are counted against: a short hash, so that no secret is kept or logged. */
function credentialHash(kind: string, value: string): string {
  return `${kind}:${crypto.createHash('sha256').update(value).digest('base64url').slice(0, 22)}`;
}

/** Handles an identity path; the caller checked `isIdentityPath`. */
export async function handleIdentity(svc: IdentityService, req: http.IncomingMessage, res: http.ServerResponse, path: string, guard?: IdentityGuard): Promise<void> {
  const oauth = path.startsWith('/oid4vci/');
  const ip = req.socket.remoteAddress;
  // Set once the request names what it tries (the failure is counted against it).
  let credential: string | undefined;
  const tried = (kind: string, value: string | null | undefined) => {
    if (!guard || !value) return;
    credential = credentialHash(kind, value);
    const locked = guard.refusedCredential(credential);
    if (locked) throw locked;
  };
  try {
    if (guard && req.method === 'POST') {
      const refused = guard.refusedSource(ip);
      if (refused) {
        req.resume();
        throw refused;
      }
    }
    const method = req.method ?? 'GET';
    const isGet = method === 'GET' || method === 'HEAD';
    const expect = (m: 'GET' | 'POST') => {
      if ((m === 'GET') !== isGet || (m === 'POST' && method !== 'POST')) {
        req.resume();
        throw new HttpProblem(405, 'method_not_allowed', `このパスでは ${m} を使ってください`, `Use ${m} on this path`);
      }
    };
    switch (path) {
      case '/.well-known/did.json':
        expect('GET');
        return send(res, 200, svc.didDocument(), { 'content-type': 'application/did+json', 'cache-control': 'max-age=60' });
      case '/.well-known/openid-credential-issuer':
        expect('GET');
        return send(res, 200, svc.vci.metadata(), { 'cache-control': 'max-age=60' });
      case '/.well-known/oauth-authorization-server':
        expect('GET');
        return send(res, 200, svc.vci.authServerMetadata(), { 'cache-control': 'max-age=60' });
      case `/status/${STATUS_LIST_ID}`:
        expect('GET');
        return send(res, 200, await svc.statusListToken(), { 'content-type': 'application/statuslist+jwt', 'cache-control': 'no-cache' });
      case '/oid4vci/token':
        expect('POST');
        const f = form(await readBody(req));
        tried('offer', f.get('pre-authorized_code'));
        return send(res, 200, await svc.vci.token(f));
      case '/oid4vci/nonce':
        expect('POST');
        req.resume();
        return send(res, 200, svc.vci.nonce());
      case '/oid4vci/credential': {
        expect('POST');
        const m = /^Bearer[ \t]+(\S{1,256})$/i.exec(String(req.headers.authorization ?? ''));
        if (!m) {
          req.resume();
          throw new AuthError('invalid_token', 'アクセストークンがありません', 'No access token');
        }
        tried('token', m[1]);
        return send(res, 200, await svc.vci.credential(m[1]!, json(await readBody(req))));
      }
      case '/oid4vp/request': {
        expect('POST');
        req.resume();
        const r = svc.verifier.createRequest();
        return send(res, 200, { request: r.request, request_uri: r.request_uri, uri: r.uri, transaction_id: r.transaction_id });
      }
      case '/oid4vp/response': {
        expect('POST');
        const f = form(await readBody(req));
        const enc = f.get('response');
        if (enc) {
          tried('presentation', enc);
          return send(res, 200, await svc.presentationToSession(undefined, undefined, enc));
        }
        const vp = f.get('vp_token');
        if (!vp) throw new AuthError('malformed_presentation', 'vp_token がありません', 'No vp_token');
        // The credential presented (its issuer-signed part): a stolen credential tried without its key, from many addresses.
        tried('presentation', /"?([\w-]+\.[\w-]+\.[\w-]+)~/.exec(vp)?.[1] ?? vp);
        return send(res, 200, await svc.presentationToSession(vp, f.get('state') ?? undefined));
      }
      case '/oid4vp/session': {
        expect('POST');
        const got = svc.pickup(form(await readBody(req)).get('transaction_id') ?? '');
        if (!got) return send(res, 202, { status: 'pending' });
        return send(res, 200, got);
      }
      default: {
        expect('GET');
        const r = svc.verifier.requestById(path.slice('/oid4vp/request/'.length));
        if (!r) throw new HttpProblem(404, 'not_found', '提示要求がないか期限切れです', 'No such presentation request, or it has expired');
        return send(res, 200, r);
      }
    }
  } catch (e) {
    if (e instanceof AuthError) {
      // RFC 6749 §5.2: a bad grant or request is 400; a bad token or proof is 401.
      const status = oauth && (e.code === 'invalid_grant' || e.code === 'invalid_credential') ? 400 : 401;
      // Counted per source, and per credential when the request named one.
      guard?.failed(ip, credential, path);
      return sendProblem(res, { status, code: e.code, ja: e.ja, en: e.en }, oauth ? (OAUTH_CODES[e.code] ?? 'invalid_request') : undefined);
    }
    if (e instanceof HttpProblem) return sendProblem(res, e, oauth ? 'invalid_request' : undefined);
    // The shared session store (Redis) cannot be reached: no session is handed out (fail closed).
    if (e instanceof RedisError) return sendProblem(res, { status: e.status, code: e.code, ja: e.ja, en: e.en }, oauth ? 'temporarily_unavailable' : undefined);
    throw e;
  }
}
