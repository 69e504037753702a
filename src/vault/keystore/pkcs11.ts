/**
 * `pkcs11` keystore: KEKs are AES-256 keys generated inside a PKCS#11 token (an HSM; SoftHSM
 * in tests) as sensitive, non-extractable token objects labelled `<key_label>-v<N>`.
 * Encryption and decryption run inside the token (CKM_AES_GCM); the KEK never leaves it.
 * Sealed form: iv (12) | ciphertext | tag (16).
 */
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { VaultError, tampered } from '../errors.js';
import { IV_BYTES, TAG_BYTES } from '../aead.js';
import type { KeyCallContext, Keystore } from './types.js';

type P11 = typeof import('pkcs11js');
type Module = InstanceType<P11['PKCS11']>;

export interface Pkcs11KeystoreOptions {
  library: string;
  tokenLabel: string;
  pin: string | undefined;
  pinEnv: string;
  keyLabel: string;
}

/** One loaded module per library path, shared and reference-counted (C_Initialize is per process). */
const loaded = new Map<string, { mod: Module; refs: number }>();

function acquire(p11: P11, library: string): Module {
  const l = loaded.get(library);
  if (l) {
    l.refs++;
    return l.mod;
  }
  const mod = new p11.PKCS11();
  try {
    mod.load(library);
  } catch (e) {
    throw new VaultError(
      'vault_hsm_unavailable',
      `PKCS#11 ライブラリ ${library} を読み込めません (HSM が接続されていないか、パスが違います)`,
      `Cannot load the PKCS#11 library ${library} (the HSM is missing or the path is wrong)`,
      { cause: e },
    );
  }
  try {
    mod.C_Initialize();
  } catch (e) {
    if ((e as { code?: number }).code !== p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      throw new VaultError('vault_hsm_unavailable', `PKCS#11 の初期化に失敗しました (${(e as Error).message})`, `PKCS#11 initialization failed (${(e as Error).message})`, { cause: e });
    }
  }
  loaded.set(library, { mod, refs: 1 });
  return mod;
}

function release(library: string): void {
  const l = loaded.get(library);
  if (!l) return;
  if (--l.refs > 0) return;
  loaded.delete(library);
  try {
    l.mod.C_Finalize();
  } catch {
    /* already finalized */
  }
  try {
    l.mod.close();
  } catch {
    /* ignore */
  }
}

export class Pkcs11Keystore implements Keystore {
  readonly kind = 'pkcs11' as const;
  private readonly handles = new Map<number, Buffer>();
  private closed = false;

  private constructor(
    private readonly p11: P11,
    private readonly mod: Module,
    private readonly session: Buffer,
    private readonly opts: Pkcs11KeystoreOptions,
    private readonly slotDescription: string,
  ) {}

