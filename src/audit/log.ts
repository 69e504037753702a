/**
 * The audit log: a sequencer and an integrator over the store.
 *
 * Sequencing: every request reserves its index when it starts (the answer carries it as
 * `x-sekisho-audit-index`); its leaf is committed with the request's decision record in a
 * group commit (every leaf submitted in the same event-loop turn, one transaction) and
 * `submit` resolves once that transaction committed. The checkpoint holds the end of each
 * answer until then, so an answered request is always in the log.
 *
 *  - SQLite (one node): this process owns the counter. Indices reserved by a process that
 *    died before committing them (their requests got no answer) are filled with `lost`
 *    leaves when the log is opened, so the log never stalls.
 *  - PostgreSQL (several nodes, the Tessera pattern): the counter is one row of the database.
 *    The requests that start together reserve their indices in one statement (a batch),
 *    which locks the row, takes the range, moves the counter and records the range as this
 *    node's (store/postgres.ts). Leaves are then group-committed as above, on any node.
 *
 * Integration runs apart from the request path (a timer, or N new entries): it takes the
 * longest run of committed entries after the last checkpoint, hashes them (RFC 6962),
 * extends the tiles (C2SP tlog-tiles), signs a checkpoint (C2SP tlog-checkpoint, signed
 * note) and writes tiles and checkpoint in one transaction (compare-and-set on the published
 * size). Then it asks the configured witnesses (C2SP tlog-witness) to cosign. On PostgreSQL
 * one node integrates: the holder of the integrator's advisory lock; another takes over when
 * its session ends. When integration stops at an index whose node is dead (its lock is free),
 * the integrator fills that node's missing indices with `lost` leaves — no gaps, and no index
 * holds two entries (the primary key; a late commit of a filled index is refused and its
 * answer withheld).
 */
import type { AuditEntryRow, Cluster, DecisionRecord, Store } from '../store/index.js';
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
  /** Fill gaps left by a previous process (SQLite: only the process that serves should). */
  recover?: boolean;
  /** Publish checkpoints (timer, N entries, on close); false for short-lived CLI processes. */
  publish?: boolean;
}

/** A tile is needed that is not in memory: fetched, and the synchronous computation re-run. */
class NeedTile {
  constructor(
    readonly level: number,
    readonly n: number,
  ) {}
}

interface Batch {
  promise: Promise<ReadonlySet<number> | undefined>;
  resolve(lost: ReadonlySet<number> | undefined): void;
  reject(e: Error): void;
}

export class AuditLog {
  readonly signer: Signer;
  readonly committer: Committer;
  readonly origin: string;
  healthy = true;
  /** SQLite: the next index (this process owns the counter). */
  private next = 0;
  private rows: DecisionRecord[] = [];
  private entries: AuditEntryRow[] = [];
  /** One promise per group commit, shared by every leaf in it. */
  private batch: Batch | undefined;
  private scheduled = false;
  private inFlight = 0;
  private readonly maxInFlight: number;
  private flushed: (() => void)[] = [];
  private retry: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sinceCheckpoint = 0;
  private tree!: CompactRange;
  /** Right-edge tiles being filled: key "L/N" → hashes so far. */
  private edge = new Map<string, { level: number; n: number; data: Buffer; width: number; inner: Buffer }>();
  private fullInner = new Map<string, Buffer>();
  private dirty = new Set<string>();
  private fullTiles = new Map<string, Buffer>();
  /** Partial tiles read from the store for one computation (proofs of a log this node does not integrate). */
  private partial = new Map<string, { data: Buffer; inner: Buffer | undefined }>();
  private witnessSize = new Map<string, number>();
  private witnessBusy = new Set<string>();
  private closed = false;
  private integrateScheduled = false;
  /** Integrations run one after another (each call sees everything committed before it). */
  private integrations: Promise<unknown> = Promise.resolve();
  private integrationsQueued = 0;
  /** PostgreSQL: requests waiting for a reservation, and reservations in flight. */
  private reserveQueue: { resolve(i: number): void; reject(e: Error): void }[] = [];
  private reserveScheduled = false;
  private reservesInFlight = 0;
  /** PostgreSQL: whether this node integrated at its last turn (a new leader reloads the tree). */
  private wasLeader = false;
  private readonly cluster: Cluster | undefined;
  private readonly publish: boolean;
  private readonly store: Store;
  private readonly log: Logger;
  private readonly checkpointEntries: number;
  private readonly maxBatch: number;
  private readonly witnesses: WitnessConfig[];

