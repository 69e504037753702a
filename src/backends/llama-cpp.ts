/**
 * The `llama-cpp` kind: a local GGUF model run in process with node-llama-cpp (3.21.1).
 *
 * node-llama-cpp is an optional, operator-installed package (large prebuilt binaries), so it
 * is imported dynamically, only when such a backend is configured, and typed here by the few
 * members used (a static import would break the typecheck of the default install).
 *
 * - The model is loaded at creation, so a missing or broken file fails at startup, naming it.
 * - One context with one sequence; generations are serialized by a FIFO lock (a request
 *   waiting for the lock counts against `timeouts.first_byte_ms`, so a busy backend fails
 *   over instead of queueing forever).
 * - Prompts are rendered with the model's own chat template (node-llama-cpp's Jinja wrapper),
 *   or its best-matching built-in wrapper when the GGUF carries none.
 * - Text chunks come from the library's detokenizer, which holds back incomplete UTF-8
 *   sequences, so every streamed delta is whole characters.
 * - `timeouts.first_byte_ms` bounds the wait for the first chunk (streams) or the whole
 *   answer (non-streaming); `timeouts.idle_ms` bounds the gap between stream chunks.
 *   `connect_ms` has no meaning here.
 * - Embeddings use a second, lazily created embedding context (same lock).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LlamaCppBackendConfig } from '../config/schema.js';
import { UpstreamError, type BackendAdapter, type UpstreamCall, type UpstreamResponse } from './types.js';

const PACKAGE = 'node-llama-cpp';
export const LLAMA_CPP_INSTALL = 'npm install node-llama-cpp@3.21.1';

// ---- the parts of node-llama-cpp used here (structural, see the header) ----
type Token = number;
type ChatHistoryItem = { type: 'system'; text: string } | { type: 'user'; text: string } | { type: 'model'; response: string[] };
interface GenerateOptions {
  onTextChunk?: (text: string) => void;
  onToken?: (tokens: Token[]) => void;
  signal?: AbortSignal;
  stopOnAbortSignal?: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  customStopTriggers?: readonly string[];
  repeatPenalty?: false | { frequencyPenalty?: number; presencePenalty?: number; penalty?: number };
}
interface LlamaChat {
  generateResponse(history: ChatHistoryItem[], options: GenerateOptions): Promise<{ response: string; metadata: { stopReason: string } }>;
  dispose(opts?: { disposeSequence?: boolean }): void;
}
interface ChatWrapper {
  generateContextState(opts: { chatHistory: ChatHistoryItem[] }): { contextText: { tokenize(tokenizer: unknown): Token[] } };
}
interface LlamaContextSequence {
  readonly contextSize: number;
}
interface LlamaContext {
  getSequence(): LlamaContextSequence;
  dispose(): Promise<void>;
}
interface LlamaEmbeddingContext {
  getEmbeddingFor(input: string): Promise<{ vector: readonly number[] }>;
  dispose(): Promise<void>;
}
interface LlamaModel {
  readonly tokenizer: unknown;
  tokenize(text: string): Token[];
  createContext(opts: { contextSize: number; sequences: number; threads?: number }): Promise<LlamaContext>;
  createEmbeddingContext(opts: { contextSize: number; threads?: number }): Promise<LlamaEmbeddingContext>;
  dispose(): Promise<void>;
}
interface Llama {
  /** Cores useful for math (physical cores, roughly). */
  readonly cpuMathCores: number;
  loadModel(opts: { modelPath: string; gpuLayers: 'auto' | number }): Promise<LlamaModel>;
}
interface NodeLlamaCpp {
  getLlama(opts: Record<string, unknown>): Promise<Llama>;
  LlamaChat: new (opts: { contextSequence: LlamaContextSequence; chatWrapper: ChatWrapper; autoDisposeSequence?: boolean }) => LlamaChat;
  /** The model's own template (Jinja) when it has one, else the best-matching built-in wrapper. */
  resolveChatWrapper(model: LlamaModel): ChatWrapper;
}

let lib: Promise<NodeLlamaCpp> | undefined;
const llamas = new Map<string, Promise<Llama>>();

