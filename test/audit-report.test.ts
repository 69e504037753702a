/**
 * The residency report: HTML and PDF with charts, the L3 statement tied to a verified
 * checkpoint, counts an auditor recomputes with `audit verify --counts`. A PNG screenshot is
 * written under test-artifacts/ and its path printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startHarness, mocks, tokyoBackend, usBackend, TEST_PASSPHRASE, runCli } from './support/harness.ts';

// the CLI processes these tests start open the tenant's vault (file keystore) too
process.env.SEKISHO_VAULT_PASSPHRASE ??= TEST_PASSPHRASE;

function cliAsync(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return runCli(args, { SEKISHO_LANG: 'en' });
}

test('report residency renders HTML and PDF with charts; the L3 statement names the checkpoint; verify --counts agrees', async () => {
  const [tokyo, us] = await mocks({ name: 'tokyo', reply: 'はい' }, { name: 'us', reply: 'yes' });
  const h = await startHarness({
    backends: [tokyoBackend(tokyo!.url), usBackend(us!.url)],
    models: [{ name: 'default', backends: ['us-frontier', 'tokyo-llm'] }],
    audit: { checkpoint_interval_ms: 60_000 },
  });
  try {
    const ai = h.client(await h.key({ level: 'L0', maxLevel: 'L3' }));
    for (let i = 0; i < 5; i++) await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: '会議の議題を三つ挙げて' }] });
    for (let i = 0; i < 3; i++) await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-sekisho-level': 'L3' } });
    await assert.rejects(ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-sekisho-level': 'L4' } }));
    await assert.rejects(h.client('sk-sekisho-wrong').chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }));
    await h.gw.core.audit.integrate();
    const out = path.resolve('test-artifacts');
    fs.mkdirSync(out, { recursive: true });
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const r = await cliAsync(['report', 'residency', '--config', h.configFile, '--from', today, '--to', tomorrow, '--out', out, '--png']);
    assert.equal(r.code, 0, r.err);
    const [html, pdf, png] = r.out.trim().split('\n');
    assert.match(r.out, /no L3 request was processed outside Japanese jurisdiction/);
    const page = fs.readFileSync(html!, 'utf8');
    assert.match(page, /<svg/);
    assert.match(page, /No L3 request was processed outside Japanese jurisdiction/);
    assert.match(page, /L3 以上の要求が日本の法域外で処理されたことはありません/);
    const size = h.gw.core.audit.size;
    const cp = await h.gw.core.audit.checkpointNote()!;
    const root = cp.split('\n')[2]!;
    assert.ok(page.includes(`tree size <b>${size}</b>`) && page.includes(root), 'the statement names the checkpoint (size and root)');
    assert.ok(fs.readFileSync(pdf!).subarray(0, 5).toString() === '%PDF-');
    assert.ok(fs.statSync(png!).size > 10_000);
    console.log(`# residency report screenshot: ${png}`);
    // The auditor's recomputation over HTTP gives the same counts.
    const counts = JSON.parse(fs.readFileSync(html!.replace(/\.html$/, '.json'), 'utf8'));
    assert.equal(counts.l3_outside_japan, 0);
    assert.ok(counts.processed.some((p: any) => p.level === 'L3' && p.country === 'JP' && p.count === 3));
    assert.ok(counts.processed.some((p: any) => p.level === 'L0' && p.country === 'US' && p.count === 5));
    assert.equal(counts.denials.invalid_credential, 1);
    assert.equal(counts.denials.level_above_principal_max, 1);
    const v = await cliAsync(['audit', 'verify', '--url', h.gw.url, '--vkey', h.gw.core.audit.vkey, '--counts', '--from', today, '--to', tomorrow, '--no-progress']);
    assert.equal(v.code, 0, v.err);
    const again = JSON.parse(v.out.slice(v.out.indexOf('{')));
    assert.deepEqual(again, counts);
  } finally {
    await h.close();
    await Promise.all([tokyo!.close(), us!.close()]);
  }
});
