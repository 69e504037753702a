/**
 * C2SP tlog-tiles (https://c2sp.org/tlog-tiles): tiles of 256 hashes and entry bundles.
 *
 * A tile at level L, index N holds the hashes of the tree nodes at height 8·L with indices
 * N·256 … N·256+W−1; a full tile has W = 256. For a tree of size s, the level-L tiles
 * are full up to ⌊s / 256^(L+1)⌋ and the last one is partial with W = ⌊s / 256^L⌋ mod 256.
 * Paths: `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`, N in 3-digit groups,
 * all but the last prefixed with `x` (1234067 → x001/x234/067).
 * Entry bundles: each entry as a 2-byte big-endian length, then its bytes.
 */
import { AuditError } from './errors.js';
import { nodeHash, type Hash } from './merkle.js';

export const TILE_WIDTH = 256;
export const TILE_HEIGHT = 8;
export const HASH_SIZE = 32;
export const MAX_ENTRY_BYTES = 0xffff;
/** Interior nodes of a tile (heights 1..7 inside it): 128 + 64 + … + 2. */
export const INNER_NODES = 254;

/** Position of the node (height r in 1..7, index pos inside the tile) in a tile's interior-node buffer. */
export function innerOffset(r: number, pos: number): number {
  return (TILE_WIDTH - (2 * TILE_WIDTH) / 2 ** r + pos) * HASH_SIZE;
}

export function encodeIndex(n: number): string {
  let s = String(n % 1000).padStart(3, '0');
  n = Math.floor(n / 1000);
  while (n > 0) {
    s = `x${String(n % 1000).padStart(3, '0')}/` + s;
    n = Math.floor(n / 1000);
  }
  return s;
}

export function tilePath(level: number | 'entries', n: number, width = TILE_WIDTH): string {
  return `tile/${level}/${encodeIndex(n)}${width < TILE_WIDTH ? `.p/${width}` : ''}`;
}

export interface TileRef {
  level: number | 'entries';
  n: number;
  /** 1..256; 256 for a full tile. */
  width: number;
}

/**
 * Parse a tile path strictly (as served under /audit/v1/): canonical index encoding only,
 * 1 ≤ W ≤ 255 for partial tiles, levels 0..63. Returns undefined for anything else.
 */
export function parseTilePath(p: string): TileRef | undefined {
  if (p.length > 64) return undefined;
  const m = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/){0,5}[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/.exec(p);
  if (!m) return undefined;
  const level = m[1] === 'entries' ? 'entries' : Number(m[1]);
  if (level !== 'entries' && level > 63) return undefined;
  const groups = m[2]!.split('/').map((g) => g.replace(/^x/, ''));
  if (groups.length > 1 && groups[0] === '000') return undefined; // not the shortest encoding
  let n = 0;
  for (const g of groups) n = n * 1000 + Number(g);
  if (!Number.isSafeInteger(n)) return undefined;
  const width = m[3] === undefined ? TILE_WIDTH : Number(m[3]);
  if (width < 1 || width >= TILE_WIDTH + (m[3] === undefined ? 1 : 0)) return undefined;
  return { level, n, width };
}

export function encodeBundle(entries: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const e of entries) {
    if (e.length > MAX_ENTRY_BYTES) throw new AuditError('entry_too_large', '記録が 65535 バイトを超えています', 'an entry exceeds 65535 bytes');
    total += 2 + e.length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const e of entries) {
    out.writeUInt16BE(e.length, at);
    out.set(e, at + 2);
    at += 2 + e.length;
  }
  return out;
}

export function decodeBundle(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < b.length) {
    if (at + 2 > b.length) throw new AuditError('bad_bundle', '記録の束が途中で切れています', 'truncated entry bundle');
    const n = b.readUInt16BE(at);
    if (at + 2 + n > b.length) throw new AuditError('bad_bundle', '記録の束が途中で切れています', 'truncated entry bundle');
    out.push(b.subarray(at + 2, at + 2 + n));
    at += 2 + n;
  }
  return out;
}

