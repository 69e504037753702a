/**
 * Full verification of a log from any source (local store or HTTP tiles), trusting only the
 * log's verifier key (and, optionally, an older checkpoint and witness keys):
 *
 *  1. the checkpoint's signature (and the configured witnesses' cosignatures);
 *  2. every entry bundle: each entry parses as a canonical leaf at its own index, its leaf
 *     hash equals the hash the log serves in its level-0 tile, and every higher tile holds
 *     the hashes recomputed from below — the first mismatch names its leaf index;
 *  3. the root rebuilt from the entries equals the checkpoint's root hash;
 *  4. with an older checkpoint: the rebuilt tree at the older size has the older root
 *     (the log was only appended to; recomputing the old root from the entries is at least as strong
 *     as checking an RFC 6962 consistency proof, which `AuditLog.consistency` serves to witnesses).
 *
 * While it runs, it counts the request leaves (for the residency report), so an auditor
 * recomputes the report's numbers from the entries themselves.
 */
import { AuditError } from './errors.js';
import { CompactRange, EMPTY_ROOT, leafHash, type Hash } from './merkle.js';
import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import { parseVerifierKey, type Verifier } from './note.js';
import { witnessCosignatures, type VerifiedCosignature } from './witness.js';
import { decodeBundle, HASH_SIZE, TILE_HEIGHT, TILE_WIDTH, tilePath, tileWidth } from './tiles.js';
import { decodeLeaf, leafIndexOf, type Leaf } from './leaf.js';
import type { LogSource } from './source.js';

export interface VerifyOptions {
  vkey: string;
  /** An older signed checkpoint the auditor kept. */
  since?: string;
  witnesses?: string[];
  /** Minimum number of valid witness cosignatures. */
  witnessQuorum?: number;
  onProgress?: (done: number, total: number) => void;
  /** Called for every leaf, in order (the residency counts). */
  onLeaf?: (leaf: Leaf, index: number) => void;
  /** Also check that every entry is in canonical JSON form (slower; integrity does not need it). */
  strict?: boolean;
}

export interface VerifyResult {
  checkpoint: Checkpoint;
  note: string;
  cosignatures: VerifiedCosignature[];
  since?: Checkpoint;
}

