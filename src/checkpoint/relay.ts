/**
 * The relay stage: send to the compliant backends in the routed order, fail over among
 * them only, and relay the answer — JSON whole, SSE event by event (never splitting a
 * character), with backpressure and a clean end when the upstream misbehaves.
 */
import type { BackendAdapter, Endpoint, UpstreamResponse } from '../backends/types.js';
import { UpstreamError } from '../backends/types.js';
import type { Router } from '../routing/index.js';
import type { Metrics } from '../ops/metrics.js';
import { CheckpointError } from './errors.js';
import { SseFramer, parseEvent, errorEvent, type ParsedEvent } from './sse.js';
import { AnswerBlocked, type AnswerGuard } from './content.js';

/** Where the answer goes: the server implements it over an HTTP response. */
export interface Sink {
  /** A complete answer. */
  send(status: number, headers: Record<string, string>, body: Uint8Array | string): void;
  /** Start a streamed answer. */
  start(status: number, headers: Record<string, string>): void;
  /** Write part of a streamed answer; resolves when the client has taken it (backpressure). */
  write(chunk: Uint8Array | string): Promise<void>;
  end(): void;
}

export interface RelayInput {
  requestId: string;
  endpoint: Endpoint;
  stream: boolean;
  body: Record<string, unknown>;
  order: readonly string[];
  upstreamModel(backendId: string): string;
  headers(backendId: string): Record<string, string>;
  signal: AbortSignal;
  maxAttempts: number;
  maxResponseBytes: number;
  /** Inspects the answer and restores pseudonyms; absent when there is nothing to do. */
  answer?: AnswerGuard | undefined;
  /**
   * Threat detection on the answer's whole text (and its token count): true withholds a
   * complete answer; a stream, already sent, is only reported.
   */
  threatAnswer?: ((text: string, tokens: number, backend: string) => boolean) | undefined;
}

export interface RelayOutcome {
  backend: string | null;
  status: number;
  attempts: number;
  upstreamMs: number | null;
  /** How a started stream ended. */
  streamEnd?: 'done' | 'eof' | 'upstream_error' | 'garbage' | 'client_gone' | 'answer_blocked';
}

interface AttemptFailure {
  backend: string;
  kind: string;
  status?: number;
}

const RETRY_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504]);

async function readAll(res: UpstreamResponse, limit: number): Promise<Buffer> {
  if (res.bytes) return res.bytes(limit);
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body) {
    n += chunk.byteLength;
    if (n > limit) {
      res.abort();
      throw new UpstreamError('protocol', `response larger than ${limit} bytes`);
    }
    parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
}

