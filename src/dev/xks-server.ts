/**
 * A small reference key service for tests and trials, speaking the subset of the AWS XKS
 * proxy API that the `external` keystore uses: health, metadata, encrypt, decrypt
 * (AES-256-GCM, keys held in memory). It records the request metadata of every call, and can
 * be made slow or failing to exercise the gateway's fault handling. Not for production.
 */
import http from 'node:http';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface XksCall {
  path: string;
  operation: string;
  reason: string | undefined;
  purpose: string | undefined;
  keyId: string | undefined;
}

export interface XksServer {
  url: string;
  calls: XksCall[];
  token: string | undefined;
  /** Milliseconds to wait before answering (0: none). */
  delayMs: number;
  /** Answer every call with 503. */
  failing: boolean;
  addKey(id: string): void;
  close(): Promise<void>;
}

export async function startXksServer(opts: { keyIds?: string[]; token?: string; port?: number } = {}): Promise<XksServer> {
  const keys = new Map<string, Buffer>();
  for (const id of opts.keyIds ?? []) keys.set(id, crypto.randomBytes(32));
  const state: XksServer = {
    url: '',
    calls: [],
    token: opts.token,
    delayMs: 0,
    failing: false,
    addKey: (id) => void keys.set(id, crypto.randomBytes(32)),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const error = (res: http.ServerResponse, status: number, errorName: string) => send(res, status, { errorName, errorMessage: errorName });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > 256 * 1024) req.destroy();
      else chunks.push(c);
    });
    req.on('end', async () => {
      if (state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
      if (res.destroyed) return;
      if (state.failing) return error(res, 503, 'InternalException');
      if (state.token && req.headers.authorization !== `Bearer ${state.token}`) return error(res, 401, 'AuthenticationFailedException');
      let body: any;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return error(res, 400, 'ValidationException');
      }
      const md = body?.requestMetadata ?? {};
      const m = /^\/kms\/xks\/v1\/(?:health|keys\/([^/]+)\/(metadata|encrypt|decrypt))$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m) return error(res, 404, 'ValidationException');
      const keyId = m[1] ? decodeURIComponent(m[1]) : undefined;
      state.calls.push({ path: req.url ?? '', operation: String(md.kmsOperation ?? ''), reason: md.sekishoReason, purpose: md.sekishoPurpose, keyId });
      if (!md.kmsOperation || !md.kmsRequestId) return error(res, 400, 'ValidationException');
      if (!keyId) return send(res, 200, { xksProxyFleetSize: 1, xksProxyVendor: 'Sekisho', xksProxyModel: 'reference', ekmVendor: 'in-memory', ekmFleetDetails: [{ id: 'ekm-1', model: 'in-memory', healthStatus: 'ACTIVE' }] });
      const key = keys.get(keyId);
      if (!key) return error(res, 404, 'KeyNotFoundException');
      const aad = Buffer.from(String(body.additionalAuthenticatedData ?? ''), 'base64');
      if (m[2] === 'metadata') return send(res, 200, { keySpec: 'AES_256', keyUsage: ['ENCRYPT', 'DECRYPT'], keyStatus: 'ENABLED' });
      if (m[2] === 'encrypt') {
        const iv = crypto.randomBytes(12);
        const c = crypto.createCipheriv('aes-256-gcm', key, iv);
        c.setAAD(aad);
        const ct = Buffer.concat([c.update(Buffer.from(String(body.plaintext ?? ''), 'base64')), c.final()]);
        return send(res, 200, { ciphertext: ct.toString('base64'), initializationVector: iv.toString('base64'), authenticationTag: c.getAuthTag().toString('base64') });
      }
      try {
        const d = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(String(body.initializationVector ?? ''), 'base64'));
        d.setAAD(aad);
        d.setAuthTag(Buffer.from(String(body.authenticationTag ?? ''), 'base64'));
        const pt = Buffer.concat([d.update(Buffer.from(String(body.ciphertext ?? ''), 'base64')), d.final()]);
        return send(res, 200, { plaintext: pt.toString('base64') });
      } catch {
        return error(res, 400, 'InvalidCiphertextException');
      }
    });
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', () => r()));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
