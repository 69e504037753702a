/**
 * Content through the gateway, end to end with the official `openai` client: requests are
 * classified by what they contain, masked or pseudonymized as the tenant chose (and restored
 * in the answer, also across streamed chunks), and answers are inspected too.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startHarness, mocks, tokyoBackend, usBackend, type Harness } from './support/harness.ts';
import type { MockUpstream } from '../src/dev/mock-upstream.ts';

const MY_NUMBER = '123456789018'; // valid check digit
const PROMPT = `山田太郎様（携帯 090-1234-5678）の件で、返信文を作ってください。`;

async function streamText(s: AsyncIterable<any>): Promise<string> {
  let t = '';
  for await (const c of s) t += c.choices[0]?.delta?.content ?? '';
  return t;
}

describe('classification by content (default policy)', () => {
  let h: Harness;
  let tokyo: MockUpstream;
  let us: MockUpstream;
  before(async () => {
    [tokyo, us] = await mocks({ name: 'tokyo', reply: '承知しました。' }, { name: 'us', reply: 'ok' });
    h = await startHarness({ backends: [tokyoBackend(tokyo.url), usBackend(us.url)], models: [{ name: 'default', backends: ['us-frontier', 'tokyo-llm'] }] });
  });
  after(async () => {
    await h.close();
    await Promise.all([tokyo.close(), us.close()]);
  });

  test('a My Number raises an L0 request to L3: it goes to Tokyo, never abroad', async () => {
    const ai = h.client(await h.key({ level: 'L0' }));
    const { response } = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: `マイナンバーは${MY_NUMBER}です` }] }).withResponse();
    assert.equal(response.headers.get('x-sekisho-level'), 'L3');
    assert.equal(response.headers.get('x-sekisho-backend'), 'tokyo-llm');
    assert.equal(us.seen.length, 0);
    await h.gw.core.recorder.flush();
    const rec = await h.gw.core.store.records.byRequestId(response.headers.get('x-sekisho-request-id')!)!;
    assert.match(rec.findings, /JP_MY_NUMBER:1/);
    assert.match(rec.flags, /my_number/);
    assert.ok(!JSON.stringify(rec).includes(MY_NUMBER), 'the record holds counts, never values');
  });

  test('a name and a phone number raise L0 to L1 (personal)', async () => {
    const { response } = await h.client(await h.key({ level: 'L0' })).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: PROMPT }] }).withResponse();
    assert.equal(response.headers.get('x-sekisho-level'), 'L1');
    assert.equal(response.headers.get('x-sekisho-backend'), 'tokyo-llm');
  });

  test('plain business text stays L0 and may go abroad', async () => {
    const { response } = await h.client(await h.key({ level: 'L0' })).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: '来期の物流改善案を三つ挙げてください。' }] }).withResponse();
    assert.equal(response.headers.get('x-sekisho-level'), 'L0');
    assert.equal(response.headers.get('x-sekisho-backend'), 'us-frontier');
  });

  test('a credential in the prompt is blocked, with a reason', async () => {
    await assert.rejects(
      h.client(await h.key({ level: 'L0' })).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'このキーで接続できない: AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' }] }),
      (e: any) => {
        assert.equal(e.status, 403);
        assert.equal(e.error.sekisho.code, 'flag_blocked');
        assert.match(e.error.sekisho.message.ja, /secret/);
        return true;
      },
    );
  });

  test('a model repeating a My Number is caught, streamed and not', async () => {
    tokyo.failNext('none');
    const [leaky] = await mocks({ name: 'leaky', reply: `確認しました。番号は ${MY_NUMBER} ですね。`, chunkChars: 3 });
    const h2 = await startHarness({ backends: [tokyoBackend(leaky.url)], models: [{ name: 'default', backends: ['tokyo-llm'] }] });
    try {
      const ai = h2.client(await h2.key({ level: 'L3' }));
      const r = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] });
      assert.equal(r.choices[0]!.message.content, '確認しました。番号は 〔個人番号1〕 ですね。');
      const s = await streamText(await ai.chat.completions.create({ model: 'default', stream: true, messages: [{ role: 'user', content: 'x' }] }));
      assert.equal(s, '確認しました。番号は 〔個人番号1〕 ですね。', 'caught although split across 3-character chunks');
    } finally {
      await h2.close();
      await leaky.close();
    }
  });
});

describe('mask and pseudonymize, restored in the answer', () => {
  let h: Harness;
  let echo: MockUpstream;
  before(async () => {
    // An echoing model on a US backend: it shows exactly what left the organization.
    [echo] = await mocks({ name: 'echo', echo: true, chunkChars: 3 });
    h = await startHarness({
      backends: [usBackend(echo.url)],
      models: [{ name: 'default', backends: ['us-frontier'] }],
      inspect: { actions: { PERSON_NAME: 'pseudonymize', JP_PHONE: 'mask', EMAIL: 'pseudonymize', SECRET: 'block' } },
    });
  });
  after(async () => {
    await h.close();
    await echo.close();
  });

  test('pseudonymized data lowers the level, so it may go abroad; the backend never sees it; the answer is restored', async () => {
    const ai = h.client(await h.key({ level: 'L0' }));
    const { data, response } = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: PROMPT }] }).withResponse();
    assert.equal(response.headers.get('x-sekisho-level'), 'L0');
    const sent = echo.seen.at(-1)!.body.messages[0].content as string;
    assert.ok(!sent.includes('山田'), `the backend saw: ${sent}`);
    assert.ok(!sent.includes('090-1234-5678'));
    assert.match(sent, /〔氏名1〕/);
    assert.match(sent, /〔電話番号1〕/);
    // The name comes back; the masked phone number does not.
    assert.equal(data.choices[0]!.message.content, PROMPT.replace('090-1234-5678', '〔電話番号1〕'));
  });

  test('restored across streamed chunks, placeholders split anywhere', async () => {
    const ai = h.client(await h.key({ level: 'L0' }));
    const text = '担当の佐藤花子さんと山田太郎様に、taro.yamada@example.co.jp から連絡します。佐藤花子さんにもよろしく。';
    const s = await streamText(await ai.chat.completions.create({ model: 'default', stream: true, messages: [{ role: 'user', content: text }] }));
    const sent = echo.seen.at(-1)!.body.messages[0].content as string;
    assert.ok(!/佐藤|山田|taro\.yamada/.test(sent), `the backend saw: ${sent}`);
    assert.equal((sent.match(/〔氏名1〕/g) ?? []).length, 2, 'the same name gets the same placeholder');
    assert.equal(s, text);
  });

  test('the same value gets the same placeholder across messages of a conversation', async () => {
    const ai = h.client(await h.key({ level: 'L0' }));
    await ai.chat.completions.create({
      model: 'default',
      messages: [
        { role: 'user', content: '鈴木一郎さんについて' },
        { role: 'assistant', content: '鈴木一郎さんですね。' },
        { role: 'user', content: '鈴木一郎さんと田中次郎さんの予定' },
      ],
    });
    const msgs = echo.seen.at(-1)!.body.messages.map((m: any) => m.content);
    assert.deepEqual(msgs, ['〔氏名1〕さんについて', '〔氏名1〕さんですね。', '〔氏名1〕さんと〔氏名2〕さんの予定']);
  });

  test('a type whose action is block is refused before anything is sent', async () => {
    const before = echo.seen.length;
    await assert.rejects(
      h.client(await h.key({ level: 'L0' })).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'token: ghp_1234567890abcdefghijklmnopqrstuvwxyzAB' }] }),
      (e: any) => e.status === 403 && e.error.sekisho.code === 'content_blocked' && e.error.sekisho.types.includes('SECRET'),
    );
    assert.equal(echo.seen.length, before);
  });
});

describe('answer actions', () => {
  test('block withholds the answer: 403 whole, an error event when streamed', async () => {
    const [m] = await mocks({ name: 'cards', reply: 'カード番号は 4111 1111 1111 1111 です。', chunkChars: 5 });
    const h = await startHarness({
      backends: [tokyoBackend(m.url)],
      models: [{ name: 'default', backends: ['tokyo-llm'] }],
      inspect: { answer_actions: { CREDIT_CARD: 'block' } },
    });
    try {
      const ai = h.client(await h.key({ level: 'L3' }));
      await assert.rejects(ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }), (e: any) => e.status === 403 && e.error.sekisho.code === 'answer_blocked');
      let text = '';
      await assert.rejects(
        (async () => {
          text = await streamText(await ai.chat.completions.create({ model: 'default', stream: true, messages: [{ role: 'user', content: 'x' }] }));
        })(),
        (e: any) => e instanceof OpenAI.APIError,
      );
      assert.ok(!text.includes('4111'));
    } finally {
      await h.close();
      await m.close();
    }
  });
});
