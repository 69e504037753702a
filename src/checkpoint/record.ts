/**
 * The record stage: every request is numbered when it starts (the answer carries the index as
 * `x-sekisho-audit-index`) and becomes one leaf of the audit log with that index, committed
 * together with its decision record (metadata only, never text) in a group commit.
 *
 * Durability: the end of each answer (a whole JSON body, or a stream's final `[DONE]`) is
 * held until its leaf is committed (`HeldSink`). If the store fails, the held answer is
 * replaced by 503 record_unavailable (or an error event in a stream), `healthy` turns false
 * and the checkpoint refuses new requests (fail closed).
 */
import type { DecisionRecord } from '../store/index.js';
import type { Logger } from '../ops/log.js';
import type { AuditLog } from '../audit/log.js';
import { encodeLeaf, type RequestLeaf } from '../audit/leaf.js';
import type { Sink } from './relay.js';
import { CheckpointError } from './errors.js';

export interface BackendFacts {
  country: string;
  jurisdictions: string[];
  on_premises: boolean;
}

export interface LeafExtras {
  flags: string[];
  findings: Record<string, number>;
  requestCommit: string | null;
  answerCommit: string | null;
  /** The model name for the leaf: a configured one, or '' (the decision record keeps what was asked). */
  model: string;
}

export class Recorder {
  constructor(
    readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly backends: ReadonlyMap<string, BackendFacts>,
    private readonly policyVersion: string,
  ) {}

  get healthy(): boolean {
    return this.audit.healthy;
  }

  get pending(): number {
    return this.audit.pending;
  }

  /** The request's audit index: at once (SQLite) or once the batch's reservation returns (PostgreSQL). */
  reserve(): number | Promise<number> {
    return this.audit.reserve();
  }

  /** Commit the decision record and its leaf; resolves once both are in the store. */
  add(r: DecisionRecord, x: LeafExtras): Promise<void> {
    const facts = r.backend ? this.backends.get(r.backend) : undefined;
    const leaf: RequestLeaf = {
      v: 1,
      kind: 'request',
      index: r.seq,
      ts: r.ts,
      request_id: r.request_id,
      principal: this.audit.committer.pseudonym(r.principal),
      endpoint: r.endpoint,
      model: x.model,
      level: r.level,
      flags: x.flags,
      findings: x.findings,
      decision: r.decision,
      reason: r.reason,
      status: r.status,
      backend: r.backend,
      country: facts?.country ?? null,
      jurisdictions: facts?.jurisdictions ?? [],
      on_premises: facts?.on_premises ?? false,
      policy: this.policyVersion,
      request_commit: x.requestCommit,
      answer_commit: x.answerCommit,
    };
    return this.audit.submit({ idx: r.seq, data: encodeLeaf(leaf) }, r);
  }

  flush(): Promise<void> {
    return this.audit.flush();
  }

  /** Commitment of the request body as received (HMAC under the tenant's commitment key). */
  commitRequest(requestId: string, body: unknown): string {
    return this.audit.committer.commit(requestId, 'request', JSON.stringify(body));
  }

  hold(sink: Sink, requestId: string): HeldSink {
    return new HeldSink(sink, this.audit.committer.begin(requestId, 'answer'), this.log);
  }
}

const DONE_RE = /data: ?\[DONE\]\r?\n\r?\n$/;

/**
 * A sink that passes everything through except the end of the answer, which it holds until
 * `release` learns that the record is committed. It also computes the answer commitment over
 * exactly the bytes the client receives.
 */
export class HeldSink implements Sink {
  private final: (() => void) | undefined;
  private kind: 'none' | 'send' | 'stream' = 'none';
  private tail: string | Buffer | undefined;
  private sendHeaders: Record<string, string> = {};
  private answered = false;

  constructor(
    private readonly inner: Sink,
    private readonly mac: { update(b: string | Uint8Array): void; digest(): string },
    private readonly log: Logger,
  ) {}

  send(status: number, headers: Record<string, string>, body: string | Buffer): void {
    if (this.kind !== 'none') return;
    this.kind = 'send';
    this.answered = true;
    this.sendHeaders = headers;
    this.mac.update(body);
    this.final = () => this.inner.send(status, headers, body);
  }

  start(status: number, headers: Record<string, string>): void {
    if (this.kind !== 'none') return;
    this.kind = 'stream';
    this.answered = true;
    this.sendHeaders = headers;
    this.inner.start(status, headers);
  }

  write(chunk: string | Buffer): Promise<void> {
    this.mac.update(chunk);
    const s = typeof chunk === 'string' ? chunk.slice(-24) : chunk.subarray(Math.max(0, chunk.length - 24)).toString('latin1');
    const m = DONE_RE.exec(s);
    if (m) {
      // Hold the final [DONE] event: it goes out once the leaf is committed.
      const cut = chunk.length - m[0].length;
      const head = typeof chunk === 'string' ? chunk.slice(0, cut) : chunk.subarray(0, cut);
      this.tail = typeof chunk === 'string' ? chunk.slice(cut) : chunk.subarray(cut);
      return head.length > 0 ? this.inner.write(head) : Promise.resolve();
    }
    return this.inner.write(chunk);
  }

  end(): void {
    const tail = this.tail;
    this.final = () => {
      if (tail !== undefined) void this.inner.write(tail);
      this.inner.end();
    };
  }

  /** The commitment over the answer's bytes, or null when nothing was answered. */
  answerCommit(): string | null {
    if (!this.answered) return null;
    return this.mac.digest();
  }

  /** Send the held end once `committed` resolves; fail closed if it rejects. */
  async release(committed: Promise<void>): Promise<void> {
    let ok = true;
    try {
      await committed;
    } catch (e) {
      ok = false;
      this.log.error({ err: (e as Error).message }, 'record not committed: the answer is withheld');
    }
    const final = this.final;
    this.final = undefined;
    if (!final) return;
    if (ok) return final();
    const err = new CheckpointError(503, 'server_error', 'record_unavailable', '記録ストアに書き込めないため、応答を返せません', 'The record store cannot be written, so the answer is withheld');
    if (this.kind === 'send') {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      for (const k of ['x-sekisho-request-id', 'x-sekisho-audit-index', 'x-sekisho-level']) if (this.sendHeaders[k]) headers[k] = this.sendHeaders[k]!;
      this.inner.send(503, headers, JSON.stringify(err.toJSON()));
    } else {
      void this.inner.write(`data: ${JSON.stringify({ error: { message: err.en, type: err.type, code: err.code, sekisho: { code: err.code, message: { ja: err.ja, en: err.en } } } })}\n\n`);
      this.inner.end();
    }
  }
}
