import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ApiKeyRow, DecisionRecord, Store } from './index.js';

/** Schema migrations, applied in order; `PRAGMA user_version` holds how many ran. */
const MIGRATIONS: string[] = [
  `CREATE TABLE api_keys (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     prefix TEXT NOT NULL,
     hash BLOB NOT NULL UNIQUE,
     default_level TEXT NOT NULL,
     max_level TEXT NOT NULL,
     created_at TEXT NOT NULL,
     revoked_at TEXT
   );
   CREATE TABLE decisions (
     seq INTEGER PRIMARY KEY,
     request_id TEXT NOT NULL,
     ts TEXT NOT NULL,
     principal TEXT NOT NULL,
     endpoint TEXT NOT NULL,
     model TEXT NOT NULL,
     level TEXT NOT NULL,
     flags TEXT NOT NULL,
     decision TEXT NOT NULL,
     reason TEXT NOT NULL,
     backend TEXT,
     status INTEGER NOT NULL,
     duration_ms REAL NOT NULL,
     upstream_ms REAL,
     attempts INTEGER NOT NULL
   );
   CREATE INDEX decisions_request_id ON decisions(request_id);`,
  `ALTER TABLE decisions ADD COLUMN findings TEXT NOT NULL DEFAULT '';`,
];

export function openSqliteStore(file: string): Store {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    db.close();
    throw new Error(`${file}: the database schema (version ${version}) is newer than this Sekisho (${MIGRATIONS.length}); upgrade Sekisho`);
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }

  const insKey = db.prepare(
    'INSERT INTO api_keys (id, name, prefix, hash, default_level, max_level, created_at, revoked_at) VALUES (@id, @name, @prefix, @hash, @default_level, @max_level, @created_at, @revoked_at)',
  );
  const keyByHash = db.prepare('SELECT * FROM api_keys WHERE hash = ?');
  const listKeys = db.prepare('SELECT * FROM api_keys ORDER BY created_at, id');
  const revokeKey = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE (id = ? OR name = ?) AND revoked_at IS NULL');
  const countKeys = db.prepare('SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL');
  const maxSeq = db.prepare('SELECT max(seq) AS m FROM decisions');
  // Records are appended in batches: one multi-row INSERT per 32 rows is several times
  // cheaper than 32 single-row statements.
  const COLS = ['seq', 'request_id', 'ts', 'principal', 'endpoint', 'model', 'level', 'flags', 'findings', 'decision', 'reason', 'backend', 'status', 'duration_ms', 'upstream_ms', 'attempts'] as const;
  const insertSql = (rows: number) =>
    `INSERT INTO decisions (${COLS.join(', ')}) VALUES ${Array.from({ length: rows }, () => `(${COLS.map(() => '?').join(', ')})`).join(', ')}`;
  const GROUP = 32;
  const insOne = db.prepare(insertSql(1));
  const insGroup = db.prepare(insertSql(GROUP));
  const values = (r: DecisionRecord) => COLS.map((c) => r[c]);
  const decisionByReq = db.prepare('SELECT * FROM decisions WHERE request_id = ? ORDER BY seq DESC LIMIT 1');
  const countDecisions = db.prepare('SELECT count(*) AS n FROM decisions');
  const appendMany = db.transaction((rows: readonly DecisionRecord[]) => {
    let i = 0;
    for (; i + GROUP <= rows.length; i += GROUP) insGroup.run(rows.slice(i, i + GROUP).flatMap(values));
    for (; i < rows.length; i++) insOne.run(values(rows[i]!));
  });

  return {
    kind: 'sqlite',
    apiKeys: {
      insert: (row: ApiKeyRow) => void insKey.run(row),
      findByHash: (hash: Buffer) => keyByHash.get(hash) as ApiKeyRow | undefined,
      list: () => listKeys.all() as ApiKeyRow[],
      revoke: (idOrName: string, at: string) => revokeKey.run(at, idOrName, idOrName).changes,
      count: () => (countKeys.get() as { n: number }).n,
    },
    records: {
      nextSeq: () => ((maxSeq.get() as { m: number | null }).m ?? -1) + 1,
      append: (rows) => appendMany(rows),
      byRequestId: (id) => decisionByReq.get(id) as DecisionRecord | undefined,
      count: () => (countDecisions.get() as { n: number }).n,
    },
    close: () => db.close(),
  };
}
