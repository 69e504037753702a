/**
 * The record stage: decision records are numbered when the request starts (so the answer
 * can carry its index) and written to the store in batches, off the request path.
 * If the store fails, `healthy` turns false and the checkpoint refuses new requests
 * (fail closed: nothing is relayed that cannot be recorded).
 */
import type { DecisionRecord, Store } from '../store/index.js';
import type { Logger } from '../ops/log.js';

export class Recorder {
  private next: number;
  private queue: DecisionRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  healthy = true;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly flushMs = 50,
    private readonly maxBatch = 1024,
  ) {
    this.next = store.records.nextSeq();
  }

  reserve(): number {
    return this.next++;
  }

  add(r: DecisionRecord): void {
    this.queue.push(r);
    if (this.queue.length >= this.maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    try {
      this.store.records.append(batch);
      this.healthy = true;
    } catch (e) {
      // Keep the records for the next try; refuse new requests meanwhile.
      this.healthy = false;
      this.queue = batch.concat(this.queue);
      this.log.error({ err: (e as Error).message, pending: this.queue.length }, 'record store write failed; refusing new requests');
      this.timer ??= setTimeout(() => this.flush(), 1000);
    }
  }

  get pending(): number {
    return this.queue.length;
  }
}
