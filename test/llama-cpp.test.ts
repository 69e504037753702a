/**
 * The `llama-cpp` backend against a tiny scripted GGUF (test/support/gguf.ts) that greedy
 * decoding turns into exactly SCRIPT_TEXT. node-llama-cpp is an optional package: without it
 * only the "not installed" error is checked, unless SEKISHO_REQUIRE_LLAMA_CPP=1 (CI that
 * installs it), which makes its absence a failure.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LlamaCppBackend, type LlamaCppBackendConfig } from '../src/config/schema.ts';
import { createLlamaCppBackend } from '../src/backends/llama-cpp.ts';
import { UpstreamError, type BackendAdapter, type UpstreamCall, type UpstreamResponse } from '../src/backends/types.ts';
import { writeTinyGguf, SCRIPT_TEXT, SCRIPT_TOKENS } from './support/gguf.ts';

const PKG = 'node-llama-cpp';
const installed = await import(PKG).then(
  () => true,
  () => false,
);
const required = process.env.SEKISHO_REQUIRE_LLAMA_CPP === '1';
const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'sekisho-llama-'));

function config(modelPath: string, extra: Record<string, unknown> = {}): LlamaCppBackendConfig {
  return LlamaCppBackend.parse({
    id: 'local-gguf',
    kind: 'llama-cpp',
    models: ['tiny'],
    model_path: modelPath,
    context_size: 256,
    location: { country: 'JP', on_premises: true },
    operator: { name: '自社運用', jurisdictions: ['JP'] },
    ...extra,
  });
}

let n = 0;
function call(body: Record<string, unknown>, stream = false, signal = new AbortController().signal): UpstreamCall {
  return {
    endpoint: 'chat.completions',
    body: { model: 'tiny', messages: [{ role: 'user', content: 'こんにちは, who are you?' }], ...body, ...(stream ? { stream: true } : {}) },
    stream,
    signal,
    requestId: `req-${++n}`,
  };
}

async function json(res: UpstreamResponse): Promise<any> {
  const parts: Uint8Array[] = [];
  for await (const c of res.body) parts.push(c);
  return JSON.parse(Buffer.concat(parts).toString('utf8'));
}

/** Reads an SSE body; every chunk must be valid UTF-8 on its own. */
async function events(res: UpstreamResponse): Promise<string[]> {
  const dec = new TextDecoder('utf-8', { fatal: true });
  let text = '';
  for await (const c of res.body) text += dec.decode(c); // throws on a partial character
  assert.ok(text.endsWith('\n\n'));
  return text
    .split('\n\n')
    .filter((e) => e !== '')
    .map((e) => {
      assert.ok(e.startsWith('data: '), e);
      return e.slice('data: '.length);
    });
}

