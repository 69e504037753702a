/**
 * The pkcs11 keystore against a real SoftHSM token (Debian's softhsm2, which .ci/run
 * installs): KEKs generated in the token as sensitive and non-extractable, encryption in the
 * token, rotation and retirement of token objects, and the faults: library missing, token
 * missing, wrong or missing PIN, tampered wrapped key.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { openTestVault, softhsmToken, hasSoftHsm, SOFTHSM_LIB, HSM_PIN } from './support/vault.ts';
import { rawQuery } from './support/store.ts';
import { testEnv } from './support/harness.ts';
import { rotate, retire, VaultError } from '../src/vault/index.ts';

const code = (c: string) => (e: unknown) => {
  assert.ok(e instanceof VaultError, `expected VaultError ${c}, got ${String(e)}`);
  assert.equal(e.code, c);
  return true;
};

const hsm = (extra: Record<string, unknown> = {}) => ({ keystore: { kind: 'pkcs11', library: SOFTHSM_LIB, token_label: 'sekisho-test', ...extra } });

// CI (SEKISHO_REQUIRE_SOFTHSM=1, set by .ci/run) fails instead of skipping when SoftHSM is missing.
if (!hasSoftHsm && process.env.SEKISHO_REQUIRE_SOFTHSM === '1') {
  test('SoftHSM is installed', () => assert.fail(`${SOFTHSM_LIB} is missing: apt-get install softhsm2`));
}

describe('pkcs11 keystore (SoftHSM)', { skip: hasSoftHsm ? false : 'softhsm2 is not installed (apt-get install softhsm2; .ci/run does)' }, () => {
  let token: { conf: string; dir: string };
  let saved: string | undefined;
  before(() => {
    token = softhsmToken('sekisho-test');
    saved = process.env.SOFTHSM2_CONF;
    process.env.SOFTHSM2_CONF = token.conf;
  });
  after(() => {
    if (saved === undefined) delete process.env.SOFTHSM2_CONF;
    else process.env.SOFTHSM2_CONF = saved;
    fs.rmSync(token.dir, { recursive: true, force: true });
  });
  const env = () => testEnv({ SEKISHO_HSM_PIN: HSM_PIN });

  test('the KEK is generated in the token, sensitive and non-extractable; records round-trip across restarts', async () => {
    const t = await openTestVault({ vault: hsm(), env: env() });
    let dir = t.dir;
    try {
      const row = await t.vault.seal({ id: 'r1', purpose: 'body.request' }, Buffer.from('HSM で守る'), { subject: 'alice' });
      const row2 = await t.vault.seal({ id: 'r2', purpose: 'body.answer' }, Buffer.from('tenant-wrapped'));
      await t.store.vault.putRecords([row, row2]);
      assert.deepEqual(await t.vault.keystore.versions(), [1]);
      assert.equal(t.vault.keystore.describe().extractable, false);
      // Look at the object in the token directly.
      const p11 = createRequire(import.meta.url)('pkcs11js');
      const mod = new p11.PKCS11();
      mod.load(SOFTHSM_LIB);
      try {
        mod.C_Initialize();
      } catch {
        /* already initialized by the keystore */
      }
      const slot = mod.C_GetSlotList(true).find((s: Buffer) => mod.C_GetTokenInfo(s).label.trim() === 'sekisho-test');
      const s = mod.C_OpenSession(slot, p11.CKF_SERIAL_SESSION);
      mod.C_FindObjectsInit(s, [{ type: p11.CKA_LABEL, value: 'sekisho-kek-v1' }]);
      const [h] = mod.C_FindObjects(s, 2);
      mod.C_FindObjectsFinal(s);
      assert.ok(h, 'the KEK object exists in the token');
      const attrs = mod.C_GetAttributeValue(s, h, [{ type: p11.CKA_EXTRACTABLE }, { type: p11.CKA_SENSITIVE }, { type: p11.CKA_TOKEN }]);
      assert.deepEqual(attrs.map((a: { value: Buffer }) => a.value[0]), [0, 1, 1]);
      assert.throws(() => mod.C_GetAttributeValue(s, h, [{ type: p11.CKA_VALUE }]), 'the key value cannot be read');
      mod.C_CloseSession(s);
    } finally {
      await t.close();
    }
    const again = await openTestVault({ dir, vault: hsm(), env: env() });
    try {
      assert.deepEqual((await again.vault.read('r1', 'admin_read')), Buffer.from('HSM で守る'));
      assert.deepEqual((await again.vault.read('r2', 'admin_read')), Buffer.from('tenant-wrapped'));
      // Rotation makes v2 in the token; retiring v1 destroys the token object.
      const r = await rotate(again.vault);
      assert.equal(r.to, 2);
      await retire(again.vault, 1);
      assert.deepEqual(await again.vault.keystore.versions(), [2]);
      assert.deepEqual((await again.vault.read('r2', 'admin_read')), Buffer.from('tenant-wrapped'));
    } finally {
      await again.close();
    }
    const third = await openTestVault({ dir, vault: hsm(), env: env() });
    try {
      assert.equal(third.vault.currentVersion, 2);
      assert.deepEqual((await third.vault.read('r1', 'admin_read')), Buffer.from('HSM で守る'));
    } finally {
      await third.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('HSM missing, token missing, wrong or missing PIN: the vault refuses to open', async () => {
    await assert.rejects(openTestVault({ vault: hsm({ library: '/nonexistent/libpkcs11.so' }), env: env() }), code('vault_hsm_unavailable'));
    await assert.rejects(openTestVault({ vault: hsm({ token_label: 'no-such-token' }), env: env() }), code('vault_hsm_token_missing'));
    await assert.rejects(openTestVault({ vault: hsm(), env: testEnv({ SEKISHO_HSM_PIN: '000000' }) }), (e: any) => {
      code('vault_hsm_login_failed')(e);
      assert.match(e.en, /Wrong PIN/);
      assert.match(e.ja, /PIN が違います/);
      return true;
    });
    const noPin = testEnv();
    delete noPin.SEKISHO_HSM_PIN;
    await assert.rejects(openTestVault({ vault: hsm(), env: noPin }), code('vault_hsm_login_failed'));
  });

  test('a tampered wrapped tenant key is refused by the HSM (GCM tag)', async () => {
    const t = await openTestVault({ vault: hsm({ key_label: 'tamper' }), env: env() });
    const dir = t.dir;
    const wrapped = (await t.store.vault.tenantKeys())[0]!.wrapped!;
    await t.close();
    const bad = Buffer.from(wrapped);
    bad[20]! ^= 1;
    await rawQuery(t.loaded, 'UPDATE vault_tenant_keys SET wrapped = ? WHERE version = 1', [bad]);
    await assert.rejects(openTestVault({ dir, vault: hsm({ key_label: 'tamper' }), env: env() }), code('vault_tampered'));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
