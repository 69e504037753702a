/**
 * The route stage: order the compliant backends by health, recent latency and weight.
 * Pure state machine, no I/O: the caller reports each attempt's outcome.
 *
 * Circuit breaker per backend: `failureThreshold` consecutive failures open it for
 * `openMs`; then it is half-open and admits one probe request at a time; a success closes
 * it, a failure opens it again.
 */
export type Strategy = 'priority' | 'weighted' | 'latency';
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface RouterOptions {
  failureThreshold: number;
  openMs: number;
  clock?: () => number;
  random?: () => number;
}

interface Health {
  failures: number;
  openedAt: number;
  probing: boolean;
  /** Exponentially weighted moving average of upstream latency (ms); NaN until measured. */
  ewmaMs: number;
  successes: number;
  totalFailures: number;
}

export interface HealthSnapshot {
  backend: string;
  state: BreakerState;
  consecutiveFailures: number;
  ewmaMs: number | null;
  successes: number;
  failures: number;
}

export interface Candidate {
  id: string;
  weight: number;
}

export class Router {
  private readonly health = new Map<string, Health>();
  private readonly clock: () => number;
  private readonly random: () => number;

  constructor(private readonly opts: RouterOptions) {
    this.clock = opts.clock ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
  }

  private h(id: string): Health {
    let h = this.health.get(id);
    if (!h) {
      h = { failures: 0, openedAt: 0, probing: false, ewmaMs: NaN, successes: 0, totalFailures: 0 };
      this.health.set(id, h);
    }
    return h;
  }

  state(id: string): BreakerState {
    const h = this.h(id);
    if (h.failures < this.opts.failureThreshold) return 'closed';
    return this.clock() - h.openedAt >= this.opts.openMs ? 'half-open' : 'open';
  }

  /**
   * The order in which to try `candidates` (already compliant, in preference order).
   * Open circuits are left out; a half-open one is included only if no probe is running.
   */
  order(candidates: readonly Candidate[], strategy: Strategy): string[] {
    const usable: Candidate[] = [];
    for (const c of candidates) {
      const s = this.state(c.id);
      if (s === 'closed' || (s === 'half-open' && !this.h(c.id).probing)) usable.push(c);
    }
    if (usable.length <= 1 || strategy === 'priority') return usable.map((c) => c.id);
    if (strategy === 'latency') {
      // Unmeasured backends first (explore), then by EWMA divided by weight.
      const score = (c: Candidate) => {
        const e = this.h(c.id).ewmaMs;
        return Number.isNaN(e) ? -1 : e / c.weight;
      };
      return [...usable].sort((a, b) => score(a) - score(b)).map((c) => c.id);
    }
    // weighted: a weighted random permutation (Efraimidis–Spirakis keys).
    return usable
      .map((c) => ({ id: c.id, key: Math.pow(this.random() || Number.MIN_VALUE, 1 / c.weight) }))
      .sort((a, b) => b.key - a.key)
      .map((c) => c.id);
  }

  /** Call before sending to `id`; returns false if another probe got there first. */
  begin(id: string): boolean {
    const s = this.state(id);
    if (s === 'open') return false;
    if (s === 'half-open') {
      const h = this.h(id);
      if (h.probing) return false;
      h.probing = true;
    }
    return true;
  }

  success(id: string, latencyMs: number): void {
    const h = this.h(id);
    h.failures = 0;
    h.probing = false;
    h.successes++;
    h.ewmaMs = Number.isNaN(h.ewmaMs) ? latencyMs : h.ewmaMs * 0.8 + latencyMs * 0.2;
  }

  failure(id: string): void {
    const h = this.h(id);
    h.failures++;
    h.totalFailures++;
    h.probing = false;
    if (h.failures >= this.opts.failureThreshold) h.openedAt = this.clock();
  }

  /** Forgets a backend's health (its configuration changed or it was removed by a reload). */
  forget(id: string): void {
    this.health.delete(id);
  }

  /** An attempt that ended without telling anything about the backend (client went away). */
  release(id: string): void {
    this.h(id).probing = false;
  }

  snapshot(ids: readonly string[]): HealthSnapshot[] {
    return ids.map((id) => {
      const h = this.h(id);
      return {
        backend: id,
        state: this.state(id),
        consecutiveFailures: h.failures,
        ewmaMs: Number.isNaN(h.ewmaMs) ? null : Math.round(h.ewmaMs * 100) / 100,
        successes: h.successes,
        failures: h.totalFailures,
      };
    });
  }
}