if (!installed && !required) {
  test('without node-llama-cpp: a clear bilingual install message', async () => {
    const dir = tmpDir();
    writeTinyGguf(path.join(dir, 'tiny.gguf'));
    await assert.rejects(createLlamaCppBackend(config('tiny.gguf'), { configDir: dir, threads: 1 }), (e: Error) => {
      assert.match(e.message, /npm install node-llama-cpp@3\.21\.1/);
      assert.match(e.message, /インストール/);
      return true;
    });
  });
} else {
  describe('llama-cpp backend', () => {
    let dir: string;
    let backend: BackendAdapter;
    let looping: BackendAdapter;

    before(async () => {
      dir = tmpDir();
      writeTinyGguf(path.join(dir, 'tiny.gguf'));
      writeTinyGguf(path.join(dir, 'loop.gguf'), { loop: true });
      backend = await createLlamaCppBackend(config('tiny.gguf'), { configDir: dir, threads: 1 });
      looping = await createLlamaCppBackend(config('loop.gguf', { id: 'loop' }), { configDir: dir, threads: 1 });
    });
    after(async () => {
      await backend?.close();
      await looping?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('non-streaming: the exact scripted answer, greedy, with usage', async () => {
      const res = await backend.send(call({ temperature: 0 }));
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/json');
      const body = await json(res);
      assert.equal(body.object, 'chat.completion');
      assert.equal(body.model, 'tiny');
      assert.equal(body.choices.length, 1);
      assert.deepEqual(body.choices[0].message, { role: 'assistant', content: SCRIPT_TEXT });
      assert.equal(body.choices[0].finish_reason, 'stop');
      assert.ok(body.usage.prompt_tokens > 0);
      assert.ok(body.usage.completion_tokens >= SCRIPT_TOKENS && body.usage.completion_tokens <= SCRIPT_TOKENS + 1, JSON.stringify(body.usage));
      assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);
    });

    test('streaming: whole-character deltas that add up to the answer, then [DONE]', async () => {
      const res = await backend.send(call({ stream_options: { include_usage: true } }, true));
      assert.equal(res.status, 200);
      assert.match(res.headers['content-type']!, /^text\/event-stream/);
      const evs = await events(res);
      assert.equal(evs.at(-1), '[DONE]');
      const chunks = evs.slice(0, -1).map((e) => JSON.parse(e));
      for (const c of chunks) assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(chunks[0].choices[0].delta.role, 'assistant');
      const deltas = chunks.flatMap((c) => (c.choices[0]?.delta.content ? [c.choices[0].delta.content as string] : []));
      assert.equal(deltas.join(''), SCRIPT_TEXT);
      assert.ok(deltas.length >= 5, `token by token: ${JSON.stringify(deltas)}`);
      for (const d of deltas) assert.ok(!d.includes('\uFFFD'), `no replacement characters: ${JSON.stringify(deltas)}`);
      // "。" is generated as three byte tokens and must arrive as one character.
      assert.ok(deltas.some((d) => d.includes('。')));
      const finals = chunks.filter((c) => c.choices[0]?.finish_reason);
      assert.equal(finals.length, 1);
      assert.equal(finals[0].choices[0].finish_reason, 'stop');
      const usage = chunks.at(-1).usage;
      assert.deepEqual(chunks.at(-1).choices, []);
      assert.ok(usage.prompt_tokens > 0 && usage.completion_tokens >= SCRIPT_TOKENS);
    });

    test('max_tokens, stop and a system message', async () => {
      const short = await json(await backend.send(call({ max_tokens: 2 })));
      assert.equal(short.choices[0].message.content, 'Sekisho guards');
      assert.equal(short.choices[0].finish_reason, 'length');
      const stopped = await json(
        await backend.send(call({ stop: [' the'], messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: [{ type: 'text', text: 'hi' }] }] })),
      );
      assert.equal(stopped.choices[0].message.content, 'Sekisho guards');
      assert.equal(stopped.choices[0].finish_reason, 'stop');
    });

    test('unsupported parameters: a 400 OpenAI error', async () => {
      for (const body of [{ n: 2 }, { messages: [] }, { max_tokens: 0 }, { temperature: 5 }, { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }]) {
        const res = await backend.send(call(body));
        assert.equal(res.status, 400, JSON.stringify(body));
        const err = await json(res);
        assert.equal(err.error.type, 'invalid_request_error');
        assert.equal(typeof err.error.message, 'string');
      }
    });

    test('concurrent requests are serialized and all answered', async () => {
      const answers = await Promise.all([0, 1, 2].map(() => backend.send(call({ temperature: 0 })).then(json)));
      for (const a of answers) assert.equal(a.choices[0].message.content, SCRIPT_TEXT);
    });

    test('abort stops a generation; the backend stays usable', async () => {
      const ac = new AbortController();
      const res = await looping.send(call({}, true, ac.signal));
      const it = res.body[Symbol.asyncIterator]();
      for (let i = 0; i < 3; i++) assert.equal((await it.next()).done, false);
      const t0 = Date.now();
      ac.abort();
      // The endless model ends only because of the abort, which fails the body promptly
      // (a body that ran on to max_tokens would end normally instead).
      await assert.rejects(
        async () => {
          for (;;) if ((await it.next()).done) throw new Error('the stream ended normally');
        },
        (e: unknown) => e instanceof UpstreamError && e.kind === 'reset',
      );
      assert.ok(Date.now() - t0 < 2000);
      // relay-side abort of a second stream
      const res2 = await looping.send(call({}, true));
      const it2 = res2.body[Symbol.asyncIterator]();
      await it2.next();
      res2.abort();
      await it2.return?.(undefined);
      // the lock was released: a bounded request on the endless model completes
      const after = await json(await looping.send(call({ max_tokens: SCRIPT_TOKENS * 2 })));
      assert.equal(after.choices[0].message.content, SCRIPT_TEXT + SCRIPT_TEXT);
      assert.equal(after.choices[0].finish_reason, 'length');
      // an already aborted call is refused
      const gone = new AbortController();
      gone.abort();
      await assert.rejects(looping.send(call({}, false, gone.signal)), UpstreamError);
    });

    test('first_byte_ms bounds a non-streaming generation', async () => {
      const slow = await createLlamaCppBackend(config('loop.gguf', { id: 'slow', timeouts: { connect_ms: 1, first_byte_ms: 20, idle_ms: 20 } }), {
        configDir: dir,
        threads: 1,
      });
      try {
        await assert.rejects(slow.send(call({})), (e: unknown) => e instanceof UpstreamError && e.kind === 'timeout');
      } finally {
        await slow.close();
      }
    });

    test('embeddings', async () => {
      const res = await backend.send({ endpoint: 'embeddings', body: { model: 'tiny', input: ['関所', 'gate'] }, stream: false, signal: new AbortController().signal, requestId: 'e1' });
      assert.equal(res.status, 200);
      const body = await json(res);
      assert.equal(body.object, 'list');
      assert.equal(body.data.length, 2);
      assert.equal(body.data[1].index, 1);
      assert.ok(body.data[0].embedding.length > 0 && body.data[0].embedding.every((x: unknown) => typeof x === 'number'));
    });

    test('a missing or broken model file: a clear error naming the file', async () => {
      await assert.rejects(createLlamaCppBackend(config('nope/missing.gguf'), { configDir: dir, threads: 1 }), (e: Error) => {
        assert.ok(e.message.includes(path.join(dir, 'nope/missing.gguf')), e.message);
        assert.match(e.message, /not found/);
        return true;
      });
      fs.writeFileSync(path.join(dir, 'bad.gguf'), 'this is not a GGUF file at all');
      await assert.rejects(createLlamaCppBackend(config('bad.gguf'), { configDir: dir, threads: 1 }), (e: Error) => {
        assert.ok(e.message.includes(path.join(dir, 'bad.gguf')), e.message);
        return true;
      });
    });
  });
}

