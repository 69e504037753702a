/**
 * The envelope of one record: a fresh AES-256-GCM data key (DEK) per record encrypts the
 * data; the DEK is wrapped by a subject key (so erasing the subject shreds the record) or,
 * for records without a subject, by the tenant key of the current version.
 *
 *   "SKE" 0x01 | key_version u32 (0 when a subject key wraps) | kid_len u8 | kid
 *   | wrapped DEK (iv 12 | tag 16 | 32) | data (iv 12 | tag 16 | ciphertext)
 *
 * Associated data binds the wrapped DEK to (tenant, record id, purpose, key version, kid)
 * and the data to (tenant, record id, purpose): a blob moved to another record, purpose or
 * tenant, or a DEK rewrapped under a claimed version it does not belong to, does not open.
 */
import { aad, open, random, seal, sealInto, zeroize, KEY_BYTES, SEAL_OVERHEAD, WRAPPED_KEY_BYTES } from './aead.js';
import { invalidInput, tampered } from './errors.js';

const MAGIC = Buffer.from([0x53, 0x4b, 0x45, 0x01]);
export const MAX_RECORD_ID = 256;
export const MAX_PURPOSE = 64;

export interface RecordRef {
  /** Unique id of the record (a request id plus a suffix, a conversation hash …). */
  id: string;
  /** What the record is: `body.request`, `body.answer`, `pseudonyms` … */
  purpose: string;
}

export interface EnvelopeHeader {
  keyVersion: number;
  kid: Buffer;
  wrappedDek: Buffer;
  data: Buffer;
}

export function checkRef(ref: RecordRef): void {
  if (ref.id.length === 0 || ref.id.length > MAX_RECORD_ID) throw invalidInput(`record id must be 1–${MAX_RECORD_ID} characters`, `記録 ID は 1〜${MAX_RECORD_ID} 文字です`);
  if (!/^[a-z][a-z0-9._-]{0,63}$/.test(ref.purpose) || ref.purpose.length > MAX_PURPOSE) throw invalidInput('purpose must be a short lowercase label', '用途は英小文字のラベルで指定してください');
}

export const dekAad = (tenant: string, ref: RecordRef, keyVersion: number, kid: Buffer) => aad('dek', tenant, ref.id, ref.purpose, keyVersion, kid);
export const dataAad = (tenant: string, ref: RecordRef) => aad('data', tenant, ref.id, ref.purpose);

/** Seals `plaintext` under a fresh DEK wrapped by `wrappingKey`. */
export function sealEnvelope(tenant: string, ref: RecordRef, plaintext: Buffer, wrappingKey: Buffer, keyVersion: number, kid: Buffer): Buffer {
  const dek = random(KEY_BYTES);
  try {
    // One buffer, written in place: header | wrapped DEK | data (no copy of the data but one).
    const out = Buffer.allocUnsafe(9 + kid.length + WRAPPED_KEY_BYTES + SEAL_OVERHEAD + plaintext.length);
    MAGIC.copy(out, 0);
    out.writeUInt32BE(keyVersion, 4);
    out.writeUInt8(kid.length, 8);
    kid.copy(out, 9);
    const at = sealInto(wrappingKey, dek, dekAad(tenant, ref, keyVersion, kid), out, 9 + kid.length);
    const end = sealInto(dek, plaintext, dataAad(tenant, ref), out, at);
    return end === out.length ? out : out.subarray(0, end);
  } finally {
    zeroize(dek);
  }
}

export function build(keyVersion: number, kid: Buffer, wrappedDek: Buffer, data: Buffer): Buffer {
  const head = Buffer.allocUnsafe(9);
  MAGIC.copy(head, 0);
  head.writeUInt32BE(keyVersion, 4);
  head.writeUInt8(kid.length, 8);
  return Buffer.concat([head, kid, wrappedDek, data]);
}

export function parseEnvelope(blob: Buffer, what = 'record'): EnvelopeHeader {
  if (blob.length < 9 || !blob.subarray(0, 4).equals(MAGIC)) throw tampered(what, '記録');
  const keyVersion = blob.readUInt32BE(4);
  const kidLen = blob.readUInt8(8);
  const at = 9 + kidLen;
  if (blob.length < at + WRAPPED_KEY_BYTES + 28) throw tampered(what, '記録');
  return {
    keyVersion,
    kid: blob.subarray(9, at),
    wrappedDek: blob.subarray(at, at + WRAPPED_KEY_BYTES),
    data: blob.subarray(at + WRAPPED_KEY_BYTES),
  };
}

export function openEnvelope(tenant: string, ref: RecordRef, h: EnvelopeHeader, wrappingKey: Buffer): Buffer {
  const dek = open(wrappingKey, h.wrappedDek, dekAad(tenant, ref, h.keyVersion, h.kid), `record ${ref.id}`, `記録 ${ref.id}`);
  try {
    return open(dek, h.data, dataAad(tenant, ref), `record ${ref.id}`, `記録 ${ref.id}`);
  } finally {
    zeroize(dek);
  }
}

/** Rotation: the same data under the same DEK, the DEK wrapped under another tenant key. */
export function rewrapEnvelope(tenant: string, ref: RecordRef, blob: Buffer, from: Buffer, to: Buffer, toVersion: number): Buffer {
  const h = parseEnvelope(blob);
  if (h.kid.length > 0) return blob;
  const dek = open(from, h.wrappedDek, dekAad(tenant, ref, h.keyVersion, h.kid), `record ${ref.id}`, `記録 ${ref.id}`);
  try {
    return build(toVersion, h.kid, seal(to, dek, dekAad(tenant, ref, toVersion, h.kid)), h.data);
  } finally {
    zeroize(dek);
  }
}
