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
