/**
 * Bad input and upstream faults: each gets a clear OpenAI-style error or a clean end of
 * stream, and the gateway keeps serving.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import OpenAI from 'openai';
import { startHarness, mocks, tokyoBackend, closedPortUrl, type Harness } from './support/harness.ts';
import type { MockUpstream, MockFault } from '../src/dev/mock-upstream.ts';

async function post(h: Harness, key: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, json: (await res.json()) as any, headers: res.headers };
}

function assertOpenAIError(json: any, code: string) {
  assert.equal(typeof json.error.message, 'string');
  assert.equal(typeof json.error.type, 'string');
  assert.equal(json.error.code, code);
  assert.equal(json.error.sekisho.code, code);
  assert.ok(json.error.sekisho.message.ja.length > 0, 'a Japanese message');
  assert.ok(json.error.sekisho.message.en.length > 0, 'an English message');
}

describe('bad input', () => {
  let h: Harness;
  let m: MockUpstream;
  let key: string;
  before(async () => {
    [m] = await mocks({ name: 'tokyo' });
    h = await startHarness({
      backends: [tokyoBackend(m.url)],
      models: [{ name: 'default', backends: ['tokyo-llm'] }],
      limits: { max_body_bytes: 4096, body_timeout_ms: 500 },
    });
    key = await h.key({ level: 'L0' });
  });
  after(async () => {
    await h.close();
    await m.close();
  });

  test('malformed JSON → 400 invalid_json', async () => {
    const r = await post(h, key, '{"model": "default", "messages": [');
    assert.equal(r.status, 400);
    assertOpenAIError(r.json, 'invalid_json');
  });

  test('wrong types → 400 naming the parameter', async () => {
    let r = await post(h, key, JSON.stringify({ model: 'default', messages: 'hello' }));
    assert.equal(r.status, 400);
    assertOpenAIError(r.json, 'invalid_type');
    assert.equal(r.json.error.param, 'messages');
    r = await post(h, key, JSON.stringify({ model: 42, messages: [] }));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.param, 'model');
    r = await post(h, key, JSON.stringify({ model: 'default', messages: [{ role: 'user', content: 'x' }], stream: 'yes' }));
    assert.equal(r.json.error.param, 'stream');
    r = await post(h, key, JSON.stringify([1, 2]));
    assertOpenAIError(r.json, 'invalid_body');
    // The official client surfaces it as a BadRequestError.
    await assert.rejects(h.client(key).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 5 as any }] }), OpenAI.BadRequestError);
    assert.equal(m.seen.length, 0, 'nothing bad reaches the backend');
  });

  test('a body over the limit → 413, declared or streamed', async () => {
    const big = JSON.stringify({ model: 'default', messages: [{ role: 'user', content: 'あ'.repeat(5000) }] });
    const r = await post(h, key, big);
    assert.equal(r.status, 413);
    assertOpenAIError(r.json, 'body_too_large');
    // Chunked (no content-length): counted while reading.
    const res = await fetch(`${h.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode(big));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
  });

  test('unknown model → 404 model_not_found', async () => {
    await assert.rejects(h.client(key).chat.completions.create({ model: 'gpt-99', messages: [{ role: 'user', content: 'x' }] }), (e: any) => {
      assert.ok(e instanceof OpenAI.NotFoundError);
      assertOpenAIError({ error: e.error }, 'model_not_found');
      assert.equal(e.error.param, 'model');
      return true;
    });
  });

  test('a bad x-sekisho-level header → 400', async () => {
    const r = await post(h, key, JSON.stringify({ model: 'default', messages: [{ role: 'user', content: 'x' }] }), { 'x-sekisho-level': 'L9' });
    assert.equal(r.status, 400);
    assertOpenAIError(r.json, 'invalid_level_header');
  });

  test('wrong content type → 415; wrong method → 405; unknown path → 404', async () => {
    let res = await fetch(`${h.gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' }, body: 'hi' });
    assert.equal(res.status, 415);
    res = await fetch(`${h.gw.url}/v1/chat/completions`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 405);
    assertOpenAIError(await res.json(), 'method_not_allowed');
    res = await fetch(`${h.gw.url}/v2/whatever`);
    assert.equal(res.status, 404);
  });

  test('a client that sends its body too slowly → 408', async () => {
    const port = Number(new URL(h.gw.url).port);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":`);
      });
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('close', () => resolve(data));
      s.on('error', reject);
      setTimeout(() => s.destroy(), 3000);
    });
    assert.match(answer, /^HTTP\/1\.1 408/);
    assert.match(answer, /body_timeout/);
  });
});

describe('upstream faults', () => {
  let h: Harness;
  let m: MockUpstream;
  let key: string;
  before(async () => {
    [m] = await mocks({ name: 'tokyo', reply: 'あいうえお、かきくけこ。' });
    h = await startHarness({
      backends: [
        tokyoBackend(m.url, { timeouts: { connect_ms: 500, first_byte_ms: 400, idle_ms: 400 } }),
        { ...tokyoBackend(await closedPortUrl()), id: 'refusing', models: ['refusing-model'] },
      ],
      models: [{ name: 'default', backends: ['tokyo-llm'] }],
      routing: { failure_threshold: 1000, open_ms: 1000, max_attempts: 3 },
    });
    key = await h.key({ level: 'L3' });
  });
  after(async () => {
    await h.close();
    await m.close();
  });

  // The mock's fault applies to the next request only.
  const chat = (fault: MockFault, stream = false) => {
    m.failNext(fault);
    return h.client(key).chat.completions.create({ model: 'default', stream, messages: [{ role: 'user', content: 'x' }] } as any);
  };

  test('refused → 502 upstream_failed naming the attempt', async () => {
    await assert.rejects(h.client(key).chat.completions.create({ model: 'refusing-model', messages: [{ role: 'user', content: 'x' }] }), (e: any) => {
      assert.equal(e.status, 502);
      assertOpenAIError({ error: e.error }, 'upstream_failed');
      assert.deepEqual(e.error.sekisho.attempts, [{ backend: 'refusing', kind: 'connect' }]);
      return true;
    });
  });

  test('reset → 502', async () => {
    await assert.rejects(chat('reset'), (e: any) => e.status === 502 && e.error.sekisho.attempts[0].kind === 'reset');
  });

  test('no first byte in time → 504 upstream_timeout', async () => {
    const t0 = Date.now();
    await assert.rejects(chat('hang'), (e: any) => e.status === 504 && e.error.code === 'upstream_timeout');
    assert.ok(Date.now() - t0 < 3000);
  });

  test('500 → 502 upstream_failed with the status', async () => {
    await assert.rejects(chat('status500'), (e: any) => e.status === 502 && e.error.sekisho.attempts[0].status === 500);
  });

  test('garbage instead of JSON → 502', async () => {
    await assert.rejects(chat('garbage'), (e: any) => e.status === 502 && e.error.sekisho.attempts[0].kind === 'garbage');
  });

  test('garbage SSE before the first event → 502; after it → an error event ends the stream', async () => {
    await assert.rejects(chat('garbage', true), (e: any) => e.status === 502);
    const stream = (await chat('garbage_sse', true)) as unknown as AsyncIterable<any>;
    let text = '';
    await assert.rejects(
      (async () => {
        for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
      })(),
      (e: any) => {
        assert.ok(e instanceof OpenAI.APIError);
        assert.equal(e.error?.sekisho?.code ?? e.error?.code, 'upstream_invalid_stream');
        return true;
      },
    );
    assert.equal(text, 'あいうえ', 'what came before the junk was relayed');
  });

  test('reset in the middle of a stream → an error event, never a hang', async () => {
    const stream = (await chat('reset_mid_stream', true)) as unknown as AsyncIterable<any>;
    await assert.rejects(
      (async () => {
        for await (const _ of stream);
      })(),
      (e: any) => (e.error?.code ?? e.error?.sekisho?.code) === 'upstream_interrupted',
    );
  });

  test('a slow stream is relayed event by event as it comes', async () => {
    const stream = (await chat('slow_stream', true)) as unknown as AsyncIterable<any>;
    const times: number[] = [];
    let text = '';
    for await (const c of stream) {
      times.push(Date.now());
      text += c.choices[0]?.delta?.content ?? '';
    }
    assert.equal(text, 'あいうえお、かきくけこ。');
    assert.ok(times.at(-1)! - times[0]! >= 100, 'events arrive spread over time, not buffered');
  });

  test('a client that goes away mid-stream releases the upstream; the gateway keeps serving', async () => {
    const ac = new AbortController();
    m.failNext('slow_stream');
    const stream = (await h.client(key).chat.completions.create(
      { model: 'default', stream: true, messages: [{ role: 'user', content: 'x' }] },
      { signal: ac.signal },
    )) as unknown as AsyncIterable<any>;
    let events = 0;
    try {
      for await (const _ of stream) {
        events++;
        ac.abort();
      }
    } catch {
      // an AbortError, depending on the client version
    }
    assert.ok(events >= 1 && events < 5, `stopped early (${events} events)`);
    await new Promise((r) => setTimeout(r, 150));
    const ok = await h.client(key).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(ok.choices[0]!.message.content, 'あいうえお、かきくけこ。');
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(h.logs.some((l) => l.includes('"stream_end":"client_gone"')), 'the log records the client leaving');
  });

  test('a slow reader gets the whole stream intact (backpressure, whole characters)', async () => {
    const port = Number(new URL(h.gw.url).port);
    const body = JSON.stringify({ model: 'default', stream: true, messages: [{ role: 'user', content: 'x' }] });
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
        s.pause();
        // Read one small piece at a time, slowly.
        const iv = setInterval(() => s.read(7) ?? s.resume(), 5);
        s.on('end', () => clearInterval(iv));
      });
      const parts: Buffer[] = [];
      s.on('data', (d: Buffer) => {
        parts.push(d);
        s.pause();
      });
      s.on('end', () => resolve(Buffer.concat(parts)));
      s.on('error', reject);
    });
    const text = raw.toString('utf8');
    assert.ok(!text.includes('\uFFFD'), 'no broken characters');
    assert.match(text, /data: \[DONE\]/);
    const content = [...text.matchAll(/"content":"([^"]*)"/g)].map((x) => x[1]).join('');
    assert.equal(content, 'あいうえお、かきくけこ。');
  });
});
