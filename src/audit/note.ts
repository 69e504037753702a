/**
 * C2SP signed-note (https://c2sp.org/signed-note): a UTF-8 text ending in a newline, a blank
 * line, then signature lines `— <name> base64(key ID || signature)`.
 *
 * Ed25519 keys (signature type 0x01): key ID = SHA-256(name || 0x0A || 0x01 || public key)[:4];
 * verifier key text `<name>+<key ID hex>+base64(0x01 || public key)`.
 */
import crypto from 'node:crypto';
import { sha256 } from './merkle.js';
import { AuditError } from './errors.js';

export const ALG_ED25519 = 0x01;
export const ALG_COSIGNATURE_V1 = 0x04;
const EM_DASH = '\u2014';

export interface NoteSignature {
  name: string;
  keyId: Buffer;
  /** The signature bytes after the key ID. */
  sig: Buffer;
}

export interface Note {
  text: string;
  sigs: NoteSignature[];
}

export interface Verifier {
  name: string;
  keyId: Buffer;
  alg: number;
  publicKey: Buffer;
  verify(msg: Buffer, sig: Buffer): boolean;
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function ed25519PublicKeyObject(pub: Buffer): crypto.KeyObject {
  return crypto.createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, pub]), format: 'der', type: 'spki' });
}