export async function verifyLog(source: LogSource, opts: VerifyOptions): Promise<VerifyResult> {
  const log: Verifier = parseVerifierKey(opts.vkey);
  const note = await source.checkpoint();
  const { checkpoint } = openCheckpoint(note, log);
  const witnesses = (opts.witnesses ?? []).map(parseVerifierKey);
  const cosignatures = witnesses.length ? witnessCosignatures(note, witnesses) : [];
  if ((opts.witnessQuorum ?? 0) > cosignatures.length) {
    throw new AuditError('witness_quorum', `立会人の副署名が ${cosignatures.length} 件しかありません (必要: ${opts.witnessQuorum})`, `only ${cosignatures.length} witness cosignature(s), ${opts.witnessQuorum} required`);
  }
  let since: Checkpoint | undefined;
  if (opts.since) {
    since = openCheckpoint(opts.since, log).checkpoint;
    if (since.size > checkpoint.size) {
      throw new AuditError('rollback', `新しいチェックポイント (${checkpoint.size}) が古いもの (${since.size}) より小さくなっています`, `the log shrank: the checkpoint has ${checkpoint.size} entries, the older one ${since.size}`, checkpoint.size);
    }
  }

  const size = checkpoint.size;
  // Recomputed node hashes at heights 8·L, per tile level, to compare with the served tiles.
  const built = new Map<number, Buffer[]>(); // level → hashes of the current tile being compared
  let sinceRoot: Hash | undefined;
  const tree = new CompactRange(0, (height, index, hash) => {
    if (height % TILE_HEIGHT !== 0 || height === 0) return;
    const level = height / TILE_HEIGHT;
    let list = built.get(level);
    if (!list) built.set(level, (list = []));
    list.push(hash);
    if (list.length === TILE_WIDTH) {
      pendingFull.push({ level, n: Math.floor(index / TILE_WIDTH), hashes: list });
      built.set(level, []);
    }
  });
  const pendingFull: { level: number; n: number; hashes: Buffer[] }[] = [];
  const compareTile = async (level: number, n: number, hashes: Buffer[]) => {
    const tile = await source.tile(level, n, hashes.length);
    const firstLeaf = n * TILE_WIDTH * TILE_WIDTH ** level;
    const span = TILE_WIDTH ** level;
    for (let i = 0; i < hashes.length; i++) {
      if (!tile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE).equals(hashes[i]!)) {
        const at = firstLeaf + i * span;
        throw new AuditError('tile_mismatch', `タイル ${tilePath(level, n, hashes.length)} の位置 ${i} が記録から再計算した値と一致しません (索引 ${at} から ${at + span - 1})`, `tile ${tilePath(level, n, hashes.length)} position ${i} differs from the hash recomputed from the entries (indices ${at}–${at + span - 1})`, at);
      }
    }
  };

  const bundles = Math.ceil(size / TILE_WIDTH);
  // Every entry is parsed as JSON when its contents are needed (counts) or --strict; otherwise
  // only the index it names is read (integrity rests on the hashes either way).
  const full = opts.onLeaf !== undefined || opts.strict === true;
  for (let n = 0; n < bundles; n++) {
    const width = tileWidth(0, n, size);
    const start = n * TILE_WIDTH;
    let entries: Buffer[];
    try {
      entries = source.entryList ? await source.entryList(n, width) : decodeBundle(await source.entries(n, width));
    } catch (e) {
      throw e instanceof AuditError ? new AuditError(e.code, e.ja, e.en, start) : e;
    }
    if (entries.length !== width) throw new AuditError('bad_bundle', `記録の束 ${n} の件数が ${entries.length} です (期待値 ${width})`, `entry bundle ${n} holds ${entries.length} entries, expected ${width}`, start + Math.min(entries.length, width));
    const tile0 = await source.tile(0, n, width);
    for (let i = 0; i < width; i++) {
      const index = start + i;
      if (full) {
        const leaf = decodeLeaf(entries[i]!, index, { canonical: opts.strict === true });
        opts.onLeaf?.(leaf, index);
      } else if (leafIndexOf(entries[i]!) !== index) {
        decodeLeaf(entries[i]!, index); // the full check decides (and names the error)
      }
      const h = leafHash(entries[i]!);
      if (h.compare(tile0, i * HASH_SIZE, (i + 1) * HASH_SIZE) !== 0) {
        throw new AuditError('leaf_mismatch', `索引 ${index} の記録のハッシュがタイル ${tilePath(0, n, width)} と一致しません`, `the hash of the entry at index ${index} differs from tile ${tilePath(0, n, width)}`, index);
      }
      tree.append(h);
      if (since && tree.size === since.size) sinceRoot = tree.root();
    }
    while (pendingFull.length) {
      const t = pendingFull.shift()!;
      await compareTile(t.level, t.n, t.hashes);
    }
    opts.onProgress?.(start + width, size);
  }
  // Partial tiles at higher levels.
  for (const [level, hashes] of built) if (hashes.length > 0) await compareTile(level, Math.floor(size / TILE_WIDTH ** (level + 1)), hashes);

  const root = tree.root();
  if (!root.equals(checkpoint.root)) {
    throw new AuditError('root_mismatch', `記録から再構築した木の根がチェックポイント (大きさ ${size}) と一致しません`, `the root rebuilt from the entries differs from the checkpoint's (size ${size})`, size > 0 ? size - 1 : 0);
  }
  if (since) {
    if (since.size === 0) sinceRoot = EMPTY_ROOT;
    if (!sinceRoot || !sinceRoot.equals(since.root)) {
      throw new AuditError('inconsistent', `古いチェックポイント (大きさ ${since.size}) と整合しません: ログが書き換えられています`, `inconsistent with the older checkpoint (size ${since.size}): the log was rewritten`, since.size > 0 ? since.size - 1 : 0);
    }
  }
  return { checkpoint, note, cosignatures, ...(since ? { since } : {}) };
}