  private constructor(opts: AuditLogOptions) {
    this.store = opts.store;
    this.cluster = opts.store.cluster;
    this.log = opts.log;
    this.origin = opts.origin;
    this.signer = ed25519Signer(opts.origin, opts.keys.signingSeed);
    this.committer = new Committer(opts.keys.commitKey, opts.keys.pseudonymKey);
    this.checkpointEntries = opts.checkpointEntries ?? 10_000;
    this.maxBatch = opts.maxBatch ?? 1024;
    this.maxInFlight = this.cluster ? 4 : 1;
    this.witnesses = opts.witnesses ?? [];
    this.publish = opts.publish !== false;
    for (const w of this.witnesses) {
      const v = parseVerifierKey(w.vkey);
      if (v.alg !== ALG_COSIGNATURE_V1 || v.name !== w.name) {
        throw new AuditError('bad_witness', `立会人 ${w.name} の検証鍵は同じ名前の cosignature/v1 (種別 0x04) の鍵にしてください`, `the verifier key of witness ${w.name} must be a cosignature/v1 key (type 0x04) with the same name`);
      }
    }
  }

  static async open(opts: AuditLogOptions): Promise<AuditLog> {
    const a = new AuditLog(opts);
    await a.loadTree();
    if (a.cluster) {
      // Several nodes: the counter lives in the database. A serving node registers (and takes its
      // lock) now; a CLI process only when it first reserves.
      if (a.publish) await a.cluster.start();
      a.cluster.onReset(() => {
        a.wasLeader = false;
        a.log.warn('audit log: this node lost its database lock session; it continues under a new node id (another node may fill its open indices with "lost" leaves)');
      });
    } else {
      const seq = await a.store.records.nextSeq();
      a.next = Math.max(seq, (await a.store.audit.maxIndex()) + 1, a.tree.size);
      if (opts.recover) await a.recoverGaps();
    }
    const interval = opts.checkpointIntervalMs ?? 2000;
    if (interval > 0 && a.publish) {
      a.timer = setInterval(() => void a.integrateSafe(), interval);
      a.timer.unref();
    }
    return a;
  }

  get vkey(): string {
    return this.signer.vkey;
  }

  /** The tree size of the latest checkpoint this process integrated or loaded. */
  get size(): number {
    return this.tree.size;
  }

  get pending(): number {
    return this.entries.length + this.rows.length;
  }

  /**
   * The next index, for the answer's `x-sekisho-audit-index`: at once on SQLite; on
   * PostgreSQL once the batch's reservation returns (the requests that start in the same
   * turn share one statement).
   */
  reserve(): number | Promise<number> {
    if (!this.cluster) return this.next++;
    return new Promise<number>((resolve, reject) => {
      this.reserveQueue.push({ resolve, reject });
      if (!this.reserveScheduled && this.reservesInFlight < 2) {
        this.reserveScheduled = true;
        setImmediate(() => void this.reserveBatch());
      }
    });
  }

