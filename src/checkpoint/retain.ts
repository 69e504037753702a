/**
 * Body retention (part of the record stage): for the levels the tenant configured
 * (`vault.retention: { L2: bodies }`), the request and the answer are kept — sealed by the
 * vault under the subject's key, never in plaintext — in batches off the request path.
 * Levels set to `metadata` (the default) keep no text at all and cost nothing here.
 * If the store cannot be written, `healthy` turns false and the checkpoint refuses requests.
 */
import type { LevelName } from '../policy/index.js';
import type { Logger } from '../ops/log.js';
import type { VaultRecordRow } from '../store/index.js';
import type { KeyReason, Vault } from '../vault/index.js';
import type { Sink } from './relay.js';

export interface RetainOptions {
  retention: Partial<Record<LevelName, 'metadata' | 'bodies'>>;
  maxBytes: number;
  flushMs?: number;
  maxBatch?: number;
}

/** The answer as the client received it, captured up to a limit. */
export interface Capture {
  sink: Sink;
  bytes(): Buffer;
  /** Overwrites the captured plaintext (after it was sealed). */
  wipe(): void;
}

const EMPTY = Buffer.alloc(0);
export const BODY_PURPOSE = 'body';

/** Opens the retained bodies of a request (the reason lands in the key-access events). */
export async function readRetained(vault: Vault, requestId: string, reason: KeyReason): Promise<{ request: Buffer; answer: Buffer } | undefined> {
  const pt = await vault.read(requestId, reason, requestId);
  if (!pt) return undefined;
  const n = pt.readUInt32BE(0);
  return { request: pt.subarray(4, 4 + n), answer: pt.subarray(4 + n) };
}

export class Retainer {
  private queue: VaultRecordRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  healthy = true;

  constructor(
    private readonly vault: Vault,
    private readonly log: Logger,
    private readonly opts: RetainOptions,
  ) {}

  /** Whether bodies are kept at this level. */
  wants(level: LevelName): boolean {
    return this.opts.retention[level] === 'bodies';
  }

  /** Wraps the sink so that what is sent is also captured (bounded). */
  capture(sink: Sink): Capture {
    const parts: Buffer[] = [];
    let n = 0;
    const max = this.opts.maxBytes;
    const take = (b: string | Buffer | Uint8Array) => {
      if (n >= max) return;
      // A copy: the sink's buffer is not ours to keep (or to wipe).
      const buf = typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b.buffer, b.byteOffset, Math.min(b.byteLength, max - n));
      const part = Buffer.from(buf.length > max - n ? buf.subarray(0, max - n) : buf);
      parts.push(part);
      n += part.length;
    };
    const tapped: Sink = {
      send: (status, headers, body) => {
        take(body);
        sink.send(status, headers, body);
      },
      start: (status, headers) => sink.start(status, headers),
      write: (chunk) => {
        take(chunk);
        return sink.write(chunk);
      },
      end: () => sink.end(),
    };
    return {
      sink: tapped,
      bytes: () => Buffer.concat(parts),
      wipe: () => {
        for (const p of parts) p.fill(0);
        parts.length = 0;
      },
    };
  }

  /**
   * Seals and queues the bodies of one request: one envelope (one data key, one row) holding
   * both, framed as u32 request length | request | answer.
   */
  add(requestId: string, level: LevelName, subject: string, request: Buffer, answer: Buffer | undefined): Promise<void> {
    const p = this.seal(requestId, level, subject, request, answer);
    this.sealing.add(p);
    void p.catch(() => {}).finally(() => this.sealing.delete(p));
    return p;
  }

  private readonly sealing = new Set<Promise<void>>();

  private async seal(requestId: string, level: LevelName, subject: string, request: Buffer, answer: Buffer | undefined): Promise<void> {
    const req = request.length > this.opts.maxBytes ? request.subarray(0, this.opts.maxBytes) : request;
    const ans = !answer ? EMPTY : answer.length > this.opts.maxBytes ? answer.subarray(0, this.opts.maxBytes) : answer;
    const framed = Buffer.allocUnsafe(4 + req.length + ans.length);
    framed.writeUInt32BE(req.length, 0);
    req.copy(framed, 4);
    ans.copy(framed, 4 + req.length);
    let row: VaultRecordRow;
    try {
      row = await this.vault.seal({ id: requestId, purpose: BODY_PURPOSE }, framed, { subject, level, requestId });
    } finally {
      framed.fill(0);
    }
    // Pushed only now: `this.queue.push(await …)` would read `this.queue` before the await, and a flush in
    // between swaps the array, so the row would land in a batch already written and be lost without an error.
    this.queue.push(row);
    if (this.queue.length >= (this.opts.maxBatch ?? 512)) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.opts.flushMs ?? 50);
  }

  /** Waits for the bodies being sealed, then writes everything queued (shutdown, tests). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.sealing]);
    await this.flush();
  }

  /** Writes are chained (one batch at a time). */
  private writing: Promise<void> = Promise.resolve();

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return this.writing;
    const batch = this.queue;
    this.queue = [];
    this.writing = this.writing.then(() =>
      this.vault.store.putRecords(batch).then(
        () => {
          this.healthy = true;
        },
        (e: Error) => {
          this.healthy = false;
          this.queue = batch.concat(this.queue);
          this.log.error({ err: e.message, pending: this.queue.length }, 'retained bodies could not be stored; refusing new requests');
          this.timer ??= setTimeout(() => void this.flush(), 1000);
        },
      ),
    );
    return this.writing;
  }
}