function parseJsonObject(buf: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(buf.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

type Choice = { index?: number; finish_reason?: string | null; message?: Record<string, unknown>; delta?: Record<string, unknown> };

/** A whole chat completion: inspect and restore each choice's text and tool arguments. */
function guardAnswer(json: Record<string, unknown>, guard: AnswerGuard): Record<string, unknown> {
  const choices = json.choices;
  if (!Array.isArray(choices)) return json;
  for (const c of choices as Choice[]) {
    const m = c?.message;
    if (!m) continue;
    if (typeof m.content === 'string') m.content = guard.text(m.content);
    if (Array.isArray(m.tool_calls)) {
      for (const t of m.tool_calls as { function?: { arguments?: unknown } }[]) {
        if (typeof t?.function?.arguments === 'string') t.function.arguments = guard.text(t.function.arguments);
      }
    }
  }
  return json;
}

/** The text of a whole answer's choices (and tool arguments). */
function answerText(json: Record<string, unknown>): string {
  const choices = json.choices;
  if (!Array.isArray(choices)) return '';
  let out = '';
  for (const c of choices as Choice[]) {
    const m = c?.message;
    if (typeof m?.content === 'string') out += m.content + '\n';
    if (Array.isArray(m?.tool_calls)) for (const t of m.tool_calls as { function?: { arguments?: unknown } }[]) if (typeof t?.function?.arguments === 'string') out += t.function.arguments + '\n';
  }
  return out;
}

/** One streamed chunk: pass each choice's delta text through the guard (in place). */
function guardChunk(data: Record<string, unknown>, guard: AnswerGuard): void {
  const choices = data.choices;
  if (!Array.isArray(choices)) return;
  for (const c of choices as Choice[]) {
    const index = typeof c?.index === 'number' ? c.index : 0;
    const d = c?.delta;
    if (d && typeof d.content === 'string') d.content = guard.push(index, d.content);
    if (c?.finish_reason) {
      const rest = guard.flush(index);
      if (rest && d) d.content = (typeof d.content === 'string' ? d.content : '') + rest;
      else if (rest) c.delta = { content: rest };
    }
  }
}

function rewriteEvent(parsed: ParsedEvent, guard: AnswerGuard): string {
  let out = '';
  for (const data of parsed.data) {
    guardChunk(data, guard);
    out += `data: ${JSON.stringify(data)}\n\n`;
  }
  if (parsed.done) out += flushEvents(guard) + 'data: [DONE]\n\n';
  return out;
}

/** Text still held back when the stream ends without a finish_reason. */
function flushEvents(guard: AnswerGuard): string {
  let out = '';
  for (const index of guard.open()) {
    const rest = guard.flush(index);
    if (rest) out += `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index, delta: { content: rest }, finish_reason: null }] })}\n\n`;
  }
  return out;
}

function answerBlocked(e: AnswerBlocked): CheckpointError {
  return new CheckpointError(
    403,
    'permission_error',
    'answer_blocked',
    `回答に送信が禁止された情報 (${e.types.join(', ')}) が含まれていたため、回答を差し止めました`,
    `The answer contained information that may not be passed on (${e.types.join(', ')}), so it was withheld`,
    { types: e.types },
  );
}

/** Read what follows `[DONE]` (normally nothing) so the connection can be reused; give up after 64 KiB. */
async function drainAfterDone(it: AsyncIterator<Uint8Array>, res: UpstreamResponse): Promise<void> {
  let n = 0;
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      n += r.value.byteLength;
      if (n > 65536) return res.abort();
    }
  } catch {
    res.abort();
  }
}

export class Relay {
  constructor(
    private readonly adapters: ReadonlyMap<string, BackendAdapter>,
    private readonly router: Router,
    private readonly metrics: Metrics,
  ) {}