describe('llama-cpp behind the gateway, with the official openai client', { skip: !installed && !required }, () => {
  test('the exact scripted answer, streamed and not, routed as an on-premises L3 backend', async () => {
    const { startHarness } = await import('./support/harness.ts');
    const dir = tmpDir();
    const model = writeTinyGguf(path.join(dir, 'tiny.gguf'));
    const h = await startHarness({
      backends: [
        {
          id: 'local-gguf',
          kind: 'llama-cpp',
          models: ['tiny'],
          model_path: model,
          context_size: 256,
          location: { country: 'JP', on_premises: true },
          operator: { name: '自社運用', jurisdictions: ['JP'] },
          contract: { no_training: true, retention_days: 0 },
        },
      ],
      models: [{ name: 'default', backends: ['local-gguf'] }],
    });
    try {
      const ai = h.client(await h.key({ level: 'L3' }));
      const { data, response } = await ai.chat.completions.create({ model: 'default', temperature: 0, messages: [{ role: 'user', content: 'こんにちは' }] }).withResponse();
      assert.equal(data.choices[0]!.message.content, SCRIPT_TEXT);
      assert.equal(response.headers.get('x-sekisho-backend'), 'local-gguf');
      assert.equal(response.headers.get('x-sekisho-level'), 'L3');
      const stream = await ai.chat.completions.create({ model: 'default', temperature: 0, stream: true, messages: [{ role: 'user', content: 'こんにちは' }] });
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
      assert.equal(text, SCRIPT_TEXT);
    } finally {
      await h.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
