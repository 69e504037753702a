/**
 * Verifying a request's inclusion in the audit log, in the browser, with WebCrypto only:
 *  1. the verifier key (C2SP signed-note: `<name>+<key id hex>+base64(0x01 || Ed25519 key)`),
 *     its key id = SHA-256(name || 0x0A || 0x01 || key)[:4];
 *  2. the checkpoint's Ed25519 signature by that key (signed note, C2SP tlog-checkpoint);
 *  3. the leaf hash SHA-256(0x00 || entry) and the RFC 6962 / RFC 9162 §2.1.3.2 inclusion
 *     proof up to the checkpoint's root hash;
 *  4. the entry is the record asked about (its index and request id).
 * Nothing here trusts the server beyond the verifier key the administrator pins.
 */
export interface ProofBundle {
  index: number;
  tree_size: number;
  /** base64 of the entry bytes (canonical JSON). */
  entry: string;
  proof: string[];
  /** The signed checkpoint note. */
  checkpoint: string;
  vkey: string;
}

export interface Step {
  key: 'vkey' | 'signature' | 'checkpoint' | 'entry' | 'inclusion';
  ok: boolean;
  detail: string;
}

export interface Verdict {
  ok: boolean;
  steps: Step[];
  root?: string;
  size?: number;
  origin?: string;
}

const enc = new TextEncoder();

export function b64decode(s: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new Error('not base64');
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function b64encode(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data as BufferSource));
}

export const leafHash = (entry: Uint8Array) => sha256(concat(new Uint8Array([0]), entry));
export const nodeHash = (l: Uint8Array, r: Uint8Array) => sha256(concat(new Uint8Array([1]), l, r));

/** RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or null when the proof has the wrong shape. */
export async function rootFromInclusion(index: number, size: number, leaf: Uint8Array, proof: Uint8Array[]): Promise<Uint8Array | null> {
  if (!(index >= 0 && index < size)) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (p.length !== 32 || sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

export interface VerifierKey {
  name: string;
  keyId: Uint8Array;
  key: CryptoKey;
}

export async function parseVkey(vkey: string): Promise<VerifierKey> {
  const v = vkey.trim();
  const i = v.indexOf('+');
  const j = i < 0 ? -1 : v.indexOf('+', i + 1);
  if (i <= 0 || j < 0) throw new Error('expected <name>+<hash>+<key>');
  const name = v.slice(0, i);
  const hash = v.slice(i + 1, j);
  const b64 = v.slice(j + 1);
  if (!name || /\s/.test(name)) throw new Error('bad key name');
  if (!/^[0-9a-f]{8}$/.test(hash)) throw new Error('the hash must be 8 hex digits');
  const raw = b64decode(b64);
  if (raw.length !== 33 || raw[0] !== 0x01) throw new Error('not an Ed25519 (type 0x01) key');
  const pub = raw.subarray(1);
  const id = (await sha256(concat(enc.encode(name), new Uint8Array([0x0a, 0x01]), pub))).subarray(0, 4);
  if (hex(id) !== hash) throw new Error('the key hash does not match the key');
  const key = await crypto.subtle.importKey('raw', pub as BufferSource, { name: 'Ed25519' }, false, ['verify']);
  return { name, keyId: id, key };
}

/** Splits a signed note; returns its text and signatures (C2SP signed-note grammar). */
export function parseNote(note: string): { text: string; sigs: { name: string; keyId: Uint8Array; sig: Uint8Array }[] } {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n') || note.includes('\r')) throw new Error('malformed signed note');
  const text = note.slice(0, split + 1);
  const sigs = [];
  for (const line of note.slice(split + 2, -1).split('\n')) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/]+={0,2})$/u.exec(line);
    if (!m) throw new Error('malformed signature line');
    const raw = b64decode(m[2]!);
    if (raw.length < 5) throw new Error('signature too short');
    sigs.push({ name: m[1]!, keyId: raw.subarray(0, 4), sig: raw.subarray(4) });
  }
  return { text, sigs };
}

export function parseCheckpoint(text: string): { origin: string; size: number; root: Uint8Array } {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '') throw new Error('malformed checkpoint');
  const [origin, size, root] = lines as [string, string, string];
  if (!/^(0|[1-9]\d{0,15})$/.test(size)) throw new Error('bad tree size');
  const r = b64decode(root);
  if (r.length !== 32) throw new Error('bad root hash');
  return { origin, size: Number(size), root: r };
}

export async function verifyProof(p: ProofBundle, opts: { vkey?: string; requestId?: string } = {}): Promise<Verdict> {
  const steps: Step[] = [];
  const fail = (key: Step['key'], detail: string): Verdict => {
    steps.push({ key, ok: false, detail });
    return { ok: false, steps };
  };
  // 1. the key the administrator trusts (pinned), else the one the log names
  let v: VerifierKey;
  try {
    v = await parseVkey(opts.vkey ?? p.vkey);
  } catch (e) {
    return fail('vkey', (e as Error).message);
  }
  steps.push({ key: 'vkey', ok: true, detail: `${v.name} (${hex(v.keyId)})` });
  // 2. the checkpoint signature
  let note;
  try {
    note = parseNote(p.checkpoint);
  } catch (e) {
    return fail('signature', (e as Error).message);
  }
  const sig = note.sigs.find((s) => s.name === v.name && equal(s.keyId, v.keyId));
  if (!sig) return fail('signature', 'no signature by this key');
  const good = await crypto.subtle.verify({ name: 'Ed25519' }, v.key, sig.sig as BufferSource, enc.encode(note.text) as BufferSource);
  if (!good) return fail('signature', 'Ed25519 signature does not verify');
  steps.push({ key: 'signature', ok: true, detail: 'Ed25519' });
  let cp;
  try {
    cp = parseCheckpoint(note.text);
  } catch (e) {
    return fail('checkpoint', (e as Error).message);
  }
  if (cp.origin !== v.name) return fail('checkpoint', `origin ${cp.origin} ≠ ${v.name}`);
  if (cp.size !== p.tree_size) return fail('checkpoint', `tree size ${cp.size} ≠ ${p.tree_size}`);
  steps.push({ key: 'checkpoint', ok: true, detail: `${cp.origin} / ${cp.size}` });
  // 3. the entry is the one asked about
  let entry: Uint8Array;
  let leaf: { index?: unknown; request_id?: unknown };
  try {
    entry = b64decode(p.entry);
    leaf = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(entry)) as typeof leaf;
  } catch {
    return fail('entry', 'the entry is not JSON');
  }
  if (leaf.index !== p.index) return fail('entry', `the entry names index ${String(leaf.index)}, not ${p.index}`);
  if (opts.requestId !== undefined && leaf.request_id !== opts.requestId) return fail('entry', `the entry is request ${String(leaf.request_id)}`);
  steps.push({ key: 'entry', ok: true, detail: `#${p.index}${typeof leaf.request_id === 'string' ? ` ${leaf.request_id}` : ''}` });
  // 4. inclusion
  let proof: Uint8Array[];
  try {
    proof = p.proof.map(b64decode);
  } catch {
    return fail('inclusion', 'a proof hash is not base64');
  }
  const root = await rootFromInclusion(p.index, cp.size, await leafHash(entry), proof);
  if (!root) return fail('inclusion', 'the proof does not fit the tree');
  if (!equal(root, cp.root)) return fail('inclusion', 'the computed root differs from the checkpoint');
  steps.push({ key: 'inclusion', ok: true, detail: `${proof.length} hashes → ${b64encode(root).slice(0, 16)}…` });
  return { ok: true, steps, root: b64encode(cp.root), size: cp.size, origin: cp.origin };
}
