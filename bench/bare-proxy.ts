/**
 * The physical reference for `npm run bench:overhead`: the least a Node proxy can do. A
 * node:http server that forwards each request to one upstream through an undici Pool and pipes
 * the answer back, with no parsing, no auth, no logging. Whatever a gateway adds on top of this
 * is its own cost.
 *
 *   node --import tsx bench/bare-proxy.ts <listenPort> <upstreamOrigin>
 *
 * Prints `READY <port>` on stdout once it listens on 127.0.0.1.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const port = Number(process.argv[2] ?? 0);
const upstream = process.argv[3];
if (!upstream) {
  process.stderr.write('usage: bare-proxy.ts <port> <upstream origin, e.g. http://127.0.0.1:9000>\n');
  process.exit(2);
}

const pool = new Pool(upstream, { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 });

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
]);

function forwardHeaders(raw: string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name)) continue;
    const value = raw[i + 1]!;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
  }
  return out;
}

const server = http.createServer((req, res) => {
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  // pool.stream writes the upstream body straight into `res` (no intermediate Readable): with
  // pool.request + pipeline the same proxy ran at ~60 % of this rate, with 10 ms scavenges.
  pool.stream(
    {
      path: req.url ?? '/',
      method: method as 'POST',
      headers: forwardHeaders(req.rawHeaders),
      body: hasBody ? req : null,
    },
    ({ statusCode, headers }) => {
      const out: Record<string, string | string[]> = {};
      for (const k in headers) {
        const v = headers[k];
        if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
      }
      res.writeHead(statusCode, out);
      return res;
    },
    (err) => {
      if (!err) return;
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `upstream: ${err.message}`, type: 'bad_gateway' } }));
      } else res.destroy(err);
    },
  );
});
server.keepAliveTimeout = 65_000;

server.once('error', (err) => {
  process.stderr.write(`bare-proxy: ${err.message}\n`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
});
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  void pool.close();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
