/**
 * Adoption, the numbers a CAIO reports: per department and ISO week, how many people used AI
 * (share of the department's workforce: its people with a live credential), trained and
 * untrained, and denials per 1,000 requests.
 */
import type { AdoptionRow } from '../store/index.js';

/** ISO 8601 week of a `YYYY-MM-DD` day, as `YYYY-Www`. */
export function isoWeek(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  const dow = (d.getUTCDay() + 6) % 7; // Monday 0
  d.setUTCDate(d.getUTCDate() - dow + 3); // Thursday of this week
  const year = d.getUTCFullYear();
  const week = 1 + Math.floor((d.getTime() - Date.UTC(year, 0, 1)) / (7 * 86_400_000));
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/** The Monday (UTC) that starts the week `weeksBack` weeks before the week of `now`. */
export function weekStart(now: Date, weeksBack: number): Date {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7) - 7 * weeksBack);
  return d;
}

export interface WeekCell {
  week: string;
  users: number;
  trained_users: number;
  untrained_users: number;
  /** users / workforce, 0–1 (null when the workforce is unknown). */
  share: number | null;
  trained_share: number | null;
  untrained_share: number | null;
  requests: number;
  denials: number;
  denials_per_1000: number | null;
}

export interface DepartmentAdoption {
  department: string;
  workforce: { total: number; trained: number; untrained: number };
  weeks: WeekCell[];
}

export function adoptionReport(rows: readonly AdoptionRow[], workforce: readonly { department: string; trained: number; n: number }[], weeks: string[]): { departments: DepartmentAdoption[]; total: DepartmentAdoption } {
  type Acc = { users: Map<string, number>; requests: number; denials: number };
  const cells = new Map<string, Map<string, Acc>>(); // department → week → acc
  const acc = (dept: string, week: string): Acc => {
    let m = cells.get(dept);
    if (!m) cells.set(dept, (m = new Map()));
    let a = m.get(week);
    if (!a) m.set(week, (a = { users: new Map(), requests: 0, denials: 0 }));
    return a;
  };
  for (const r of rows) {
    const week = isoWeek(r.day);
    for (const dept of [r.department, '\u0000all']) {
      const a = acc(dept, week);
      a.users.set(r.principal, Math.max(a.users.get(r.principal) ?? 0, r.trained ?? 0));
      a.requests += r.requests;
      a.denials += r.denials;
    }
  }
  const wf = new Map<string, { total: number; trained: number; untrained: number }>();
  const wfOf = (d: string) => {
    let w = wf.get(d);
    if (!w) wf.set(d, (w = { total: 0, trained: 0, untrained: 0 }));
    return w;
  };
  for (const w of workforce) {
    for (const d of [w.department, '\u0000all']) {
      const x = wfOf(d);
      x.total += w.n;
      if (w.trained) x.trained += w.n;
      else x.untrained += w.n;
    }
  }
  const ratio = (a: number, b: number) => (b > 0 ? Math.min(1, a / b) : null);
  const build = (dept: string): DepartmentAdoption => {
    const w = wf.get(dept) ?? { total: 0, trained: 0, untrained: 0 };
    return {
      department: dept === '\u0000all' ? '' : dept,
      workforce: w,
      weeks: weeks.map((week) => {
        const a = cells.get(dept)?.get(week);
        const users = a?.users.size ?? 0;
        let trained = 0;
        for (const t of a?.users.values() ?? []) trained += t ? 1 : 0;
        const requests = a?.requests ?? 0;
        const denials = a?.denials ?? 0;
        return {
          week,
          users,
          trained_users: trained,
          untrained_users: users - trained,
          share: ratio(users, w.total),
          trained_share: ratio(trained, w.trained),
          untrained_share: ratio(users - trained, w.untrained),
          requests,
          denials,
          denials_per_1000: requests > 0 ? Math.round((denials / requests) * 10_000) / 10 : null,
        };
      }),
    };
  };
  const names = new Set<string>([...cells.keys(), ...wf.keys()]);
  names.delete('\u0000all');
  return { departments: [...names].sort().map(build), total: build('\u0000all') };
}
