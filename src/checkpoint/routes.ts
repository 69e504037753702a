/** Public model names → candidate backends in preference order (from `models:` in the config). */
import type { Config, BackendConfig } from '../config/schema.js';
import type { Candidate, Strategy } from '../routing/index.js';

export interface ModelRoute {
  name: string;
  candidates: Candidate[];
  strategy: Strategy;
}

export class Routes {
  private readonly byName = new Map<string, ModelRoute>();
  readonly backends = new Map<string, BackendConfig>();
  private readonly implicit = new Set<string>();

  constructor(config: Config) {
    for (const b of config.backends) this.backends.set(b.id, b);
    const cand = (id: string): Candidate => ({ id, weight: this.backends.get(id)!.weight });
    for (const m of config.models) this.byName.set(m.name, { name: m.name, candidates: m.backends.map(cand), strategy: m.strategy });
    if (config.expose_backend_models) {
      // A backend's own model name routes to every backend that serves it, in config order.
      for (const b of config.backends) {
        for (const model of b.models) {
          if (this.byName.has(model) && !this.implicit.has(model)) continue;
          this.implicit.add(model);
          const r = this.byName.get(model) ?? { name: model, candidates: [], strategy: 'priority' as Strategy };
          r.candidates.push(cand(b.id));
          this.byName.set(model, r);
        }
      }
    }
  }

  get(name: string): ModelRoute | undefined {
    return this.byName.get(name);
  }

  all(): ModelRoute[] {
    return [...this.byName.values()];
  }

  /** The model name to send upstream: the public name if the backend serves it, else its first model. */
  upstreamModel(backendId: string, requested: string): string {
    const b = this.backends.get(backendId)!;
    return b.models.includes(requested) ? requested : b.models[0]!;
  }
}