async function loadLibrary(): Promise<NodeLlamaCpp> {
  lib ??= (async () => {
    const name: string = PACKAGE; // a variable, so TypeScript does not try to resolve the optional package
    try {
      return (await import(name)) as NodeLlamaCpp;
    } catch (e) {
      lib = undefined;
      throw new Error(
        `backend kind llama-cpp needs the optional package ${PACKAGE}, which is not installed or failed to load: run \`${LLAMA_CPP_INSTALL}\`` +
          ` / llama-cpp バックエンドには任意パッケージ ${PACKAGE} が必要ですが、インストールされていないか読み込めません: \`${LLAMA_CPP_INSTALL}\` を実行してください`,
        { cause: e },
      );
    }
  })();
  return lib;
}

/** One Llama (native bindings) per GPU setting, shared by all llama-cpp backends. */
async function getLlama(gpu: boolean): Promise<Llama> {
  const key = String(gpu);
  let p = llamas.get(key);
  if (!p) {
    p = loadLibrary().then((m) =>
      m.getLlama({
        // gpu: false keeps llama.cpp from probing CUDA / Vulkan / Metal at all.
        gpu: gpu ? 'auto' : false,
        // Never download or compile llama.cpp at run time: use the prebuilt binary or fail.
        build: 'never',
        skipDownload: true,
        progressLogs: false,
      }),
    );
    p.catch(() => llamas.delete(key));
    llamas.set(key, p);
  }
  try {
    return await p;
  } catch (e) {
    if (e instanceof Error && e.message.includes(PACKAGE) && e.message.includes(LLAMA_CPP_INSTALL)) throw e;
    throw new Error(
      `backend kind llama-cpp: could not load the llama.cpp binaries of ${PACKAGE} (${(e as Error)?.message ?? e}); reinstall with \`${LLAMA_CPP_INSTALL}\`` +
        ` / llama-cpp バックエンド: ${PACKAGE} の llama.cpp バイナリを読み込めません。\`${LLAMA_CPP_INSTALL}\` で再インストールしてください`,
      { cause: e },
    );
  }
}

/** A FIFO lock. `acquire` rejects when `signal` aborts while waiting; the queue stays intact. */
class Lock {
  private tail: Promise<void> = Promise.resolve();
  async acquire(signal: AbortSignal): Promise<() => void> {
    const prev = this.tail;
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    this.tail = prev.then(() => mine);
    if (signal.aborted) {
      void prev.then(release);
      throw signal.reason ?? new Error('aborted');
    }
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason ?? new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([prev, aborted]);
      return release;
    } catch (e) {
      void prev.then(release); // our turn is skipped: pass it on when it comes
      throw e;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

// ---- OpenAI request parsing ----
class BadRequest extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

interface ChatParams {
  history: ChatHistoryItem[];
  model: string;
  options: GenerateOptions;
  includeUsage: boolean;
}

function num(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new BadRequest(`${key} must be a number between ${min} and ${max}`, key);
  return v;
}

/** Message content: a string, or an array of text parts. */
function contentText(c: unknown, i: number): string {
  if (typeof c === 'string') return c;
  if (c === null || c === undefined) return '';
  if (Array.isArray(c)) {
    return c
      .map((p: { type?: unknown; text?: unknown }) => {
        if (p && p.type === 'text' && typeof p.text === 'string') return p.text;
        throw new BadRequest(`messages[${i}].content: only text parts are supported by this backend`, `messages[${i}].content`);
      })
      .join('');
  }
  throw new BadRequest(`messages[${i}].content must be a string or an array of text parts`, `messages[${i}].content`);
}

function parseChat(body: Record<string, unknown>, contextSize: number): ChatParams {
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw new BadRequest('only n=1 is supported by this backend', 'n');
  const msgs = body.messages;
  if (!Array.isArray(msgs) || msgs.length === 0) throw new BadRequest('messages must be a non-empty array', 'messages');
  if (Array.isArray(body.tools) && body.tools.length > 0) throw new BadRequest('tools are not supported by this backend', 'tools');
  const rf = body.response_format as { type?: unknown } | undefined;
  if (rf && rf.type !== 'text') throw new BadRequest('response_format other than text is not supported by this backend', 'response_format');

  const history: ChatHistoryItem[] = msgs.map((m: { role?: unknown; content?: unknown }, i): ChatHistoryItem => {
    const text = contentText(m?.content, i);
    switch (m?.role) {
      case 'system':
      case 'developer':
        return { type: 'system', text };
      case 'user':
      case 'tool':
        return { type: 'user', text };
      case 'assistant':
        return { type: 'model', response: [text] };
      default:
        throw new BadRequest(`messages[${i}].role is not supported`, `messages[${i}].role`);
    }
  });
  // The answer is the model item at the end: a trailing assistant message is continued (prefill).
  if (history[history.length - 1]!.type !== 'model') history.push({ type: 'model', response: [] });

  // Capped later to what the context has left after the prompt.
  const maxTokens = num(body, 'max_completion_tokens', 1, 2 ** 31) ?? num(body, 'max_tokens', 1, 2 ** 31) ?? contextSize;
  let stop = body.stop;
  if (typeof stop === 'string') stop = [stop];
  if (stop !== undefined && stop !== null && (!Array.isArray(stop) || stop.length > 4 || !stop.every((s) => typeof s === 'string' && s !== ''))) {
    throw new BadRequest('stop must be a string or an array of up to 4 non-empty strings', 'stop');
  }
  const frequencyPenalty = num(body, 'frequency_penalty', -2, 2);
  const presencePenalty = num(body, 'presence_penalty', -2, 2);
  const options: GenerateOptions = {
    maxTokens,
    // OpenAI's default is 1; 0 means greedy decoding in node-llama-cpp too.
    temperature: num(body, 'temperature', 0, 2) ?? 1,
  };
  const topP = num(body, 'top_p', 0, 1);
  if (topP !== undefined) options.topP = topP;
  const seed = num(body, 'seed', 0, 2 ** 32 - 1);
  if (seed !== undefined) options.seed = Math.floor(seed);
  if (Array.isArray(stop) && stop.length > 0) options.customStopTriggers = stop as string[];
  if (frequencyPenalty || presencePenalty) options.repeatPenalty = { frequencyPenalty: frequencyPenalty ?? 0, presencePenalty: presencePenalty ?? 0, penalty: 1 };
  const so = body.stream_options as { include_usage?: unknown } | undefined;
  return { history, model: typeof body.model === 'string' ? body.model : '', options, includeUsage: so?.include_usage === true };
}

// ---- responses ----
const enc = new TextEncoder();

function once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  return (async function* () {
    yield bytes;
  })();
}

function jsonResponse(status: number, value: unknown): UpstreamResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: once(enc.encode(JSON.stringify(value))), abort() {} };
}

