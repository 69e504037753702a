/**
 * The `openai` kind: any OpenAI-compatible HTTP server (vLLM, Ollama, llama.cpp server,
 * Sakura AI Engine, Azure OpenAI regional …) over an undici Pool with keep-alive and
 * connect / first-byte / idle timeouts. Responses are relayed as they arrive.
 * Redirects are never followed, so a backend cannot send a request somewhere else.
 *
 * The hot path uses undici's dispatch API directly (no Readable streams): chunks go into a
 * small queue that the relay drains, with pause/resume for backpressure.
 */
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import type { OpenAIBackendConfig } from '../config/schema.js';
import { UpstreamError, type BackendAdapter, type UpstreamCall, type UpstreamResponse, type UpstreamFailureKind } from './types.js';

const PATHS = { 'chat.completions': '/chat/completions', embeddings: '/embeddings' } as const;

export function classifyError(e: unknown): UpstreamError {
  if (e instanceof UpstreamError) return e;
  const err = e as { code?: string; name?: string; message?: string };
  const code = err?.code ?? '';
  let kind: UpstreamFailureKind = 'protocol';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') kind = 'timeout';
  else if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EAI_AGAIN') kind = 'connect';
  else if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE' || code === 'UND_ERR_CLOSED') kind = 'reset';
  else if (err instanceof undiciErrors.RequestAbortedError || err?.name === 'AbortError') {
    return new UpstreamError('reset', 'request aborted', false, { cause: e });
  }
  return new UpstreamError(kind, `${kind}: ${code || err?.message || 'unknown error'}`, true, { cause: e });
}

/** Pause the upstream socket when this many chunks wait for a slow client. */
const HIGH_WATER_CHUNKS = 64;

/** One request/response exchange driven by undici's dispatch callbacks. */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private chunks: Buffer[] = [];
  private ended = false;
  private failure: UpstreamError | undefined;
  private wake: (() => void) | undefined;
  private started: ((r: UpstreamResponse) => void) | undefined;
  private rejected: ((e: UpstreamError) => void) | undefined;
  private aborted = false;
  readonly response: Promise<UpstreamResponse>;

  constructor(private readonly signal: AbortSignal) {
    this.response = new Promise((resolve, reject) => {
      this.started = resolve;
      this.rejected = reject;
    });
  }

  private readonly onAbort = () => this.abort();

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.signal.aborted) controller.abort(new undiciErrors.RequestAbortedError());
    else this.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    const out: Record<string, string> = {};
    for (const k in headers) {
      const v = headers[k];
      if (typeof v === 'string') out[k] = v;
    }
    const self = this;
    this.started?.({
      status: statusCode,
      headers: out,
      body: { [Symbol.asyncIterator]: () => self.iterate() },
      bytes: (limit) => self.bytes(limit),
      abort: () => self.abort(),
    });
    this.started = this.rejected = undefined;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
    if (this.chunks.length >= HIGH_WATER_CHUNKS) controller.pause();
    this.notify();
  }

  onResponseEnd(): void {
    this.ended = true;
    this.cleanup();
    this.notify();
  }

  onResponseError(_c: Dispatcher.DispatchController, error: Error): void {
    const err = this.aborted ? new UpstreamError('reset', 'request aborted', false, { cause: error }) : classifyError(error);
    this.cleanup();
    if (this.rejected) {
      this.rejected(err);
      this.started = this.rejected = undefined;
      return;
    }
    this.failure = err;
    this.notify();
  }

  private cleanup(): void {
    this.signal.removeEventListener('abort', this.onAbort);
  }

  private notify(): void {
    const w = this.wake;
    if (w) {
      this.wake = undefined;
      w();
    }
  }

  abort(): void {
    if (this.aborted || this.ended) return;
    this.aborted = true;
    this.controller?.abort(new undiciErrors.RequestAbortedError());
  }

  private async *iterate(): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.chunks.length > 0) {
        const batch = this.chunks;
        this.chunks = [];
        if (this.controller?.paused) this.controller.resume();
        yield batch.length === 1 ? batch[0]! : Buffer.concat(batch);
        continue;
      }
      if (this.failure) {
        if (this.aborted) return;
        throw this.failure;
      }
      if (this.ended || this.aborted) return;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  private async bytes(limit: number): Promise<Buffer> {
    let n = 0;
    const parts: Buffer[] = [];
    for (;;) {
      for (const c of this.chunks) {
        n += c.length;
        parts.push(c);
      }
      this.chunks = [];
      if (n > limit) {
        this.abort();
        throw new UpstreamError('protocol', `response larger than ${limit} bytes`);
      }
      if (this.controller?.paused) this.controller.resume();
      if (this.failure) throw this.failure;
      if (this.ended) return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
      if (this.aborted) throw new UpstreamError('reset', 'request aborted', false);
      await new Promise<void>((r) => (this.wake = r));
    }
  }
}

export function createOpenAIBackend(cfg: OpenAIBackendConfig, env: NodeJS.ProcessEnv = process.env): BackendAdapter {
  const base = new URL(cfg.url);
  const basePath = base.pathname.replace(/\/+$/, '');
  let authorization: string | undefined;
  if (cfg.api_key_env) {
    const v = env[cfg.api_key_env];
    if (!v) {
      throw new Error(
        `backend ${cfg.id}: the environment variable ${cfg.api_key_env} (api_key_env) is not set / バックエンド ${cfg.id}: 環境変数 ${cfg.api_key_env} が設定されていません`,
      );
    }
    authorization = `Bearer ${v}`;
  }
  const pool = new Pool(base.origin, {
    connections: cfg.max_connections,
    connectTimeout: cfg.timeouts.connect_ms,
    headersTimeout: cfg.timeouts.first_byte_ms,
    bodyTimeout: cfg.timeouts.idle_ms,
    keepAliveTimeout: 30_000,
    pipelining: 1,
  });

  function send(call: UpstreamCall): Promise<UpstreamResponse> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: call.stream ? 'text/event-stream' : 'application/json',
      'x-request-id': call.requestId,
    };
    if (authorization) headers.authorization = authorization;
    const ex = new Exchange(call.signal);
    pool.dispatch({ origin: base.origin, method: 'POST', path: basePath + PATHS[call.endpoint], headers, body: JSON.stringify(call.body) }, ex);
    return ex.response;
  }

  return {
    id: cfg.id,
    send,
    close: () => pool.close(),
  };
}
