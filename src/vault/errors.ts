/**
 * Vault errors: a stable code and a message in Japanese and English. Every failure of the
 * vault is one of these; the gateway refuses to start (or the request fails closed) with it.
 */
export type VaultErrorCode =
  | 'vault_passphrase_missing'
  | 'vault_passphrase_wrong'
  | 'vault_keyfile_corrupt'
  | 'vault_keyfile_io'
  | 'vault_hsm_unavailable'
  | 'vault_hsm_token_missing'
  | 'vault_hsm_login_failed'
  | 'vault_hsm_key_missing'
  | 'vault_hsm_error'
  | 'vault_external_unavailable'
  | 'vault_external_timeout'
  | 'vault_external_refused'
  | 'vault_external_url'
  | 'vault_external_key_missing'
  | 'vault_tampered'
  | 'vault_key_missing'
  | 'vault_key_erased'
  | 'vault_version_unknown'
  | 'vault_version_in_use'
  | 'vault_input_invalid'
  | 'vault_closed';

export class VaultError extends Error {
  constructor(
    readonly code: VaultErrorCode,
    readonly ja: string,
    readonly en: string,
    options?: { cause?: unknown },
  ) {
    super(en, options);
    this.name = 'VaultError';
  }
}

export const tampered = (what: string, whatJa = what) =>
  new VaultError(
    'vault_tampered',
    `${whatJa} の暗号文または関連データが改ざんされているか、別の鍵で暗号化されています (復号を拒否しました)`,
    `${what}: the ciphertext or its associated data was tampered with, or it was sealed under another key (decryption refused)`,
  );

export const invalidInput = (en: string, ja: string) => new VaultError('vault_input_invalid', ja, en);
