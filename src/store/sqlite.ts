import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ApiKeyRow, AuditCheckpointRow, AuditEntryRow, DecisionRecord, Store } from './index.js';

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
  // Audit log (issue #6): the log's entries (leaf bytes by index), its hash tiles (C2SP
  // tlog-tiles, partial tiles grow in place) and the signed checkpoints.
  `CREATE TABLE audit_entries (
     idx INTEGER PRIMARY KEY,
     data BLOB NOT NULL
   );
   CREATE TABLE audit_tiles (
     level INTEGER NOT NULL,
     n INTEGER NOT NULL,
     data BLOB NOT NULL,
     inner BLOB,
     PRIMARY KEY (level, n)
   );
   CREATE TABLE audit_checkpoints (
     size INTEGER PRIMARY KEY,
     note TEXT NOT NULL,
     ts TEXT NOT NULL
   );`,
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
  const insEntryOne = db.prepare('INSERT INTO audit_entries (idx, data) VALUES (?, ?)');
  const insEntryGroup = db.prepare(`INSERT INTO audit_entries (idx, data) VALUES ${Array.from({ length: GROUP }, () => '(?, ?)').join(', ')}`);
  const insertEntries = (entries: readonly AuditEntryRow[]) => {
    let i = 0;
    for (; i + GROUP <= entries.length; i += GROUP) insEntryGroup.run(entries.slice(i, i + GROUP).flatMap((e) => [e.idx, e.data]));
    for (; i < entries.length; i++) insEntryOne.run(entries[i]!.idx, entries[i]!.data);
  };
  const appendMany = db.transaction((rows: readonly DecisionRecord[], entries: readonly AuditEntryRow[] | undefined) => {
    let i = 0;
    for (; i + GROUP <= rows.length; i += GROUP) insGroup.run(rows.slice(i, i + GROUP).flatMap(values));
    for (; i < rows.length; i++) insOne.run(values(rows[i]!));
    if (entries) insertEntries(entries);
  });
  const appendEntries = db.transaction((entries: readonly AuditEntryRow[]) => insertEntries(entries));
  const maxEntry = db.prepare('SELECT max(idx) AS m FROM audit_entries');
  const entriesFrom = db.prepare('SELECT idx, data FROM audit_entries WHERE idx >= ? AND idx < ? ORDER BY idx');
  const entryIdxFrom = db.prepare('SELECT idx FROM audit_entries WHERE idx >= ? AND idx < ? ORDER BY idx').pluck();
  const entryDataFrom = db.prepare('SELECT data FROM audit_entries WHERE idx >= ? AND idx < ? ORDER BY idx').pluck();
  const entryAt = db.prepare('SELECT data FROM audit_entries WHERE idx = ?').pluck();
  const tileAt = db.prepare('SELECT data FROM audit_tiles WHERE level = ? AND n = ?').pluck();
  const tileInnerAt = db.prepare('SELECT inner FROM audit_tiles WHERE level = ? AND n = ?').pluck();
  const putTile = db.prepare('INSERT INTO audit_tiles (level, n, data, inner) VALUES (?, ?, ?, ?) ON CONFLICT (level, n) DO UPDATE SET data = excluded.data, inner = excluded.inner');
  const putCheckpoint = db.prepare('INSERT INTO audit_checkpoints (size, note, ts) VALUES (?, ?, ?) ON CONFLICT (size) DO UPDATE SET note = excluded.note, ts = excluded.ts');
  const latestCp = db.prepare('SELECT size, note, ts FROM audit_checkpoints ORDER BY size DESC LIMIT 1');
  const cpAt = db.prepare('SELECT size, note, ts FROM audit_checkpoints WHERE size = ?');
  const setCpNote = db.prepare('UPDATE audit_checkpoints SET note = ? WHERE size = ?');
  const publish = db.transaction((tiles: readonly { level: number; n: number; data: Buffer; inner?: Buffer }[], size: number, note: string, ts: string) => {
    for (const t of tiles) putTile.run(t.level, t.n, t.data, t.inner ?? null);
    putCheckpoint.run(size, note, ts);
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
      append: (rows, entries) => appendMany(rows, entries),
      byRequestId: (id) => decisionByReq.get(id) as DecisionRecord | undefined,
      count: () => (countDecisions.get() as { n: number }).n,
    },
    audit: {
      append: (entries) => appendEntries(entries),
      maxIndex: () => ((maxEntry.get() as { m: number | null }).m ?? -1),
      indicesIn: (from, to) => entryIdxFrom.all(from, to) as number[],
      entries: (from, to) => entriesFrom.all(from, to) as AuditEntryRow[],
      entryData: (from, to) => entryDataFrom.all(from, to) as Buffer[],
      entry: (idx) => entryAt.get(idx) as Buffer | undefined,
      tile: (level, n) => tileAt.get(level, n) as Buffer | undefined,
      tileInner: (level, n) => (tileInnerAt.get(level, n) as Buffer | null | undefined) ?? undefined,
      publish: (tiles, size, note, ts) => publish(tiles, size, note, ts),
      latestCheckpoint: () => latestCp.get() as AuditCheckpointRow | undefined,
      checkpoint: (size) => cpAt.get(size) as AuditCheckpointRow | undefined,
      setCheckpointNote: (size, note) => void setCpNote.run(note, size),
    },
    close: () => db.close(),
  };
}
