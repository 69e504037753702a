/**
 * Issue #4 end to end: the tenant issues a credential over OpenID4VCI, the holder presents it
 * over OpenID4VP, gets a session token, and uses the OpenAI API with the official client; the
 * Cedar policy decides by the credential's attributes; revocation ends the session.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startHarness, mocks, tokyoBackend, usBackend, type Harness } from './support/harness.ts';
import type { MockUpstream } from '../src/dev/mock-upstream.ts';
import { createOffer, validateClaims, vaultClaims, type StaffClaims } from '../src/identity/index.ts';
import { Wallet } from '../src/identity/holder.ts';

const TRAINED: Partial<StaffClaims> = {
  name: '山田 花子',
  employee_id: 'E1001',
  department: '経理部',
  role: 'staff',
  clearance: 'L3',
  trainings: [{ id: 'ai-security-basic', date: '2026-10-01' }],
};

describe('identity end to end', () => {
  let h: Harness;
  let tokyo: MockUpstream;
  let us: MockUpstream;
  before(async () => {
    [tokyo, us] = await mocks({ name: 'tokyo', reply: '東京' }, { name: 'us', reply: 'US' });
    h = await startHarness({
      backends: [tokyoBackend(tokyo.url), usBackend(us.url)],
      models: [{ name: 'default', backends: ['us-frontier', 'tokyo-llm'] }],
      identity: { status_refresh_s: 1 },
    });
  });
  after(async () => {
    await h.close();
    await Promise.all([tokyo.close(), us.close()]);
  });

  const offer = (c: Partial<StaffClaims>) => createOffer(h.gw.core.store, h.gw.core.identity!.origin, vaultClaims(h.gw.core.vault), validateClaims(c), { credentialTtlDays: 30, offerTtlS: 600 });

  test('the tenant DID document and the issuer metadata are served', async () => {
    const did = await (await fetch(`${h.gw.url}/.well-known/did.json`)).json();
    assert.equal(did.id, h.gw.core.identity!.did);
    assert.match(did.id, /^did:web:127\.0\.0\.1%3A\d+$/);
    assert.equal(did.verificationMethod.length, 2);
    assert.deepEqual(did.verificationMethod.map((v: any) => v.publicKeyJwk.kty).sort(), ['EC', 'OKP']);
    const meta = await (await fetch(`${h.gw.url}/.well-known/openid-credential-issuer`)).json();
    assert.equal(meta.credential_issuer, h.gw.url);
    assert.equal(meta.credential_configurations_supported.sekisho_staff.format, 'dc+sd-jwt');
  });

  test('obtain → present → session → OpenAI API at L2, decided by the credential', async () => {
    const o = await offer(TRAINED);
    assert.match(o.uri, /^openid-credential-offer:\/\/\?credential_offer=/);
    const wallet = await Wallet.ephemeral();
    const sdJwt = await wallet.obtain(o.uri);
    assert.match(sdJwt, /^[\w-]+\.[\w-]+\.[\w-]+~/);
    const s = await wallet.login(h.gw.url);
    assert.match(s.session_token, /^sks_/);
    const ai = h.client(s.session_token, { defaultHeaders: { 'x-sekisho-level': 'L2' } });
    const { data, response } = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: '予算案を要約して' }] }).withResponse();
    assert.equal(data.choices[0]!.message.content, '東京');
    assert.equal(response.headers.get('x-sekisho-level'), 'L2');
    assert.equal(response.headers.get('x-sekisho-backend'), 'tokyo-llm');
    // The clearance is L3: L4 is blocked, and so is anything above the credential's clearance.
    const models = await h.client(s.session_token).models.list();
    assert.ok(models.data.some((m) => m.id === 'default'));
  });

  test('a holder without the training is denied L2, and the denial names the training', async () => {
    const wallet = await Wallet.ephemeral('EdDSA');
    await wallet.obtain((await offer({ ...TRAINED, employee_id: 'E1002', trainings: [] })).uri);
    const s = await wallet.login(h.gw.url);
    const ai = h.client(s.session_token);
    // L0 and L1 are fine
    const ok = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-sekisho-level': 'L1' } }).withResponse();
    assert.equal(ok.response.headers.get('x-sekisho-backend'), 'tokyo-llm');
    await assert.rejects(ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-sekisho-level': 'L2' } }), (e: any) => {
      assert.ok(e instanceof OpenAI.PermissionDeniedError);
      assert.equal(e.error.sekisho.code, 'training_required');
      assert.equal(e.error.sekisho.training, 'ai-security-basic');
      assert.match(e.error.sekisho.message.ja, /ai-security-basic/);
      assert.match(e.error.sekisho.message.en, /training "ai-security-basic"/);
      return true;
    });
  });

  test('clearance from the credential caps the level', async () => {
    const wallet = await Wallet.ephemeral();
    await wallet.obtain((await offer({ ...TRAINED, employee_id: 'E1003', clearance: 'L1' })).uri);
    const s = await wallet.login(h.gw.url);
    await assert.rejects(h.client(s.session_token, { defaultHeaders: { 'x-sekisho-level': 'L2' } }).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }), (e: any) => {
      assert.equal(e.status, 403);
      assert.equal(e.error.sekisho.code, 'level_above_principal_max');
      return true;
    });
  });

  test('revocation: a revoked credential ends its live session within the interval and cannot start a new one', async () => {
    const o = await offer({ ...TRAINED, employee_id: 'E1004' });
    const wallet = await Wallet.ephemeral();
    await wallet.obtain(o.uri);
    const s = await wallet.login(h.gw.url);
    const ai = h.client(s.session_token);
    await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] });
    assert.equal((await h.gw.core.store.identity.revokeCredential(vaultClaims(h.gw.core.vault).pseudonym('E1004'), new Date().toISOString())), 1);
    // status_refresh_s is 1 in this test: the session ends at the next sweep (the loop allows
    // a generous 5 intervals so that a loaded machine does not make the test flaky)
    const t0 = Date.now();
    let code = '';
    while (Date.now() - t0 < 5000) {
      try {
        await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] });
        await new Promise((r) => setTimeout(r, 100));
      } catch (e: any) {
        assert.equal(e.status, 401);
        code = e.error.sekisho.code;
        break;
      }
    }
    assert.equal(code, 'session_revoked');
    await assert.rejects(wallet.login(h.gw.url), (e: any) => {
      assert.equal(e.status, 401);
      assert.equal(e.code, 'credential_revoked');
      return true;
    });
  });

  test('an offer is single use', async () => {
    const o = await offer({ ...TRAINED, employee_id: 'E1005' });
    await (await Wallet.ephemeral()).obtain(o.uri);
    await assert.rejects((await Wallet.ephemeral()).obtain(o.uri), (e: any) => e.status === 400 && e.code === 'invalid_grant');
  });

  test('an offer with a transaction code (PIN): wrong codes are refused, five of them void the offer', async () => {
    const o = await createOffer(h.gw.core.store, h.gw.core.identity!.origin, vaultClaims(h.gw.core.vault), validateClaims({ ...TRAINED, employee_id: 'E1006' }), { credentialTtlDays: 30, offerTtlS: 600, txCode: true });
    assert.match(o.txCode!, /^\d{6}$/);
    assert.equal((o.offer as any).grants['urn:ietf:params:oauth:grant-type:pre-authorized_code'].tx_code.length, 6);
    const w = await Wallet.ephemeral();
    await assert.rejects(w.obtain(o.uri), /transaction code/);
    const wrong = o.txCode === '000000' ? '111111' : '000000';
    await assert.rejects(w.obtain(o.uri, wrong), (e: any) => e.status === 400 && e.code === 'invalid_grant');
    await w.obtain(o.uri, o.txCode);
    const p = await createOffer(h.gw.core.store, h.gw.core.identity!.origin, vaultClaims(h.gw.core.vault), validateClaims({ ...TRAINED, employee_id: 'E1007' }), { credentialTtlDays: 30, offerTtlS: 600, txCode: true });
    const bad = p.txCode === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) await assert.rejects(w.obtain(p.uri, bad));
    await assert.rejects(w.obtain(p.uri, p.txCode), (e: any) => /Too many/.test(e.message));
  });

  test('API keys are service principals: no training needed, key limits still apply', async () => {
    const ai = h.client(await h.key({ level: 'L2' }));
    const { response } = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    assert.equal(response.headers.get('x-sekisho-backend'), 'tokyo-llm');
  });
});
