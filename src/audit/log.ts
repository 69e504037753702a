/**
 * The audit log: a sequencer and an integrator over the store.
 *
 * Sequencing: every request reserves its index when it starts (the answer carries it as
 * `x-sekisho-audit-index`); its leaf is committed with the request's decision record in a
 * group commit (every leaf submitted in the same event-loop turn, one SQLite transaction)
 * and `submit` resolves once that transaction committed. The checkpoint holds the end of
 * each answer until then, so an answered request is always in the log.
 *
 * Integration runs apart from the request path (a timer, or N new entries): it takes the
 * longest run of committed entries after the last checkpoint, hashes them (RFC 6962),
 * extends the tiles (C2SP tlog-tiles), signs a checkpoint (C2SP tlog-checkpoint, signed
 * note) and writes tiles and checkpoint in one transaction. Then it asks the configured
 * witnesses (C2SP tlog-witness) to cosign, and serves their cosignatures with the checkpoint.
 *
 * Indices reserved by a process that died before committing them (their requests got no
 * answer) are filled with `lost` leaves when the log is opened, so the log never stalls.
 */
import type { AuditEntryRow, DecisionRecord, Store } from '../store/index.js';
import type { Logger } from '../ops/log.js';
import { AuditError } from './errors.js';
import { CompactRange, consistencyProof, inclusionProof, leafHash, type Hash } from './merkle.js';
import { checkpointBody, signCheckpoint, type Checkpoint } from './checkpoint.js';
import { ALG_COSIGNATURE_V1, ed25519Signer, parseVerifierKey, type Signer } from './note.js';
import { Committer, encodeLeaf, eventLeaf, type LostLeaf } from './leaf.js';
import { HASH_SIZE, INNER_NODES, TILE_HEIGHT, TILE_WIDTH, TileHashReader, innerOffset, perfectRoot } from './tiles.js';
import { requestCosignature, type WitnessConfig } from './witness.js';
import type { AuditKeys } from './keys.js';

export interface AuditLogOptions {
  store: Store;
  log: Logger;
  origin: string;
  keys: AuditKeys;
  /** Publish a checkpoint at least this often when there are new entries. */
  checkpointIntervalMs?: number;
  /** … or as soon as this many entries wait. */
  checkpointEntries?: number;
  witnesses?: WitnessConfig[];
  /** Largest group commit. */
  maxBatch?: number;
  /** Fill gaps left by a previous process (only the process that serves should). */
  recover?: boolean;
  /** Publish checkpoints (timer, N entries, on close); false for short-lived CLI processes. */
  publish?: boolean;
}

export class AuditLog {
  readonly signer: Signer;
  readonly committer: Committer;
  readonly origin: string;
  healthy = true;
  private next: number;
  private rows: DecisionRecord[] = [];
  private entries: AuditEntryRow[] = [];
  /** One promise per group commit, shared by every leaf in it. */
  private batch: { promise: Promise<void>; resolve(): void; reject(e: Error): void } | undefined;
  private scheduled = false;
  private retry: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sinceCheckpoint = 0;
  private tree!: CompactRange;
  /** Right-edge tiles being filled: key "L/N" → hashes so far. */
  private edge = new Map<string, { level: number; n: number; data: Buffer; width: number; inner: Buffer }>();
  private fullInner = new Map<string, Buffer>();
  private dirty = new Set<string>();
  private fullTiles = new Map<string, Buffer>();
  private witnessSize = new Map<string, number>();
  private witnessBusy = new Set<string>();
  private closed = false;
  private integrateScheduled = false;
  private readonly publish: boolean;
  private readonly store: Store;
  private readonly log: Logger;
  private readonly checkpointEntries: number;
  private readonly maxBatch: number;
  private readonly witnesses: WitnessConfig[];

