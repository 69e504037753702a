/**
 * The console's queries on SQLite (issue #8). Portable SQL (substr over ISO timestamps, no
 * date functions), so that the PostgreSQL store can run the same statements. Every method
 * returns a Promise (the `ConsoleStore` interface is asynchronous).
 */
import type Database from 'better-sqlite3';
import type { AdoptionRow, AuditCheckpointRow, ConsoleStore, DecisionRecord, RecordQuery, TrafficRow } from './index.js';

export function consoleStore(db: Database.Database): ConsoleStore {
  const traffic = db.prepare(
    'SELECT substr(ts, 1, 16) AS minute, level, decision, count(*) AS n FROM decisions WHERE ts >= ? GROUP BY substr(ts, 1, 16), level, decision ORDER BY minute',
  );
  const denials = db.prepare("SELECT reason, count(*) AS n FROM decisions WHERE ts >= ? AND decision <> 'allow' GROUP BY reason ORDER BY n DESC, reason LIMIT ?");
  const backendStats = db.prepare(
    `SELECT backend, count(*) AS n, avg(upstream_ms) AS avg_ms, max(upstream_ms) AS max_ms, sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END) AS errors
     FROM decisions WHERE ts >= ? AND backend IS NOT NULL GROUP BY backend ORDER BY backend`,
  );
  const after = db.prepare('SELECT * FROM decisions WHERE seq > ? ORDER BY seq LIMIT ?');
  const lastSeq = db.prepare('SELECT max(seq) AS m FROM decisions');
  const checkpoints = db.prepare('SELECT size, note, ts FROM audit_checkpoints WHERE size < ? ORDER BY size DESC LIMIT ?');
  const adoption = db.prepare(
    `SELECT substr(ts, 1, 10) AS day, department, trained, principal, count(*) AS requests,
            sum(CASE WHEN decision = 'allow' THEN 0 ELSE 1 END) AS denials
     FROM decisions WHERE ts >= ? AND trained IS NOT NULL
     GROUP BY substr(ts, 1, 10), department, trained, principal`,
  );
  const workforce = db.prepare(
    `SELECT coalesce(department, '') AS department, coalesce(trained, 0) AS trained, count(*) AS n
     FROM identity_credentials WHERE revoked_at IS NULL AND expires_at > ? GROUP BY coalesce(department, ''), coalesce(trained, 0)`,
  );
  const searches = new Map<string, Database.Statement>();
  const search = (q: RecordQuery): DecisionRecord[] => {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.requestId) (where.push('request_id = ?'), args.push(q.requestId));
    if (q.from) (where.push('ts >= ?'), args.push(q.from));
    if (q.to) (where.push('ts < ?'), args.push(q.to));
    if (q.beforeSeq !== undefined) (where.push('seq < ?'), args.push(q.beforeSeq));
    if (q.decision) (where.push('decision = ?'), args.push(q.decision));
    const sql = `SELECT * FROM decisions${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    let st = searches.get(sql);
    if (!st) searches.set(sql, (st = db.prepare(sql)));
    return st.all(...args, q.limit) as DecisionRecord[];
  };
  const run = <T>(f: () => T): Promise<T> => {
    try {
      return Promise.resolve(f());
    } catch (e) {
      return Promise.reject(e);
    }
  };
  return {
    traffic: (since) => run(() => traffic.all(since) as TrafficRow[]),
    topDenials: (since, limit) => run(() => denials.all(since, limit) as { reason: string; n: number }[]),
    backendStats: (since) => run(() => backendStats.all(since) as Awaited<ReturnType<ConsoleStore['backendStats']>>),
    recordsAfter: (seq, limit) => run(() => after.all(seq, limit) as DecisionRecord[]),
    lastSeq: () => run(() => (lastSeq.get() as { m: number | null }).m ?? -1),
    search: (q) => run(() => search(q)),
    checkpoints: (limit, beforeSize) => run(() => checkpoints.all(beforeSize ?? Number.MAX_SAFE_INTEGER, limit) as AuditCheckpointRow[]),
    adoption: (since) => run(() => adoption.all(since) as AdoptionRow[]),
    workforce: (now) => run(() => workforce.all(now) as { department: string; trained: number; n: number }[]),
  };
}