/** The width of tile (level, n) in a tree of `size` leaves (0 when it does not exist). */
export function tileWidth(level: number, n: number, size: number): number {
  const nodes = Math.floor(size / TILE_WIDTH ** level); // nodes at height 8·level
  const start = n * TILE_WIDTH;
  return Math.max(0, Math.min(TILE_WIDTH, nodes - start));
}

/** Hash of a perfect subtree over `hashes[start .. start+count)` (count a power of two). */
export function perfectRoot(hashes: Buffer, start: number, count: number): Hash {
  if (count === 1) return Buffer.from(hashes.subarray(start * HASH_SIZE, (start + 1) * HASH_SIZE));
  const half = count / 2;
  return nodeHash(perfectRoot(hashes, start, half), perfectRoot(hashes, start + half, half));
}

/**
 * Node hashes of a tree from its tiles: the node at (height, index) is computed from
 * the hashes of tile level ⌊height/8⌋. `readTile(level, n)` returns at least the needed
 * hashes (or throws).
 */
export class TileHashReader {
  /** Per tile (level/n/width): the hashes at each height 0..8 inside it, computed once. */
  private trees = new Map<string, Buffer[][]>();

  constructor(
    private readonly readTile: (level: number, n: number) => Buffer,
    private readonly maxCached = 512,
    /** Interior nodes kept by the log (optional; otherwise they are computed). */
    private readonly readInner?: (level: number, n: number) => Buffer | undefined,
  ) {}

  private tree(level: number, n: number): Buffer[][] {
    const tile = this.readTile(level, n);
    const width = tile.length / HASH_SIZE;
    const key = `${level}/${n}/${width}`;
    let t = this.trees.get(key);
    if (!t) {
      t = [Array.from({ length: width }, (_, i) => tile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))];
      for (let r = 1; r <= TILE_HEIGHT; r++) {
        const below = t[r - 1]!;
        const row: Buffer[] = [];
        for (let j = 0; j + 1 < below.length; j += 2) row.push(nodeHash(below[j]!, below[j + 1]!));
        t.push(row);
      }
      if (this.trees.size >= this.maxCached) this.trees.delete(this.trees.keys().next().value!);
      this.trees.set(key, t);
    }
    return t;
  }

  node(height: number, index: number): Hash {
    const level = Math.floor(height / TILE_HEIGHT);
    const r = height - level * TILE_HEIGHT;
    const span = 2 ** r;
    const first = index * span; // first node at height 8·level
    const n = Math.floor(first / TILE_WIDTH);
    const pos = first - n * TILE_WIDTH;
    if (r === 0) {
      const tile = this.readTile(level, n);
      if ((pos + 1) * HASH_SIZE > tile.length) throw new AuditError('missing_tile', `タイル ${level}/${n} が足りません`, `tile ${level}/${n} is too short`);
      return tile.subarray(pos * HASH_SIZE, (pos + 1) * HASH_SIZE);
    }
    if (this.readInner) {
      const inner = this.readInner(level, n);
      if (inner && (pos + span) * HASH_SIZE <= this.readTile(level, n).length) {
        const at = innerOffset(r, pos / span);
        return inner.subarray(at, at + HASH_SIZE);
      }
    }
    const h = this.tree(level, n)[r]![pos / span];
    if (!h) throw new AuditError('missing_tile', `タイル ${level}/${n} が足りません`, `tile ${level}/${n} is too short`);
    return h;
  }

  /** MTH over leaves [start, end) (RFC 6962 §2.1), from perfect nodes. */
  range(start: number, end: number): Hash {
    const n = end - start;
    if (n > 0 && Number.isInteger(Math.log2(n)) && start % n === 0) return this.node(Math.log2(n), start / n);
    let k = 1;
    while (k * 2 < n) k *= 2;
    return nodeHash(this.range(start, start + k), this.range(start + k, end));
  }
}
