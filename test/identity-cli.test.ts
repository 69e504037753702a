import crypto from 'node:crypto';
/**
 * The identity commands as people run them: `credential issue` prints an offer, `login`
 * redeems and presents it and prints a session token, the OpenAI client uses the token,
 * `credential revoke` ends it; `policy test|explain`; `identity did|rotate-key`; the DID
 * document keeps a rotated key until its credentials expire.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { parse, stringify } from 'yaml';
import { startHarness, mocks, tokyoBackend, tmpDir, runCli, type Harness } from './support/harness.ts';
import type { MockUpstream } from '../src/dev/mock-upstream.ts';
import { KeyRing } from '../src/identity/keys.ts';
import { didDocument } from '../src/identity/did.ts';
import { Wallet, postResponse } from '../src/identity/holder.ts';

const BIN = path.resolve('bin/sekisho.js');

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return runCli(args, { SEKISHO_LANG: 'both', ...env });
}

describe('identity CLI', () => {
  let h: Harness;
  let tokyo: MockUpstream;
  before(async () => {
    [tokyo] = await mocks({ name: 'tokyo', reply: 'ok' });
    h = await startHarness({ backends: [tokyoBackend(tokyo.url)], models: [{ name: 'default', backends: ['tokyo-llm'] }], identity: { status_refresh_s: 1 } });
    // The CLI reaches the running gateway through identity.origin.
    const cfg = parse(fs.readFileSync(h.configFile, 'utf8'));
    cfg.identity = { ...cfg.identity, origin: h.gw.url };
    fs.writeFileSync(h.configFile, stringify(cfg));
  });
  after(async () => {
    await h.close();
    await tokyo.close();
  });

  test('credential issue → login --offer → OpenAI API → credential revoke', async () => {
    const issued = await run(['credential', 'issue', '--config', h.configFile, '--name', '鈴木 次郎', '--employee-id', 'E3001', '--department', '法務部', '--clearance', 'L2', '--training', 'ai-security-basic:2026-10-01', '--json']);
    assert.equal(issued.code, 0, issued.err);
    const { offer_uri, credential_id } = JSON.parse(issued.out);
    assert.match(offer_uri, /^openid-credential-offer:\/\//);
    const wallet = path.join(tmpDir(), 'wallet.json');
    const login = await run(['login', '--offer', offer_uri, '--wallet', wallet]);
    assert.equal(login.code, 0, login.err);
    const token = login.out.trim().split('\n').at(-1)!;
    assert.match(token, /^sks_/);
    assert.equal(fs.statSync(wallet).mode & 0o777, 0o600, 'the holder key file is owner-only');
    const ai = h.client(token, { defaultHeaders: { 'x-sekisho-level': 'L2' } });
    const r = await ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    assert.equal(r.response.headers.get('x-sekisho-level'), 'L2');
    // A second login with the kept wallet presents again without an offer.
    const again = await run(['login', '--gateway', h.gw.url, '--wallet', wallet]);
    assert.equal(again.code, 0, again.err);
    const list = await run(['credential', 'list', '--config', h.configFile, '--json']);
    assert.equal(JSON.parse(list.out).find((c: any) => c.id === credential_id).claims.name, '鈴木 次郎');
    const revoked = await run(['credential', 'revoke', 'E3001', '--config', h.configFile]);
    assert.equal(revoked.code, 0, revoked.err);
    await h.gw.core.identity!.sweep();
    await assert.rejects(ai.chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'x' }] }), (e: any) => e.status === 401 && e.error.sekisho.code === 'session_revoked');
    const denied = await run(['login', '--gateway', h.gw.url, '--wallet', wallet]);
    assert.equal(denied.code, 1);
    assert.match(denied.err, /revoked/);
    assert.match(denied.err, /失効/);
  });

  test('login --qr: a wallet app presents the request shown as a QR code; the CLI picks up the session', async () => {
    const issued = await run(['credential', 'issue', '--config', h.configFile, '--name', 'Q', '--employee-id', 'E3002', '--clearance', 'L1', '--json']);
    assert.equal(issued.code, 0, issued.err);
    const phone = await Wallet.ephemeral();
    await phone.obtain(JSON.parse(issued.out).offer_uri);
    const child = spawn(process.execPath, [BIN, 'login', '--gateway', h.gw.url, '--qr', '--wallet', path.join(tmpDir(), 'w.json')], { env: { ...process.env, SEKISHO_LANG: 'en' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    const uri = await new Promise<string>((resolve) => {
      child.stderr.on('data', (d) => {
        err += d;
        const m = /^openid4vp:\/\/\S+$/m.exec(err);
        if (m) resolve(m[0]);
      });
    });
    // The wallet app reads the request by value from the QR code's URI.
    const q = new URL(uri).searchParams;
    const request = {
      client_id: q.get('client_id'),
      nonce: q.get('nonce'),
      state: q.get('state'),
      response_uri: q.get('response_uri'),
      response_mode: q.get('response_mode'),
      dcql_query: JSON.parse(q.get('dcql_query')!),
      client_metadata: JSON.parse(q.get('client_metadata')!),
    };
    const { vp_token, state, response } = await phone.presentation(request);
    await postResponse(String(request.response_uri), vp_token, state, response);
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 0, err);
    assert.match(out.trim(), /^sks_/);
  });

  test('credential issue refuses bad claims, in ja and en', async () => {
    const r = await run(['credential', 'issue', '--config', h.configFile, '--name', 'x', '--employee-id', 'E9', '--clearance', 'L9']);
    assert.equal(r.code, 2);
    assert.match(r.err, /clearance/);
  });

  test('policy test runs every pack\'s examples; policy explain names the training', async () => {
    const t = await run(['policy', 'test', '--all']);
    assert.equal(t.code, 0, t.out + t.err);
    assert.match(t.out, /all examples pass/);
    const e = await run(['policy', 'explain', '--config', h.configFile, '--level', 'L2', '--clearance', 'L3', '--model', 'default']);
    assert.equal(e.code, 0, e.err);
    assert.match(e.out, /ai-security-basic/);
    assert.match(e.out, /研修/);
    const ok = await run(['policy', 'explain', '--config', h.configFile, '--level', 'L2', '--clearance', 'L3', '--training', 'ai-security-basic', '--model', 'default'], { SEKISHO_LANG: 'en' });
    assert.match(ok.out, /decision: allow/);
    assert.match(ok.out, /✓ tokyo-llm/);
  });

  test('identity did prints did:web and did:jwk; rotate-key keeps the old key published until its credentials expire', async () => {
    const d = await run(['identity', 'did', '--config', h.configFile]);
    assert.equal(d.code, 0, d.err);
    assert.match(d.out, /^did:web:127\.0\.0\.1%3A\d+\ndid:jwk:ey/);
    const dir = tmpDir();
    const now = new Date('2026-12-01T00:00:00Z');
    const sealing = crypto.randomBytes(32);
    const ring = await KeyRing.open(dir, sealing, now);
    const old = ring.signer('ES256').kid;
    const r = await ring.rotate('ES256', '2027-01-01T00:00:00.000Z', now);
    assert.equal(r.retired, old);
    const doc = didDocument('did:web:x', ring.published(now));
    assert.ok(doc.verificationMethod.some((v) => v.id === `did:web:x#${old}`), 'old key still published');
    assert.ok(doc.verificationMethod.some((v) => v.id === `did:web:x#${r.active}`));
    assert.equal(ring.publicKey(old, new Date('2027-01-02T00:00:00Z')), undefined, 'withdrawn after its last credential expired');
    const reopened = await KeyRing.open(dir, sealing, now);
    await assert.rejects(KeyRing.open(dir, crypto.randomBytes(32), now), 'another sealing key cannot open the signing keys');
    assert.equal(reopened.signer('ES256').kid, r.active);
    const file = path.join(dir, 'keys', 'identity.json');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')).keys;
    assert.ok(stored.every((k: any) => !('private_jwk' in k) && !JSON.stringify(k).includes('"d"')), 'private keys are sealed at rest');
    assert.equal(stored.find((k: any) => k.kid === old).private_sealed, undefined, 'the retired private key is destroyed');
    assert.equal(stored.filter((k: any) => k.private_sealed).length, 2);
  });
});
