/**
 * SQLite: the group commit (audit leaves and their decision records) as synchronous prepared
 * statements on the better-sqlite3 connection, behind the same Store interface.
 *
 * Why: better-sqlite3 is synchronous anyway, so Kysely's async executor adds only cost on this
 * path: a connection mutex, a promise chain and a compiled query per statement, one statement
 * per row. Here a whole group commit is one synchronous transaction (BEGIN, the rows, COMMIT)
 * with statements prepared once. Everything else stays on Kysely.
 *
 * One connection serves both. A Kysely transaction keeps it between its awaits (BEGIN … COMMIT
 * with other code running in between); writing then would slip our rows into that transaction.
 * So while the connection is inside a transaction, the call goes through Kysely, which waits
 * for the connection like any other query.
 */
import type Database from 'better-sqlite3';
import type { AuditEntryRow, DecisionRecord, Store } from './index.js';
import { DECISION_COLS } from './kysely.js';

type Params = (string | number | bigint | Buffer | null)[];

export function withSqliteFastPath(store: Store, raw: Database.Database): Store {
  const insertEntry = raw.prepare('INSERT INTO audit_entries (idx, data) VALUES (?, ?) ON CONFLICT (idx) DO NOTHING');
  const entryAt = raw.prepare('SELECT data FROM audit_entries WHERE idx = ?').pluck();
  const insertDecision = raw.prepare(`INSERT INTO decisions (${DECISION_COLS.join(', ')}) VALUES (${DECISION_COLS.map(() => '?').join(', ')}) ON CONFLICT (seq) DO NOTHING`);

  /** Writes entries whose index is free; returns how many were written. */
  const writeEntries = (entries: readonly AuditEntryRow[]): number => {
    let n = 0;
    for (const e of entries) n += insertEntry.run(e.idx, e.data).changes;
    return n;
  };

  /** Indices among `entries` whose stored bytes are not ours (another writer took them). */
  const notOurs = (entries: readonly AuditEntryRow[]): number[] =>
    entries.filter((e) => !(entryAt.get(e.idx) as Buffer | undefined)?.equals(e.data)).map((e) => e.idx);

  const decisionParams = (r: DecisionRecord): Params => DECISION_COLS.map((c) => r[c] ?? (c === 'department' ? '' : null)) as Params;

  const appendTx = raw.transaction((rows: readonly DecisionRecord[], entries: readonly AuditEntryRow[]): number[] => {
    const written = writeEntries(entries);
    let lost: number[] = [];
    let keep = rows;
    if (written < entries.length) {
      lost = notOurs(entries);
      const gone = new Set(lost);
      keep = rows.filter((r) => !gone.has(r.seq));
    }
    for (const r of keep) insertDecision.run(decisionParams(r));
    return lost;
  });
  const entriesTx = raw.transaction(writeEntries);

  /** Runs `fast` now unless a Kysely transaction holds the connection; then `slow` (it waits its turn). */
  const run = <T>(fast: () => T, slow: () => Promise<T>): Promise<T> => {
    if (raw.inTransaction) return slow();
    try {
      return Promise.resolve(fast());
    } catch (e) {
      return Promise.reject(e as Error);
    }
  };

  const { records, audit } = store;
  return {
    ...store,
    records: {
      ...records,
      append: (rows, entries = []) => (rows.length === 0 && entries.length === 0 ? Promise.resolve([]) : run(() => appendTx(rows, entries), () => records.append(rows, entries))),
    },
    audit: {
      ...audit,
      append: (entries) => (entries.length === 0 ? Promise.resolve(0) : run(() => entriesTx(entries), () => audit.append(entries))),
    },
  };
}
