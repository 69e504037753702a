/**
 * The external keystore against the reference XKS-style key service (src/dev/xks-server.ts):
 * request metadata and reason codes on every call, rotation by adding a key id, and the
 * faults: service down, slow (timeout), failing, wrong token, tampered key, URL not allowed.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { openTestVault, loadedFor } from './support/vault.ts';
import { rawQuery } from './support/store.ts';
import { testEnv, tmpDir, closedPortUrl, startHarness } from './support/harness.ts';
import { startXksServer, type XksServer } from '../src/dev/xks-server.ts';
import { rotate, VaultError } from '../src/vault/index.ts';
import { ConfigError } from '../src/config/index.ts';

const code = (c: string) => (e: unknown) => {
  assert.ok(e instanceof VaultError, `expected VaultError ${c}, got ${String(e)}`);
  assert.equal(e.code, c);
  return true;
};

describe('external keystore (XKS-style key service)', () => {
  let xks: XksServer;
  const TOKEN = 'xks-test-token';
  const env = () => testEnv({ XKS_TOKEN: TOKEN });
  const ext = (extra: Record<string, unknown> = {}) => ({ keystore: { kind: 'external', url: xks.url, key_ids: ['kek-1'], allowed_hosts: ['127.0.0.1'], token_env: 'XKS_TOKEN', timeout_ms: 5000, ...extra } });
  before(async () => {
    xks = await startXksServer({ keyIds: ['kek-1', 'kek-2'], token: TOKEN });
  });
  after(async () => {
    await xks.close();
  });

  test('the tenant key is sealed by the service; every call carries request metadata and a reason', async () => {
    xks.calls.length = 0;
    const t = await openTestVault({ vault: ext(), env: env() });
    const dir = t.dir;
    try {
      const row = await t.vault.seal({ id: 'r1', purpose: 'body.request' }, Buffer.from('外部鍵'));
      await t.store.vault.putRecords([row]);
      assert.deepEqual((await t.vault.read('r1', 'admin_read')), Buffer.from('外部鍵'));
      const ops = xks.calls.map((c) => `${c.operation}:${c.reason}`);
      assert.ok(ops.includes('KmsHealthCheck:status'));
      assert.ok(ops.includes('Encrypt:startup'), ops.join(' '));
      assert.ok(ops.includes('Decrypt:startup'));
      // The hot path does not call the service.
      const n = xks.calls.length;
      for (let i = 0; i < 20; i++) (await t.vault.seal({ id: `x${i}`, purpose: 'body.request' }, Buffer.from('y'), { subject: 's' }));
      assert.equal(xks.calls.length, n);
    } finally {
      await t.close();
    }
    // Rotation: v2 needs a second key id in the configuration.
    const again = await openTestVault({ dir, vault: ext(), env: env() });
    await assert.rejects(rotate(again.vault), code('vault_external_key_missing'));
    await again.close();
    xks.calls.length = 0;
    const rotating = await openTestVault({ dir, vault: ext({ key_ids: ['kek-1', 'kek-2'] }), env: env() });
    try {
      const r = await rotate(rotating.vault);
      assert.equal(r.to, 2);
      assert.ok(xks.calls.some((c) => c.operation === 'Encrypt' && c.reason === 'rotation' && c.keyId === 'kek-2'));
      assert.deepEqual((await rotating.vault.read('r1', 'admin_read')), Buffer.from('外部鍵'));
    } finally {
      await rotating.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('service down, slow, failing or refusing the token: the vault does not open', async () => {
    await assert.rejects(openTestVault({ vault: ext({ url: await closedPortUrl() }), env: env() }), code('vault_external_unavailable'));
    // The service answers only after 3 s: the vault gives up at its own deadline (the timeout error, not the
    // late answer, proves it; no wall-clock assertion).
    xks.delayMs = 3000;
    await assert.rejects(openTestVault({ vault: ext({ timeout_ms: 150 }), env: env() }), (e: any) => {
      code('vault_external_timeout')(e);
      assert.match(e.en, /150 ms/);
      return true;
    });
    xks.delayMs = 0;
    xks.failing = true;
    await assert.rejects(openTestVault({ vault: ext(), env: env() }), code('vault_external_unavailable'));
    xks.failing = false;
    await assert.rejects(openTestVault({ vault: ext(), env: testEnv({ XKS_TOKEN: 'wrong' }) }), code('vault_external_refused'));
    await assert.rejects(openTestVault({ vault: ext({ key_ids: ['no-such-key'] }), env: env() }), code('vault_external_key_missing'));
  });

  test('the gateway refuses to start when the key service is down', async () => {
    await assert.rejects(startHarness({ vault: ext({ url: await closedPortUrl() }) }), code('vault_external_unavailable'));
  });

  test('a tampered wrapped tenant key is refused (InvalidCiphertextException)', async () => {
    const t = await openTestVault({ vault: ext(), env: env() });
    const dir = t.dir;
    const wrapped = (await t.store.vault.tenantKeys())[0]!.wrapped!;
    await t.close();
    const bad = Buffer.from(wrapped);
    bad[bad.length - 1]! ^= 1;
    await rawQuery(t.loaded, 'UPDATE vault_tenant_keys SET wrapped = ? WHERE version = 1', [bad]);
    await assert.rejects(openTestVault({ dir, vault: ext(), env: env() }), code('vault_tampered'));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the URL must be http(s) to an allowed host (no SSRF through the config)', () => {
    const dir = tmpDir();
    try {
      for (const [url, hosts, re] of [
        ['http://169.254.169.254/latest', ['127.0.0.1'], /allowed_hosts/],
        ['http://kms.example.jp', ['kms.example.jp'], /https/],
        ['file:///etc/passwd', ['127.0.0.1'], /http/],
      ] as const) {
        assert.throws(
          () => loadedFor(dir, { keystore: { kind: 'external', url, key_ids: ['k'], allowed_hosts: hosts } }),
          (e: any) => {
            assert.ok(e instanceof ConfigError);
            assert.equal(e.problems[0]!.key, 'vault.keystore.url');
            assert.match(e.problems[0]!.en, re);
            assert.match(e.problems[0]!.en, /sekisho\.yaml:\d+:\d+/);
            return true;
          },
        );
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
