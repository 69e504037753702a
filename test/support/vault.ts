/** Helpers for the vault tests: configs, SoftHSM tokens in temp dirs, a vault over a temp store. */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { stringify } from 'yaml';
import { parseConfig, type LoadedConfig } from '../../src/config/index.ts';
import type { Store } from '../../src/store/index.ts';
import { openStoreFor, storeConfigFor } from './store.ts';
import { openVault, type Vault } from '../../src/vault/index.ts';
import { tmpDir, testEnv } from './harness.ts';

export const SOFTHSM_LIB = '/usr/lib/softhsm/libsofthsm2.so';
export const HSM_PIN = '246810';

/** A config in `dir`; its store is the engine under test (PostgreSQL: the directory's schema) unless `extra.store` says otherwise. */
export function loadedFor(dir: string, vault: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): LoadedConfig {
  const file = path.join(dir, 'sekisho.yaml');
  const cfg = { listen: { host: '127.0.0.1', port: 0 }, data_dir: './data', tenant: { id: 'acme', name: 'ACME株式会社' }, vault: { keystore: { kind: 'file', scrypt_log_n: 14 }, poll_ms: 0, ...vault }, ...storeConfigFor(dir), ...extra };
  fs.writeFileSync(file, stringify(cfg));
  return parseConfig(fs.readFileSync(file, 'utf8'), file);
}

export interface TestVault {
  dir: string;
  loaded: LoadedConfig;
  store: Store;
  vault: Vault;
  close(): Promise<void>;
}

/** A vault over the engine under test (PostgreSQL: the directory's schema, so `dir` reopens the same data). */
export async function openTestVault(opts: { dir?: string; vault?: Record<string, unknown>; env?: NodeJS.ProcessEnv } = {}): Promise<TestVault> {
  const dir = opts.dir ?? tmpDir('sekisho-vault-');
  const loaded = loadedFor(dir, opts.vault);
  const store = await openStoreFor(loaded);
  try {
    const vault = await openVault(loaded, { store: store.vault, env: opts.env ?? testEnv() });
    return {
      dir,
      loaded,
      store,
      vault,
      async close() {
        await vault.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}

/** A SoftHSM token in its own directory; set SOFTHSM2_CONF before the first C_Initialize. */
export function softhsmToken(label = 'sekisho-test'): { conf: string; dir: string } {
  const dir = tmpDir('sekisho-softhsm-');
  fs.mkdirSync(path.join(dir, 'tokens'));
  const conf = path.join(dir, 'softhsm2.conf');
  fs.writeFileSync(conf, `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', HSM_PIN, '--so-pin', '13579246'], { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'ignore' });
  return { conf, dir };
}

export const hasSoftHsm = fs.existsSync(SOFTHSM_LIB);
