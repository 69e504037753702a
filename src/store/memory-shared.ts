/**
 * One node's `Counters` and `Bus`: in memory, no other service. Several nodes use Redis
 * (store/redis.ts) instead.
 */
import type { Bus, BusChannel, Counters } from './shared.js';

/** Fixed windows; a window's counter is dropped once a newer window of the same key is used. */
export class MemoryCounters implements Counters {
  private readonly windows = new Map<string, { start: number; total: number }>();
  constructor(private readonly now: () => number = Date.now, private readonly maxKeys = 100_000) {}

  private current(key: string, windowMs: number): { start: number; total: number } | undefined {
    const start = Math.floor(this.now() / windowMs) * windowMs;
    const w = this.windows.get(`${windowMs}:${key}`);
    return w && w.start === start ? w : undefined;
  }

  async add(key: string, n: number, windowMs: number): Promise<number> {
    const start = Math.floor(this.now() / windowMs) * windowMs;
    const k = `${windowMs}:${key}`;
    let w = this.windows.get(k);
    if (!w || w.start !== start) {
      if (!w && this.windows.size >= this.maxKeys) this.prune();
      w = { start, total: 0 };
      this.windows.set(k, w);
    }
    w.total += n;
    return w.total;
  }

  async get(key: string, windowMs: number): Promise<number> {
    return this.current(key, windowMs)?.total ?? 0;
  }

  /** Drops windows that have ended (bounded memory). */
  private prune(): void {
    const now = this.now();
    for (const [k, w] of this.windows) {
      const windowMs = Number(k.slice(0, k.indexOf(':')));
      if (w.start + windowMs <= now) this.windows.delete(k);
    }
  }
}

export class MemoryBus implements Bus {
  private readonly handlers = new Map<BusChannel, Set<(m: string) => void>>();

  async publish(channel: BusChannel, message: string): Promise<void> {
    for (const h of this.handlers.get(channel) ?? []) queueMicrotask(() => h(message));
  }

  async subscribe(channel: BusChannel, handler: (message: string) => void): Promise<() => void> {
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