  constructor(opts: AuditLogOptions) {
    this.store = opts.store;
    this.log = opts.log;
    this.origin = opts.origin;
    this.signer = ed25519Signer(opts.origin, opts.keys.signingSeed);
    this.committer = new Committer(opts.keys.commitKey, opts.keys.pseudonymKey);
    this.checkpointEntries = opts.checkpointEntries ?? 10_000;
    this.maxBatch = opts.maxBatch ?? 1024;
    this.witnesses = opts.witnesses ?? [];
    for (const w of this.witnesses) {
      const v = parseVerifierKey(w.vkey);
      if (v.alg !== ALG_COSIGNATURE_V1 || v.name !== w.name) {
        throw new AuditError('bad_witness', `立会人 ${w.name} の検証鍵は同じ名前の cosignature/v1 (種別 0x04) の鍵にしてください`, `the verifier key of witness ${w.name} must be a cosignature/v1 key (type 0x04) with the same name`);
      }
    }
    this.loadTree();
    const seq = this.store.records.nextSeq();
    this.next = Math.max(seq, this.store.audit.maxIndex() + 1, this.tree.size);
    if (opts.recover) this.recoverGaps();
    this.publish = opts.publish !== false;
    const interval = opts.checkpointIntervalMs ?? 2000;
    if (interval > 0 && this.publish) {
      this.timer = setInterval(() => this.integrateSafe(), interval);
      this.timer.unref();
    }
  }

  get vkey(): string {
    return this.signer.vkey;
  }

  /** The tree size of the latest checkpoint. */
  get size(): number {
    return this.tree.size;
  }

  get pending(): number {
    return this.entries.length + this.rows.length;
  }

  /** The next index, for the answer's `x-sekisho-audit-index`. */
  reserve(): number {
    return this.next++;
  }

