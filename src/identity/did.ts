/**
 * The tenant's decentralized identifiers.
 *  - did:web (W3C did:web method): `did:web:<host>[%3A<port>][:<path>]`, its document served at
 *    `<origin>/.well-known/did.json`. The tenant's credentials name it as issuer (`iss`).
 *  - did:jwk: a self-contained identifier for one public key, for portable use (no web server).
 */
import type { JWK } from 'jose';
import type { PublicKeyEntry } from './keys.js';

/** `https://gw.example.jp:8443` → `did:web:gw.example.jp%3A8443`. */
export function didWebFor(origin: string): string {
  const u = new URL(origin);
  const host = u.port ? `${u.hostname}%3A${u.port}` : u.hostname;
  const segs = u.pathname.split('/').filter(Boolean).map(encodeURIComponent);
  return ['did:web', host, ...segs].join(':');
}

export function didJwkFor(jwk: JWK): string {
  const { kty, crv, x, y } = jwk;
  const pub: Record<string, unknown> = { crv, kty, x };
  if (y !== undefined) pub.y = y;
  return `did:jwk:${Buffer.from(JSON.stringify(pub)).toString('base64url')}`;
}

/** Resolves a did:jwk to its public key; undefined when it is not a well-formed did:jwk. */
export function resolveDidJwk(did: string): JWK | undefined {
  if (!did.startsWith('did:jwk:') || did.length > 1024) return undefined;
  try {
    const jwk = JSON.parse(Buffer.from(did.slice(8).split('#')[0]!, 'base64url').toString('utf8')) as JWK;
    if (typeof jwk !== 'object' || jwk === null || typeof jwk.kty !== 'string' || 'd' in jwk) return undefined;
    return jwk;
  } catch {
    return undefined;
  }
}

export interface DidDocument {
  '@context': string[];
  id: string;
  alsoKnownAs?: string[];
  verificationMethod: { id: string; type: 'JsonWebKey'; controller: string; publicKeyJwk: JWK }[];
  authentication: string[];
  assertionMethod: string[];
}

/** The did:web document: every published key (active and retired-but-still-valid). */
export function didDocument(did: string, keys: readonly PublicKeyEntry[]): DidDocument {
  const vm = keys.map((k) => {
    const { kid: _k, use: _u, ...jwk } = k.publicJwk as JWK & { use?: string };
    return { id: `${did}#${k.kid}`, type: 'JsonWebKey' as const, controller: did, publicKeyJwk: { ...jwk, kid: k.kid } };
  });
  return {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/jwk/v1'],
    id: did,
    alsoKnownAs: keys.filter((k) => !k.publishUntil).map((k) => didJwkFor(k.publicJwk)),
    verificationMethod: vm,
    authentication: vm.map((v) => v.id),
    assertionMethod: vm.map((v) => v.id),
  };
}
