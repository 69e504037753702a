/**
 * Bad input (issue #4): every one is refused with a precise reason, and never opens a session.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { identityFixture, type Fixture } from './support/identity.ts';
import { Wallet } from '../src/identity/holder.ts';
import { AuthError } from '../src/identity/errors.ts';
import { addKeyBinding, digestOf, parseSdJwt } from '../src/identity/sdjwt.ts';
import { verifyPresentation } from '../src/identity/credential.ts';
import { signStatusList, StatusListCache } from '../src/identity/status-list.ts';
import { IdentityService, KeyRing, createApiKey } from '../src/identity/index.ts';
import { Identity } from '../src/config/schema.ts';

describe('bad input → 401 with a precise reason, never a session', () => {
  let f: Fixture;
  let wallet: Wallet;
  before(async () => {
    f = await identityFixture({ clock_skew_s: 60 });
    wallet = await Wallet.ephemeral();
  });
  after(() => f.close());

  /** Creates a request, lets `mutate` shape the presentation, posts it. */
  async function present(sdJwt: string, opts: { aud?: string; iat?: number; raw?: (vp: string, req: Record<string, unknown>) => Promise<string> | string } = {}) {
    const { request } = f.svc.verifier.createRequest();
    let { vp_token } = await wallet.presentation(request, sdJwt, { ...(opts.aud ? { aud: opts.aud } : {}), ...(opts.iat !== undefined ? { iat: opts.iat } : {}) });
    if (opts.raw) vp_token = JSON.stringify({ staff: [await opts.raw(JSON.parse(vp_token).staff[0], request)] });
    return f.svc.presentationToSession(vp_token, String(request.state));
  }

  async function refused(p: Promise<unknown>, code: string) {
    const before = f.svc.sessions.size;
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof AuthError, String(e));
      assert.equal(e.code, code, e.en);
      assert.ok(e.ja.length > 0 && e.en.length > 0);
      return true;
    });
    assert.equal(f.svc.sessions.size, before, 'no session was created');
  }

  /** Re-signs a KB-JWT over a modified SD-JWT (the attacker is the holder). */
  async function rebind(sdJwtWithoutKb: string, req: Record<string, unknown>) {
    return addKeyBinding({ sdJwt: sdJwtWithoutKb, holderKey: wallet.holderKey, alg: wallet.alg, aud: String(req.client_id), nonce: String(req.nonce) });
  }

  test('a good presentation opens a session (control)', async () => {
    const { sdJwt } = await f.issue(wallet.publicJwk as never);
    const s = await present(sdJwt);
    assert.match(s.session_token, /^sks_/);
  });

  test('expired credential', async () => {
    const real = f.clock.now;
    f.clock.now = real - 40 * 86_400_000;
    const { sdJwt } = await f.issue(wallet.publicJwk as never, {}, 30);
    f.clock.now = real;
    await refused(present(sdJwt), 'credential_expired');
  });

  test('not-yet-valid credential', async () => {
    const real = f.clock.now;
    f.clock.now = real + 86_400_000;
    const { sdJwt } = await f.issue(wallet.publicJwk as never);
    f.clock.now = real;
    await refused(present(sdJwt), 'credential_not_yet_valid');
  });

  test('clock skew beyond tolerance (key binding made 10 minutes ago)', async () => {
    const { sdJwt } = await f.issue(wallet.publicJwk as never);
    await refused(present(sdJwt, { iat: Math.floor(f.clock.now / 1000) - 600 }), 'clock_skew');
  });

  test('wrong audience', async () => {
    const { sdJwt } = await f.issue(wallet.publicJwk as never);
    await refused(present(sdJwt, { aud: 'redirect_uri:https://evil.example/cb' }), 'wrong_audience');
  });

  test('replayed nonce', async () => {
    const { sdJwt } = await f.issue(wallet.publicJwk as never);
    const { request } = f.svc.verifier.createRequest();
    const { vp_token, state } = await wallet.presentation(request, sdJwt);
    await f.svc.presentationToSession(vp_token, state);
    await refused(f.svc.presentationToSession(vp_token, state), 'nonce_replayed');
  });

  test('a nonce no request was made for', async () => {
    const { sdJwt } = await f.issue(wallet.publicJwk as never);
    const { vp_token } = await wallet.presentation({ client_id: f.svc.verifier.clientId(), nonce: 'made-up', state: 'x', dcql_query: { credentials: [{ id: 'staff', format: 'dc+sd-jwt', meta: { vct_values: ['x'] }, claims: [{ path: ['clearance'] }] }] } }, sdJwt);
    await refused(f.svc.presentationToSession(vp_token, undefined), 'unknown_request');
  });

  test('alg: none on the issuer-signed JWT', async () => {
    const { sdJwt } = await f.issue(wallet.publicJwk as never);
    await refused(
      present(sdJwt, {
        raw: (vp, req) => {
          const p = parseSdJwt(vp);
          const [, payload] = p.jwt.split('.');
          const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'dc+sd-jwt' })).toString('base64url')}.${payload}.`;
          return rebind(`${none.slice(0, -1)}.AA~${p.disclosures.map((d) => d + '~').join('')}`, req);
        },
      }),
      'alg_not_allowed',
    );
  });

  test('algorithm confusion: HS256 keyed with the public key', async () => {
    const { sdJwt } = await f.issue(wallet.publicJwk as never);
    const pub = JSON.stringify(f.svc.keys.signer('ES256').publicJwk);
    await refused(
      present(sdJwt, {
        raw: (vp, req) => {
          const p = parseSdJwt(vp);
          const payload = p.jwt.split('.')[1]!;
          const h = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'dc+sd-jwt', kid: f.svc.keys.signer('ES256').kid })).toString('base64url');
          const sig = crypto.createHmac('sha256', pub).update(`${h}.${payload}`).digest('base64url');
          return rebind(`${h}.${payload}.${sig}~${p.disclosures.map((d) => d + '~').join('')}`, req);
        },
      }),
      'alg_not_allowed',
    );
  });

  test('alg: none on the key-binding JWT', async () => {
    const { sdJwt } = await f.issue(wallet.publicJwk as never);
    await refused(
      present(sdJwt, {
        raw: (vp) => {
          const p = parseSdJwt(vp);
          const [, kbPayload] = p.kbJwt!.split('.');
          return `${p.presented}${Buffer.from(JSON.stringify({ alg: 'none', typ: 'kb+jwt' })).toString('base64url')}.${kbPayload}.AA`;
        },
      }),
      'alg_not_allowed',
    );
  });

  test('tampered disclosure (clearance raised to L4)', async () => {
    const { sdJwt } = await f.issue(wallet.publicJwk as never, { clearance: 'L1' });
    await refused(
      present(sdJwt, {
        raw: (vp, req) => {
          const p = parseSdJwt(vp);
          const ds = p.disclosures.map((d) => {
            const a = JSON.parse(Buffer.from(d, 'base64url').toString());
            return a[1] === 'clearance' ? Buffer.from(JSON.stringify([a[0], 'clearance', 'L4'])).toString('base64url') : d;
          });
          return rebind(`${p.jwt}~${ds.map((d) => d + '~').join('')}`, req);
        },
      }),
      'disclosure_tampered',
    );
  });

  test('tampered presentation after key binding (sd_hash no longer matches)', async () => {
    const { sdJwt } = await f.issue(wallet.publicJwk as never);
    await refused(
      present(sdJwt, {
        raw: (vp) => {
          const p = parseSdJwt(vp);
          return `${p.jwt}~${p.disclosures.slice(1).map((d) => d + '~').join('')}${p.kbJwt}`;
        },
      }),
      'disclosure_tampered',
    );
  });

  test('duplicated disclosure', async () => {
    const { sdJwt } = await f.issue(wallet.publicJwk as never);
    await refused(
      present(sdJwt, {
        raw: (vp, req) => {
          const p = parseSdJwt(vp);
          return rebind(`${p.jwt}~${[...p.disclosures, p.disclosures[0]!].map((d) => d + '~').join('')}`, req);
        },
      }),
      'disclosure_duplicated',
    );
    assert.ok(digestOf('abc'));
  });

  test('unknown issuer', async () => {
    const other = new IdentityService({ store: f.store, claims: f.claims, keys: await KeyRing.ephemeral(), config: Identity.parse({}), origin: 'https://other.example' });
    const row = await f.store.identity.credential((await f.issue(wallet.publicJwk as never)).id)!;
    const foreign = await other.vci.issue(row, wallet.publicJwk as never, Date.now());
    await refused(present(foreign), 'unknown_issuer');
  });

  test('a key that is not published (same issuer id, other key)', async () => {
    const impostor = new IdentityService({ store: f.store, claims: f.claims, keys: await KeyRing.ephemeral(), config: Identity.parse({}), origin: 'https://sekisho.example.jp' });
    const row = await f.store.identity.credential((await f.issue(wallet.publicJwk as never)).id)!;
    await refused(present(await impostor.vci.issue(row, wallet.publicJwk as never, Date.now())), 'unknown_issuer');
  });

  test('no key binding', async () => {
    const { sdJwt } = await f.issue(wallet.publicJwk as never);
    await refused(present(sdJwt, { raw: (vp) => parseSdJwt(vp).presented }), 'key_binding_missing');
  });

  test('key binding by another key than the credential\'s holder', async () => {
    const other = await Wallet.ephemeral();
    const { sdJwt } = await f.issue(wallet.publicJwk as never);
    await refused(
      present(sdJwt, { raw: (vp, req) => addKeyBinding({ sdJwt: parseSdJwt(vp).presented, holderKey: other.holderKey, alg: other.alg, aud: String(req.client_id), nonce: String(req.nonce) }) }),
      'key_binding_invalid',
    );
  });

  test('revoked credential', async () => {
    const { sdJwt, id } = await f.issue(wallet.publicJwk as never);
    await f.store.identity.revokeCredential(id, new Date().toISOString());
    f.clock.now += 120_000; // past the status list's ttl: the verifier refreshes it
    await refused(present(sdJwt, { iat: Math.floor(f.clock.now / 1000) }), 'credential_revoked');
  });

  test('stale status list', async () => {
    const { sdJwt } = await f.issue(wallet.publicJwk as never);
    const key = f.svc.keys.signer('ES256');
    // The only list the verifier can get was signed an hour ago and has expired.
    const old = await signStatusList({ uri: 'https://sekisho.example.jp/status/1', iss: f.svc.did, revoked: [], size: 1 << 17, ttlS: 30, key, now: new Date(f.clock.now - 3600_000) });
    const cache = new StatusListCache(() => ({ fetch: async () => old, key: () => ({ jwk: key.publicJwk, alg: 'ES256' }) }), 60_000);
    const { request } = f.svc.verifier.createRequest();
    const { vp_token } = await wallet.presentation(request, sdJwt, { iat: Math.floor(f.clock.now / 1000) });
    await assert.rejects(
      verifyPresentation(JSON.parse(vp_token).staff[0], { aud: String(request.client_id), nonce: String(request.nonce), nowMs: f.clock.now, skewS: 60, issuer: (i) => f.svc.issuer(i), status: cache }),
      (e: any) => e.code === 'status_list_stale',
    );
  });

  test('a session token that was never issued, and garbage', async () => {
    await assert.rejects(async () => f.svc.authenticate('Bearer sks_' + 'A'.repeat(43)), (e: any) => e.code === 'invalid_credential');
    await assert.rejects(async () => f.svc.authenticate('Bearer sks_short'), (e: any) => e.code === 'invalid_credential');
    await assert.rejects(async () => f.svc.authenticate(undefined), (e: any) => e.code === 'missing_credential');
  });

  test('API keys: the first use reads the store; while cached, the answer (a principal or the refusal) comes without waiting a turn', async () => {
    const { key, row } = await createApiKey(f.store, { name: 'cached' });
    const first = f.svc.authenticate(`Bearer ${key}`);
    assert.ok(first instanceof Promise);
    assert.equal((await first).id, `key:${row.id}`);
    const again = f.svc.authenticate(`Bearer ${key}`);
    assert.ok(!(again instanceof Promise));
    assert.equal(again.id, `key:${row.id}`);
    const unknown = `sk-sekisho-${'B'.repeat(43)}`;
    await assert.rejects(async () => f.svc.authenticate(`Bearer ${unknown}`), (e: any) => e.code === 'invalid_credential');
    assert.throws(() => f.svc.authenticate(`Bearer ${unknown}`), (e: any) => e instanceof AuthError && e.code === 'invalid_credential');
  });

  test('encrypted responses (direct_post.jwt): accepted; a plain answer to an encrypted request or a tampered JWE are refused', async () => {
    const enc = new IdentityService({ store: f.store, claims: f.claims, keys: f.svc.keys, config: Identity.parse({}), origin: 'https://sekisho.example.jp', now: () => f.clock.now });
    const { sdJwt } = await f.issue(wallet.publicJwk as never);
    let { request } = enc.verifier.createRequest();
    assert.equal(request.response_mode, 'direct_post.jwt');
    let p = await wallet.presentation(request, sdJwt, { iat: Math.floor(f.clock.now / 1000) });
    assert.match((await enc.presentationToSession(undefined, undefined, p.response!)).session_token, /^sks_/);
    ({ request } = enc.verifier.createRequest());
    p = await wallet.presentation(request, sdJwt, { iat: Math.floor(f.clock.now / 1000) });
    await assert.rejects(enc.presentationToSession(p.vp_token, p.state), (e: any) => e.code === 'malformed_presentation' && /encrypted/.test(e.en));
    ({ request } = enc.verifier.createRequest());
    p = await wallet.presentation(request, sdJwt, { iat: Math.floor(f.clock.now / 1000) });
    const parts = p.response!.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url') + parts[3]!.slice(11);
    await assert.rejects(enc.presentationToSession(undefined, undefined, parts.join('.')), (e: any) => e.code === 'malformed_presentation');
    await assert.rejects(enc.presentationToSession(undefined, undefined, 'a.b.c.d.e'), (e: any) => e.code === 'malformed_presentation');
    enc.close();
  });

  test('malformed vp_token and oversized presentations', async () => {
    await refused(f.svc.presentationToSession('{"staff":[1]}', undefined), 'malformed_presentation');
    await refused(f.svc.presentationToSession(JSON.stringify({ staff: ['a'.repeat(70_000)] }), undefined), 'malformed_presentation');
    await refused(f.svc.presentationToSession('not json', undefined), 'malformed_presentation');
  });
});
