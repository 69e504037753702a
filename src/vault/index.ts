/**
 * The vault: hold-your-own-key encryption of everything Sekisho stores about requests.
 *
 *   keystore/   file (passphrase-sealed key file) | pkcs11 (HSM) | external (XKS-style service)
 *   vault.ts    key hierarchy: KEK → tenant key → subject keys / secrets → record DEKs
 *   envelope.ts per-record AES-256-GCM envelopes and their associated data
 *   pseudonyms.ts pseudonym maps per conversation, under the subject's key
 *   rotate.ts   rotation, retirement, status
 *   events.ts   key access, erasure and rotation events (→ audit log)
 *
 * `openVault` builds the configured keystore and opens the vault. It throws a VaultError
 * (code + ja/en) when the keystore cannot be used: the gateway then refuses to start.
 */
import fs from 'node:fs';
import path from 'node:path';
import { VaultError } from './errors.js';
import type { LoadedConfig } from '../config/index.js';
import type { VaultStore } from '../store/index.js';
import { FileKeystore } from './keystore/file.js';
import { Pkcs11Keystore } from './keystore/pkcs11.js';
import { ExternalKeystore } from './keystore/external.js';
import type { KeyReason, Keystore } from './keystore/types.js';
import { StoreEvents, fanOut, type VaultEvents } from './events.js';
import { Vault } from './vault.js';

export { Vault } from './vault.js';
export { VaultError, type VaultErrorCode } from './errors.js';
export type { Keystore, KeyReason, KeyCallContext } from './keystore/types.js';
export { StoreEvents, fanOut, type VaultEvents, type KeyAccessEvent, type ErasureEvent, type RotationEvent } from './events.js';
export { rotate, retire, status, pending, type RotateOptions, type RotateResult, type VaultStatus } from './rotate.js';
export { PseudonymMaps } from './pseudonyms.js';
export type { RecordRef } from './envelope.js';

export interface OpenVaultOptions {
  store: VaultStore;
  env?: NodeJS.ProcessEnv;
  /** Ask for the key file passphrase on a terminal when the variable is unset (CLI only). */
  interactive?: boolean;
  /** More event sinks (the audit log); events always land in the store too. */
  events?: VaultEvents;
  onEventError?: (e: Error) => void;
  /** Why the keys are opened (default `startup`). */
  reason?: KeyReason;
  /** Poll for other processes' rotations and erasures (default: the config's poll_ms). */
  pollMs?: number;
}

/** The default key file: `<data_dir>/keys/tenant.keyfile`. */
export function keyFilePath(loaded: LoadedConfig): string {
  const ks = loaded.config.vault.keystore;
  return ks.kind === 'file' && ks.path ? path.resolve(loaded.dir, ks.path) : path.join(loaded.dataDir, 'keys', 'tenant.keyfile');
}

export async function openKeystore(loaded: LoadedConfig, opts: { env?: NodeJS.ProcessEnv; interactive?: boolean; reason?: KeyReason } = {}): Promise<Keystore> {
  const env = opts.env ?? process.env;
  const ks = loaded.config.vault.keystore;
  const tenant = loaded.config.tenant.id;
  switch (ks.kind) {
    case 'file':
      return FileKeystore.open({ file: keyFilePath(loaded), tenant, logN: ks.scrypt_log_n, passphrase: { env, envName: ks.passphrase_env, interactive: opts.interactive ?? false } });
    case 'pkcs11':
      return Pkcs11Keystore.open({ library: path.resolve(loaded.dir, ks.library), tokenLabel: ks.token_label, pin: env[ks.pin_env], pinEnv: ks.pin_env, keyLabel: ks.key_label });
    case 'external':
      return ExternalKeystore.open(
        { url: ks.url, keyIds: ks.key_ids, allowedHosts: ks.allowed_hosts, token: ks.token_env ? env[ks.token_env] : undefined, timeoutMs: ks.timeout_ms },
        { reason: opts.reason ?? 'startup', tenant, purpose: 'tenant-key' },
      );
  }
}

export async function openVault(loaded: LoadedConfig, opts: OpenVaultOptions): Promise<Vault> {
  // Data sealed under a key file that is gone: never create a new, empty one over it.
  if (loaded.config.vault.keystore.kind === 'file' && (await opts.store.tenantKeys()).length > 0 && !fs.existsSync(keyFilePath(loaded))) {
    const file = keyFilePath(loaded);
    throw new VaultError(
      'vault_keyfile_io',
      `鍵ファイル ${file} がありません。保存済みのデータはこの鍵ファイルで暗号化されています。バックアップから戻してください`,
      `The key file ${file} is missing; the stored data is sealed under it. Restore it from a backup`,
    );
  }
  const keystore = await openKeystore(loaded, { ...opts, reason: opts.reason ?? 'startup' });
  const stored = new StoreEvents(opts.store, opts.onEventError);
  try {
    return await Vault.open({
      store: opts.store,
      keystore,
      tenant: loaded.config.tenant.id,
      events: opts.events ? fanOut(stored, opts.events) : stored,
      subjectCacheMs: loaded.config.vault.subject_cache_ms,
      pollMs: opts.pollMs ?? loaded.config.vault.poll_ms,
      ...(opts.reason ? { reason: opts.reason } : {}),
    });
  } catch (e) {
    await stored.flush();
    await keystore.close();
    throw e;
  }
}