  private async reserveBatch(): Promise<void> {
    this.reserveScheduled = false;
    const waiting = this.reserveQueue.splice(0, 4096);
    if (waiting.length === 0) return;
    this.reservesInFlight++;
    try {
      const first = await this.cluster!.reserve(waiting.length);
      waiting.forEach((w, i) => w.resolve(first + i));
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'audit log: indices could not be reserved');
      const err = new AuditError('record_unavailable', '記録ストアで索引を確保できません', 'no audit index could be reserved in the record store');
      for (const w of waiting) w.reject(err);
    } finally {
      this.reservesInFlight--;
      if (this.reserveQueue.length > 0 && !this.reserveScheduled) {
        this.reserveScheduled = true;
        setImmediate(() => void this.reserveBatch());
      }
    }
  }

  /**
   * Queue a leaf (and its decision record) for the next group commit. Resolves once both are
   * committed; rejects if the store refused them (they stay queued and are retried), or if
   * the index was filled as `lost` meanwhile (this node was taken for dead).
   */
  submit(entry: AuditEntryRow, row?: DecisionRecord): Promise<void> {
    this.entries.push(entry);
    if (row) this.rows.push(row);
    if (!this.batch) {
      let resolve!: Batch['resolve'];
      let reject!: Batch['reject'];
      const promise = new Promise<ReadonlySet<number> | undefined>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.batch = { promise, resolve, reject };
    }
    const p = this.batch.promise;
    if (this.entries.length >= this.maxBatch) void this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
    const idx = entry.idx;
    return p.then((lost) => {
      if (lost?.has(idx)) throw new AuditError('record_unavailable', `索引 ${idx} は別のノードが「失われた」と記録しました`, `index ${idx} was recorded as lost by another node`);
    });
  }

  /** Append a non-request leaf (key access, erasure, policy change, admin action). Resolves with its index once committed. */
  async appendEvent(kind: string, fields: Record<string, unknown>): Promise<number> {
    const index = await this.reserve();
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

  /** Commit what is queued, now (at most `maxInFlight` group commits at a time). Resolves once it committed or failed. */
  flush(): Promise<void> {
    this.scheduled = false;
    if (this.retry) {
      clearTimeout(this.retry);
      this.retry = undefined;
    }
    if (this.entries.length === 0 && this.rows.length === 0) return this.inFlight === 0 ? Promise.resolve() : new Promise((r) => this.flushed.push(r));
    if (this.inFlight >= this.maxInFlight) {
      // The next commit starts when one in flight ends (the batch keeps growing meanwhile).
      return new Promise((r) => this.flushed.push(r));
    }
    const rows = this.rows;
    const entries = this.entries;
    const batch = this.batch;
    this.rows = [];
    this.entries = [];
    this.batch = undefined;
    this.inFlight++;
    let appended: Promise<number[]>;
    try {
      appended = this.store.records.append(rows, entries);
    } catch (e) {
      appended = Promise.reject(e as Error);
    }
    return appended
      .then(
        (lost) => {
          this.healthy = true;
          if (lost.length > 0) this.log.error({ lost }, 'audit log: indices of this node were filled as "lost" by another node; their answers are withheld');
          batch?.resolve(lost.length > 0 ? new Set(lost) : undefined);
          this.sinceCheckpoint += entries.length;
          if (this.publish && this.sinceCheckpoint >= this.checkpointEntries && !this.integrateScheduled) {
            this.integrateScheduled = true;
            setImmediate(() => void this.integrateSafe());
          }
        },
        (e: Error) => {
          this.healthy = false;
          this.rows = rows.concat(this.rows);
          this.entries = entries.concat(this.entries);
          this.log.error({ err: e.message, pending: this.entries.length }, 'audit/record store write failed; refusing new requests');
          if (!this.closed) this.retry ??= setTimeout(() => void this.flush(), 1000);
          const err = new AuditError('record_unavailable', '記録ストアに書き込めません', 'the record store cannot be written');
          if (batch) {
            batch.promise.catch(() => {});
            batch.reject(err);
          }
        },
      )
      .finally(() => {
        this.inFlight--;
        const waiters = this.flushed;
        this.flushed = [];
        if ((this.entries.length > 0 || this.rows.length > 0) && this.healthy) {
          const next = this.flush();
          for (const w of waiters) void next.then(w);
        } else for (const w of waiters) w();
      });
  }

  // ------------------------------------------------------------------------------------
  // integration

  private async loadTree(): Promise<void> {
    const cp = await this.store.audit.latestCheckpoint();
    const size = cp?.size ?? 0;
    this.edge.clear();
    this.dirty.clear();
    this.fullTiles.clear();
    this.fullInner.clear();
    this.hashReader = undefined;
    // The right-edge tile of every level is partial: it is extended in place as the log grows.
    for (let level = 0; TILE_WIDTH ** level <= size; level++) {
      const nodes = Math.floor(size / TILE_WIDTH ** level);
      const n = Math.floor(nodes / TILE_WIDTH);
      if (nodes % TILE_WIDTH === 0) continue;
      const stored = await this.store.audit.tile(level, n);
      if (!stored) throw new AuditError('missing_tile', `タイル ${level}/${n} がありません`, `tile ${level}/${n} is missing`);
      this.seedEdge(level, n, stored, await this.store.audit.tileInner(level, n));
    }
    const reader = new TileHashReader((level, n) => this.readTile(level, n));
    this.tree = await this.withTiles(() => CompactRange.fromNodes(size, (h, i) => reader.node(h, i), (h, i, hash) => this.addNode(h, i, hash)));
  }

  private seedEdge(level: number, n: number, stored: Buffer, storedInner: Buffer | undefined): void {
    const data = Buffer.alloc(TILE_WIDTH * HASH_SIZE);
    stored.copy(data);
    const inner = Buffer.alloc(INNER_NODES * HASH_SIZE);
    if (storedInner) storedInner.copy(inner);
    else {
      // Tiles written without interior nodes: compute the complete ones.
      const width = stored.length / HASH_SIZE;
      for (let r = 1; r < TILE_HEIGHT; r++) for (let j = 0; (j + 1) * 2 ** r <= width; j++) perfectRoot(stored, j * 2 ** r, 2 ** r).copy(inner, innerOffset(r, j));
    }
    this.edge.set(`${level}/${n}`, { level, n, data, width: stored.length / HASH_SIZE, inner });
  }

  /** A tile being extended: the right edge (seeded by loadTree), or a new one. */
  private edgeTile(level: number, n: number) {
    const key = `${level}/${n}`;
    let t = this.edge.get(key);
    if (!t) {
      t = { level, n, data: Buffer.alloc(TILE_WIDTH * HASH_SIZE), width: 0, inner: Buffer.alloc(INNER_NODES * HASH_SIZE) };
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

  /** A tile's interior nodes: the edge being built, else what was read (full tiles cached). */
  private readInner(level: number, n: number): Buffer | undefined {
    const key = `${level}/${n}`;
    const e = this.edge.get(key);
    if (e) return e.inner;
    const full = this.fullInner.get(key);
    if (full) return full;
    const p = this.partial.get(key);
    if (p) return p.inner;
    throw new NeedTile(level, n);
  }

  /** A tile's hashes: the edge being built, else what was read (full tiles cached). */
  private readTile(level: number, n: number): Buffer {
    const key = `${level}/${n}`;
    const e = this.edge.get(key);
    if (e) return e.data.subarray(0, e.width * HASH_SIZE);
    const full = this.fullTiles.get(key);
    if (full) return full;
    const p = this.partial.get(key);
    if (p) return p.data;
    throw new NeedTile(level, n);
  }

  /** Runs a synchronous tree computation, reading the tiles it asks for from the store as it goes. */
  private async withTiles<T>(fn: () => T): Promise<T> {
    this.partial.clear();
    try {
      for (;;) {
        try {
          return fn();
        } catch (e) {
          if (!(e instanceof NeedTile)) throw e;
          const key = `${e.level}/${e.n}`;
          const t = await this.store.audit.tile(e.level, e.n);
          if (!t) throw new AuditError('missing_tile', `タイル ${key} がありません`, `tile ${key} is missing`);
          const inner = await this.store.audit.tileInner(e.level, e.n);
          if (t.length === TILE_WIDTH * HASH_SIZE) {
            if (this.fullTiles.size > 4096) this.fullTiles.clear();
            if (this.fullInner.size > 4096) this.fullInner.clear();
            this.fullTiles.set(key, t);
            if (inner) this.fullInner.set(key, inner);
            else this.partial.set(key, { data: t, inner: undefined });
          } else this.partial.set(key, { data: t, inner });
        }
      }
    } finally {
      this.partial.clear();
    }
  }

  private async recoverGaps(): Promise<void> {
    const from = this.tree.size;
    const to = this.next;
    if (to <= from) return;
    const have = new Set(await this.store.audit.indicesIn(from, to));
    const lost: AuditEntryRow[] = [];
    for (let i = from; i < to; i++) if (!have.has(i)) lost.push({ idx: i, data: encodeLeaf(lostLeaf(i)) });
    if (lost.length > 0) {
      await this.store.audit.append(lost);
      this.log.warn({ lost: lost.length, first: lost[0]!.idx }, 'audit log: indices reserved by a previous process were never recorded (their requests got no answer); filled with "lost" leaves');
    }
  }

  private async integrateSafe(): Promise<void> {
    this.integrateScheduled = false;
    // Timer and size triggers do not pile up behind a running integration.
    if (this.closed || this.integrationsQueued > 0) return;
    try {
      await this.integrate();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'audit log: publishing a checkpoint failed');
      await this.loadTree().catch(() => {});
    }
  }

  /**
   * Integrate the committed entries that follow the last checkpoint contiguously, and publish
   * a new checkpoint. Returns the new tree size (on PostgreSQL: unchanged on a node that is
   * not the integrator). One integration at a time: a call waits for the one running.
   */
  integrate(maxEntries = 1 << 20): Promise<number> {
    this.integrationsQueued++;
    const run = this.integrations.then(() => this.integrateOnce(maxEntries)).finally(() => this.integrationsQueued--);
    this.integrations = run.catch(() => {});
    return run;
  }

  private async integrateOnce(maxEntries: number): Promise<number> {
    if (this.cluster) {
      if (!(await this.cluster.lead())) {
        this.wasLeader = false;
        return this.tree.size;
      }
      if (!this.wasLeader) {
        // Leadership gained (first time, or taken over from a node that died): start from the latest checkpoint.
        await this.loadTree();
        this.wasLeader = true;
      }
    }
    const from = this.tree.size;
    const end = from + maxEntries;
    let at = from;
    for (let round = 0; round < 16 && at < end; round++) {
      at = await this.extend(at, end);
      if (at >= end || !this.cluster) break;
      // Stopped at a missing index: if the node that reserved it is dead, fill its indices.
      if (!(await this.fillDead(at))) break;
    }
    if (at === from) return from;
    const cp: Checkpoint = { origin: this.origin, size: this.tree.size, root: this.tree.root(), extensions: [] };
    const note = signCheckpoint(cp, this.signer);
    const tiles = [...this.dirty].map((k) => {
      const t = this.edge.get(k)!;
      return { level: t.level, n: t.n, data: Buffer.from(t.data.subarray(0, t.width * HASH_SIZE)), inner: Buffer.from(t.inner) };
    });
    if (!(await this.store.audit.publish(tiles, cp.size, note, new Date().toISOString(), from))) {
      // Another integrator published meanwhile (this node's leadership lapsed): start over from its checkpoint.
      this.log.warn({ size: cp.size }, 'audit log: another integrator published first; reloading');
      await this.loadTree();
      return this.tree.size;
    }
    // Full tiles leave the edge.
    for (const k of this.dirty) {
      const t = this.edge.get(k)!;
      if (t.width === TILE_WIDTH) this.edge.delete(k);
    }
    this.dirty.clear();
    this.sinceCheckpoint = 0;
    if (this.cluster) await this.cluster.dropReservations(cp.size).catch(() => {});
    if (this.witnesses.length > 0) void this.cosign(cp.size, note);
    return cp.size;
  }

  /** Appends the committed entries from `at` on while they are contiguous; returns where it stopped. */
  private async extend(at: number, end: number): Promise<number> {
    const CHUNK = 4096;
    while (at < end) {
      const stop = Math.min(end, at + CHUNK);
      const rows = await this.store.audit.entries(at, stop);
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
    return at;
  }

  /**
   * PostgreSQL: `missing` is not committed. If it was reserved by a node that is dead (its lock
   * is free), fill every index of that node's open reservations with a `lost` leaf and return
   * true. False while the node lives (its request is still running) or nothing is reserved.
   */
  private async fillDead(missing: number): Promise<boolean> {
    const cluster = this.cluster!;
    const next = await cluster.next();
    if (missing >= next) return false;
    const [r] = await cluster.reservations(missing, missing + 1);
    if (r && (await cluster.alive(r.node))) return false;
    // The whole run of missing indices that the dead node held (or that no reservation covers).
    const rs = r ? (await cluster.reservations(missing, next)).filter((x) => x.node === r.node) : [{ first: missing, count: 1, node: -1 }];
    const lost: AuditEntryRow[] = [];
    for (const x of rs) {
      const from = Math.max(x.first, missing);
      const have = new Set(await this.store.audit.indicesIn(from, x.first + x.count));
      for (let i = from; i < x.first + x.count; i++) if (!have.has(i)) lost.push({ idx: i, data: encodeLeaf(lostLeaf(i)) });
    }
    if (lost.length > 0) {
      const n = await this.store.audit.append(lost);
      this.log.warn({ node: r?.node, lost: n, first: lost[0]!.idx }, 'audit log: indices reserved by a node that died were never recorded (their requests got no answer); filled with "lost" leaves');
    }
    if (r) await cluster.dropReservations(this.tree.size, r.node);
    return true;
  }

  private async cosign(size: number, note: string): Promise<void> {
    for (const w of this.witnesses) {
      if (this.witnessBusy.has(w.name)) continue;
      this.witnessBusy.add(w.name);
      try {
        let old = this.witnessSize.get(w.name) ?? 0;
        for (let attempt = 0; attempt < 2; attempt++) {
          const proof = old > 0 && old < size ? await this.consistency(old, size) : [];
          const r = await requestCosignature(w, old, proof, note);
          if (r.ok) {
            this.witnessSize.set(w.name, size);
            const row = await this.store.audit.checkpoint(size);
            if (row && !this.closed) {
              const lines = r.cosignatures.filter((c) => !row.note.includes(c.line));
              if (lines.length) await this.store.audit.setCheckpointNote(size, row.note + lines.map((l) => l.line).join(''));
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
  async inclusion(index: number, size = this.tree.size): Promise<Hash[]> {
    if (size > this.tree.size) throw new AuditError('bad_size', `木の大きさ ${size} はまだ公開されていません`, `tree size ${size} is not published yet`);
    const r = this.reader();
    return this.withTiles(() => inclusionProof(index, size, (s, e) => r.range(s, e)));
  }

  async consistency(m: number, n = this.tree.size): Promise<Hash[]> {
    if (n > this.tree.size) throw new AuditError('bad_size', `木の大きさ ${n} はまだ公開されていません`, `tree size ${n} is not published yet`);
    const r = this.reader();
    return this.withTiles(() => consistencyProof(m, n, (s, e) => r.range(s, e)));
  }

  /** The latest signed checkpoint (with cosignatures), or undefined before the first. */
  async checkpointNote(): Promise<string | undefined> {
    return (await this.store.audit.latestCheckpoint())?.note;
  }

  checkpointText(): string {
    return checkpointBody({ origin: this.origin, size: this.tree.size, root: this.tree.root(), extensions: [] });
  }

  async close(): Promise<void> {
    await this.flush();
    try {
      if (this.publish) await this.integrate();
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
