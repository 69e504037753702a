/**
 * The relay stage's view of a backend: send one OpenAI-shaped call, get back a status,
 * headers and a byte stream. Every kind (OpenAI-compatible HTTP, in-process llama.cpp)
 * speaks the OpenAI wire format on this interface, so the checkpoint relays them alike.
 */

export type Endpoint = 'chat.completions' | 'embeddings';

export interface UpstreamCall {
  endpoint: Endpoint;
  /** The request body as the client sent it, with `model` already replaced by the backend's model. */
  body: Record<string, unknown>;
  stream: boolean;
  signal: AbortSignal;
  requestId: string;
}

export interface UpstreamResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** Raw bytes: JSON for non-streaming calls, `text/event-stream` bytes for streaming ones. */
  body: AsyncIterable<Uint8Array>;
  /** The whole body at once (optional fast path); rejects with UpstreamError past `limit` bytes. */
  bytes?(limit: number): Promise<Buffer>;
  /** Release the response early (client went away, garbage detected). Idempotent. */
  abort(): void;
}

export type UpstreamFailureKind = 'connect' | 'timeout' | 'reset' | 'protocol' | 'unavailable';

/** A failure before or while talking to a backend. `retryable` failures may fail over. */
export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamFailureKind,
    message: string,
    readonly retryable: boolean = true,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}

export interface BackendAdapter {
  readonly id: string;
  /** Resolves once the response status and headers are known (first byte), rejects with UpstreamError. */
  send(call: UpstreamCall): Promise<UpstreamResponse>;
  close(): Promise<void>;
}
