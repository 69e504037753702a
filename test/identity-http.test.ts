/**
 * The identity HTTP endpoints: content types, strict and bounded input, OAuth-style errors on
 * the OpenID4VCI endpoints, 401 with a precise reason on the OpenID4VP response endpoint, and
 * a status list that an independent implementation (@sd-jwt/jwt-status-list) reads.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CompactSign, generateKeyPair, exportJWK } from 'jose';
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { startHarness, mocks, tokyoBackend, type Harness } from './support/harness.ts';
import type { MockUpstream } from '../src/dev/mock-upstream.ts';
import { createOffer, validateClaims, parseOfferUri, vaultClaims } from '../src/identity/index.ts';
import { Sessions } from '../src/identity/sessions.ts';
import { Wallet, postResponse } from '../src/identity/holder.ts';
import { withAttrs } from '../src/identity/principal.ts';

describe('identity HTTP endpoints', () => {
  let h: Harness;
  let tokyo: MockUpstream;
  before(async () => {
    [tokyo] = await mocks({ name: 'tokyo' });
    h = await startHarness({ backends: [tokyoBackend(tokyo.url)], models: [{ name: 'default', backends: ['tokyo-llm'] }] });
  });
  after(async () => {
    await h.close();
    await tokyo.close();
  });

  const post = (p: string, body: string, type = 'application/x-www-form-urlencoded', headers: Record<string, string> = {}) =>
    fetch(`${h.gw.url}${p}`, { method: 'POST', headers: { 'content-type': type, ...headers }, body });

  test('did.json, issuer metadata, authorization server metadata', async () => {
    const r = await fetch(`${h.gw.url}/.well-known/did.json`);
    assert.equal(r.headers.get('content-type'), 'application/did+json');
    const doc = await r.json();
    assert.deepEqual(doc.assertionMethod, doc.verificationMethod.map((v: any) => v.id));
    assert.ok(doc.verificationMethod.every((v: any) => !('d' in v.publicKeyJwk)), 'no private key material');
    assert.ok(doc.alsoKnownAs.every((a: string) => a.startsWith('did:jwk:')));
    const as = await (await fetch(`${h.gw.url}/.well-known/oauth-authorization-server`)).json();
    assert.equal(as.token_endpoint, `${h.gw.url}/oid4vci/token`);
    assert.equal(as['pre-authorized_grant_anonymous_access_supported'], true);
  });

  test('the status list is a statuslist+jwt that @sd-jwt/jwt-status-list reads; revoked bits are set', async () => {
    const o = await createOffer(h.gw.core.store, h.gw.core.identity!.origin, vaultClaims(h.gw.core.vault), validateClaims({ name: 'x', employee_id: 'S1', clearance: 'L1' }), { credentialTtlDays: 1, offerTtlS: 60 });
    const row = await h.gw.core.store.identity.credential(o.credentialId)!;
    await h.gw.core.store.identity.revokeCredential(vaultClaims(h.gw.core.vault).pseudonym('S1'), new Date().toISOString());
    const token = await h.gw.core.identity!.statusListToken(true);
    const r = await fetch(`${h.gw.url}/status/1`);
    assert.equal(r.headers.get('content-type'), 'application/statuslist+jwt');
    assert.match(await r.text(), /^ey/);
    const list = getListFromStatusListJWT(token);
    assert.equal(list.getStatus(row.status_idx), 1);
    assert.equal(list.getStatus((row.status_idx + 1) % (1 << 17)), 0);
    assert.equal(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).typ, 'statuslist+jwt');
  });

  test('token endpoint: OAuth errors for a wrong grant type and an unknown code', async () => {
    let r = await post('/oid4vci/token', 'grant_type=authorization_code&code=x');
    assert.equal(r.status, 400);
    let b = await r.json();
    assert.equal(b.error, 'invalid_grant');
    assert.ok(b.sekisho.message.ja);
    r = await post('/oid4vci/token', new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:pre-authorized_code', 'pre-authorized_code': 'A'.repeat(43) }).toString());
    assert.equal(r.status, 400);
    b = await r.json();
    assert.equal(b.error, 'invalid_grant');
  });

  test('credential endpoint: no token, and a proof with a nonce the issuer never gave', async () => {
    let r = await post('/oid4vci/credential', '{}', 'application/json');
    assert.equal(r.status, 401);
    assert.equal((await r.json()).error, 'invalid_token');
    const o = await createOffer(h.gw.core.store, h.gw.core.identity!.origin, vaultClaims(h.gw.core.vault), validateClaims({ name: 'y', employee_id: 'S2', clearance: 'L1' }), { credentialTtlDays: 1, offerTtlS: 60 });
    const tok = await (await post('/oid4vci/token', new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:pre-authorized_code', 'pre-authorized_code': parseOfferUri(o.uri).code }).toString())).json();
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const proof = await new CompactSign(Buffer.from(JSON.stringify({ aud: h.gw.url, iat: Math.floor(Date.now() / 1000), nonce: 'never-issued' })))
      .setProtectedHeader({ alg: 'ES256', typ: 'openid4vci-proof+jwt', jwk: await exportJWK(publicKey) })
      .sign(privateKey);
    r = await post('/oid4vci/credential', JSON.stringify({ credential_configuration_id: 'sekisho_staff', proofs: { jwt: [proof] } }), 'application/json', { authorization: `Bearer ${tok.access_token}` });
    assert.equal(r.status, 401);
    const b = await r.json();
    assert.equal(b.error, 'invalid_proof');
    assert.match(b.sekisho.message.en, /nonce/);
  });

  test('presentation response: 401 with a precise reason, bounded body, POST only', async () => {
    let r = await post('/oid4vp/response', 'vp_token=' + encodeURIComponent('{"staff":["eyJhbGciOiJub25lIn0.e30.~"]}'));
    assert.equal(r.status, 401);
    let b = await r.json();
    assert.equal(b.error.type, 'authentication_error');
    assert.equal(b.error.sekisho.code, 'key_binding_missing');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="sekisho"');
    r = await post('/oid4vp/response', 'state=x');
    assert.equal(r.status, 401);
    b = await r.json();
    assert.equal(b.error.sekisho.code, 'malformed_presentation');
    r = await post('/oid4vp/response', 'vp_token=' + 'a'.repeat(70_000));
    assert.equal(r.status, 413);
    r = await fetch(`${h.gw.url}/oid4vp/response`);
    assert.equal(r.status, 405);
    const req = await (await post('/oid4vp/request', '')).json();
    assert.equal(req.request.response_mode, 'direct_post.jwt');
    assert.equal(req.request.client_metadata.jwks.keys[0].crv, 'P-256');
    assert.equal(req.request.client_metadata.jwks.keys[0].d, undefined);
    assert.equal(req.request.dcql_query.credentials[0].format, 'dc+sd-jwt');
    assert.match(req.uri, /^openid4vp:\/\/\?client_id=redirect_uri%3A/);
    const byRef = await (await fetch(req.request_uri)).json();
    assert.equal(byRef.nonce, req.request.nonce);
  });
});

describe('cross-device presentation', () => {
  let h: Harness;
  let tokyo: MockUpstream;
  before(async () => {
    [tokyo] = await mocks({ name: 'tokyo' });
    h = await startHarness({ backends: [tokyoBackend(tokyo.url)], models: [{ name: 'default', backends: ['tokyo-llm'] }] });
  });
  after(async () => {
    await h.close();
    await tokyo.close();
  });

  test('the device that showed the request picks up the session once the wallet has presented', async () => {
    const o = await createOffer(h.gw.core.store, h.gw.core.identity!.origin, vaultClaims(h.gw.core.vault), validateClaims({ name: 'z', employee_id: 'X1', clearance: 'L1' }), { credentialTtlDays: 1, offerTtlS: 60 });
    const phone = await Wallet.ephemeral();
    await phone.obtain(o.uri);
    // The PC starts; the phone scans `uri` (here: uses the request object) and posts directly.
    const started = await (await fetch(`${h.gw.url}/oid4vp/request`, { method: 'POST' })).json();
    const pick = () => fetch(`${h.gw.url}/oid4vp/session`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `transaction_id=${started.transaction_id}` });
    assert.equal((await pick()).status, 202);
    assert.equal(started.request.response_mode, 'direct_post.jwt');
    const { vp_token, state, response } = await phone.presentation(started.request);
    assert.match(response!, /^ey[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWE (ECDH-ES: empty encrypted key)');
    await postResponse(started.request.response_uri, vp_token, state, response);
    const r = await pick();
    assert.equal(r.status, 200);
    const s = await r.json();
    assert.match(s.session_token, /^sks_/);
    await h.client(s.session_token).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] });
    assert.equal((await pick()).status, 202, 'picked up once only');
  });
});

describe('sessions', () => {
  test('expire after their TTL and never outlive the credential', () => {
    let now = 1_000_000;
    const s = new Sessions(60_000, () => now);
    const p = withAttrs({ id: 'vc:x', kind: 'person', name: 'x', defaultLevel: 'L0', maxLevel: 'L2' }, { kind: 'person', clearance: 'L2', role: '', department: '', trainings: [] });
    const a = s.create(p, 'x', undefined, now + 3600_000);
    const b = s.create(p, 'y', undefined, now + 10_000);
    // the session's principal carries when the session was opened (step-up freshness)
    assert.deepEqual(s.authenticate(a.token), { ...p, authTime: 1_000_000 });
    now += 11_000;
    assert.throws(() => s.authenticate(b.token), (e: any) => e.code === 'session_expired');
    assert.deepEqual(s.authenticate(a.token), { ...p, authTime: 1_000_000 });
    now += 60_000;
    assert.throws(() => s.authenticate(a.token), (e: any) => e.code === 'session_expired');
  });
});