export function ed25519PrivateKeyObject(seed: Buffer): crypto.KeyObject {
  return crypto.createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

export function ed25519PublicFromSeed(seed: Buffer): Buffer {
  const der = crypto.createPublicKey(ed25519PrivateKeyObject(seed)).export({ format: 'der', type: 'spki' });
  return Buffer.from(der.subarray(der.length - 32));
}

/** A key name: non-empty, no whitespace, no '+'. */
export function checkKeyName(name: string): void {
  if (!name || /[\s+]/u.test(name) || name.length > 256) {
    throw new AuditError('bad_key_name', `鍵の名前 "${name}" は空白や + を含めず 1〜256 文字にしてください`, `key name "${name}" must be 1–256 characters without spaces or "+"`);
  }
}

export function keyId(name: string, alg: number, pub: Buffer): Buffer {
  return sha256(Buffer.concat([Buffer.from(name, 'utf8'), Buffer.from([0x0a, alg]), pub])).subarray(0, 4);
}

export function verifierKeyText(name: string, alg: number, pub: Buffer): string {
  checkKeyName(name);
  return `${name}+${keyId(name, alg, pub).toString('hex')}+${Buffer.concat([Buffer.from([alg]), pub]).toString('base64')}`;
}

/** Parse `<name>+<hash>+<base64 key>`; Ed25519 (0x01) and cosignature/v1 (0x04) keys. */
export function parseVerifierKey(vkey: string): Verifier {
  const bad = (why: string) => new AuditError('bad_vkey', `検証鍵が不正です: ${why}`, `invalid verifier key: ${why}`);
  const i = vkey.indexOf('+');
  const j = i < 0 ? -1 : vkey.indexOf('+', i + 1);
  if (i <= 0 || j < 0) throw bad('expected <name>+<hash>+<key>');
  const name = vkey.slice(0, i);
  const hash = vkey.slice(i + 1, j);
  const b64 = vkey.slice(j + 1);
  checkKeyName(name);
  if (!/^[0-9a-f]{8}$/.test(hash)) throw bad('the hash must be 8 lowercase hex digits');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw bad('the key is not base64');
  const raw = Buffer.from(b64, 'base64');
  if (raw.toString('base64') !== b64) throw bad('the key is not canonical base64');
  const alg = raw[0];
  const pub = raw.subarray(1);
  if ((alg !== ALG_ED25519 && alg !== ALG_COSIGNATURE_V1) || pub.length !== 32) throw bad('only Ed25519 keys (types 0x01 and 0x04) are supported');
  const id = keyId(name, alg, pub);
  if (id.toString('hex') !== hash) throw bad('the hash does not match the key');
  const ko = ed25519PublicKeyObject(pub);
  return {
    name,
    keyId: id,
    alg,
    publicKey: pub,
    verify: (msg, sig) => sig.length === 64 && crypto.verify(null, msg, ko, sig),
  };
}

export interface Signer {
  name: string;
  keyId: Buffer;
  publicKey: Buffer;
  vkey: string;
  sign(msg: Buffer): Buffer;
}

export function ed25519Signer(name: string, seed: Buffer): Signer {
  checkKeyName(name);
  const key = ed25519PrivateKeyObject(seed);
  const pub = ed25519PublicFromSeed(seed);
  return { name, keyId: keyId(name, ALG_ED25519, pub), publicKey: pub, vkey: verifierKeyText(name, ALG_ED25519, pub), sign: (msg) => crypto.sign(null, msg, key) };
}

/** Parse `PRIVATE+KEY+<name>+<hash>+base64(0x01 || seed)` (the Go sumdb/note signer format). */
export function parseSignerKey(skey: string): Signer {
  const parts = skey.split('+');
  if (parts.length < 5 || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') throw new AuditError('bad_skey', '署名鍵が不正です', 'invalid signer key');
  const name = parts[2]!;
  const raw = Buffer.from(parts.slice(4).join('+'), 'base64');
  if (raw[0] !== ALG_ED25519 || raw.length !== 33) throw new AuditError('bad_skey', '署名鍵が不正です', 'invalid signer key');
  const s = ed25519Signer(name, raw.subarray(1));
  if (s.keyId.toString('hex') !== parts[3]) throw new AuditError('bad_skey', '署名鍵の hash が一致しません', 'signer key hash mismatch');
  return s;
}

function checkText(text: string): void {
  if (!text.endsWith('\n')) throw new AuditError('bad_note', 'ノートの本文は改行で終わる必要があります', 'a note text must end with a newline');
  if (/\n\n/.test(text)) throw new AuditError('bad_note', 'ノートの本文に空行は入れられません', 'a note text must not contain blank lines');
}

export function signatureLine(name: string, keyIdBytes: Buffer, sig: Buffer): string {
  return `${EM_DASH} ${name} ${Buffer.concat([keyIdBytes, sig]).toString('base64')}\n`;
}

/** Sign a note text with the given signers. */
export function signNote(text: string, signers: Signer[]): string {
  checkText(text);
  const msg = Buffer.from(text, 'utf8');
  return text + '\n' + signers.map((s) => signatureLine(s.name, s.keyId, s.sign(msg))).join('');
}

/** Split a signed note into text and signature lines (strict: as the spec's grammar). */
export function parseNote(note: string, maxBytes = 1 << 20): Note {
  const bad = (why: string) => new AuditError('bad_note', `署名付きノートが不正です: ${why}`, `malformed signed note: ${why}`);
  if (Buffer.byteLength(note) > maxBytes) throw bad('too large');
  if (note.includes('\r')) throw bad('carriage return');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw bad('no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const sigBlock = note.slice(split + 2);
  if (!sigBlock.endsWith('\n')) throw bad('the signatures must end with a newline');
  const sigs: NoteSignature[] = [];
  for (const line of sigBlock.slice(0, -1).split('\n')) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/]+={0,2})$/u.exec(line);
    if (!m) throw bad('a signature line is malformed');
    const raw = Buffer.from(m[2]!, 'base64');
    if (raw.length < 5) throw bad('a signature is too short');
    sigs.push({ name: m[1]!, keyId: raw.subarray(0, 4), sig: raw.subarray(4) });
  }
  if (sigs.length === 0) throw bad('no signatures');
  return { text, sigs };
}

/**
 * Open a note: return the text and the signatures that verify against known verifiers.
 * Signatures from unknown keys are ignored; a known key with a bad signature fails.
 */
export function openNote(note: string, verifiers: Verifier[]): { text: string; verified: Verifier[]; note: Note } {
  const n = parseNote(note);
  const msg = Buffer.from(n.text, 'utf8');
  const verified: Verifier[] = [];
  for (const s of n.sigs) {
    const v = verifiers.find((v) => v.name === s.name && v.keyId.equals(s.keyId));
    if (!v || v.alg !== ALG_ED25519) continue;
    if (!v.verify(msg, s.sig)) throw new AuditError('bad_signature', `${s.name} の署名が一致しません`, `the signature of ${s.name} does not verify`);
    if (!verified.includes(v)) verified.push(v);
  }
  if (verified.length === 0) throw new AuditError('unverified_note', '信頼する鍵による署名がありません', 'no signature from a trusted key');
  return { text: n.text, verified, note: n };
}
