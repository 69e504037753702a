/**
 * Key access is accounted for: every unwrap carries a reason, and every erasure and rotation
 * is an event. The vault emits them through `VaultEvents`; `StoreEvents` keeps them in the
 * store (batched) so that none is lost until the audit log takes them over.
 * Events hold metadata only: versions, ids, subject hashes and counts, never keys or text.
 */
import type { VaultEventRow, VaultStore } from '../store/index.js';
import type { KeyReason } from './keystore/types.js';

export interface KeyAccessEvent {
  ts: string;
  reason: KeyReason;
  /** What was unwrapped: `tenant-key`, `subject-key`, `secret:<purpose>`, or a record purpose. */
  purpose: string;
  keyVersion: number | null;
  keystore: string;
  subjectHash?: string;
  recordId?: string;
  requestId?: string;
}

export interface ErasureEvent {
  ts: string;
  subjectHash: string;
  /** Subject keys destroyed. */
  keys: number;
  /** Records that became undecryptable. */
  records: number;
}

export interface RotationEvent {
  ts: string;
  phase: 'version_created' | 'completed' | 'retired';
  from: number;
  to: number;
  rewrapped?: number;
}

export interface VaultEvents {
  keyAccess(e: KeyAccessEvent): void;
  erasure(e: ErasureEvent): void;
  rotation(e: RotationEvent): void;
  /** Writes what is queued (called on close); resolves once written (or failed). */
  flush?(): void | Promise<void>;
}

/** Persists events in the store: key accesses batched, erasures and rotations at once. */
export class StoreEvents implements VaultEvents {
  private queue: VaultEventRow[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: VaultStore,
    private readonly onError: (e: Error) => void = () => {},
    private readonly flushMs = 100,
  ) {}

  keyAccess(e: KeyAccessEvent): void {
    const { ts, reason, purpose, keyVersion, subjectHash, ...rest } = e;
    this.queue.push({ ts, kind: 'key_access', reason, purpose, key_version: keyVersion, subject_hash: subjectHash ? Buffer.from(subjectHash, 'hex') : null, detail: JSON.stringify(rest) });
    if (this.queue.length >= 256) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushMs).unref();
  }

  erasure(e: ErasureEvent): void {
    this.queue.push({ ts: e.ts, kind: 'erasure', reason: 'erasure', purpose: 'subject-key', key_version: null, subject_hash: Buffer.from(e.subjectHash, 'hex'), detail: JSON.stringify({ keys: e.keys, records: e.records }) });
    void this.flush();
  }

  rotation(e: RotationEvent): void {
    this.queue.push({ ts: e.ts, kind: 'rotation', reason: e.phase === 'retired' ? 'retire' : 'rotation', purpose: 'tenant-key', key_version: e.to, subject_hash: null, detail: JSON.stringify({ phase: e.phase, from: e.from, to: e.to, ...(e.rewrapped !== undefined ? { rewrapped: e.rewrapped } : {}) }) });
    void this.flush();
  }

  /** Writes are chained, so events land in the order they happened. */
  private writing: Promise<void> = Promise.resolve();

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return this.writing;
    const batch = this.queue;
    this.queue = [];
    this.writing = this.writing.then(() =>
      this.store.appendEvents(batch).catch((e: Error) => {
        this.queue = batch.concat(this.queue);
        this.onError(e);
        this.timer ??= setTimeout(() => void this.flush(), 1000).unref();
      }),
    );
    return this.writing;
  }
}

/** Fans events out to several sinks (the store and, after the merge, the audit log). */
export function fanOut(...sinks: VaultEvents[]): VaultEvents {
  return {
    keyAccess: (e) => sinks.forEach((s) => s.keyAccess(e)),
    erasure: (e) => sinks.forEach((s) => s.erasure(e)),
    rotation: (e) => sinks.forEach((s) => s.rotation(e)),
    flush: async () => {
      await Promise.all(sinks.map((s) => s.flush?.()));
    },
  };
}
