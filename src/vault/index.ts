/**
 * Tenant key material on the embedded default: a 256-bit root secret generated on first
 * start under `<data_dir>/keys/`, readable by the owner only. (The HYOK keystores — sealed
 * file, PKCS#11, external key service — replace this in the vault issue.)
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

export interface TenantKeys {
  file: string;
  created: boolean;
  root: Buffer;
}

export function ensureTenantKeys(dataDir: string): TenantKeys {
  const dir = path.join(dataDir, 'keys');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'tenant-root.key');
  try {
    const root = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
    if (root.length !== 32) throw new Error(`${file}: expected 32 bytes of base64 key material, found ${root.length} / 鍵ファイルの内容が不正です`);
    return { file, created: false, root };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const root = crypto.randomBytes(32);
  // 'wx': never overwrite a key another process just wrote.
  fs.writeFileSync(file, root.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  return { file, created: true, root };
}