function errorResponse(status: number, message: string, param: string | null, code: string | null = null): UpstreamResponse {
  return jsonResponse(status, { error: { message, type: 'invalid_request_error', param, code } });
}

type Finish = 'stop' | 'length';
type GenEvent = { kind: 'text'; text: string } | { kind: 'end'; finish: Finish; completionTokens: number } | { kind: 'error'; error: UpstreamError };

/** An unbounded single-consumer queue of generation events. */
class Channel {
  private items: GenEvent[] = [];
  private waiter: ((e: GenEvent) => void) | undefined;
  push(e: GenEvent) {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w(e);
    } else this.items.push(e);
  }
  /** Next event, or an error event when `ms` passes first. */
  next(ms: number, onTimeout: () => UpstreamError): Promise<GenEvent> {
    const e = this.items.shift();
    if (e) return Promise.resolve(e);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve({ kind: 'error', error: onTimeout() });
      }, ms);
      this.waiter = (ev) => {
        clearTimeout(timer);
        resolve(ev);
      };
    });
  }
}

export interface LlamaCppBackendOptions {
  configDir: string;
  /**
   * CPU threads per evaluation. Default: the machine's math cores, not node-llama-cpp's
   * max(cores, 4): oversubscribed ggml threads spin and made a 2-core machine ~100× slower.
   */
  threads?: number;
}

