/**
 * `file` keystore: KEKs in a key file sealed with a passphrase. The passphrase goes through
 * scrypt (N = 2^cost, r = 8, p = 1) to a sealing key; each KEK version is sealed under it
 * with AES-256-GCM. A check value (HMAC of a fixed label under the sealing key) tells a
 * wrong passphrase apart from a corrupted file. Writes are atomic (temp file + rename).
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { VaultError } from '../errors.js';
import { aad, open, seal, zeroize, KEY_BYTES } from '../aead.js';
import type { KeyCallContext, Keystore } from './types.js';
import { getPassphrase, type PassphraseSource } from './passphrase.js';

const FORMAT = 'sekisho-keyfile/1';
const MAX_FILE_BYTES = 1024 * 1024;

interface KeyFile {
  format: typeof FORMAT;
  tenant: string;
  kdf: { name: 'scrypt'; log_n: number; r: number; p: number; salt: string };
  check: string;
  keys: { version: number; created_at: string; sealed: string }[];
}

export interface FileKeystoreOptions {
  file: string;
  tenant: string;
  /** scrypt cost as log2(N); 15 by default (about 32 MiB, ~0.1 s). */
  logN: number;
  passphrase: PassphraseSource;
}

const corrupt = (file: string, why: string) =>
  new VaultError('vault_keyfile_corrupt', `鍵ファイル ${file} が壊れています (${why})。バックアップから戻してください`, `The key file ${file} is corrupted (${why}); restore it from a backup`);

export class FileKeystore implements Keystore {
  readonly kind = 'file' as const;
  private readonly keks = new Map<number, Buffer>();

  private constructor(
    private readonly opts: FileKeystoreOptions,
    private doc: KeyFile,
    private sealingKey: Buffer,
  ) {}

