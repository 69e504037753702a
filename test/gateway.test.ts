/**
 * The checkpoint gateway end to end, through the official `openai` client:
 * routing by level and jurisdiction, failover only among compliant backends, streaming,
 * pass-through of OpenAI features, models listing and API keys.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startHarness, mocks, tokyoBackend, usBackend, closedPortUrl, type Harness } from './support/harness.ts';
import type { MockUpstream } from '../src/dev/mock-upstream.ts';

const REPLY = '東京で処理しました。Processed in Tokyo.';

describe('routing by level and jurisdiction', () => {
  let h: Harness;
  let tokyo: MockUpstream;
  let us: MockUpstream;
  before(async () => {
    [tokyo, us] = await mocks({ name: 'tokyo', reply: REPLY }, { name: 'us', reply: 'from the US' });
    h = await startHarness({
      backends: [tokyoBackend(tokyo.url), usBackend(us.url)],
      models: [{ name: 'default', backends: ['us-frontier', 'tokyo-llm'] }],
    });
  });
  after(async () => {
    await h.close();
    await Promise.all([tokyo.close(), us.close()]);
  });

  test('an L0 request goes to the first backend in preference order, with the sekisho headers', async () => {
    const ai = h.client(await h.key({ level: 'L0' }));
    const { data, response } = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: '会議の議題を三つ挙げて' }] }).withResponse();
    assert.equal(data.choices[0]!.message.content, 'from the US');
    assert.equal(response.headers.get('x-sekisho-level'), 'L0');
    assert.equal(response.headers.get('x-sekisho-backend'), 'us-frontier');
    assert.match(response.headers.get('x-sekisho-request-id') ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(response.headers.get('x-sekisho-audit-index') ?? '', /^\d+$/);
    // The upstream got the backend's own model name, and never our API key.
    const seen = us.seen.at(-1)!;
    assert.equal(seen.body.model, 'frontier-1');
    assert.equal(seen.headers.authorization, undefined);
  });

  test('an L3 request (header) goes only to the JP-jurisdiction backend', async () => {
    const ai = h.client(await h.key({ level: 'L0' }), { defaultHeaders: { 'x-sekisho-level': 'L3' } });
    const before = us.seen.length;
    const { data, response } = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: '顧客リストを要約' }] }).withResponse();
    assert.equal(data.choices[0]!.message.content, REPLY);
    assert.equal(response.headers.get('x-sekisho-level'), 'L3');
    assert.equal(response.headers.get('x-sekisho-backend'), 'tokyo-llm');
    assert.equal(us.seen.length, before, 'us-frontier must not see an L3 request');
  });

  test('a key whose default level is L3 routes to Tokyo without any header', async () => {
    const ai = h.client(await h.key({ level: 'L3' }));
    const { response } = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    assert.equal(response.headers.get('x-sekisho-backend'), 'tokyo-llm');
  });

  test('the header may raise the level but never lower it', async () => {
    const ai = h.client(await h.key({ level: 'L2' }), { defaultHeaders: { 'x-sekisho-level': 'L0' } });
    const { response } = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    assert.equal(response.headers.get('x-sekisho-level'), 'L2');
    assert.equal(response.headers.get('x-sekisho-backend'), 'tokyo-llm');
  });

  test('a level above the key maximum is denied with reasons in ja and en', async () => {
    const ai = h.client(await h.key({ level: 'L0', maxLevel: 'L1' }), { defaultHeaders: { 'x-sekisho-level': 'L3' } });
    await assert.rejects(ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }), (e: any) => {
      assert.ok(e instanceof OpenAI.PermissionDeniedError);
      assert.equal(e.status, 403);
      assert.equal(e.error.sekisho.code, 'level_above_principal_max');
      assert.match(e.error.sekisho.message.ja, /L1/);
      assert.match(e.error.sekisho.message.en, /at most L1/);
      return true;
    });
  });

  test('L4 is blocked outright', async () => {
    const ai = h.client(await h.key({ level: 'L0', maxLevel: 'L4' }), { defaultHeaders: { 'x-sekisho-level': 'L4' } });
    await assert.rejects(ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }), (e: any) => {
      assert.equal(e.status, 403);
      assert.equal(e.error.sekisho.code, 'level_blocked');
      return true;
    });
  });

  test('a model served only abroad is refused for L1 with each exclusion explained', async () => {
    const before = us.seen.length;
    const ai = h.client(await h.key({ level: 'L1' }));
    await assert.rejects(ai.chat.completions.create({ model: 'frontier-1', messages: [{ role: 'user', content: 'x' }] }), (e: any) => {
      assert.equal(e.status, 403);
      assert.equal(e.error.sekisho.code, 'no_compliant_backend');
      const ex = e.error.sekisho.excluded;
      assert.equal(ex[0].backend, 'us-frontier');
      const codes = ex[0].reasons.map((r: any) => r.code);
      assert.ok(codes.includes('location_not_allowed'));
      assert.ok(codes.includes('training_not_excluded'));
      assert.ok(e.error.sekisho.message.ja.length > 0);
      return true;
    });
    assert.equal(us.seen.length, before);
  });

  test('streaming relays the answer chunk by chunk with the headers', async () => {
    const ai = h.client(await h.key({ level: 'L3' }));
    const { data: stream, response } = await ai.chat.completions.create({ model: 'default', stream: true, messages: [{ role: 'user', content: 'x' }] }).withResponse();
    assert.equal(response.headers.get('x-sekisho-backend'), 'tokyo-llm');
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.equal(text, REPLY);
    assert.ok(chunks > 5, `expected many chunks, got ${chunks}`);
  });

  test('tools, n, stop and response_format pass through; tool calls come back', async () => {
    const ai = h.client(await h.key({ level: 'L3' }));
    const res = await ai.chat.completions.create({
      model: 'default',
      messages: [{ role: 'user', content: '東京の天気は?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      n: 2,
      stop: ['\n\n'],
      response_format: { type: 'json_object' },
    });
    const body = tokyo.seen.at(-1)!.body;
    assert.equal(body.n, 2);
    assert.deepEqual(body.stop, ['\n\n']);
    assert.deepEqual(body.response_format, { type: 'json_object' });
    assert.equal(body.tools[0].function.name, 'get_weather');
    assert.equal(res.choices.length, 2);
    assert.equal(res.choices[0]!.message.tool_calls?.[0]?.type, 'function');
    const call = res.choices[0]!.message.tool_calls![0]! as { function: { name: string; arguments: string } };
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: '東京' });
  });

  test('embeddings go through the same checkpoint', async () => {
    const ai = h.client(await h.key({ level: 'L3' }));
    const { data, response } = await ai.embeddings.create({ model: 'default', input: ['関所', 'checkpoint'] }).withResponse();
    assert.equal(data.data.length, 2);
    assert.equal(data.data[0]!.embedding.length, 3);
    assert.equal(response.headers.get('x-sekisho-backend'), 'tokyo-llm');
    assert.equal(tokyo.seen.at(-1)!.path, '/v1/embeddings');
  });

  test('models lists only what the key may use', async () => {
    const l0 = await h.client(await h.key({ level: 'L0' })).models.list();
    assert.deepEqual(l0.data.map((m) => m.id).sort(), ['default', 'frontier-1', 'llm-jp-3']);
    const l3 = await h.client(await h.key({ level: 'L3' })).models.list();
    assert.deepEqual(l3.data.map((m) => m.id).sort(), ['default', 'llm-jp-3']);
    const one = await h.client(await h.key({ level: 'L3' })).models.retrieve('llm-jp-3');
    assert.equal(one.id, 'llm-jp-3');
    await assert.rejects(h.client(await h.key({ level: 'L3' })).models.retrieve('nope'), OpenAI.NotFoundError);
  });

  test('no key, a bad key and a revoked key get 401', async () => {
    await assert.rejects(h.client('sk-sekisho-' + 'A'.repeat(43)).models.list(), OpenAI.AuthenticationError);
    await assert.rejects(h.client('not-a-key').chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }), (e: any) => {
      assert.equal(e.status, 401);
      assert.equal(e.error.sekisho.code, 'invalid_credential');
      return true;
    });
    const res = await fetch(`${h.gw.url}/v1/chat/completions`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as any).error.sekisho.code, 'missing_credential');
    const key = await h.key({ name: 'to-revoke' });
    const ai = h.client(key);
    await ai.models.list();
    assert.equal((await h.gw.core.store.apiKeys.revoke('to-revoke', new Date().toISOString())), 1);
    await new Promise((r) => setTimeout(r, 1100)); // the key cache lives 1 s
    await assert.rejects(ai.models.list(), (e: any) => e.status === 401 && e.error.sekisho.code === 'revoked_credential');
  });
});

describe('an L3 request never reaches us-frontier, even when tokyo-llm is down', () => {
  let h: Harness;
  let us: MockUpstream;
  before(async () => {
    [us] = await mocks({ name: 'us' });
    h = await startHarness({
      backends: [tokyoBackend(await closedPortUrl()), usBackend(us.url)],
      models: [{ name: 'default', backends: ['us-frontier', 'tokyo-llm'] }],
      routing: { failure_threshold: 2, open_ms: 60_000, max_attempts: 3 },
    });
  });
  after(async () => {
    await h.close();
    await us.close();
  });

  test('fails with the reason instead, also once the breaker opens', async () => {
    const ai = h.client(await h.key({ level: 'L3' }));
    for (let i = 0; i < 4; i++) {
      await assert.rejects(ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: '極秘の内容' }] }), (e: any) => {
        assert.ok(e.status === 502 || e.status === 503, `status ${e.status}`);
        assert.ok(['upstream_failed', 'no_healthy_backend'].includes(e.error.sekisho.code), e.error.sekisho.code);
        assert.match(e.error.sekisho.message.ja, /他のバックエンドには送信しません/);
        assert.match(e.error.sekisho.message.en, /not sent to any other backend/);
        return true;
      });
    }
    assert.equal(us.seen.length, 0, 'nothing may reach us-frontier');
    // The breaker opened after two failures: later requests fail fast with no_healthy_backend.
    const [snap] = h.gw.core.router.snapshot(['tokyo-llm']);
    assert.equal(snap!.state, 'open');
    // An L0 request of the same key kind may still use us-frontier.
    const ok = await h.client(await h.key({ level: 'L0' })).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'public' }] });
    assert.ok(ok.choices[0]!.message.content);
    assert.equal(us.seen.length, 1);
  });
});

describe('failover among compliant backends only', () => {
  let h: Harness;
  let a: MockUpstream;
  let b: MockUpstream;
  let us: MockUpstream;
  before(async () => {
    [a, b, us] = await mocks({ name: 'osaka', reply: 'osaka' }, { name: 'tokyo', reply: 'tokyo' }, { name: 'us', reply: 'us' });
    h = await startHarness({
      backends: [
        { ...tokyoBackend(a.url), id: 'osaka-llm', location: { country: 'JP', region: 'osaka' } },
        tokyoBackend(b.url),
        usBackend(us.url),
      ],
      models: [{ name: 'default', backends: ['us-frontier', 'osaka-llm', 'tokyo-llm'] }],
      routing: { failure_threshold: 2, open_ms: 300, max_attempts: 3 },
    });
  });
  after(async () => {
    await h.close();
    await Promise.all([a.close(), b.close(), us.close()]);
  });

  test('a 500 from the first compliant backend fails over to the next compliant one; the breaker opens and half-opens', async () => {
    a.setFault('status500');
    const ai = h.client(await h.key({ level: 'L3' }));
    for (let i = 0; i < 3; i++) {
      const { data, response } = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }).withResponse();
      assert.equal(data.choices[0]!.message.content, 'tokyo');
      assert.equal(response.headers.get('x-sekisho-backend'), 'tokyo-llm');
    }
    assert.equal(a.seen.length, 2, 'after two failures the breaker stops sending to osaka');
    assert.equal(us.seen.length, 0);
    // After open_ms, one probe goes to osaka; it is healthy again, so it closes.
    a.setFault('none');
    await new Promise((r) => setTimeout(r, 350));
    const { response } = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    assert.equal(response.headers.get('x-sekisho-backend'), 'osaka-llm');
    assert.equal(h.gw.core.router.snapshot(['osaka-llm'])[0]!.state, 'closed');
  });

  test('streaming fails over when the first backend breaks before the first event', async () => {
    a.setFault('garbage');
    const ai = h.client(await h.key({ level: 'L3' }));
    const { data: stream, response } = await ai.chat.completions.create({ model: 'default', stream: true, messages: [{ role: 'user', content: 'x' }] }).withResponse();
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    assert.equal(text, 'tokyo');
    assert.equal(response.headers.get('x-sekisho-backend'), 'tokyo-llm');
    assert.equal(us.seen.length, 0);
    a.setFault('none');
  });
});
