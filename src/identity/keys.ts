/**
 * The tenant's signing keys: ES256 (the HAIP minimum) and Ed25519 (JOSE alg "EdDSA").
 *
 * This is the ONE module that knows where signing keys live. The private JWKs are kept in
 * `<data_dir>/keys/identity.json` (mode 0600, directory 0700), each sealed with AES-256-GCM
 * under a key derived (HKDF-SHA-256) from the tenant root key of src/vault. With the HYOK
 * vault, `sealingKey()` becomes `vault.secretFor('identity-signing')`; nothing else changes.
 *
 * Rotation: `rotate()` makes a fresh key active and retires the old one, which stays
 * published (DID document, verification) until every credential it signed has expired.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from 'jose';

/** The vault purpose whose secret seals the signing keys at rest (`vault.secretFor`). */
export const SEALING_PURPOSE = 'identity-signing';

function seal(key: Buffer, jwk: JWK, kid: string): string {
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(kid));
  const ct = Buffer.concat([c.update(JSON.stringify(jwk)), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64url');
}

function unseal(key: Buffer, sealed: string, kid: string): JWK {
  const b = Buffer.from(sealed, 'base64url');
  const d = crypto.createDecipheriv('aes-256-gcm', key, b.subarray(0, 12));
  d.setAAD(Buffer.from(kid));
  d.setAuthTag(b.subarray(12, 28));
  return JSON.parse(Buffer.concat([d.update(b.subarray(28)), d.final()]).toString('utf8')) as JWK;
}

export type SigningAlg = 'ES256' | 'EdDSA';
export const SIGNING_ALGS: readonly SigningAlg[] = ['ES256', 'EdDSA'];

export interface StoredKey {
  kid: string;
  alg: SigningAlg;
  created_at: string;
  /** Set when a newer key of the same algorithm took over. */
  retired_at?: string;
  /** The public key is published until this time (the last credential it signed expires). */
  publish_until?: string;
  public_jwk: JWK;
  /** The private JWK; in memory only — on disk it is `private_sealed`. */
  private_jwk?: JWK;
  private_sealed?: string;
}

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  publicJwk: JWK;
  privateKey: CryptoKey;
}

export interface PublicKeyEntry {
  kid: string;
  alg: SigningAlg;
  publicJwk: JWK;
  publishUntil?: string;
}

async function newKey(alg: SigningAlg, now: Date): Promise<StoredKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true });
  const public_jwk = await exportJWK(publicKey);
  const private_jwk = await exportJWK(privateKey);
  const kid = crypto.createHash('sha256').update(JSON.stringify(public_jwk)).digest('base64url').slice(0, 22);
  return { kid, alg, created_at: now.toISOString(), public_jwk: { ...public_jwk, kid, alg, use: 'sig' }, private_jwk: { ...private_jwk, kid, alg } };
}

export class KeyRing {
  private active = new Map<SigningAlg, SigningKey>();

  private constructor(
    private readonly file: string | null,
    private keys: StoredKey[],
    private readonly sealKey: Buffer | null = null,
  ) {}

  /** Opens (creating on first use) the key file under `<dataDir>/keys/`. */
  static async open(dataDir: string, sealingKey: Buffer, now = new Date()): Promise<KeyRing> {
    const dir = path.join(dataDir, 'keys');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, 'identity.json');
    if (sealingKey.length !== 32) throw new Error('identity: the sealing key must be 32 bytes');
    const sk = sealingKey;
    let keys: StoredKey[] = [];
    try {
      keys = JSON.parse(fs.readFileSync(file, 'utf8')).keys as StoredKey[];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const k of keys) {
      if (k.private_sealed && !k.private_jwk) {
        try {
          k.private_jwk = unseal(sk, k.private_sealed, k.kid);
        } catch {
          throw new Error(`${file}: the signing key ${k.kid} cannot be unsealed with this tenant's root key / 署名鍵を復号できません`);
        }
      }
    }
    const ring = new KeyRing(file, keys, sk);
    let changed = false;
    for (const alg of SIGNING_ALGS) {
      if (!keys.some((k) => k.alg === alg && !k.retired_at)) {
        keys.push(await newKey(alg, now));
        changed = true;
      }
    }
    if (changed) ring.save();
    await ring.load();
    return ring;
  }

  /** An in-memory ring (tests, benchmarks). */
  static async ephemeral(now = new Date()): Promise<KeyRing> {
    const ring = new KeyRing(null, [await newKey('ES256', now), await newKey('EdDSA', now)]);
    await ring.load();
    return ring;
  }

  private save(): void {
    if (!this.file || !this.sealKey) return;
    const sk = this.sealKey;
    const onDisk = this.keys.map(({ private_jwk, ...k }) => ({ ...k, ...(private_jwk ? { private_sealed: k.private_sealed ?? seal(sk, private_jwk, k.kid) } : {}) }));
    for (const k of this.keys) k.private_sealed ??= onDisk.find((d) => d.kid === k.kid)!.private_sealed;
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ keys: onDisk }, null, 2) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }

  private async load(): Promise<void> {
    this.active.clear();
    for (const k of this.keys) {
      if (k.retired_at) continue;
      this.active.set(k.alg, { kid: k.kid, alg: k.alg, publicJwk: k.public_jwk, privateKey: (await importJWK(k.private_jwk!, k.alg)) as CryptoKey });
    }
  }

  /** The key that signs new credentials with `alg`. */
  signer(alg: SigningAlg = 'ES256'): SigningKey {
    const k = this.active.get(alg);
    if (!k) throw new Error(`no active ${alg} signing key`);
    return k;
  }

  /** Keys that verify: the active ones and retired ones still within their publication period. */
  published(now = new Date()): PublicKeyEntry[] {
    const t = now.toISOString();
    return this.keys
      .filter((k) => !k.retired_at || (k.publish_until !== undefined && k.publish_until > t))
      .map((k) => ({ kid: k.kid, alg: k.alg, publicJwk: k.public_jwk, ...(k.publish_until ? { publishUntil: k.publish_until } : {}) }));
  }

  publicKey(kid: string, now = new Date()): PublicKeyEntry | undefined {
    return this.published(now).find((k) => k.kid === kid);
  }

  /**
   * Replaces the active key of `alg`. The old key stays published until `lastExpiry` (the
   * latest expiry of a credential it signed); without one it is withdrawn at once.
   */
  async rotate(alg: SigningAlg, lastExpiry: string | undefined, now = new Date()): Promise<{ retired: string; active: string }> {
    const old = this.keys.find((k) => k.alg === alg && !k.retired_at);
    const fresh = await newKey(alg, now);
    if (old) {
      old.retired_at = now.toISOString();
      old.publish_until = lastExpiry && lastExpiry > old.retired_at ? lastExpiry : old.retired_at;
      // A retired key never signs again: its private half is destroyed.
      delete old.private_jwk;
      delete old.private_sealed;
    }
    // Keys past their publication period are dropped for good.
    const t = now.toISOString();
    this.keys = this.keys.filter((k) => !k.retired_at || (k.publish_until ?? '') > t || k === old);
    this.keys.push(fresh);
    this.save();
    await this.load();
    return { retired: old?.kid ?? '', active: fresh.kid };
  }
}
