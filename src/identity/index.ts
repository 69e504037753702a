/**
 * The authenticate stage: a bearer credential → a principal with attributes.
 *  - API keys (services): apikeys.ts
 *  - credential sessions (people): the tenant issues SD-JWT VCs over OpenID4VCI (vci.ts), the
 *    holder presents them over OpenID4VP (vp.ts, dcql.ts, credential.ts, sdjwt.ts), and gets a
 *    short-lived session token (sessions.ts), revoked through the status list (status-list.ts).
 * Keys: keys.ts (the one place that knows where signing keys live); DIDs: did.ts.
 */
export { AuthError, type AuthCode } from './errors.js';
export { type Principal, type PrincipalAttrs, attrsOf, attrHashOf, withAttrs, personFromClaims } from './principal.js';
export { createApiKey, ApiKeyAuthenticator, ApiKeyAuthenticator as Authenticator, type NewApiKey } from './apikeys.js';
export { KeyRing, type SigningAlg } from './keys.js';
export { IdentityService, type IdentityOptions } from './service.js';
export { createOffer, offerFor, validateClaims, parseOfferUri, type StaffClaims, type Training } from './vci.js';
export { didWebFor, didJwkFor, resolveDidJwk, didDocument } from './did.js';
export { vaultClaims, type ClaimsVault } from './claims-vault.js';
export { isAdmin, requireAdmin, NOT_ADMIN, type AdminRules } from './admin.js';