  /**
   * Queue a leaf (and its decision record) for the next group commit. Resolves once both are
   * committed; rejects if the store refused them (they stay queued and are retried).
   */
  submit(entry: AuditEntryRow, row?: DecisionRecord): Promise<void> {
    this.entries.push(entry);
    if (row) this.rows.push(row);
    if (!this.batch) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.batch = { promise, resolve, reject };
    }
    const p = this.batch.promise;
    if (this.entries.length >= this.maxBatch) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return p;
  }

  /** Append a non-request leaf (key access, erasure, policy change, admin action). Resolves with its index once committed. */
  async appendEvent(kind: string, fields: Record<string, unknown>): Promise<number> {
    const index = this.reserve();
    let data: Buffer;
    try {
      data = encodeLeaf(eventLeaf(index, kind, fields));
    } catch (e) {
      // The index is reserved: fill it so that the log stays contiguous.
      await this.submit({ idx: index, data: encodeLeaf(lostLeaf(index)) });
      throw e;
    }
    await this.submit({ idx: index, data });
    return index;
  }

  /** Commit what is queued, now. */
  flush(): void {
    this.scheduled = false;
    if (this.retry) {
      clearTimeout(this.retry);
      this.retry = undefined;
    }
    if (this.entries.length === 0 && this.rows.length === 0) return;
    const rows = this.rows;
    const entries = this.entries;
    const batch = this.batch;
    this.rows = [];
    this.entries = [];
    this.batch = undefined;
    try {
      this.store.records.append(rows, entries);
      this.healthy = true;
    } catch (e) {
      this.healthy = false;
      this.rows = rows.concat(this.rows);
      this.entries = entries.concat(this.entries);
      this.log.error({ err: (e as Error).message, pending: this.entries.length }, 'audit/record store write failed; refusing new requests');
      if (!this.closed) this.retry = setTimeout(() => this.flush(), 1000);
      const err = new AuditError('record_unavailable', '記録ストアに書き込めません', 'the record store cannot be written');
      if (batch) {
        batch.promise.catch(() => {});
        batch.reject(err);
      }
      return;
    }
    batch?.resolve();
    this.sinceCheckpoint += entries.length;
    if (this.publish && this.sinceCheckpoint >= this.checkpointEntries && !this.integrateScheduled) {
      this.integrateScheduled = true;
      setImmediate(() => this.integrateSafe());
    }
  }

  // ------------------------------------------------------------------------------------
  // integration

  private loadTree(): void {
    const cp = this.store.audit.latestCheckpoint();
    const size = cp?.size ?? 0;
    this.edge.clear();
    this.dirty.clear();
    const reader = new TileHashReader((level, n) => this.readTile(level, n));
    this.tree = CompactRange.fromNodes(size, (h, i) => reader.node(h, i), (h, i, hash) => this.addNode(h, i, hash));
  }

  private edgeTile(level: number, n: number) {
    const key = `${level}/${n}`;
    let t = this.edge.get(key);
    if (!t) {
      const stored = this.store.audit.tile(level, n);
      const data = Buffer.alloc(TILE_WIDTH * HASH_SIZE);
      if (stored) stored.copy(data);
      const inner = Buffer.alloc(INNER_NODES * HASH_SIZE);
      const storedInner = stored ? this.store.audit.tileInner(level, n) : undefined;
      if (storedInner) storedInner.copy(inner);
      else if (stored) {
        // Tiles written without interior nodes: compute the complete ones.
        const width = stored.length / HASH_SIZE;
        for (let r = 1; r < TILE_HEIGHT; r++)
          for (let j = 0; (j + 1) * 2 ** r <= width; j++) perfectRoot(stored, j * 2 ** r, 2 ** r).copy(inner, innerOffset(r, j));
      }
      t = { level, n, data, width: stored ? stored.length / HASH_SIZE : 0, inner };
      this.edge.set(key, t);
    }
    return t;
  }

  private addNode(height: number, index: number, hash: Hash): void {
    const level = Math.floor(height / TILE_HEIGHT);
    const r = height - level * TILE_HEIGHT;
    if (r !== 0) {
      // An interior node of a tile: kept so that proofs need no rehashing.
      const per = TILE_WIDTH / 2 ** r;
      const n = Math.floor(index / per);
      const t = this.edgeTile(level, n);
      hash.copy(t.inner, innerOffset(r, index - n * per));
      this.dirty.add(`${level}/${n}`);
      return;
    }
    const n = Math.floor(index / TILE_WIDTH);
    const pos = index - n * TILE_WIDTH;
    const key = `${level}/${n}`;
    const t = this.edgeTile(level, n);
    if (pos !== t.width) throw new AuditError('tile_gap', `タイル ${key} の位置 ${pos} が連続していません`, `tile ${key}: position ${pos} is not contiguous (width ${t.width})`);
    hash.copy(t.data, pos * HASH_SIZE);
    t.width++;
    this.dirty.add(key);
  }

  /** A tile's interior nodes: the edge being built, else the store (full tiles cached). */
  readInner(level: number, n: number): Buffer | undefined {
    const key = `${level}/${n}`;
    const e = this.edge.get(key);
    if (e) return e.inner;
    const full = this.fullInner.get(key);
    if (full) return full;
    const t = this.store.audit.tileInner(level, n);
    if (t && this.readTile(level, n).length === TILE_WIDTH * HASH_SIZE) {
      if (this.fullInner.size > 4096) this.fullInner.clear();
      this.fullInner.set(key, t);
    }
    return t;
  }

  /** A tile's hashes: the edge being built, else the store (full tiles cached). */
  readTile(level: number, n: number): Buffer {
    const key = `${level}/${n}`;
    const e = this.edge.get(key);
    if (e) return e.data.subarray(0, e.width * HASH_SIZE);
    const full = this.fullTiles.get(key);
    if (full) return full;
    const t = this.store.audit.tile(level, n);
    if (!t) throw new AuditError('missing_tile', `タイル ${key} がありません`, `tile ${key} is missing`);
    if (t.length === TILE_WIDTH * HASH_SIZE) {
      if (this.fullTiles.size > 4096) this.fullTiles.clear();
      this.fullTiles.set(key, t);
    }
    return t;
  }

  private recoverGaps(): void {
    const from = this.tree.size;
    const to = this.next;
    if (to <= from) return;
    const have = new Set(this.store.audit.indicesIn(from, to));
    const lost: AuditEntryRow[] = [];
    for (let i = from; i < to; i++) if (!have.has(i)) lost.push({ idx: i, data: encodeLeaf(lostLeaf(i)) });
    if (lost.length > 0) {
      this.store.audit.append(lost);
      this.log.warn({ lost: lost.length, first: lost[0]!.idx }, 'audit log: indices reserved by a previous process were never recorded (their requests got no answer); filled with "lost" leaves');
    }
  }

  private integrateSafe(): void {
    this.integrateScheduled = false;
    if (this.closed) return;
    try {
      this.integrate();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'audit log: publishing a checkpoint failed');
      this.loadTree();
    }
  }

  /**
   * Integrate the committed entries that follow the last checkpoint contiguously, and publish
   * a new checkpoint. Returns the new tree size.
   */
  integrate(maxEntries = 1 << 20): number {
    const from = this.tree.size;
    const max = this.store.audit.maxIndex();
    if (max < from) return from;
    const CHUNK = 4096;
    let at = from;
    const end = Math.min(max + 1, from + maxEntries);
    while (at < end) {
      const stop = Math.min(end, at + CHUNK);
      const rows = this.store.audit.entries(at, stop);
      let contiguous = true;
      for (const r of rows) {
        if (r.idx !== at) {
          contiguous = false;
          break;
        }
        this.tree.append(leafHash(r.data));
        at++;
      }
      if (!contiguous || at < stop) break;
    }
    if (at === from) return from;
    const cp: Checkpoint = { origin: this.origin, size: this.tree.size, root: this.tree.root(), extensions: [] };
    const note = signCheckpoint(cp, this.signer);
    const tiles = [...this.dirty].map((k) => {
      const t = this.edge.get(k)!;
      return { level: t.level, n: t.n, data: Buffer.from(t.data.subarray(0, t.width * HASH_SIZE)), inner: Buffer.from(t.inner) };
    });
    this.store.audit.publish(tiles, cp.size, note, new Date().toISOString());
    // Full tiles leave the edge.
    for (const k of this.dirty) {
      const t = this.edge.get(k)!;
      if (t.width === TILE_WIDTH) this.edge.delete(k);
    }
    this.dirty.clear();
    this.sinceCheckpoint = 0;
    if (this.witnesses.length > 0) void this.cosign(cp.size, note);
    return cp.size;
  }

  private async cosign(size: number, note: string): Promise<void> {
    for (const w of this.witnesses) {
      if (this.witnessBusy.has(w.name)) continue;
      this.witnessBusy.add(w.name);
      try {
        let old = this.witnessSize.get(w.name) ?? 0;
        for (let attempt = 0; attempt < 2; attempt++) {
          const proof = old > 0 && old < size ? this.consistency(old, size) : [];
          const r = await requestCosignature(w, old, proof, note);
          if (r.ok) {
            this.witnessSize.set(w.name, size);
            const row = this.store.audit.checkpoint(size);
            if (row && !this.closed) {
              const lines = r.cosignatures.filter((c) => !row.note.includes(c.line));
              if (lines.length) this.store.audit.setCheckpointNote(size, row.note + lines.map((l) => l.line).join(''));
            }
            break;
          }
          if (r.status === 409 && r.witnessSize !== undefined && r.witnessSize <= size && attempt === 0) {
            old = r.witnessSize;
            continue;
          }
          this.log.warn({ witness: w.name, status: r.status }, 'audit log: witness did not cosign');
          break;
        }
      } catch (e) {
        this.log.warn({ witness: w.name, err: (e as Error).message }, 'audit log: witness unreachable');
      } finally {
        this.witnessBusy.delete(w.name);
      }
    }
  }

  /** Wait for witness requests in flight (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.witnessBusy.size > 0) await new Promise((r) => setTimeout(r, 10));
  }

  // ------------------------------------------------------------------------------------
  // proofs

  private hashReader: TileHashReader | undefined;
  private reader(): TileHashReader {
    return (this.hashReader ??= new TileHashReader(
      (level, n) => this.readTile(level, n),
      512,
      (level, n) => this.readInner(level, n),
    ));
  }

  /** RFC 6962 inclusion proof of `index` in the tree of `size` (default: the latest checkpoint). */
  inclusion(index: number, size = this.tree.size): Hash[] {
    if (size > this.tree.size) throw new AuditError('bad_size', `木の大きさ ${size} はまだ公開されていません`, `tree size ${size} is not published yet`);
    const r = this.reader();
    return inclusionProof(index, size, (s, e) => r.range(s, e));
  }

  consistency(m: number, n = this.tree.size): Hash[] {
    if (n > this.tree.size) throw new AuditError('bad_size', `木の大きさ ${n} はまだ公開されていません`, `tree size ${n} is not published yet`);
    const r = this.reader();
    return consistencyProof(m, n, (s, e) => r.range(s, e));
  }

  /** The latest signed checkpoint (with cosignatures), or undefined before the first. */
  checkpointNote(): string | undefined {
    return this.store.audit.latestCheckpoint()?.note;
  }

  checkpointText(): string {
    return checkpointBody({ origin: this.origin, size: this.tree.size, root: this.tree.root(), extensions: [] });
  }

  close(): void {
    this.flush();
    try {
      if (this.publish) this.integrate();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'audit log: final checkpoint failed');
    }
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.retry) clearTimeout(this.retry);
  }
}

export function lostLeaf(index: number): LostLeaf {
  return { v: 1, kind: 'lost', index, ts: new Date().toISOString(), reason: 'reserved_not_recorded' };
}
