/**
 * HTTP for threat sharing and administration, administrators only (admin.api_keys or
 * admin.roles): an API key or session as `Authorization: Bearer`, or HTTP Basic with the key as
 * the password (as TAXII clients often send it).
 *
 *   TAXII 2.1 (media type application/taxii+json;version=2.1):
 *     GET  /taxii2/                                   discovery
 *     GET  /taxii2/api/                               API root
 *     GET  /taxii2/api/collections/                   collections
 *     GET  /taxii2/api/collections/{id}/              one collection
 *     GET  /taxii2/api/collections/{id}/objects/      envelope (limit, next, added_after, match[type], match[id])
 *     POST /taxii2/api/collections/{id}/objects/      add objects (the inbox collection) → status
 *     GET  /taxii2/api/status/{id}/                   status resource
 *   The shared collection holds only what an administrator approved (ThreatsAdmin.approve).
 *
 *   Admin API (JSON): GET /admin/v1/threats/alerts | /incidents, POST /incidents/{id}/approve,
 *   GET /incidents/{id}/stix | /incidents/{id}/jpcert, POST /admin/v1/threats/release {principal}.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import { uuidv7 } from '../ops/ids.js';
import { AuthError, isAdmin, type AdminRules, type Principal } from '../identity/index.js';
import { SHARED_COLLECTION, type ThreatEngine } from './engine.js';
import { HttpProblem as Problem } from '../ops/problem.js';

export const TAXII_MEDIA = 'application/taxii+json;version=2.1';
const STIX_MEDIA = 'application/stix+json;version=2.1';
export const INBOX_COLLECTION = '6d3d1c5e-0b1f-4f7a-9a51-5e4b1a7c0002';
const MAX_BODY = 1 << 20;

export interface ThreatHttpDeps {
  engine: ThreatEngine;
  authenticate(authorization: string | undefined): Principal | Promise<Principal>;
  admin: AdminRules;
  title: string;
  taxii: boolean;
}

export function isThreatPath(path: string): boolean {
  return path === '/taxii2/' || path === '/taxii2' || path.startsWith('/taxii2/') || path.startsWith('/admin/v1/threats/');
}

function bearerOf(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const basic = /^Basic[ \t]+([A-Za-z0-9+/=]{1,1024})$/i.exec(authorization);
  if (basic) {
    const dec = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const i = dec.indexOf(':');
    return `Bearer ${i >= 0 ? dec.slice(i + 1) : dec}`;
  }
  return authorization;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > MAX_BODY) {
        req.destroy();
        reject(new Problem(413, 'body_too_large', `本文が上限 ${MAX_BODY} バイトを超えています`, `The body exceeds ${MAX_BODY} bytes`));
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => reject(new Problem(400, 'body_aborted', '本文の受信が中断されました', 'The body was interrupted')));
  });
}

export async function handleThreats(d: ThreatHttpDeps, req: http.IncomingMessage, res: http.ServerResponse, path: string, query: URLSearchParams): Promise<void> {
  const taxii = path.startsWith('/taxii2');
  const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.headersSent || res.destroyed) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': taxii ? TAXII_MEDIA : 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(req.method === 'HEAD' ? undefined : text);
  };
  try {
    if (taxii && !d.taxii) throw new Problem(404, 'not_found', `${path} はありません`, `${path} does not exist`);
    // Guessing administrator keys (TAXII clients send them as Basic passwords) is brute force like any other.
    const ip = req.socket.remoteAddress;
    const refused = d.engine.refusedSource(ip);
    if (refused) throw new Problem(refused.status, refused.code, refused.ja, refused.en, refused.retryAfterS);
    let principal: Principal;
    const authorization = bearerOf(req.headers.authorization);
    try {
      principal = await d.authenticate(authorization);
    } catch (e) {
      if (e instanceof AuthError) {
        if (e.code !== 'missing_credential') d.engine.authFailure(ip, crypto.createHash('sha256').update(authorization ?? '').digest('base64url').slice(0, 22), taxii ? 'taxii' : 'admin');
        throw new Problem(401, e.code, e.ja, e.en);
      }
      throw e;
    }
    if (!isAdmin(principal, d.admin)) throw new Problem(403, 'not_admin', 'この操作には管理者権限が必要です', 'This action needs an administrator');
    const method = req.method ?? 'GET';
    if (taxii) return await taxiiRoute(d, req, method, path.endsWith('/') ? path : path + '/', query, send);
    return await adminRoute(d, req, method, path, query, principal, send);
  } catch (e) {
    req.resume();
    const p = e instanceof Problem ? e : undefined;
    if (!p) throw e;
    const headers: Record<string, string> = p.status === 401 ? { 'www-authenticate': 'Bearer realm="sekisho", Basic realm="sekisho"' } : {};
    if (p.retryAfterS !== undefined) headers['retry-after'] = String(p.retryAfterS);
    if (taxii) send(p.status, { title: p.en, description: p.ja, error_code: p.code, http_status: String(p.status) }, headers);
    else send(p.status, { error: { message: p.en, type: p.status === 401 ? 'authentication_error' : 'invalid_request_error', code: p.code, sekisho: { code: p.code, message: { ja: p.ja, en: p.en } } } }, headers);
  }
}

type Send = (status: number, body: unknown, headers?: Record<string, string>) => void;

function collections(d: ThreatHttpDeps) {
  return [
    { id: SHARED_COLLECTION, title: `${d.title}: approved incidents`, description: 'STIX 2.1 objects of incidents an administrator approved for sharing', can_read: true, can_write: false, media_types: [STIX_MEDIA] },
    { id: INBOX_COLLECTION, title: `${d.title}: inbox`, description: 'Objects shared with this organisation (write)', can_read: true, can_write: true, media_types: [STIX_MEDIA] },
  ];
}

async function taxiiRoute(d: ThreatHttpDeps, req: http.IncomingMessage, method: string, path: string, query: URLSearchParams, send: Send): Promise<void> {
  const accept = String(req.headers.accept ?? '');
  if (accept && !/application\/taxii\+json(;\s*version=2\.1)?|\*\/\*|application\/\*/i.test(accept)) {
    throw new Problem(406, 'not_acceptable', `Accept は ${TAXII_MEDIA} にしてください`, `Accept must allow ${TAXII_MEDIA}`);
  }
  const get = method === 'GET' || method === 'HEAD';
  if (path === '/taxii2/') {
    if (!get) throw notAllowed();
    req.resume();
    return send(200, { title: d.title, description: 'TAXII 2.1 server of the Sekisho AI gateway', default: '/taxii2/api/', api_roots: ['/taxii2/api/'] });
  }
  if (path === '/taxii2/api/') {
    if (!get) throw notAllowed();
    req.resume();
    return send(200, { title: d.title, versions: [TAXII_MEDIA], max_content_length: MAX_BODY });
  }
  if (path === '/taxii2/api/collections/') {
    if (!get) throw notAllowed();
    req.resume();
    return send(200, { collections: collections(d) });
  }
  let m = /^\/taxii2\/api\/status\/([0-9a-f-]{36})\/$/.exec(path);
  if (m) {
    if (!get) throw notAllowed();
    req.resume();
    const st = await d.engine.store.taxiiStatus(m[1]!);
    if (!st) throw new Problem(404, 'not_found', '状態リソースがありません', 'No such status resource');
    return send(200, JSON.parse(st));
  }
  m = /^\/taxii2\/api\/collections\/([0-9a-f-]{36})\/(objects\/)?$/.exec(path);
  const col = m && collections(d).find((c) => c.id === m![1]);
  if (!m || !col) throw new Problem(404, 'not_found', 'コレクションがありません', 'No such collection');
  if (!m[2]) {
    if (!get) throw notAllowed();
    req.resume();
    return send(200, col);
  }
  if (get) {
    req.resume();
    const limit = Math.min(Math.max(Number(query.get('limit') ?? 100) || 100, 1), 1000);
    const next = query.get('next') ?? undefined;
    const after = next ? Buffer.from(next, 'base64url').toString('utf8') : (query.get('added_after') ?? undefined);
    const types = query.get('match[type]')?.split(',').filter(Boolean);
    const ids = query.get('match[id]')?.split(',').filter(Boolean);
    const rows = await d.engine.store.taxiiObjects(col.id, { limit: limit + 1, ...(after ? { addedAfter: after } : {}), ...(types ? { types } : {}), ...(ids ? { ids } : {}) });
    // Pagination by date_added: rows sharing the last page's date_added are kept together.
    let page = rows.slice(0, limit);
    let more = rows.length > limit;
    if (more && page.length && rows[limit]!.date_added === page[page.length - 1]!.date_added) {
      const cut = page.findIndex((r) => r.date_added === page[page.length - 1]!.date_added);
      if (cut > 0) page = page.slice(0, cut);
      else more = true;
    }
    const headers: Record<string, string> = {};
    if (page.length) {
      headers['x-taxii-date-added-first'] = page[0]!.date_added;
      headers['x-taxii-date-added-last'] = page[page.length - 1]!.date_added;
    }
    const body: Record<string, unknown> = { more, objects: page.map((r) => JSON.parse(r.object)) };
    if (more && page.length) body.next = Buffer.from(page[page.length - 1]!.date_added).toString('base64url');
    return send(200, body, headers);
  }
  if (method !== 'POST') throw notAllowed();
  if (!col.can_write) throw new Problem(403, 'read_only', 'このコレクションには書き込めません (共有は管理者の承認で行います)', 'This collection cannot be written (sharing happens by approval)');
  const ct = String(req.headers['content-type'] ?? '');
  if (!/^application\/taxii\+json(;\s*version=2\.1)?$/i.test(ct.trim())) throw new Problem(415, 'unsupported_media_type', `Content-Type は ${TAXII_MEDIA} にしてください`, `Content-Type must be ${TAXII_MEDIA}`);
  let env: { objects?: unknown };
  try {
    env = JSON.parse(await readBody(req)) as { objects?: unknown };
  } catch (e) {
    if (e instanceof Problem) throw e;
    throw new Problem(400, 'invalid_json', '本文が正しい JSON ではありません', 'The body is not valid JSON');
  }
  if (!env || !Array.isArray(env.objects)) throw new Problem(400, 'invalid_envelope', '本文は objects を持つ TAXII エンベロープにしてください', 'The body must be a TAXII envelope with objects');
  const now = new Date().toISOString();
  const ok: { id: string; version: string; date_added: string; object: string }[] = [];
  const failures: { id: string; message: string }[] = [];
  for (const o of env.objects as Record<string, unknown>[]) {
    const id = typeof o?.id === 'string' ? o.id : '';
    if (!/^[a-z0-9-]+--[0-9a-f-]{36}$/.test(id) || typeof o.type !== 'string' || o.spec_version !== '2.1') failures.push({ id: id || '(none)', message: 'not a STIX 2.1 object (type, id, spec_version)' });
    else ok.push({ id, version: String(o.modified ?? o.created ?? now), date_added: now, object: JSON.stringify(o) });
  }
  await d.engine.store.putTaxiiObjects(col.id, ok);
  const status = {
    id: uuidv7(),
    status: 'complete',
    request_timestamp: now,
    total_count: ok.length + failures.length,
    success_count: ok.length,
    successes: ok.map((o) => ({ id: o.id, version: o.version })),
    failure_count: failures.length,
    failures,
    pending_count: 0,
  };
  await d.engine.store.putTaxiiStatus(status.id, now, JSON.stringify(status));
  return send(202, status);
}

