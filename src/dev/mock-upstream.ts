/**
 * A fake OpenAI-compatible model server for tests, benchmarks and first trials. It stands in
 * for a model, not for Sekisho: it answers `/v1/chat/completions` (JSON and SSE) and
 * `/v1/embeddings` with a fixed reply, and can be told to misbehave.
 *
 * Faults are chosen per server (`fault`) or per request with the header `x-mock-fault`:
 *   refuse (server closed), reset (socket destroyed before the answer), hang (never answers),
 *   status500, garbage (200 with non-JSON / non-SSE), garbage_sse (valid start, then junk),
 *   reset_mid_stream, slow_stream (one chunk every 50 ms).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type MockFault =
  | 'none'
  | 'reset'
  | 'hang'
  | 'status500'
  | 'garbage'
  | 'garbage_sse'
  | 'reset_mid_stream'
  | 'slow_stream';

export interface MockUpstreamOptions {
  host?: string;
  port?: number;
  /** Identifies the server in answers: the reply text is `${reply}` and `x-mock-name` carries the name. */
  name?: string;
  reply?: string;
  /** Split the streamed reply into chunks of this many characters (default 4). */
  chunkChars?: number;
  fault?: MockFault;
  /** Answer with the last user message instead of `reply` (shows what the model received). */
  echo?: boolean;
}

export interface SeenRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export interface MockUpstream {
  url: string; // base URL ending in /v1
  port: number;
  name: string;
  seen: SeenRequest[];
  setFault(f: MockFault): void;
  /** The fault for the next request only. */
  failNext(f: MockFault): void;
  close(): Promise<void>;
}

export function startMockUpstream(opts: MockUpstreamOptions = {}): Promise<MockUpstream> {
  const name = opts.name ?? 'mock';
  const fixedReply = opts.reply ?? 'こんにちは、関所です。Hello from the mock model.';
  const chunkChars = opts.chunkChars ?? 4;
  let fault: MockFault = opts.fault ?? 'none';
  let once: MockFault | undefined;
  const seen: SeenRequest[] = [];

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: any = undefined;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      } catch {
        body = undefined;
      }
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      if (seen.length > 10_000) seen.splice(0, seen.length - 10_000);
      const f = ((req.headers['x-mock-fault'] as string | undefined) ?? once ?? fault) as MockFault;
      once = undefined;
      handle(req, res, body, f);
    });
  });
  server.keepAliveTimeout = 65_000;

  function handle(req: http.IncomingMessage, res: http.ServerResponse, body: any, f: MockFault): void {
    if (f === 'reset') {
      req.socket.destroy();
      return;
    }
    if (f === 'hang') return;
    if (f === 'status500') {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'upstream exploded', type: 'server_error' } }));
      return;
    }
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'mock', object: 'model', created: 0, owned_by: name }] }));
      return;
    }
    if (req.method !== 'POST' || !body || typeof body !== 'object') {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'bad request', type: 'invalid_request_error' } }));
      return;
    }
    if (f === 'garbage') {
      res.writeHead(200, { 'content-type': body.stream ? 'text/event-stream' : 'application/json' });
      res.end('<html>502 proxy error</html>\n\n');
      return;
    }
    const model = String(body.model ?? 'mock');
    let reply = fixedReply;
    if (opts.echo && Array.isArray(body.messages)) {
      const last = [...body.messages].reverse().find((m: any) => m?.role === 'user');
      if (typeof last?.content === 'string') reply = last.content;
    }
    const created = Math.floor(Date.now() / 1000);
    if (path === '/v1/embeddings') {
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      res.writeHead(200, { 'content-type': 'application/json', 'x-mock-name': name });
      res.end(
        JSON.stringify({
          object: 'list',
          model,
          data: inputs.map((_: unknown, index: number) => ({
            object: 'embedding',
            index,
            embedding: body.encoding_format === 'base64' ? Buffer.from(new Float32Array([0.1, 0.2, 0.3]).buffer).toString('base64') : [0.1, 0.2, 0.3],
          })),
          usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
        }),
      );
      return;
    }
    if (path !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }));
      return;
    }
    const id = 'chatcmpl-mock';
    const n = Number.isInteger(body.n) && body.n > 0 && body.n <= 8 ? body.n : 1;
    const tools = Array.isArray(body.tools) && body.tools.length > 0;
    if (!body.stream) {
      const choices = Array.from({ length: n }, (_, index) =>
        tools
          ? {
              index,
              finish_reason: 'tool_calls',
              message: {
                role: 'assistant',
                content: null,
                tool_calls: [
                  { id: 'call_1', type: 'function', function: { name: body.tools[0].function?.name ?? 'f', arguments: '{"city":"東京"}' } },
                ],
              },
            }
          : { index, finish_reason: 'stop', message: { role: 'assistant', content: reply } },
      );
      res.writeHead(200, { 'content-type': 'application/json', 'x-mock-name': name });
      res.end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model,
          choices,
          usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
        }),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-mock-name': name });
    const parts: string[] = [];
    const chars = Array.from(reply);
    for (let i = 0; i < chars.length; i += chunkChars) parts.push(chars.slice(i, i + chunkChars).join(''));
    const frame = (delta: object, finish: string | null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const events = [frame({ role: 'assistant', content: '' }, null), ...parts.map((p) => frame({ content: p }, null)), frame({}, 'stop'), 'data: [DONE]\n\n'];
    // As OpenAI does with stream_options.include_usage: a last chunk with the usage and no choices.
    if (body.stream_options?.include_usage === true) events.splice(events.length - 1, 0, `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 } })}\n\n`);
    if (f === 'garbage_sse') {
      res.write(events[0]);
      res.write(events[1] ?? '');
      res.end('data: {not json at all\n\n');
      return;
    }
    if (f === 'reset_mid_stream') {
      res.write(events[0]);
      res.write(events[1] ?? '', () => setTimeout(() => req.socket.destroy(), 5));
      return;
    }
    if (f === 'slow_stream') {
      let i = 0;
      const timer = setInterval(() => {
        if (i >= events.length || res.destroyed) {
          clearInterval(timer);
          if (!res.destroyed) res.end();
          return;
        }
        res.write(events[i++]);
      }, 50);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.end(events.join(''));
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://${opts.host ?? '127.0.0.1'}:${port}/v1`,
        port,
        name,
        seen,
        setFault(f) {
          fault = f;
        },
        failNext(f) {
          once = f;
        },
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
