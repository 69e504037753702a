/**
 * Typed authentication errors: a reason code and messages in Japanese and English.
 * Every refusal of a credential, presentation or session is one of these (HTTP 401).
 */
export type AuthCode =
  | 'missing_credential'
  | 'invalid_credential'
  | 'revoked_credential'
  | 'session_expired'
  | 'session_revoked'
  | 'malformed_presentation'
  | 'alg_not_allowed'
  | 'bad_signature'
  | 'unknown_issuer'
  | 'wrong_type'
  | 'credential_expired'
  | 'credential_not_yet_valid'
  | 'clock_skew'
  | 'wrong_audience'
  | 'nonce_replayed'
  | 'unknown_request'
  | 'disclosure_tampered'
  | 'disclosure_duplicated'
  | 'key_binding_missing'
  | 'key_binding_invalid'
  | 'credential_revoked'
  | 'status_list_stale'
  | 'status_list_invalid'
  | 'dcql_unsatisfied'
  | 'invalid_grant'
  | 'invalid_proof'
  | 'invalid_token'
  | 'not_admin';

export class AuthError extends Error {
  constructor(
    readonly code: AuthCode,
    readonly ja: string,
    readonly en: string,
  ) {
    super(en);
    this.name = 'AuthError';
  }
}

export const authError = (code: AuthCode, ja: string, en: string) => new AuthError(code, ja, en);