  /** Opens the key file, or creates it (with no KEK yet) when it does not exist. */
  static async open(opts: FileKeystoreOptions): Promise<FileKeystore> {
    let text: string | undefined;
    try {
      const st = fs.statSync(opts.file);
      if (st.size > MAX_FILE_BYTES) throw corrupt(opts.file, 'too large');
      text = fs.readFileSync(opts.file, 'utf8');
    } catch (e) {
      if (e instanceof VaultError) throw e;
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new VaultError('vault_keyfile_io', `鍵ファイル ${opts.file} を読めません (${(e as NodeJS.ErrnoException).code})`, `Cannot read the key file ${opts.file} (${(e as NodeJS.ErrnoException).code})`);
      }
    }
    if (text === undefined) {
      const pass = await getPassphrase(opts.passphrase, true);
      const salt = crypto.randomBytes(16);
      const kdf = { name: 'scrypt' as const, log_n: opts.logN, r: 8, p: 1, salt: salt.toString('base64') };
      const key = derive(pass, kdf);
      const doc: KeyFile = { format: FORMAT, tenant: opts.tenant, kdf, check: checkValue(key), keys: [] };
      const ks = new FileKeystore(opts, doc, key);
      ks.write(true);
      return ks;
    }
    const doc = parse(opts.file, text);
    if (doc.tenant !== opts.tenant) {
      throw new VaultError(
        'vault_keyfile_corrupt',
        `鍵ファイル ${opts.file} はテナント ${doc.tenant} のものです (設定は ${opts.tenant})`,
        `The key file ${opts.file} belongs to tenant ${doc.tenant}, not ${opts.tenant}`,
      );
    }
    const pass = await getPassphrase(opts.passphrase, false);
    const key = derive(pass, doc.kdf);
    // parse() checked that `check` holds 32 bytes.
    if (!crypto.timingSafeEqual(Buffer.from(checkValue(key), 'base64'), Buffer.from(doc.check, 'base64'))) {
      zeroize(key);
      throw new VaultError('vault_passphrase_wrong', `鍵ファイル ${opts.file} のパスフレーズが違います`, `Wrong passphrase for the key file ${opts.file}`);
    }
    const ks = new FileKeystore(opts, doc, key);
    for (const k of doc.keys) {
      try {
        ks.keks.set(k.version, open(key, Buffer.from(k.sealed, 'base64'), aad('keyfile', doc.tenant, k.version)));
      } catch {
        throw corrupt(opts.file, `key version ${k.version} does not open`);
      }
    }
    return ks;
  }

  async versions(): Promise<number[]> {
    return [...this.keks.keys()].sort((a, b) => a - b);
  }

  /** Picks up versions another process (`sekisho keys rotate`) added to the file. */
  private reload(): void {
    let doc: KeyFile;
    try {
      doc = parse(this.opts.file, fs.readFileSync(this.opts.file, 'utf8'));
    } catch {
      return;
    }
    if (doc.check !== this.doc.check || doc.kdf.salt !== this.doc.kdf.salt) return;
    for (const k of doc.keys) {
      if (this.keks.has(k.version)) continue;
      try {
        this.keks.set(k.version, open(this.sealingKey, Buffer.from(k.sealed, 'base64'), aad('keyfile', doc.tenant, k.version)));
      } catch {
        throw corrupt(this.opts.file, `key version ${k.version} does not open`);
      }
    }
    this.doc = doc;
  }

  async createVersion(version: number): Promise<void> {
    this.reload();
    if (this.keks.has(version)) return;
    const kek = crypto.randomBytes(KEY_BYTES);
    this.doc.keys.push({ version, created_at: new Date().toISOString(), sealed: seal(this.sealingKey, kek, aad('keyfile', this.doc.tenant, version)).toString('base64') });
    this.write(false);
    this.keks.set(version, kek);
  }

  async encrypt(version: number, plaintext: Buffer, ad: Buffer, _ctx: KeyCallContext): Promise<Buffer> {
    return seal(this.kek(version), plaintext, ad);
  }

  async decrypt(version: number, ciphertext: Buffer, ad: Buffer, _ctx: KeyCallContext): Promise<Buffer> {
    return open(this.kek(version), ciphertext, ad, `tenant key v${version}`, `テナント鍵 v${version}`);
  }

  async destroyVersion(version: number): Promise<void> {
    const k = this.keks.get(version);
    if (!k) return;
    this.doc.keys = this.doc.keys.filter((x) => x.version !== version);
    this.write(false);
    zeroize(k);
    this.keks.delete(version);
  }

  async health(): Promise<void> {}

  describe(): Record<string, string | number | boolean> {
    return { kind: 'file', file: this.opts.file, kdf: `scrypt N=2^${this.doc.kdf.log_n} r=${this.doc.kdf.r} p=${this.doc.kdf.p}`, versions: this.doc.keys.map((k) => k.version).join(',') };
  }

  async close(): Promise<void> {
    for (const k of this.keks.values()) zeroize(k);
    this.keks.clear();
    zeroize(this.sealingKey);
  }

  private kek(version: number): Buffer {
    if (!this.keks.has(version)) this.reload();
    const k = this.keks.get(version);
    if (!k) throw new VaultError('vault_version_unknown', `鍵ファイルに鍵バージョン ${version} がありません`, `The key file holds no key version ${version}`);
    return k;
  }

  private write(exclusive: boolean): void {
    const file = this.opts.file;
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const text = JSON.stringify(this.doc, null, 2) + '\n';
    if (exclusive) {
      // 'wx': never overwrite a key file another process just wrote.
      fs.writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
      return;
    }
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text, { mode: 0o600 });
    const fd = fs.openSync(tmp, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  }
}

function derive(pass: string, kdf: KeyFile['kdf']): Buffer {
  const N = 2 ** kdf.log_n;
  return crypto.scryptSync(pass.normalize('NFC'), Buffer.from(kdf.salt, 'base64'), KEY_BYTES, { N, r: kdf.r, p: kdf.p, maxmem: 256 * N * kdf.r + 1024 * 1024 });
}

function checkValue(key: Buffer): string {
  return crypto.createHmac('sha256', key).update('sekisho-keyfile-check').digest('base64');
}

function parse(file: string, text: string): KeyFile {
  let d: any;
  try {
    d = JSON.parse(text);
  } catch {
    throw corrupt(file, 'not JSON');
  }
  const ok =
    d &&
    d.format === FORMAT &&
    typeof d.tenant === 'string' &&
    d.kdf?.name === 'scrypt' &&
    Number.isInteger(d.kdf.log_n) &&
    d.kdf.log_n >= 10 &&
    d.kdf.log_n <= 22 &&
    Number.isInteger(d.kdf.r) &&
    d.kdf.r >= 1 &&
    d.kdf.r <= 32 &&
    Number.isInteger(d.kdf.p) &&
    d.kdf.p >= 1 &&
    d.kdf.p <= 16 &&
    typeof d.kdf.salt === 'string' &&
    typeof d.check === 'string' &&
    Buffer.from(d.check, 'base64').length === 32 &&
    Array.isArray(d.keys) &&
    d.keys.every((k: any) => Number.isInteger(k?.version) && k.version > 0 && typeof k.sealed === 'string' && typeof k.created_at === 'string');
  if (!ok) throw corrupt(file, 'unexpected content');
  return d as KeyFile;
}
