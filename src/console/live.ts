/**
 * Live traffic for the console (Server-Sent Events): one poller tails the decision records
 * (by sequence number, an index range scan) once a second while anyone watches, and fans the
 * new records out to every open stream. Works whichever process wrote the records.
 */
import type http from 'node:http';
import type { Store } from '../store/index.js';
import type { Logger } from '../ops/log.js';

const POLL_MS = 1000;
const HEARTBEAT_MS = 15_000;
const MAX_STREAMS = 100;
const MAX_BATCH = 500;

interface Client {
  res: http.ServerResponse;
  alive: () => boolean;
}

export class LiveTail {
  private clients = new Set<Client>();
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private last = -1;
  private busy = false;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  async attach(req: http.IncomingMessage, res: http.ServerResponse, alive: () => boolean): Promise<void> {
    if (this.clients.size >= MAX_STREAMS) {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '10' });
      res.end(JSON.stringify({ error: { code: 'too_many_streams', message: { ja: 'ライブ表示の接続が多すぎます', en: 'Too many live streams' } } }));
      return;
    }
    if (this.clients.size === 0) this.last = await this.store.console.lastSeq();
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`retry: 3000\nevent: hello\ndata: ${JSON.stringify({ last_seq: this.last })}\n\n`);
    const c: Client = { res, alive };
    this.clients.add(c);
    req.socket.setTimeout(0);
    res.on('close', () => {
      this.clients.delete(c);
      if (this.clients.size === 0) this.stop();
    });
    this.start();
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.heartbeat = setInterval(() => this.broadcast(': keep-alive\n\n'), HEARTBEAT_MS);
    this.timer.unref();
    this.heartbeat.unref();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.timer = this.heartbeat = undefined;
  }

  private broadcast(frame: string): void {
    for (const c of this.clients) {
      if (!c.alive()) {
        c.res.end();
        this.clients.delete(c);
        continue;
      }
      // A client that does not keep up is dropped, not buffered without bound.
      if (c.res.writableLength > 1 << 20) {
        c.res.destroy();
        this.clients.delete(c);
        continue;
      }
      c.res.write(frame);
    }
  }

  private async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const rows = await this.store.console.recordsAfter(this.last, MAX_BATCH);
      if (rows.length === 0) return;
      this.last = rows[rows.length - 1]!.seq;
      const data = rows.map((r) => ({ index: r.seq, ts: r.ts, level: r.level, decision: r.decision, reason: r.reason, backend: r.backend, model: r.model, status: r.status, ms: r.duration_ms }));
      this.broadcast(`event: records\ndata: ${JSON.stringify(data)}\n\n`);
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'console: live tail failed');
    } finally {
      this.busy = false;
    }
  }

  close(): void {
    this.stop();
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}