export async function createLlamaCppBackend(cfg: LlamaCppBackendConfig, opts: LlamaCppBackendOptions): Promise<BackendAdapter> {
  const modelPath = path.resolve(opts.configDir, cfg.model_path);
  try {
    await fs.promises.access(modelPath, fs.constants.R_OK);
  } catch {
    throw new Error(
      `backend ${cfg.id}: model file not found or unreadable: ${modelPath} / バックエンド ${cfg.id}: モデルファイルが見つからないか読み込めません: ${modelPath}`,
    );
  }
  const m = await loadLibrary();
  const llama = await getLlama(cfg.gpu);
  const threads = opts.threads ?? (cfg.gpu ? undefined : Math.max(1, llama.cpuMathCores));
  let model: LlamaModel;
  let context: LlamaContext;
  try {
    model = await llama.loadModel({ modelPath, gpuLayers: cfg.gpu ? 'auto' : 0 });
  } catch (e) {
    throw new Error(
      `backend ${cfg.id}: could not load the GGUF model ${modelPath}: ${(e as Error)?.message ?? e} / バックエンド ${cfg.id}: GGUF モデル ${modelPath} を読み込めません`,
      { cause: e },
    );
  }
  try {
    context = await model.createContext({ contextSize: cfg.context_size, sequences: 1, ...(threads ? { threads } : {}) });
  } catch (e) {
    await model.dispose().catch(() => {});
    throw new Error(
      `backend ${cfg.id}: could not create a context of ${cfg.context_size} tokens for ${modelPath}: ${(e as Error)?.message ?? e} / バックエンド ${cfg.id}: コンテキストを作成できません`,
      { cause: e },
    );
  }
  const sequence = context.getSequence();
  const chatWrapper = m.resolveChatWrapper(model);
  const lock = new Lock();
  const running = new Set<AbortController>();
  let embeddingContext: Promise<LlamaEmbeddingContext> | undefined;
  let closed = false;
  const { first_byte_ms: firstByteMs, idle_ms: idleMs } = cfg.timeouts;
  const timeoutError = (what: string) => new UpstreamError('timeout', `timeout: ${what}`, true);
  const abortedError = () => new UpstreamError('reset', 'request aborted', false);

  /** Runs one generation under the lock, reporting to `ch`; stops when `signal` aborts. */
  async function generate(p: ChatParams, signal: AbortSignal, ch: Channel): Promise<void> {
    let release: () => void;
    try {
      release = await lock.acquire(signal);
    } catch {
      ch.push({ kind: 'error', error: abortedError() });
      return;
    }
    const chat = new m.LlamaChat({ contextSequence: sequence, chatWrapper, autoDisposeSequence: false });
    try {
      let completionTokens = 0;
      const r = await chat.generateResponse(p.history, {
        ...p.options,
        signal,
        stopOnAbortSignal: true,
        onToken: (t) => (completionTokens += t.length),
        onTextChunk: (text) => {
          if (text !== '') ch.push({ kind: 'text', text });
        },
      });
      if (signal.aborted) ch.push({ kind: 'error', error: abortedError() });
      else ch.push({ kind: 'end', finish: r.metadata.stopReason === 'maxTokens' ? 'length' : 'stop', completionTokens });
    } catch (e) {
      ch.push({
        kind: 'error',
        error: signal.aborted ? abortedError() : new UpstreamError('protocol', `llama.cpp generation failed: ${(e as Error)?.message ?? e}`, true, { cause: e }),
      });
    } finally {
      chat.dispose({ disposeSequence: false });
      release();
    }
  }

  function promptTokens(history: ChatHistoryItem[]): number {
    try {
      return chatWrapper.generateContextState({ chatHistory: history }).contextText.tokenize(model.tokenizer).length;
    } catch {
      return 0;
    }
  }

  async function chatCompletions(call: UpstreamCall): Promise<UpstreamResponse> {
    let p: ChatParams;
    try {
      p = parseChat(call.body, sequence.contextSize);
    } catch (e) {
      if (e instanceof BadRequest) return errorResponse(400, e.message, e.param);
      throw e;
    }
    const prompt = promptTokens(p.history);
    if (prompt >= sequence.contextSize) {
      return errorResponse(400, `the prompt (${prompt} tokens) does not fit the context of ${sequence.contextSize} tokens`, 'messages', 'context_length_exceeded');
    }
    // Never let the answer overflow the context (node-llama-cpp would shift it, dropping history).
    p.options.maxTokens = Math.min(p.options.maxTokens ?? Infinity, sequence.contextSize - prompt);
    // One controller for every reason to stop: client gone, relay abort, timeouts.
    const ac = new AbortController();
    const onCallAbort = () => ac.abort();
    if (call.signal.aborted) throw abortedError();
    call.signal.addEventListener('abort', onCallAbort, { once: true });
    running.add(ac);
    const done = () => {
      call.signal.removeEventListener('abort', onCallAbort);
      running.delete(ac);
    };
    const ch = new Channel();
    void generate(p, ac.signal, ch).finally(done);

    const id = `chatcmpl-${call.requestId}`;
    const created = Math.floor(Date.now() / 1000);
    const usage = (completion: number) => ({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });

    if (!call.stream) {
      const deadline = Date.now() + firstByteMs;
      let text = '';
      for (;;) {
        const ev = await ch.next(Math.max(0, deadline - Date.now()), () => (ac.abort(), timeoutError('no complete answer within first_byte_ms')));
        if (ev.kind === 'text') text += ev.text;
        else if (ev.kind === 'error') {
          ac.abort();
          throw ev.error;
        } else {
          return jsonResponse(200, {
            id,
            object: 'chat.completion',
            created,
            model: p.model,
            choices: [{ index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: ev.finish }],
            usage: usage(ev.completionTokens),
          });
        }
      }
    }

    // Streaming: answer once the first event is there, so a failure before it can fail over.
    const first = await ch.next(firstByteMs, () => (ac.abort(), timeoutError('no first token within first_byte_ms')));
    if (first.kind === 'error') {
      ac.abort();
      throw first.error;
    }
    const chunk = (delta: Record<string, unknown>, finish: Finish | null) =>
      enc.encode(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: p.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`);
    async function* body(): AsyncGenerator<Uint8Array> {
      try {
        yield chunk({ role: 'assistant', content: '' }, null);
        let ev: GenEvent = first;
        for (;;) {
          if (ev.kind === 'error') throw ev.error;
          if (ev.kind === 'end') {
            yield chunk({}, ev.finish);
            if (p.includeUsage) {
              yield enc.encode(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: p.model, choices: [], usage: usage(ev.completionTokens) })}\n\n`);
            }
            yield enc.encode('data: [DONE]\n\n');
            return;
          }
          yield chunk({ content: ev.text }, null);
          ev = await ch.next(idleMs, () => (ac.abort(), timeoutError('no token within idle_ms')));
        }
      } finally {
        ac.abort(); // consumer stopped early (or the stream ended): stop generating
      }
    }
    return {
      status: 200,
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
      body: body(),
      abort: () => ac.abort(),
    };
  }

  async function embeddings(call: UpstreamCall): Promise<UpstreamResponse> {
    const input = call.body.input;
    const texts = typeof input === 'string' ? [input] : input;
    if (!Array.isArray(texts) || texts.length === 0 || texts.length > 256 || !texts.every((t) => typeof t === 'string')) {
      return errorResponse(400, 'input must be a string or an array of 1 to 256 strings (token arrays are not supported by this backend)', 'input');
    }
    if (call.body.encoding_format !== undefined && call.body.encoding_format !== 'float') {
      return errorResponse(400, 'only encoding_format "float" is supported by this backend', 'encoding_format');
    }
    let release: () => void;
    try {
      release = await lock.acquire(call.signal);
    } catch {
      throw abortedError();
    }
    try {
      embeddingContext ??= model.createEmbeddingContext({ contextSize: cfg.context_size, ...(threads ? { threads } : {}) });
      const ec = await embeddingContext;
      const data: { object: 'embedding'; index: number; embedding: number[] }[] = [];
      let tokens = 0;
      for (const [index, text] of (texts as string[]).entries()) {
        if (call.signal.aborted) throw abortedError();
        tokens += model.tokenize(text).length;
        data.push({ object: 'embedding', index, embedding: [...(await ec.getEmbeddingFor(text)).vector] });
      }
      const model_ = typeof call.body.model === 'string' ? call.body.model : '';
      return jsonResponse(200, { object: 'list', data, model: model_, usage: { prompt_tokens: tokens, total_tokens: tokens } });
    } catch (e) {
      if (e instanceof UpstreamError) throw e;
      embeddingContext = undefined;
      throw new UpstreamError('protocol', `llama.cpp embedding failed: ${(e as Error)?.message ?? e}`, true, { cause: e });
    } finally {
      release();
    }
  }

  return {
    id: cfg.id,
    async send(call: UpstreamCall): Promise<UpstreamResponse> {
      if (closed) throw new UpstreamError('unavailable', 'backend closed', true);
      return call.endpoint === 'embeddings' ? embeddings(call) : chatCompletions(call);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const ac of running) ac.abort();
      // Wait for running generations to stop (each holds the lock), then free native memory.
      const release = await lock.acquire(new AbortController().signal);
      try {
        const ec = embeddingContext;
        embeddingContext = undefined;
        if (ec) await (await ec.catch(() => undefined))?.dispose();
        await context.dispose();
        await model.dispose();
      } finally {
        release();
      }
    },
  };
}
