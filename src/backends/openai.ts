/**
 * The `openai` kind: any OpenAI-compatible HTTP server (vLLM, Ollama, llama.cpp server,
 * Sakura AI Engine, Azure OpenAI regional …) over an undici Pool with keep-alive and
 * connect / first-byte / idle timeouts. Responses are relayed as they arrive.
 * Redirects are never followed, so a backend cannot send a request somewhere else.
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

  async function send(call: UpstreamCall): Promise<UpstreamResponse> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: call.stream ? 'text/event-stream' : 'application/json',
      'x-request-id': call.requestId,
    };
    if (authorization) headers.authorization = authorization;
    let res: Dispatcher.ResponseData;
    try {
      res = await pool.request({
        method: 'POST',
        path: basePath + PATHS[call.endpoint],
        headers,
        body: JSON.stringify(call.body),
        signal: call.signal,
      });
    } catch (e) {
      throw classifyError(e);
    }
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') out[k] = v;
    const body = res.body;
    let aborted = false;
    return {
      status: res.statusCode,
      headers: out,
      body: (async function* () {
        try {
          for await (const chunk of body) yield chunk as Uint8Array;
        } catch (e) {
          if (aborted) return;
          throw classifyError(e);
        }
      })(),
      abort() {
        if (aborted) return;
        aborted = true;
        // undici reports an early destroy as an 'error' event; nobody waits for it here.
        body.on('error', () => {});
        body.destroy();
      },
    };
  }

  return {
    id: cfg.id,
    send,
    close: () => pool.close(),
  };
}
