/** Small HTTP helpers of the console: JSON answers, problems in Japanese and English, bounded bodies. */
import type http from 'node:http';
import { HttpProblem } from '../ops/problem.js';

/** The shared bilingual problem, with fields the console adds to its error object (e.g. the findings). */
export class ConsoleProblem extends HttpProblem {
  constructor(status: number, code: string, ja: string, en: string, readonly extra: Record<string, unknown> = {}) {
    super(status, code, ja, en);
  }
}

export const problem = (status: number, code: string, ja: string, en: string, extra: Record<string, unknown> = {}) => new ConsoleProblem(status, code, ja, en, extra);

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendProblem(res: http.ServerResponse, p: HttpProblem, headers: Record<string, string> = {}): void {
  sendJson(res, p.status, { error: { code: p.code, message: { ja: p.ja, en: p.en }, ...(p instanceof ConsoleProblem ? p.extra : {}) } }, headers);
}

export function readJsonBody(req: http.IncomingMessage, maxBytes: number, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    return Promise.reject(problem(415, 'unsupported_media_type', 'Content-Type は application/json にしてください', 'Content-Type must be application/json'));
  }
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) {
    req.resume();
    return Promise.reject(problem(413, 'body_too_large', `本文が上限 ${maxBytes} バイトを超えています`, `The body exceeds ${maxBytes} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const timer = setTimeout(() => {
      req.destroy();
      reject(problem(408, 'body_timeout', '本文の受信が時間切れになりました', 'Timed out while receiving the body'));
    }, timeoutMs);
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > maxBytes) {
        clearTimeout(timer);
        req.destroy();
        reject(problem(413, 'body_too_large', `本文が上限 ${maxBytes} バイトを超えています`, `The body exceeds ${maxBytes} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      clearTimeout(timer);
      try {
        const v = n === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
        resolve(v as Record<string, unknown>);
      } catch {
        reject(problem(400, 'invalid_json', '本文が正しい JSON オブジェクトではありません', 'The body is not a JSON object'));
      }
    });
    req.on('error', () => {
      clearTimeout(timer);
      reject(problem(400, 'body_aborted', '本文の受信が中断されました', 'The body was interrupted'));
    });
  });
}

export const str = (v: unknown, name: string, max = 256, optional = false): string => {
  if ((v === undefined || v === null || v === '') && optional) return '';
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw problem(400, 'invalid_field', `${name} は 1〜${max} 文字の文字列にしてください`, `${name} must be a string of 1 to ${max} characters`, { field: name });
  return v;
};
