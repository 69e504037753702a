/**
 * Interop (issue #4 item 8): credentials issued by Sekisho's hand-written SD-JWT code verify
 * with an independent implementation (@sd-jwt/sd-jwt-vc 0.19.0), and presentations made by
 * that implementation are accepted by Sekisho — both as holder of a Sekisho credential and
 * as a (configured, trusted) issuer.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest, generateSalt, ES256 } from '@sd-jwt/crypto-nodejs';
import { identityFixture, CLAIMS, ORIGIN, type Fixture } from './support/identity.ts';
import { didJwkFor } from '../src/identity/did.ts';
import { Wallet } from '../src/identity/holder.ts';
import { verifyPresentation } from '../src/identity/credential.ts';
import { StatusListCache } from '../src/identity/status-list.ts';

/** A JWS verifier for @sd-jwt from a public JWK (ES256 or Ed25519), on node:crypto. */
function jwkVerifier(jwk: crypto.JsonWebKey) {
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  return (data: string, sig: string) => {
    const s = Buffer.from(sig, 'base64url');
    if (jwk.kty === 'OKP') return crypto.verify(null, Buffer.from(data), key, s);
    return crypto.verify('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }, s);
  };
}

function jwkSigner(jwk: crypto.JsonWebKey) {
  const key = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
  return (data: string) => {
    if (jwk.kty === 'OKP') return crypto.sign(null, Buffer.from(data), key).toString('base64url');
    return crypto.sign('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  };
}

describe('interop with @sd-jwt/sd-jwt-vc 0.19.0', () => {
  let f: Fixture;
  before(async () => {
    f = await identityFixture();
  });
  after(() => f.close());

  for (const alg of ['ES256', 'EdDSA'] as const) {
    test(`a Sekisho credential (${alg} issuer key) verifies with @sd-jwt, key binding and status list included`, async () => {
      const f2 = await identityFixture({ signing_alg: alg });
      try {
        const holder = await Wallet.ephemeral();
        const { sdJwt } = await f2.issue(holder.publicJwk as never);
        const issuerKey = f2.svc.keys.signer(alg).publicJwk;
        const nonce = 'n-' + crypto.randomBytes(8).toString('hex');
        // The holder (Sekisho's wallet code) makes the presentation; @sd-jwt verifies it.
        const { vp_token } = await holder.presentation({ client_id: 'x:verifier', nonce, state: 's', dcql_query: { credentials: [{ id: 'staff', format: 'dc+sd-jwt', meta: { vct_values: [`${ORIGIN}/vct/staff`] }, claims: [{ path: ['clearance'] }, { path: ['trainings'] }] }] } }, sdJwt);
        const presentation = JSON.parse(vp_token).staff[0] as string;
        const sd = new SDJwtVcInstance({
          hasher: digest,
          verifier: jwkVerifier(issuerKey as crypto.JsonWebKey),
          kbVerifier: (data, sig, payload) => jwkVerifier((payload as any).cnf.jwk)(data, sig),
          statusListFetcher: () => f2.svc.statusListToken(),
          statusVerifier: jwkVerifier(issuerKey as crypto.JsonWebKey),
        });
        const r = await sd.verify(presentation, { keyBindingNonce: nonce, requiredClaimKeys: ['clearance', 'trainings'] });
        const p = r.payload as Record<string, any>;
        assert.equal(p.iss, f2.svc.did);
        assert.equal(p.vct, `${ORIGIN}/vct/staff`);
        assert.equal(p.clearance, 'L3');
        assert.deepEqual(p.trainings, CLAIMS.trainings);
        assert.equal(p.name, undefined, 'claims not asked for stay undisclosed');
        assert.equal(r.kb?.payload.nonce, nonce);
        assert.equal(r.kb?.header.typ, 'kb+jwt');
        // The full credential decodes to every claim with @sd-jwt.
        const all = (await sd.getClaims(sdJwt)) as Record<string, unknown>;
        assert.equal(all.name, CLAIMS.name);
        assert.equal(all.employee_id, CLAIMS.employee_id);
        // Issuer-signed JWT header per SD-JWT VC
        const header = JSON.parse(Buffer.from(sdJwt.split('.')[0]!, 'base64url').toString());
        assert.equal(header.typ, 'dc+sd-jwt');
        assert.equal(header.alg, alg);
      } finally {
        f2.close();
      }
    });
  }

  test('a presentation of a Sekisho credential made by @sd-jwt is accepted by Sekisho and opens a session', async () => {
    const { privateKey, publicKey } = await ES256.generateKeyPair();
    const { sdJwt } = await f.issue(publicKey as never);
    const sd = new SDJwtVcInstance({ hasher: digest, saltGenerator: generateSalt, kbSigner: jwkSigner(privateKey as crypto.JsonWebKey), kbSignAlg: 'ES256' });
    const { request } = f.svc.verifier.createRequest();
    const presentation = await sd.present(sdJwt, { clearance: true, trainings: { 0: true, 1: true }, role: true } as never, {
      kb: { payload: { iat: Math.floor(Date.now() / 1000), aud: String(request.client_id), nonce: String(request.nonce) } },
    });
    const s = await f.svc.presentationToSession(JSON.stringify({ staff: [presentation] }), String(request.state));
    assert.match(s.session_token, /^sks_/);
    assert.equal(s.principal.clearance, 'L3');
    assert.deepEqual(s.principal.trainings, ['ai-security-basic', 'medical-info-security']);
    const p = await f.svc.authenticate(`Bearer ${s.session_token}`);
    assert.equal(p.kind, 'person');
    assert.equal(p.attrs!.role, 'engineer');
  });

  test('a credential issued by @sd-jwt under a configured did:jwk issuer is accepted', async () => {
    const issuer = await ES256.generateKeyPair();
    const holder = await ES256.generateKeyPair();
    const iss = didJwkFor(issuer.publicKey as never);
    const f3 = await identityFixture({ trusted_issuers: [{ id: iss }] });
    try {
      const sd = new SDJwtVcInstance({
        hasher: digest,
        saltGenerator: generateSalt,
        signer: jwkSigner(issuer.privateKey as crypto.JsonWebKey),
        signAlg: 'ES256',
        kbSigner: jwkSigner(holder.privateKey as crypto.JsonWebKey),
        kbSignAlg: 'ES256',
      });
      const now = Math.floor(Date.now() / 1000);
      const cred = await sd.issue(
        { iss, vct: `${ORIGIN}/vct/staff`, iat: now, exp: now + 3600, cnf: { jwk: holder.publicKey }, clearance: 'L2', trainings: [{ id: 'ai-security-basic', date: '2026-01-01' }], name: 'Partner' } as never,
        { _sd: ['clearance', 'trainings', 'name'] } as never,
        { header: { typ: 'dc+sd-jwt', kid: `${iss}#0` } },
      );
      const vp = await sd.present(cred, { clearance: true, trainings: true } as never, { kb: { payload: { iat: now, aud: 'aud:x', nonce: 'nonce-1' } } });
      const v = await verifyPresentation(vp, { aud: 'aud:x', nonce: 'nonce-1', nowMs: Date.now(), skewS: 60, issuer: (i) => f3.svc.issuer(i), status: new StatusListCache(() => undefined, 60_000) });
      assert.equal(v.iss, iss);
      assert.equal(v.claims.clearance, 'L2');
      assert.equal(v.claims.name, undefined);
    } finally {
      f3.close();
    }
  });
});
