/**
 * HTTP ↔ checkpoint translation on node:http: the OpenAI API under /v1, operations
 * endpoints, bounded request bodies, backpressure, and graceful shutdown.
 */
import http from 'node:http';
import { uuidv7 } from '../ops/ids.js';
import type { AddressInfo } from 'node:net';
import type { Endpoint } from '../backends/types.js';
import { Checkpoint, CheckpointError, type Sink } from '../checkpoint/index.js';
import { badRequest } from '../checkpoint/errors.js';
import { parseOpenAIBody } from './openai.js';
import type { Logger } from '../ops/log.js';
import type { Metrics } from '../ops/metrics.js';

export interface ServerDeps {
  /** The current checkpoint (a config reload swaps it; requests in flight finish on the old one). */
  checkpoint: Pick<Checkpoint, 'handle'>;
  metrics: Metrics;
  log: Logger;
  limits: { maxBodyBytes: number; bodyTimeoutMs: number; writeStallMs: number };
  /** GET /v1/models for the caller (authenticates). */
  listModels(authorization: string | undefined): { id: string }[] | Promise<{ id: string }[]>;
  ready(): boolean;
  /** The tenant as issuer/verifier (DID, OpenID4VCI, OpenID4VP, status list); absent when disabled. */
  identity?: { isPath(path: string): boolean; handle(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> } | undefined;
  /** TAXII 2.1 and the threats admin API (src/threats/http.ts); absent: 404. */
  threats?: { isPath(path: string): boolean; handle(req: http.IncomingMessage, res: http.ServerResponse, path: string, query: URLSearchParams): Promise<void> } | undefined;
  /** GET /audit/v1/… (src/audit/http.ts); absent: 404. */
  audit?: (method: string, path: string, authorization: string | undefined) => Promise<{ status: number; headers: Record<string, string>; body: string | Buffer }>;
  /** The admin console under /console (src/console); absent: 404. */
  console?: { handle(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> } | undefined;
}

const ENDPOINTS: Record<string, Endpoint> = {
  '/v1/chat/completions': 'chat.completions',
  '/v1/embeddings': 'embeddings',
};

const RESOLVED = Promise.resolve();

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: http.ServerResponse, err: CheckpointError, headers: Record<string, string> = {}): void {
  sendJson(res, err.status, err.toJSON(), headers);
}

/** Read the body with a size limit and a time limit; errors are CheckpointErrors (413, 408, 400). */
function readJson(req: http.IncomingMessage, res: http.ServerResponse, maxBytes: number, timeoutMs: number): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    req.resume();
    return Promise.reject(tooLarge(maxBytes));
  }
  const ct = req.headers['content-type'];
  if (ct !== undefined && !/^application\/(?:[\w.+-]*\+)?json\b/i.test(ct)) {
    req.resume();
    return Promise.reject(
      new CheckpointError(415, 'invalid_request_error', 'unsupported_media_type', 'Content-Type は application/json にしてください', 'Content-Type must be application/json'),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const timer = setTimeout(() => {
      cleanup();
      // The rest of the body will never be read: answer, then close the connection.
      res.setHeader('connection', 'close');
      reject(new CheckpointError(408, 'invalid_request_error', 'body_timeout', 'リクエスト本文の受信が時間切れになりました', 'Timed out while receiving the request body'));
    }, timeoutMs);
    const onData = (c: Buffer) => {
      n += c.length;
      if (n > maxBytes) {
        cleanup();
        res.setHeader('connection', 'close');
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n);
      try {
        resolve(JSON.parse(buf.toString('utf8')));
      } catch {
        reject(badRequest('invalid_json', 'リクエスト本文が正しい JSON ではありません', 'The request body is not valid JSON'));
      }
    };
    const onError = () => {
      cleanup();
      reject(new CheckpointError(400, 'invalid_request_error', 'body_aborted', 'リクエスト本文の受信が中断されました', 'The request body was interrupted'));
    };
    function cleanup() {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(max: number): CheckpointError {
  return new CheckpointError(413, 'invalid_request_error', 'body_too_large', `リクエスト本文が上限 ${max} バイトを超えています`, `The request body exceeds the limit of ${max} bytes`);
}

function responseSink(res: http.ServerResponse, writeStallMs: number): Sink {
  return {
    send(status, headers, body) {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(status, { ...headers, 'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength });
      res.end(body);
    },
    start(status, headers) {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(status, headers);
    },
    write(chunk) {
      if (res.destroyed) return RESOLVED;
      if (res.write(chunk)) return RESOLVED;
      // Backpressure: wait for the client, but not forever (slow or stalled client).
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        const timer = setTimeout(() => {
          res.destroy();
          done();
        }, writeStallMs);
        res.on('drain', done);
        res.on('close', done);
      });
    },
    end() {
      if (!res.destroyed) res.end();
    },
  };
}

export interface RunningServer {
  server: http.Server;
  url: string;
  /** Stop accepting, let in-flight requests (streams included) finish, up to graceMs. */
  close(graceMs: number): Promise<void>;
}

export function startHttpServer(deps: ServerDeps, host: string, port: number): Promise<RunningServer> {
  let inflight = 0;
  let draining = false;
  let idle: (() => void) | undefined;
  deps.metrics.beforeScrape.push(() => deps.metrics.inflight.set(inflight));

  const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => {
    inflight++;
    res.on('close', () => {
      inflight--;
      if (inflight === 0 && idle) idle();
    });
    if (draining) res.setHeader('connection', 'close');
    handle(req, res).catch((e) => {
      deps.log.error({ err: (e as Error).message }, 'unhandled error');
      sendError(res, new CheckpointError(500, 'server_error', 'internal_error', '内部エラーが発生しました', 'Internal error'));
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const endpoint = ENDPOINTS[path];
    if (endpoint) {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      const ac = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) ac.abort();
      });
      const requestId = uuidv7();
      const level = req.headers['x-sekisho-level'];
      const conversation = req.headers['x-sekisho-conversation'];
      const subject = req.headers['x-sekisho-subject'];
      await deps.checkpoint.handle(
        {
          requestId,
          endpoint,
          authorization: req.headers.authorization,
          requestedLevel: Array.isArray(level) ? level.join(',') : level,
          conversation: Array.isArray(conversation) ? conversation.join(',') : conversation,
          subject: Array.isArray(subject) ? subject.join(',') : subject,
          readBody: async () => parseOpenAIBody(endpoint, await readJson(req, res, deps.limits.maxBodyBytes, deps.limits.bodyTimeoutMs)),
          signal: ac.signal,
          remote: req.socket.remoteAddress,
        },
        responseSink(res, deps.limits.writeStallMs),
      );
      return;
    }
    if (deps.identity?.isPath(path)) return deps.identity.handle(req, res, path);
    if (deps.threats?.isPath(path)) return deps.threats.handle(req, res, path, new URLSearchParams(q === -1 ? '' : url.slice(q + 1)));
    if (deps.console && (path === '/console' || path.startsWith('/console/'))) return deps.console.handle(req, res, path);
    if (deps.audit && path.startsWith('/audit/v1/')) {
      req.resume();
      const r = await deps.audit(req.method ?? 'GET', path, req.headers.authorization);
      res.writeHead(r.status, { ...r.headers, 'content-length': typeof r.body === 'string' ? Buffer.byteLength(r.body) : r.body.byteLength });
      res.end(req.method === 'HEAD' ? undefined : r.body);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET');
    req.resume();
    if (path === '/v1/models' || path.startsWith('/v1/models/')) {
      let models: { id: string }[];
      try {
        models = await deps.listModels(req.headers.authorization);
      } catch (e) {
        if (e instanceof CheckpointError) return sendError(res, e, e.status === 401 ? { 'www-authenticate': 'Bearer realm="sekisho"' } : {});
        throw e;
      }
      const data = models.map((m) => ({ id: m.id, object: 'model', created: 0, owned_by: 'sekisho' }));
      if (path === '/v1/models') return sendJson(res, 200, { object: 'list', data });
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      const found = data.find((m) => m.id === id);
      if (found) return sendJson(res, 200, found);
      return sendError(res, new CheckpointError(404, 'not_found_error', 'model_not_found', `モデル ${id} はありません`, `The model ${id} does not exist`, {}, 'model'));
    }
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const ok = !draining && deps.ready();
      return sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : draining ? 'draining' : 'not_ready' });
    }
    if (path === '/metrics') {
      const text = await deps.metrics.text();
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
      res.end(text);
      return;
    }
    sendError(res, new CheckpointError(404, 'not_found_error', 'not_found', `${path} はありません`, `${path} does not exist`));
  }

  function methodNotAllowed(res: http.ServerResponse, allow: string): void {
    res.req.resume();
    sendError(res, new CheckpointError(405, 'invalid_request_error', 'method_not_allowed', `このパスでは ${allow} を使ってください`, `Use ${allow} on this path`), { allow });
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve({
        server,
        url: `http://${h}:${addr.port}`,
        close(graceMs) {
          draining = true;
          return new Promise<void>((done) => {
            const finish = () => {
              clearTimeout(timer);
              server.closeAllConnections();
              done();
            };
            const timer = setTimeout(finish, graceMs);
            idle = () => {
              if (inflight === 0) finish();
            };
            server.close();
            server.closeIdleConnections();
            if (inflight === 0) finish();
          });
        },
      });
    });
  });
}
