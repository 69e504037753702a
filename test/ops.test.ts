/** Operations: health, readiness, metrics, logs without text, records, failing closed. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startHarness, mocks, tokyoBackend, type Harness } from './support/harness.ts';
import { pgSchemaBytes } from './support/store.ts';
import type { MockUpstream } from '../src/dev/mock-upstream.ts';

const PROMPT_CANARY = 'カナリア-PROMPT-7f3a9c 山田太郎の相談内容';
const ANSWER_CANARY = 'カナリア-ANSWER-51be02 回答本文';

describe('operations', () => {
  let h: Harness;
  let m: MockUpstream;
  before(async () => {
    [m] = await mocks({ name: 'tokyo', reply: ANSWER_CANARY });
    h = await startHarness({ backends: [tokyoBackend(m.url)], models: [{ name: 'default', backends: ['tokyo-llm'] }] });
  });
  after(async () => {
    await h.close();
    await m.close();
  });

  test('healthz and readyz answer', async () => {
    assert.equal((await fetch(`${h.gw.url}/healthz`)).status, 200);
    const r = await fetch(`${h.gw.url}/readyz`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { status: 'ready' });
  });

  test('a request is recorded (metadata only), counted in metrics and logged without its text', async () => {
    const ai = h.client(await h.key({ level: 'L2' }));
    const { response } = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: PROMPT_CANARY }] }).withResponse();
    const stream = await ai.chat.completions.create({ model: 'default', stream: true, messages: [{ role: 'user', content: PROMPT_CANARY }] });
    for await (const _ of stream);
    const requestId = response.headers.get('x-sekisho-request-id')!;
    await new Promise((r) => setTimeout(r, 60));
    await h.gw.core.recorder.flush();
    const rec = await h.gw.core.store.records.byRequestId(requestId)!;
    assert.equal(rec.level, 'L2');
    assert.equal(rec.backend, 'tokyo-llm');
    assert.equal(rec.decision, 'allow');
    assert.equal(rec.status, 200);
    assert.equal(String(rec.seq), response.headers.get('x-sekisho-audit-index'));

    const metrics = await (await fetch(`${h.gw.url}/metrics`)).text();
    assert.match(metrics, /sekisho_requests_total\{endpoint="chat.completions",level="L2",backend="tokyo-llm",decision="allow"\} 2/);
    assert.match(metrics, /sekisho_upstream_latency_seconds_bucket\{le="[0-9.]+",backend="tokyo-llm"\}/);
    assert.match(metrics, /sekisho_backend_circuit_closed\{backend="tokyo-llm"\} 1/);

    const logs = h.logs.join('\n');
    assert.ok(logs.includes(requestId), 'the request is logged');
    for (const l of h.logs) JSON.parse(l); // every line is JSON
    assert.ok(!logs.includes('カナリア'), 'no prompt or answer text in the logs');
    assert.ok(!/sk-sekisho-[A-Za-z0-9_-]{20}/.test(logs), 'no API key in the logs');
    if (h.pg) {
      // PostgreSQL: every value of every table of the gateway's schema.
      assert.ok(!(await pgSchemaBytes(h.pg)).includes('カナリア'), 'no text in the store');
    } else {
      const db = fs.readFileSync(`${h.dir}/data/sekisho.db`);
      const wal = fs.existsSync(`${h.dir}/data/sekisho.db-wal`) ? fs.readFileSync(`${h.dir}/data/sekisho.db-wal`) : Buffer.alloc(0);
      assert.ok(!db.includes('カナリア') && !wal.includes('カナリア'), 'no text in the store');
    }
  });

  test('when the record store fails, new requests are refused and nothing reaches the backend', async () => {
    const ai = h.client(await h.key({ level: 'L0' }));
    const original = h.gw.core.store.records.append;
    h.gw.core.store.records.append = async () => {
      throw new Error('disk full');
    };
    try {
      // The answer of a request whose record cannot be committed is withheld (durability: an
      // answered request is always in the audit log).
      await assert.rejects(ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }), (e: any) => {
        assert.equal(e.status, 503);
        assert.equal(e.error.sekisho.code, 'record_unavailable');
        return true;
      });
      await h.gw.core.recorder.flush();
      const seen = m.seen.length;
      await assert.rejects(ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }), (e: any) => {
        assert.equal(e.status, 503);
        assert.equal(e.error.sekisho.code, 'record_unavailable');
        return true;
      });
      assert.equal(m.seen.length, seen, 'fail closed: no request reached the backend');
      assert.equal((await fetch(`${h.gw.url}/readyz`)).status, 503);
    } finally {
      h.gw.core.store.records.append = original;
    }
    await h.gw.core.recorder.flush();
    assert.equal(h.gw.core.recorder.healthy, true);
    assert.equal(h.gw.core.recorder.pending, 0, 'the records held back are written, none lost');
    await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] });
  });
});