  static async open(opts: Pkcs11KeystoreOptions): Promise<Pkcs11Keystore> {
    let p11: P11;
    try {
      p11 = createRequire(import.meta.url)('pkcs11js') as P11;
    } catch (e) {
      throw new VaultError('vault_hsm_unavailable', 'pkcs11js がインストールされていません', 'pkcs11js is not installed', { cause: e });
    }
    if (!opts.pin) {
      throw new VaultError('vault_hsm_login_failed', `HSM の PIN がありません。環境変数 ${opts.pinEnv} に設定してください`, `No HSM PIN: set the environment variable ${opts.pinEnv}`);
    }
    const mod = acquire(p11, opts.library);
    let session: Buffer | undefined;
    try {
      const slot = mod.C_GetSlotList(true).find((s) => mod.C_GetTokenInfo(s).label.trim() === opts.tokenLabel);
      if (!slot) {
        throw new VaultError('vault_hsm_token_missing', `ラベル ${opts.tokenLabel} のトークンが HSM にありません`, `No token labelled ${opts.tokenLabel} in the HSM`);
      }
      const info = mod.C_GetTokenInfo(slot);
      if (info.flags & p11.CKF_USER_PIN_LOCKED) {
        throw new VaultError('vault_hsm_login_failed', `トークン ${opts.tokenLabel} の PIN がロックされています。HSM の管理者に連絡してください`, `The PIN of token ${opts.tokenLabel} is locked; ask the HSM administrator`);
      }
      session = mod.C_OpenSession(slot, p11.CKF_SERIAL_SESSION | p11.CKF_RW_SESSION);
      try {
        mod.C_Login(session, p11.CKU_USER, opts.pin);
      } catch (e) {
        const code = (e as { code?: number }).code;
        if (code === p11.CKR_USER_ALREADY_LOGGED_IN) {
          /* another keystore in this process logged in: the login is per token */
        } else if (code === p11.CKR_PIN_LOCKED) {
          throw new VaultError('vault_hsm_login_failed', `トークン ${opts.tokenLabel} の PIN がロックされています。HSM の管理者に連絡してください`, `The PIN of token ${opts.tokenLabel} is locked; ask the HSM administrator`);
        } else if (code === p11.CKR_PIN_INCORRECT || code === p11.CKR_PIN_INVALID || code === p11.CKR_PIN_LEN_RANGE) {
          throw new VaultError('vault_hsm_login_failed', `トークン ${opts.tokenLabel} の PIN が違います`, `Wrong PIN for token ${opts.tokenLabel}`);
        } else {
          throw new VaultError('vault_hsm_login_failed', `トークン ${opts.tokenLabel} にログインできません (${(e as Error).message})`, `Cannot log in to token ${opts.tokenLabel} (${(e as Error).message})`);
        }
      }
      const ks = new Pkcs11Keystore(p11, mod, session, opts, `${info.manufacturerID.trim()} ${info.model.trim()} serial ${info.serialNumber.trim()}`);
      ks.scan();
      return ks;
    } catch (e) {
      if (session) {
        try {
          mod.C_CloseSession(session);
        } catch {
          /* ignore */
        }
      }
      release(opts.library);
      if (e instanceof VaultError) throw e;
      throw new VaultError('vault_hsm_error', `HSM の操作に失敗しました (${(e as Error).message})`, `HSM operation failed (${(e as Error).message})`, { cause: e });
    }
  }

  /** Finds the KEK objects by label. */
  private scan(): void {
    const { mod, p11, session } = this;
    mod.C_FindObjectsInit(session, [
      { type: p11.CKA_CLASS, value: p11.CKO_SECRET_KEY },
      { type: p11.CKA_KEY_TYPE, value: p11.CKK_AES },
    ]);
    const found: Buffer[] = [];
    for (let batch = mod.C_FindObjects(session, 64); batch.length > 0; batch = mod.C_FindObjects(session, 64)) found.push(...batch);
    mod.C_FindObjectsFinal(session);
    const re = new RegExp(`^${this.opts.keyLabel.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-v(\\d{1,9})$`);
    this.handles.clear();
    for (const h of found) {
      const label = mod.C_GetAttributeValue(session, h, [{ type: p11.CKA_LABEL }])[0]?.value?.toString('utf8') ?? '';
      const m = re.exec(label);
      if (m) this.handles.set(Number(m[1]), h);
    }
  }

  async versions(): Promise<number[]> {
    return [...this.handles.keys()].sort((a, b) => a - b);
  }

  async createVersion(version: number): Promise<void> {
    if (this.handles.has(version)) return;
    const { mod, p11, session } = this;
    const h = this.call(() =>
      mod.C_GenerateKey(session, { mechanism: p11.CKM_AES_KEY_GEN }, [
        { type: p11.CKA_CLASS, value: p11.CKO_SECRET_KEY },
        { type: p11.CKA_KEY_TYPE, value: p11.CKK_AES },
        { type: p11.CKA_VALUE_LEN, value: 32 },
        { type: p11.CKA_TOKEN, value: true },
        { type: p11.CKA_PRIVATE, value: true },
        { type: p11.CKA_SENSITIVE, value: true },
        { type: p11.CKA_EXTRACTABLE, value: false },
        { type: p11.CKA_ENCRYPT, value: true },
        { type: p11.CKA_DECRYPT, value: true },
        { type: p11.CKA_WRAP, value: false },
        { type: p11.CKA_UNWRAP, value: false },
        { type: p11.CKA_LABEL, value: `${this.opts.keyLabel}-v${version}` },
      ]),
    );
    this.handles.set(version, h);
  }

