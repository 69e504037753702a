import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type LoadedConfig } from '../config/index.js';
import { openStore, type Store } from '../store/index.js';
import { openVault, type KeyReason, type Vault } from '../vault/index.js';
import { CliError } from './i18n.js';

export const EXAMPLE_CONFIG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../sekisho.example.yaml');

/**
 * The configuration file: --config, else $SEKISHO_CONFIG, else ./sekisho.yaml — created
 * from the example on first use so that `npm start` works on a fresh clone.
 */
export function resolveConfig(flag: string | undefined, notice: (s: string) => void): LoadedConfig {
  let file = flag ?? process.env.SEKISHO_CONFIG;
  if (!file) {
    file = path.resolve('sekisho.yaml');
    if (!fs.existsSync(file)) {
      fs.copyFileSync(EXAMPLE_CONFIG, file, fs.constants.COPYFILE_EXCL);
      notice(`設定ファイルがないため、例から ${file} を作成しました\nNo configuration found: created ${file} from the example`);
    }
  } else if (!fs.existsSync(file)) {
    throw new CliError({ ja: `設定ファイル ${file} がありません`, en: `The configuration file ${file} does not exist` });
  }
  return loadConfig(file);
}

/**
 * Runs `fn` with the tenant's vault open (asking for the passphrase on a terminal when it is
 * not in the environment) and its store; both are closed afterwards. `reason` is recorded
 * with the keystore access.
 */
export async function withVault<T>(loaded: LoadedConfig, reason: KeyReason, fn: (vault: Vault, store: Store) => Promise<T> | T): Promise<T> {
  const store = await openStore(loaded);
  try {
    const vault = await openVault(loaded, { store: store.vault, interactive: true, reason, pollMs: 0 });
    try {
      return await fn(vault, store);
    } finally {
      await vault.close();
    }
  } finally {
    await store.close();
  }
}
