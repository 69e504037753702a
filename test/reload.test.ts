/**
 * Config reload on one node (issue #9): a new file swaps policy, routes and backends for new
 * requests while a request in flight finishes on the old ones; an invalid file keeps the running
 * configuration; keys that need a restart are named; `sekisho config reload` without Redis says
 * to use SIGHUP.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { parse, stringify } from 'yaml';
import { startHarness, mocks, tokyoBackend, usBackend, runCli, type Harness } from './support/harness.ts';
import type { MockUpstream } from '../src/dev/mock-upstream.ts';

describe('config reload (one node)', () => {
  let h: Harness;
  let slow: MockUpstream;
  let us: MockUpstream;
  let osaka: MockUpstream;
  before(async () => {
    [slow, us, osaka] = await mocks(
      { name: 'tokyo', reply: 'ゆっくり答えます。'.repeat(4), fault: 'slow_stream', chunkChars: 4 },
      { name: 'us', reply: 'US' },
      { name: 'osaka', reply: '大阪' },
    );
    h = await startHarness({
      backends: [tokyoBackend(slow.url), usBackend(us.url)],
      models: [{ name: 'default', backends: ['tokyo-llm'] }],
    });
  });
  after(async () => {
    await h.close();
    await Promise.all([slow.close(), us.close(), osaka.close()]);
  });

  const edit = (fn: (c: Record<string, any>) => void) => {
    const c = parse(fs.readFileSync(h.configFile, 'utf8'));
    fn(c);
    fs.writeFileSync(h.configFile, stringify(c));
  };

  test('a request in flight finishes on the old backends; new requests use the new ones', async () => {
    const key = h.key({ level: 'L0' });
    const res = await fetch(`${h.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'default', stream: true, messages: [{ role: 'user', content: 'x' }] }),
    });
    assert.equal(res.headers.get('x-sekisho-backend'), 'tokyo-llm');
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.ok(!first.done);
    // the stream is running; the file now routes `default` elsewhere and drops tokyo-llm's old URL
    edit((c) => {
      c.backends[0].url = osaka.url;
      c.backends[0].timeouts = undefined;
      c.models = [{ name: 'default', backends: ['us-frontier'] }];
      c.listen.port = 1; // needs a restart: named, not applied
    });
    const r = await h.gw.core.reload('test');
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.ok(r.ok && r.changed.includes('backends') && r.changed.includes('models'));
    assert.ok(r.ok && r.restartNeeded.includes('listen.port'));
    const next = await h.client(key).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    assert.equal(next.response.headers.get('x-sekisho-backend'), 'us-frontier');
    // the old stream completes from the old backend
    let text = new TextDecoder().decode(first.value);
    for (;;) {
      const c = await reader.read();
      if (c.done) break;
      text += new TextDecoder().decode(c.value);
    }
    assert.match(text, /data: \[DONE\]/);
    const content = text
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)).choices?.[0]?.delta?.content ?? '')
      .join('');
    assert.equal(content, 'ゆっくり答えます。'.repeat(4));
    // tokyo-llm is now the Osaka server
    edit((c) => {
      c.models = [{ name: 'default', backends: ['tokyo-llm'] }];
    });
    assert.equal((await h.gw.core.reload('test')).ok, true);
    const jp = await h.client(key).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(jp.choices[0]!.message.content, '大阪');
    assert.ok(h.logs.some((l) => /"msg":"config reloaded"/.test(l)));
    assert.ok(h.logs.some((l) => /listen\.port の変更は再起動後に反映されます/.test(l)));
  });

  test('an invalid file keeps the running configuration and logs file:line and key in both languages', async () => {
    const before = h.gw.core.loaded.config;
    const good = fs.readFileSync(h.configFile, 'utf8');
    try {
      edit((c) => {
        c.policy = { levels: { L9: { allow: false } } };
      });
      const r = await h.gw.core.reload('test');
      assert.equal(r.ok, false);
      assert.ok(!r.ok && r.code === 'config_invalid');
      assert.ok(!r.ok && /設定ファイルに誤りがあるため、現在の設定のままです/.test(r.ja) && /running configuration stays/.test(r.en));
      assert.equal(h.gw.core.loaded.config, before, 'nothing was swapped');
      const line = h.logs.map((l) => JSON.parse(l)).find((l) => /config reload refused/.test(l.msg));
      assert.ok(line);
      assert.match(line.en, /sekisho\.yaml:\d+:\d+: policy\.levels/);
      assert.match(line.ja, /設定エラー .*sekisho\.yaml:\d+:\d+: policy\.levels/);
      assert.equal(line.problems[0].key.startsWith('policy.levels'), true);
      // still serving
      const ok = await h.client(h.key()).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] });
      assert.equal(ok.choices[0]!.message.content, '大阪');
    } finally {
      fs.writeFileSync(h.configFile, good);
    }
  });

  test('a backend that cannot be created keeps the running configuration', async () => {
    const good = fs.readFileSync(h.configFile, 'utf8');
    try {
      edit((c) => {
        c.backends.push({ ...tokyoBackend('http://127.0.0.1:1/v1'), id: 'local', kind: 'llama-cpp', url: undefined, model_path: '/nonexistent/model.gguf' });
      });
      const r = await h.gw.core.reload('test');
      assert.equal(r.ok, false);
      assert.ok(!r.ok && (r.code === 'config_apply_failed' || r.code === 'config_invalid'));
      assert.equal(h.gw.core.routes.get('default')!.candidates[0]!.id, 'tokyo-llm');
    } finally {
      fs.writeFileSync(h.configFile, good);
    }
  });

  test('`sekisho config reload` without redis: says to send SIGHUP', async () => {
    const r = await runCli(['config', 'reload', '--config', h.configFile], { SEKISHO_LANG: 'both' });
    assert.equal(r.code, 2);
    assert.match(r.err, /SIGHUP/);
    assert.match(r.err, /redis: がないため/);
  });
});
