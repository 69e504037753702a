/**
 * AES-256-GCM with node:crypto, and the associated data that binds every ciphertext to
 * where it belongs. Sealed form: iv (12) | tag (16) | ciphertext.
 */
import crypto from 'node:crypto';
import { tampered, invalidInput } from './errors.js';

export const KEY_BYTES = 32;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
export const SEAL_OVERHEAD = IV_BYTES + TAG_BYTES;
/** A sealed 32-byte key. */
export const WRAPPED_KEY_BYTES = KEY_BYTES + SEAL_OVERHEAD;

/**
 * Random bytes from a refilled pool: one getrandom call per 4 KiB instead of one per key or
 * IV (the record stage takes two keys' worth per record).
 */
const POOL = Buffer.alloc(4096);
let poolAt = POOL.length;
export function random(n: number): Buffer {
  if (n > 256) return crypto.randomBytes(n);
  if (poolAt + n > POOL.length) {
    crypto.randomFillSync(POOL);
    poolAt = 0;
  }
  const out = Buffer.allocUnsafe(n);
  POOL.copy(out, 0, poolAt, poolAt + n);
  POOL.fill(0, poolAt, poolAt + n);
  poolAt += n;
  return out;
}

export function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = random(IV_BYTES);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  const out = Buffer.allocUnsafe(SEAL_OVERHEAD + plaintext.length);
  iv.copy(out, 0);
  let n = SEAL_OVERHEAD;
  n += c.update(plaintext).copy(out, n);
  n += c.final().copy(out, n);
  c.getAuthTag().copy(out, IV_BYTES);
  return n === out.length ? out : out.subarray(0, n);
}

/** Seals into `out` at `at` (iv | tag | ciphertext); returns the end offset. One copy of the data. */
export function sealInto(key: Buffer, plaintext: Buffer, aad: Buffer, out: Buffer, at: number): number {
  const iv = random(IV_BYTES);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  iv.copy(out, at);
  let n = at + SEAL_OVERHEAD;
  n += c.update(plaintext).copy(out, n);
  n += c.final().copy(out, n);
  c.getAuthTag().copy(out, at + IV_BYTES);
  return n;
}

/** Opens a sealed buffer; any change to it or to `aad` throws `vault_tampered`. */
export function open(key: Buffer, sealed: Buffer, aad: Buffer, what = 'ciphertext', whatJa = '暗号文'): Buffer {
  if (sealed.length < SEAL_OVERHEAD) throw tampered(what, whatJa);
  try {
    const d = crypto.createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(IV_BYTES, SEAL_OVERHEAD));
    const a = d.update(sealed.subarray(SEAL_OVERHEAD));
    const b = d.final();
    return b.length === 0 ? a : Buffer.concat([a, b]);
  } catch {
    throw tampered(what, whatJa);
  }
}

/**
 * Associated data: a domain label and fields, each length-prefixed (so no two different
 * field lists encode to the same bytes).
 */
export function aad(label: string, ...fields: (string | number | Buffer)[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of [`sekisho/vault/1/${label}`, ...fields]) {
    const b = Buffer.isBuffer(f) ? f : Buffer.from(String(f), 'utf8');
    if (b.length > 0xffff) throw invalidInput('associated data field too long', '関連データの項目が長すぎます');
    const len = Buffer.allocUnsafe(2);
    len.writeUInt16BE(b.length);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}

export function zeroize(...bufs: (Buffer | undefined | null)[]): void {
  for (const b of bufs) b?.fill(0);
}

export function hmac(key: Buffer, ...parts: string[]): Buffer {
  const h = crypto.createHmac('sha256', key);
  for (const p of parts) {
    const b = Buffer.from(p, 'utf8');
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(b.length);
    h.update(len).update(b);
  }
  return h.digest();
}
