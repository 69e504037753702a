/**
 * The OpenAI wire format at the edge: validate request bodies just enough to route and
 * inspect them (everything else — tools, n, stop, response_format … — is passed through),
 * and collect the texts a person or a tool wrote for the inspector.
 */
import type { Endpoint } from '../backends/types.js';
import { badRequest } from '../checkpoint/errors.js';
import type { ParsedBody } from '../checkpoint/index.js';

const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function wrongType(param: string, expected: { ja: string; en: string }, v: unknown) {
  return badRequest(
    'invalid_type',
    `${param} は${expected.ja}で指定してください (指定値の型: ${typeName(v)})`,
    `${param} must be ${expected.en} (got ${typeName(v)})`,
    param,
  );
}

/** Each text with the role of its message (tool results are indirect content for threat detection). */
function chatSegments(body: Record<string, unknown>): { role: string; text: string }[] {
  const out: { role: string; text: string }[] = [];
  for (const m of body.messages as Record<string, unknown>[]) {
    const role = String(m.role);
    const c = m.content;
    if (typeof c === 'string') out.push({ role, text: c });
    else if (Array.isArray(c)) {
      for (const part of c) {
        if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') out.push({ role, text: (part as { text: string }).text });
      }
    }
  }
  return out;
}

function chatTexts(body: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const m of body.messages as Record<string, unknown>[]) {
    const c = m.content;
    if (typeof c === 'string') out.push(c);
    else if (Array.isArray(c)) {
      for (const part of c) {
        if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') out.push((part as { text: string }).text);
      }
    }
    if (Array.isArray(m.tool_calls)) {
      for (const call of m.tool_calls) {
        const args = (call as { function?: { arguments?: unknown } })?.function?.arguments;
        if (typeof args === 'string') out.push(args);
      }
    }
  }
  return out;
}

/** A copy of a chat body with every text that chatTexts reads passed through `fn`. */
function mapChat(body: Record<string, unknown>, fn: (s: string) => string): Record<string, unknown> {
  const messages = (body.messages as Record<string, unknown>[]).map((m) => {
    const out: Record<string, unknown> = { ...m };
    const c = m.content;
    if (typeof c === 'string') out.content = fn(c);
    else if (Array.isArray(c)) {
      out.content = c.map((part) =>
        part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string' ? { ...part, text: fn((part as { text: string }).text) } : part,
      );
    }
    if (Array.isArray(m.tool_calls)) {
      out.tool_calls = m.tool_calls.map((call) => {
        const f = (call as { function?: { arguments?: unknown } })?.function;
        return f && typeof f.arguments === 'string' ? { ...call, function: { ...f, arguments: fn(f.arguments) } } : call;
      });
    }
    return out;
  });
  return { ...body, messages };
}

function mapEmbedding(body: Record<string, unknown>, fn: (s: string) => string): Record<string, unknown> {
  const input = body.input;
  if (typeof input === 'string') return { ...body, input: fn(input) };
  if (Array.isArray(input)) return { ...body, input: input.map((x) => (typeof x === 'string' ? fn(x) : x)) };
  return body;
}

function embeddingTexts(input: unknown): string[] {
  if (typeof input === 'string') return [input];
  if (Array.isArray(input)) return input.filter((x): x is string => typeof x === 'string');
  return [];
}

export function parseOpenAIBody(endpoint: Endpoint, json: unknown): ParsedBody {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw badRequest('invalid_body', 'リクエスト本文は JSON オブジェクトである必要があります', 'The request body must be a JSON object');
  }
  const body = json as Record<string, unknown>;
  const model = body.model;
  if (typeof model !== 'string' || model.length === 0 || model.length > 256) {
    throw model === undefined
      ? badRequest('missing_model', 'model を指定してください', 'model is required', 'model')
      : wrongType('model', { ja: '1〜256 文字の文字列', en: 'a string of 1 to 256 characters' }, model);
  }
  let stream = false;
  if (endpoint === 'chat.completions') {
    const messages = body.messages;
    if (!Array.isArray(messages) || messages.length === 0) {
      throw messages === undefined
        ? badRequest('missing_messages', 'messages を指定してください', 'messages is required', 'messages')
        : wrongType('messages', { ja: '空でない配列', en: 'a non-empty array' }, messages);
    }
    messages.forEach((m, i) => {
      if (m === null || typeof m !== 'object' || Array.isArray(m)) throw wrongType(`messages[${i}]`, { ja: 'オブジェクト', en: 'an object' }, m);
      const role = (m as Record<string, unknown>).role;
      if (typeof role !== 'string') throw wrongType(`messages[${i}].role`, { ja: '文字列', en: 'a string' }, role);
      const content = (m as Record<string, unknown>).content;
      if (content !== undefined && content !== null && typeof content !== 'string' && !Array.isArray(content)) {
        throw wrongType(`messages[${i}].content`, { ja: '文字列または配列', en: 'a string or an array' }, content);
      }
    });
    if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
      throw wrongType('stream', { ja: '真偽値', en: 'a boolean' }, body.stream);
    }
    stream = body.stream === true;
    if (body.n !== undefined && body.n !== null && !(Number.isInteger(body.n) && (body.n as number) >= 1 && (body.n as number) <= 128)) {
      throw wrongType('n', { ja: '1〜128 の整数', en: 'an integer from 1 to 128' }, body.n);
    }
  } else {
    const input = body.input;
    const ok =
      typeof input === 'string' ||
      (Array.isArray(input) && input.length > 0 && input.length <= 2048 && input.every((x) => typeof x === 'string' || typeof x === 'number' || Array.isArray(x)));
    if (!ok) {
      throw input === undefined
        ? badRequest('missing_input', 'input を指定してください', 'input is required', 'input')
        : wrongType('input', { ja: '文字列または文字列の配列', en: 'a string or an array of strings' }, input);
    }
  }
  return {
    model,
    stream,
    body,
    texts: () => (endpoint === 'chat.completions' ? chatTexts(body) : embeddingTexts(body.input)),
    segments: () => (endpoint === 'chat.completions' ? chatSegments(body) : embeddingTexts(body.input).map((text) => ({ role: 'document', text }))),
    mapTexts: (fn) => (endpoint === 'chat.completions' ? mapChat(body, fn) : mapEmbedding(body, fn)),
  };
}