  async relay(input: RelayInput, sink: Sink): Promise<RelayOutcome> {
    const failures: AttemptFailure[] = [];
    let attempts = 0;
    for (const id of input.order) {
      if (attempts >= input.maxAttempts) break;
      if (input.signal.aborted) return { backend: null, status: 499, attempts, upstreamMs: null, streamEnd: 'client_gone' };
      if (!this.router.begin(id)) continue;
      attempts++;
      const adapter = this.adapters.get(id)!;
      const t0 = performance.now();
      let res: UpstreamResponse;
      try {
        res = await adapter.send({
          endpoint: input.endpoint,
          body: { ...input.body, model: input.upstreamModel(id) },
          stream: input.stream,
          signal: input.signal,
          requestId: input.requestId,
        });
      } catch (e) {
        if (input.signal.aborted) {
          this.router.release(id);
          return { backend: id, status: 499, attempts, upstreamMs: null, streamEnd: 'client_gone' };
        }
        const err = e instanceof UpstreamError ? e : new UpstreamError('protocol', String(e));
        this.fail(id, err.kind, failures);
        continue;
      }
      const upstreamMs = performance.now() - t0;
      this.metrics.observeUpstream(id, upstreamMs / 1000);

      if (RETRY_STATUS.has(res.status)) {
        res.abort();
        this.fail(id, 'status', failures, res.status);
        continue;
      }
      const ok = res.status >= 200 && res.status < 300;
      if (!ok || !input.stream) {
        // A whole answer: read it, check it is JSON, then send. A 4xx is the caller's
        // error (bad parameters): the backend is healthy and the answer is passed on.
        let buf: Buffer;
        try {
          buf = await readAll(res, input.maxResponseBytes);
        } catch (e) {
          if (input.signal.aborted) {
            this.router.release(id);
            return { backend: id, status: 499, attempts, upstreamMs, streamEnd: 'client_gone' };
          }
          this.fail(id, e instanceof UpstreamError ? e.kind : 'protocol', failures);
          continue;
        }
        const json = parseJsonObject(buf);
        if (!json) {
          this.fail(id, 'garbage', failures, res.status);
          continue;
        }
        this.router.success(id, upstreamMs);
        if (ok && input.answer) {
          try {
            buf = Buffer.from(JSON.stringify(guardAnswer(json, input.answer)));
          } catch (e) {
            if (e instanceof AnswerBlocked) throw answerBlocked(e);
            throw e;
          }
        }
        if (ok && input.threatAnswer) {
          const text = answerText(json);
          const usage = (json.usage as { total_tokens?: unknown } | undefined)?.total_tokens;
          if (input.threatAnswer(text, typeof usage === 'number' ? usage : Math.ceil(text.length / 3), id)) {
            throw new CheckpointError(403, 'permission_error', 'answer_withheld', '回答にシステムプロンプトや秘密情報の持ち出しの疑いがあるため、回答を差し止めました', 'The answer was withheld: it appears to leak the system prompt or secrets', {});
          }
        }
        sink.send(res.status, { 'content-type': 'application/json', ...input.headers(id) }, buf);
        return { backend: id, status: res.status, attempts, upstreamMs };
      }
      // A stream: wait for the first whole event before answering, so that a backend that
      // fails before saying anything can still be failed over.
      const outcome = await this.relayStream(id, res, input, sink, upstreamMs, failures, attempts);
      if (outcome) return outcome;
    }
    if (attempts === 0) {
      throw new CheckpointError(
        503,
        'server_error',
        'no_healthy_backend',
        '適合するバックエンドはすべて停止中です。しばらくしてから再試行してください (他のバックエンドには送信しません)',
        'Every compliant backend is currently down. Try again later (the request is not sent to any other backend)',
        { backends: input.order },
      );
    }
    const timedOut = failures.length > 0 && failures.every((f) => f.kind === 'timeout');
    throw new CheckpointError(
      timedOut ? 504 : 502,
      'server_error',
      timedOut ? 'upstream_timeout' : 'upstream_failed',
      '適合するバックエンドから正常な応答を得られませんでした (他のバックエンドには送信しません)',
      'No compliant backend gave a valid answer (the request is not sent to any other backend)',
      { attempts: failures },
    );
  }

  private fail(id: string, kind: string, failures: AttemptFailure[], status?: number): void {
    this.router.failure(id);
    this.metrics.upstreamFailures.inc({ backend: id, kind });
    failures.push(status === undefined ? { backend: id, kind } : { backend: id, kind, status });
  }

