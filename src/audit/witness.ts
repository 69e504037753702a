/**
 * Witness cosignatures: C2SP tlog-cosignature (cosignature/v1, Ed25519) and the client
 * side of C2SP tlog-witness (`POST <prefix>/add-checkpoint`).
 *
 * Signed message: "cosignature/v1\n" || "time <t>\n" || the checkpoint note body.
 * Signature bytes: u64 big-endian timestamp || 64-byte Ed25519 signature.
 * Key ID: SHA-256(name || 0x0A || 0x04 || public key)[:4].
 */
import crypto from 'node:crypto';
import { AuditError } from './errors.js';
import { ALG_COSIGNATURE_V1, ed25519PrivateKeyObject, ed25519PublicFromSeed, keyId, parseNote, parseVerifierKey, signatureLine, verifierKeyText, type NoteSignature, type Verifier } from './note.js';
import type { Hash } from './merkle.js';

export function cosignedMessage(body: string, time: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${time}\n${body}`, 'utf8');
}

export interface Cosigner {
  name: string;
  vkey: string;
  /** A signature line over the checkpoint body at `time` (seconds). */
  cosign(body: string, time?: number): string;
}

export function cosigner(name: string, seed: Buffer): Cosigner {
  const key = ed25519PrivateKeyObject(seed);
  const pub = ed25519PublicFromSeed(seed);
  const id = keyId(name, ALG_COSIGNATURE_V1, pub);
  return {
    name,
    vkey: verifierKeyText(name, ALG_COSIGNATURE_V1, pub),
    cosign(body, time = Math.floor(Date.now() / 1000)) {
      const ts = Buffer.alloc(8);
      ts.writeBigUInt64BE(BigInt(time));
      const sig = crypto.sign(null, cosignedMessage(body, time), key);
      return signatureLine(name, id, Buffer.concat([ts, sig]));
    },
  };
}

export interface VerifiedCosignature {
  name: string;
  time: number;
  line: string;
}

/** Verify one cosignature/v1 signature over a checkpoint body; returns its timestamp. */
export function verifyCosignature(body: string, s: NoteSignature, witness: Verifier, now = Date.now() / 1000): number {
  if (witness.alg !== ALG_COSIGNATURE_V1 || s.name !== witness.name || !s.keyId.equals(witness.keyId)) {
    throw new AuditError('unknown_witness', `${s.name} は設定された立会人ではありません`, `${s.name} is not a configured witness`);
  }
  if (s.sig.length !== 72) throw new AuditError('bad_cosignature', `${s.name} の副署名の長さが不正です`, `the cosignature of ${s.name} has a wrong length`);
  const time = Number(s.sig.readBigUInt64BE(0));
  if (time > now + 600) throw new AuditError('bad_cosignature', `${s.name} の副署名の時刻が未来です`, `the cosignature of ${s.name} is dated in the future`);
  if (!witness.verify(cosignedMessage(body, time), s.sig.subarray(8))) {
    throw new AuditError('bad_cosignature', `${s.name} の副署名が一致しません`, `the cosignature of ${s.name} does not verify`);
  }
  return time;
}

/** The cosignatures in a note that come from configured witnesses and verify (others ignored). */
export function witnessCosignatures(note: string, witnesses: Verifier[]): VerifiedCosignature[] {
  const n = parseNote(note);
  const out: VerifiedCosignature[] = [];
  for (const s of n.sigs) {
    const w = witnesses.find((w) => w.name === s.name && w.keyId.equals(s.keyId) && w.alg === ALG_COSIGNATURE_V1);
    if (!w) continue;
    const time = verifyCosignature(n.text, s, w);
    out.push({ name: s.name, time, line: signatureLine(s.name, s.keyId, s.sig) });
  }
  return out;
}

export interface WitnessConfig {
  name: string;
  url: string;
  vkey: string;
}

/** The body of an add-checkpoint request (tlog-witness). */
export function addCheckpointBody(oldSize: number, proof: readonly Hash[], note: string): string {
  return `old ${oldSize}\n${proof.map((h) => h.toString('base64') + '\n').join('')}\n${note}`;
}

export type AddCheckpointResult = { ok: true; cosignatures: VerifiedCosignature[] } | { ok: false; status: number; witnessSize?: number };

/**
 * Ask a witness to cosign: POST <url>/add-checkpoint. Returns the verified cosignatures,
 * or the status (409 carries the witness's latest size so that the caller can retry).
 */
export async function requestCosignature(w: WitnessConfig, oldSize: number, proof: readonly Hash[], note: string, timeoutMs = 5000): Promise<AddCheckpointResult> {
  const verifier = parseVerifierKey(w.vkey);
  const res = await fetch(w.url.replace(/\/$/, '') + '/add-checkpoint', {
    method: 'POST',
    body: addCheckpointBody(oldSize, proof, note),
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'error',
  });
  const text = (await res.text()).slice(0, 64 * 1024);
  if (res.status === 409 && /^(0|[1-9][0-9]*)\n$/.test(text)) return { ok: false, status: 409, witnessSize: Number(text.trim()) };
  if (res.status !== 200) return { ok: false, status: res.status };
  // The response: signature lines; verify them by appending to the note.
  const body = parseNote(note).text;
  const joined = body + '\n' + text;
  const all = witnessCosignatures(joined, [verifier]);
  return { ok: true, cosignatures: all };
}