  async encrypt(version: number, plaintext: Buffer, aad: Buffer, _ctx: KeyCallContext): Promise<Buffer> {
    const h = this.handle(version);
    const iv = crypto.randomBytes(IV_BYTES);
    const ct = this.call(() => {
      this.mod.C_EncryptInit(this.session, this.gcm(iv, aad), h);
      return this.mod.C_Encrypt(this.session, plaintext, Buffer.alloc(plaintext.length + TAG_BYTES + 16));
    });
    return Buffer.concat([iv, ct]);
  }

  async decrypt(version: number, ciphertext: Buffer, aad: Buffer, _ctx: KeyCallContext): Promise<Buffer> {
    const h = this.handle(version);
    if (ciphertext.length < IV_BYTES + TAG_BYTES) throw tampered(`tenant key v${version}`, `テナント鍵 v${version}`);
    try {
      this.mod.C_DecryptInit(this.session, this.gcm(ciphertext.subarray(0, IV_BYTES), aad), h);
      return Buffer.from(this.mod.C_Decrypt(this.session, ciphertext.subarray(IV_BYTES), Buffer.alloc(ciphertext.length)));
    } catch (e) {
      const code = (e as { code?: number }).code;
      if (code === this.p11.CKR_SESSION_HANDLE_INVALID || code === this.p11.CKR_DEVICE_REMOVED || code === this.p11.CKR_TOKEN_NOT_PRESENT || code === this.p11.CKR_USER_NOT_LOGGED_IN) {
        throw new VaultError('vault_hsm_unavailable', `HSM が使えません (${(e as Error).message})`, `The HSM is not available (${(e as Error).message})`, { cause: e });
      }
      // A failed tag check (SoftHSM answers CKR_GENERAL_ERROR or CKR_ENCRYPTED_DATA_INVALID).
      throw tampered(`tenant key v${version}`, `テナント鍵 v${version}`);
    }
  }

  async destroyVersion(version: number): Promise<void> {
    const h = this.handles.get(version);
    if (!h) return;
    this.call(() => this.mod.C_DestroyObject(this.session, h));
    this.handles.delete(version);
  }

  async health(): Promise<void> {
    this.call(() => this.mod.C_GetSessionInfo(this.session));
  }

  describe(): Record<string, string | number | boolean> {
    return { kind: 'pkcs11', library: this.opts.library, token: this.opts.tokenLabel, device: this.slotDescription, key_label: this.opts.keyLabel, extractable: false };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.mod.C_CloseSession(this.session);
    } catch {
      /* ignore */
    }
    release(this.opts.library);
  }

  private gcm(iv: Buffer, aad: Buffer) {
    return { mechanism: this.p11.CKM_AES_GCM, parameter: { type: this.p11.CK_PARAMS_GCM, iv, ivBits: IV_BYTES * 8, aad, tagBits: TAG_BYTES * 8 } };
  }

  private handle(version: number): Buffer {
    if (this.closed) throw new VaultError('vault_closed', 'HSM のセッションは閉じられています', 'The HSM session is closed');
    if (!this.handles.has(version)) this.call(() => this.scan());
    const h = this.handles.get(version);
    if (!h) {
      throw new VaultError(
        'vault_hsm_key_missing',
        `HSM に鍵 ${this.opts.keyLabel}-v${version} がありません`,
        `The HSM holds no key ${this.opts.keyLabel}-v${version}`,
      );
    }
    return h;
  }

  private call<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw new VaultError('vault_hsm_error', `HSM の操作に失敗しました (${(e as Error).message})`, `HSM operation failed (${(e as Error).message})`, { cause: e });
    }
  }
}
