/** Prometheus metrics (`/metrics`). One registry per gateway instance. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'sekisho_requests_total',
    help: 'Requests through the checkpoint by endpoint, level, backend and decision',
    labelNames: ['endpoint', 'level', 'backend', 'decision'] as const,
    registers: [this.registry],
  });
  readonly upstreamLatency = new Histogram({
    name: 'sekisho_upstream_latency_seconds',
    help: 'Time from sending to a backend until its first response byte',
    labelNames: ['backend'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'sekisho_request_duration_seconds',
    help: 'Whole request time at the checkpoint, including relaying the answer',
    labelNames: ['endpoint'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly upstreamFailures = new Counter({
    name: 'sekisho_upstream_failures_total',
    help: 'Failed attempts to reach a backend, by kind',
    labelNames: ['backend', 'kind'] as const,
    registers: [this.registry],
  });
  readonly backendUp = new Gauge({
    name: 'sekisho_backend_circuit_closed',
    help: '1 when the backend circuit breaker is closed, 0 when open or half-open',
    labelNames: ['backend'] as const,
    registers: [this.registry],
  });
  readonly inflight = new Gauge({ name: 'sekisho_inflight_requests', help: 'Requests in progress', registers: [this.registry] });

  // prom-client hashes label objects on every call; the hot path keeps the children instead.
  private readonly requestChildren = new Map<string, { inc(): void }>();
  private readonly durationChildren = new Map<string, { observe(v: number): void }>();
  private readonly upstreamChildren = new Map<string, { observe(v: number): void }>();

  countRequest(endpoint: string, level: string, backend: string, decision: string): void {
    const key = `${endpoint}\0${level}\0${backend}\0${decision}`;
    let c = this.requestChildren.get(key);
    if (!c) this.requestChildren.set(key, (c = this.requests.labels(endpoint, level, backend, decision)));
    c.inc();
  }

  observeDuration(endpoint: string, seconds: number): void {
    let c = this.durationChildren.get(endpoint);
    if (!c) this.durationChildren.set(endpoint, (c = this.requestDuration.labels(endpoint)));
    c.observe(seconds);
  }

  observeUpstream(backend: string, seconds: number): void {
    let c = this.upstreamChildren.get(backend);
    if (!c) this.upstreamChildren.set(backend, (c = this.upstreamLatency.labels(backend)));
    c.observe(seconds);
  }

  /** Called before each scrape, to refresh gauges that mirror state held elsewhere. */
  readonly beforeScrape: (() => void)[] = [];

  async text(): Promise<string> {
    for (const f of this.beforeScrape) f();
    return this.registry.metrics();
  }

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'sekisho_' });
  }
}