  /** Returns undefined when the backend failed before the first event (fail over). */
  private async relayStream(
    id: string,
    res: UpstreamResponse,
    input: RelayInput,
    sink: Sink,
    upstreamMs: number,
    failures: AttemptFailure[],
    attempts: number,
  ): Promise<RelayOutcome | undefined> {
    const framer = new SseFramer();
    let streamed = '';
    /** The upstream's own count, when it sends one (stream_options.include_usage). */
    let streamUsage: number | undefined;
    const it = res.body[Symbol.asyncIterator]();
    let started = false;
    let streamEnd: RelayOutcome['streamEnd'] = 'eof';
    const startOnce = () => {
      if (started) return;
      started = true;
      this.router.success(id, upstreamMs);
      sink.start(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', ...input.headers(id) });
    };
    const abortStream = async (code: string, en: string, ja: string): Promise<void> => {
      res.abort();
      if (!started) return;
      // What the model said before the fault, held back for inspection, is still passed on.
      if (input.answer && code !== 'answer_blocked') {
        try {
          const rest = flushEvents(input.answer);
          if (rest) await sink.write(rest);
        } catch {
          // a blocked type in the held text: drop it
        }
      }
      await sink.write(errorEvent({ message: en, type: 'server_error', code, sekisho: { code, message: { ja, en } } }));
    };
    try {
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await it.next();
        } catch (e) {
          if (input.signal.aborted) {
            streamEnd = 'client_gone';
            break;
          }
          const kind = e instanceof UpstreamError ? e.kind : 'reset';
          if (!started) {
            this.fail(id, kind, failures);
            return undefined;
          }
          this.router.failure(id);
          this.metrics.upstreamFailures.inc({ backend: id, kind });
          streamEnd = 'upstream_error';
          await abortStream('upstream_interrupted', 'The backend stopped in the middle of the answer', 'バックエンドが応答の途中で停止しました');
          break;
        }
        if (next.done && input.signal.aborted) {
          streamEnd = 'client_gone';
          break;
        }
        if (next.done) {
          const rest = framer.rest();
          if (rest !== '') {
            if (!started) {
              this.fail(id, 'garbage', failures);
              return undefined;
            }
            streamEnd = 'garbage';
            await abortStream('upstream_invalid_stream', 'The backend sent an invalid stream', 'バックエンドが不正なストリームを送信しました');
          } else if (!started) {
            this.fail(id, 'empty', failures);
            return undefined;
          } else if (input.answer) {
            const rest = flushEvents(input.answer);
            if (rest) await sink.write(rest);
          }
          break;
        }
        let events: Buffer[];
        try {
          events = framer.push(next.value);
        } catch {
          events = [];
          if (!started) {
            res.abort();
            this.fail(id, 'garbage', failures);
            return undefined;
          }
          streamEnd = 'garbage';
          await abortStream('upstream_invalid_stream', 'The backend sent an invalid stream', 'バックエンドが不正なストリームを送信しました');
          break;
        }
        let bad = false;
        let done = false;
        let blocked: AnswerBlocked | undefined;
        const good: (Buffer | string)[] = [];
        for (const ev of events) {
          const parsed = parseEvent(ev);
          if (!parsed) {
            bad = true;
            break;
          }
          if (input.threatAnswer && streamed.length < 131072) {
            for (const d of parsed.data) {
              const u = (d.usage as { total_tokens?: unknown } | null | undefined)?.total_tokens;
              if (typeof u === 'number') streamUsage = u;
              for (const c of (Array.isArray(d.choices) ? d.choices : []) as Choice[]) if (typeof c?.delta?.content === 'string') streamed += c.delta.content;
            }
          }
          if (input.answer) {
            try {
              good.push(rewriteEvent(parsed, input.answer));
            } catch (e) {
              if (!(e instanceof AnswerBlocked)) throw e;
              blocked = e;
              break;
            }
          } else good.push(ev);
          if (parsed.done) {
            done = true;
            break;
          }
        }
        if (blocked) {
          if (!started) {
            res.abort();
            this.router.success(id, upstreamMs);
            throw answerBlocked(blocked);
          }
          streamEnd = 'answer_blocked';
          const err = answerBlocked(blocked);
          await abortStream(err.code, err.en, err.ja);
          break;
        }
        if (bad && !started && good.length === 0) {
          res.abort();
          this.fail(id, 'garbage', failures);
          return undefined;
        }
        if (good.length > 0) {
          startOnce();
          await sink.write(good.length === 1 ? good[0]! : input.answer ? (good as string[]).join('') : Buffer.concat(good as Buffer[]));
        }
        if (bad) {
          streamEnd = 'garbage';
          await abortStream('upstream_invalid_stream', 'The backend sent an invalid stream', 'バックエンドが不正なストリームを送信しました');
          break;
        }
        if (done) {
          streamEnd = 'done';
          break;
        }
        if (input.signal.aborted) {
          streamEnd = 'client_gone';
          res.abort();
          break;
        }
      }
    } finally {
      if (started) sink.end();
    }
    if (streamEnd === 'done') void drainAfterDone(it, res);
    // A stream is already with the client: threats in it are reported, not withheld.
    if (started && input.threatAnswer && (streamed || streamUsage !== undefined)) input.threatAnswer(streamed, streamUsage ?? Math.ceil(streamed.length / 3), id);
    if (!started) {
      // Only reachable when the client left before anything was sent.
      this.router.release(id);
      return { backend: id, status: 499, attempts, upstreamMs, streamEnd: 'client_gone' };
    }
    return { backend: id, status: 200, attempts, upstreamMs, streamEnd };
  }
}
