/**
 * The residency counts, computed from the log's leaves only, so that an auditor who runs
 * `sekisho audit verify --counts --from … --to …` on the same checkpoint gets the same numbers.
 */
import type { Leaf } from '../leaf.js';

export interface ResidencyRow {
  level: string;
  country: string;
  jurisdictions: string;
  count: number;
}

export interface ResidencyCounts {
  from: string;
  to: string;
  checkpoint: { origin: string; size: number; root: string };
  /** Request leaves in the period. */
  requests: number;
  /** Requests sent to a backend, by level × processing country × operator jurisdictions. */
  processed: ResidencyRow[];
  /** Refused requests by reason code. */
  denials: Record<string, number>;
  /** Requests of level L3 or above processed outside Japanese jurisdiction (must be 0). */
  l3_outside_japan: number;
  /** Their indices (at most 100), for the auditor to look at. */
  l3_outside_indices: number[];
  /** Indices reserved but never recorded (a process ended before recording them). */
  lost: number;
  events: number;
}

/** Outside Japanese jurisdiction: processed outside JP, or by an operator reached by any other jurisdiction (on-premises excepted). */
export function outsideJapan(country: string | null, jurisdictions: readonly string[], onPremises: boolean): boolean {
  if (country !== 'JP') return true;
  if (onPremises) return false;
  return jurisdictions.length === 0 || jurisdictions.some((j) => j !== 'JP');
}

const HIGH = new Set(['L3', 'L4']);

export class ResidencyCounter {
  private rows = new Map<string, ResidencyRow>();
  private c: Omit<ResidencyCounts, 'processed' | 'checkpoint'>;

  constructor(from: string, to: string) {
    this.c = { from, to, requests: 0, denials: {}, l3_outside_japan: 0, l3_outside_indices: [], lost: 0, events: 0 };
  }

  add(leaf: Leaf): void {
    if (leaf.ts < this.c.from || leaf.ts >= this.c.to) return;
    if (leaf.kind === 'lost') {
      this.c.lost++;
      return;
    }
    if (leaf.kind === 'event') {
      this.c.events++;
      return;
    }
    this.c.requests++;
    if (leaf.decision !== 'allow') {
      this.c.denials[leaf.reason] = (this.c.denials[leaf.reason] ?? 0) + 1;
    }
    if (leaf.backend) {
      const jur = leaf.jurisdictions.join('+') || '—';
      const key = `${leaf.level}\0${leaf.country}\0${jur}`;
      const row = this.rows.get(key) ?? { level: leaf.level, country: leaf.country ?? '—', jurisdictions: jur, count: 0 };
      row.count++;
      this.rows.set(key, row);
      if (HIGH.has(leaf.level) && outsideJapan(leaf.country, leaf.jurisdictions, leaf.on_premises)) {
        this.c.l3_outside_japan++;
        if (this.c.l3_outside_indices.length < 100) this.c.l3_outside_indices.push(leaf.index);
      }
    }
  }

  result(checkpoint: ResidencyCounts['checkpoint']): ResidencyCounts {
    const processed = [...this.rows.values()].sort((a, b) => a.level.localeCompare(b.level) || a.country.localeCompare(b.country) || a.jurisdictions.localeCompare(b.jurisdictions));
    const denials = Object.fromEntries(Object.entries(this.c.denials).sort());
    return { ...this.c, denials, checkpoint, processed };
  }
}

/** Accepts YYYY-MM-DD or an ISO time; returns an ISO time (UTC). */
export function parseTime(s: string, name: string): string {
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s);
  if (Number.isNaN(d.getTime())) throw new Error(`${name}: not a date (${s}) / 日付ではありません`);
  return d.toISOString();
}
