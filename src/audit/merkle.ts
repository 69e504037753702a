/**
 * Merkle tree hashing, inclusion and consistency proofs exactly as RFC 6962 §2.1
 * (the same hashing as RFC 9162 §2.1 and C2SP tlog-checkpoint):
 *
 *   MTH({})      = SHA-256()
 *   leaf hash    = SHA-256(0x00 || entry)                         (§2.1)
 *   node hash    = SHA-256(0x01 || left || right)                 (§2.1)
 *   MTH(D[n])    = H(1 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of two < n
 */
import crypto from 'node:crypto';
import { AuditError } from './errors.js';

export type Hash = Buffer;

const hashFn: (data: Buffer) => Buffer =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (data) => (crypto as unknown as { hash(alg: string, d: Buffer, enc: 'buffer'): Buffer }).hash('sha256', data, 'buffer')
    : (data) => crypto.createHash('sha256').update(data).digest();

export const sha256 = hashFn;

const nodeBuf = Buffer.alloc(65);
nodeBuf[0] = 1;

let scratch = Buffer.alloc(4096);

/** RFC 6962 §2.1: the hash of a leaf entry. */
export function leafHash(entry: Uint8Array): Hash {
  if (entry.length + 1 > scratch.length) scratch = Buffer.alloc(Math.max(entry.length + 1, scratch.length * 2));
  scratch[0] = 0;
  scratch.set(entry, 1);
  return hashFn(scratch.subarray(0, entry.length + 1));
}

/** RFC 6962 §2.1: the hash of an interior node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Hash {
  nodeBuf.set(left, 1);
  nodeBuf.set(right, 33);
  return hashFn(nodeBuf);
}

export const EMPTY_ROOT: Hash = hashFn(Buffer.alloc(0));

/** The largest power of two strictly less than n (n ≥ 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** A source of subtree hashes over leaf positions [start, end). */
export type RangeHasher = (start: number, end: number) => Hash;

/** MTH over an in-memory list of leaf hashes (RFC 6962 §2.1). */
export function rootOf(leaves: readonly Hash[], start = 0, end = leaves.length): Hash {
  const n = end - start;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[start]!;
  const k = splitPoint(n);
  return nodeHash(rootOf(leaves, start, start + k), rootOf(leaves, start + k, end));
}

export const memoryHasher =
  (leaves: readonly Hash[]): RangeHasher =>
  (s, e) =>
    rootOf(leaves, s, e);

/** RFC 6962 §2.1.1: PATH(m, D[n]), the audit path of leaf m in a tree of size n. */
export function inclusionProof(index: number, size: number, h: RangeHasher): Hash[] {
  if (!(index >= 0 && index < size)) throw new AuditError('bad_index', `索引 ${index} は木の大きさ ${size} の範囲外です`, `index ${index} is outside a tree of size ${size}`, index);
  const out: Hash[] = [];
  const path = (m: number, start: number, end: number): void => {
    const n = end - start;
    if (n === 1) return;
    const k = splitPoint(n);
    if (m < k) {
      path(m, start, start + k);
      out.push(h(start + k, end));
    } else {
      path(m - k, start + k, end);
      out.push(h(start, start + k));
    }
  };
  path(index, 0, size);
  return out;
}

/** RFC 6962 §2.1.2: PROOF(m, D[n]), the consistency proof from size m to size n. */
export function consistencyProof(m: number, n: number, h: RangeHasher): Hash[] {
  if (!(m >= 0 && m <= n)) throw new AuditError('bad_size', `大きさ ${m} から ${n} への整合性証明は作れません`, `no consistency proof from size ${m} to ${n}`);
  if (m === 0 || m === n) return [];
  const out: Hash[] = [];
  // SUBPROOF(m, D[start:end], b)
  const sub = (mm: number, start: number, end: number, b: boolean): void => {
    const nn = end - start;
    if (mm === nn) {
      if (!b) out.push(h(start, end));
      return;
    }
    const k = splitPoint(nn);
    if (mm <= k) {
      sub(mm, start, start + k, b);
      out.push(h(start + k, end));
    } else {
      sub(mm - k, start + k, end, false);
      out.push(h(start, start + k));
    }
  };
  sub(m, 0, n, true);
  return out;
}

/** Verify an inclusion proof (RFC 9162 §2.1.3.2, the iterative form of RFC 6962 §2.1.1). */
export function verifyInclusion(leaf: Hash, index: number, size: number, proof: readonly Hash[], root: Hash): boolean {
  if (!(index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** Verify a consistency proof (RFC 9162 §2.1.4.2). */
export function verifyConsistency(m: number, n: number, proof: readonly Hash[], oldRoot: Hash, newRoot: Hash): boolean {
  if (m > n || m < 0) return false;
  if (m === n) return proof.length === 0 && oldRoot.equals(newRoot);
  if (m === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  let p = proof.slice();
  // If m is an exact power of two, prepend the first tree's root.
  if (Number.isInteger(Math.log2(m))) p = [oldRoot, ...p];
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = p[0]!;
  let sr = p[0]!;
  for (const c of p.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(oldRoot) && sr.equals(newRoot);
}

/**
 * A compact range over [0, size): the roots of the perfect subtrees of the tree's binary
 * decomposition, left to right ("peaks"). Appending costs O(1) amortized; `onNode`
 * reports every perfect node as it completes (height, index, hash), which is what the
 * tiles are made of.
 */
export class CompactRange {
  /** Peaks, left (highest) to right. */
  readonly peaks: { height: number; hash: Hash }[] = [];
  constructor(
    public size = 0,
    private readonly onNode?: (height: number, index: number, hash: Hash) => void,
  ) {}

  append(leaf: Hash): void {
    const i = this.size++;
    this.onNode?.(0, i, leaf);
    let h = leaf;
    let height = 0;
    while (this.peaks.length > 0 && this.peaks[this.peaks.length - 1]!.height === height) {
      const left = this.peaks.pop()!;
      h = nodeHash(left.hash, h);
      height++;
      this.onNode?.(height, Math.floor(i / 2 ** height), h);
    }
    this.peaks.push({ height, hash: h });
  }

  root(): Hash {
    if (this.peaks.length === 0) return EMPTY_ROOT;
    let r = this.peaks[this.peaks.length - 1]!.hash;
    for (let i = this.peaks.length - 2; i >= 0; i--) r = nodeHash(this.peaks[i]!.hash, r);
    return r;
  }

  /** Rebuild a range of `size` leaves from a reader of perfect subtrees (height, index). */
  static fromNodes(size: number, node: (height: number, index: number) => Hash, onNode?: (height: number, index: number, hash: Hash) => void): CompactRange {
    const r = new CompactRange(size, onNode);
    let start = 0;
    for (let height = 52; height >= 0; height--) {
      const w = 2 ** height;
      if (size - start >= w) {
        r.peaks.push({ height, hash: node(height, start / w) });
        start += w;
      }
    }
    return r;
  }
}
