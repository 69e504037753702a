/**
 * A keystore holds the tenant's key-encryption keys (KEKs), one per version, and encrypts
 * and decrypts small secrets (the tenant intermediate keys) with them. Where the keystore
 * allows it, the KEK never leaves it (PKCS#11: non-extractable; external: never sent).
 */
export type KeyReason = 'startup' | 'request' | 'audit_export' | 'erasure' | 'rotation' | 'admin_read' | 'retire' | 'status';

/** Sent with every keystore call (the external key service receives it as request metadata). */
export interface KeyCallContext {
  reason: KeyReason;
  tenant: string;
  /** What the protected secret is for, such as `tenant-key`. */
  purpose: string;
  requestId?: string;
}

export interface Keystore {
  readonly kind: 'file' | 'pkcs11' | 'external';
  /** KEK versions the keystore holds (ascending). */
  versions(): Promise<number[]>;
  /** Creates KEK version `version` (rotation; the first start creates version 1). */
  createVersion(version: number, ctx: KeyCallContext): Promise<void>;
  encrypt(version: number, plaintext: Buffer, aad: Buffer, ctx: KeyCallContext): Promise<Buffer>;
  decrypt(version: number, ciphertext: Buffer, aad: Buffer, ctx: KeyCallContext): Promise<Buffer>;
  /** Destroys a retired KEK version (where the keystore allows it). */
  destroyVersion(version: number, ctx: KeyCallContext): Promise<void>;
  /** Throws a VaultError when the keystore cannot be used now. */
  health(): Promise<void>;
  /** Facts for `sekisho keys status` (never secrets). */
  describe(): Record<string, string | number | boolean>;
  close(): Promise<void>;
}