function notAllowed(): Problem {
  return new Problem(405, 'method_not_allowed', 'このパスではこのメソッドは使えません', 'This method is not allowed on this path');
}

async function adminRoute(d: ThreatHttpDeps, req: http.IncomingMessage, method: string, path: string, query: URLSearchParams, admin: Principal, send: Send): Promise<void> {
  const limit = Math.min(Math.max(Number(query.get('limit') ?? 100) || 100, 1), 1000);
  if (method === 'GET' && path === '/admin/v1/threats/alerts') {
    req.resume();
    return send(200, { alerts: await d.engine.alerts({ limit, ...(query.get('before') ? { before: query.get('before')! } : {}), ...(query.get('incident') ? { incident: query.get('incident')! } : {}) }) });
  }
  if (method === 'GET' && path === '/admin/v1/threats/incidents') {
    req.resume();
    const status = query.get('status') as 'open' | 'approved' | 'shared' | 'closed' | null;
    return send(200, { incidents: await d.engine.incidents({ limit, ...(status ? { status } : {}) }) });
  }
  const m = /^\/admin\/v1\/threats\/incidents\/([A-Za-z0-9._-]{1,80})\/(approve|stix|jpcert)$/.exec(path);
  if (m && m[2] === 'approve' && method === 'POST') {
    req.resume();
    return send(200, await d.engine.approve(m[1]!, admin.id));
  }
  if (m && m[2] === 'stix' && method === 'GET') {
    req.resume();
    return send(200, await d.engine.exportStix(m[1]!));
  }
  if (m && m[2] === 'jpcert' && method === 'GET') {
    req.resume();
    const text = await d.engine.exportJpcert(m[1]!);
    return send(200, text, { 'content-type': 'text/plain; charset=utf-8' });
  }
  if (path === '/admin/v1/threats/release' && method === 'POST') {
    let principal: unknown;
    try {
      principal = (JSON.parse(await readBody(req)) as { principal?: unknown }).principal;
    } catch {
      throw new Problem(400, 'invalid_json', '本文が正しい JSON ではありません', 'The body is not valid JSON');
    }
    if (typeof principal !== 'string') throw new Problem(400, 'missing_principal', 'principal を指定してください', 'principal is required');
    return send(200, { released: await d.engine.release(principal, admin.id) });
  }
  req.resume();
  throw new Problem(404, 'not_found', `${path} はありません`, `${path} does not exist`);
}
