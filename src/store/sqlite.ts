import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { consoleStore } from './console-sqlite.js';
import type { ThreatAlertRow, ThreatIncidentRow, ThreatStore, ApiKeyRow, AuditCheckpointRow, AuditEntryRow, CredentialRow, DecisionRecord, OfferRow, Store, VaultStore, VaultWrappedRow, VaultWrappedTable } from './index.js';

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
  // identity (issue #4): credentials the tenant issued, and OpenID4VCI pre-authorized offers
  `CREATE TABLE identity_credentials (
     id TEXT PRIMARY KEY,
     subject TEXT NOT NULL,
     employee_id TEXT,
     claims TEXT NOT NULL,
     status_list INTEGER NOT NULL,
     status_idx INTEGER NOT NULL,
     kid TEXT,
     created_at TEXT NOT NULL,
     issued_at TEXT,
     expires_at TEXT NOT NULL,
     revoked_at TEXT,
     UNIQUE (status_list, status_idx)
   );
   CREATE INDEX identity_credentials_employee ON identity_credentials(employee_id);
   CREATE TABLE identity_offers (
     id TEXT PRIMARY KEY,
     credential_id TEXT NOT NULL REFERENCES identity_credentials(id),
     code_hash BLOB NOT NULL UNIQUE,
     expires_at TEXT NOT NULL,
     redeemed_at TEXT,
     access_hash BLOB UNIQUE,
     access_expires_at TEXT,
     issued_at TEXT,
     tx_code_hash BLOB,
     tx_attempts INTEGER NOT NULL DEFAULT 0
   );`,
  // The vault (issue #5): wrapped keys and encrypted records; never plaintext.
  `CREATE TABLE vault_tenant_keys (
     version INTEGER PRIMARY KEY,
     wrapped BLOB,
     created_at TEXT NOT NULL,
     retired_at TEXT
   );
   CREATE TABLE vault_secrets (
     purpose TEXT PRIMARY KEY,
     key_version INTEGER NOT NULL,
     wrapped BLOB NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE TABLE vault_subject_keys (
     kid BLOB PRIMARY KEY,
     subject_hash BLOB NOT NULL,
     key_version INTEGER NOT NULL,
     wrapped BLOB NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE INDEX vault_subject_keys_subject ON vault_subject_keys(subject_hash);
   CREATE INDEX vault_subject_keys_version ON vault_subject_keys(key_version);
   CREATE TABLE vault_records (
     id TEXT PRIMARY KEY,
     purpose TEXT NOT NULL,
     subject_hash BLOB,
     key_version INTEGER NOT NULL,
     level TEXT NOT NULL,
     blob BLOB NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE INDEX vault_records_subject ON vault_records(subject_hash);
   CREATE INDEX vault_records_version ON vault_records(key_version) WHERE key_version > 0;
   CREATE TABLE vault_erasures (
     id INTEGER PRIMARY KEY,
     subject_hash BLOB NOT NULL,
     ts TEXT NOT NULL,
     keys INTEGER NOT NULL,
     records INTEGER NOT NULL
   );
   CREATE TABLE vault_events (
     id INTEGER PRIMARY KEY,
     ts TEXT NOT NULL,
     kind TEXT NOT NULL,
     reason TEXT NOT NULL,
     purpose TEXT NOT NULL,
     key_version INTEGER,
     subject_hash BLOB,
     detail TEXT NOT NULL
   );`,
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
  // Outside event sources copied into the audit log (the vault's event table), and how far.
  `CREATE TABLE audit_imports (
     source TEXT PRIMARY KEY,
     last_id INTEGER NOT NULL
   );`,
  // The console (issue #8): who asked, by department and training status (adoption), and the
  // indexes its aggregate queries use. The workforce per department comes from the credentials.
  `ALTER TABLE decisions ADD COLUMN department TEXT NOT NULL DEFAULT '';
   ALTER TABLE decisions ADD COLUMN trained INTEGER;
   CREATE INDEX decisions_ts ON decisions(ts, level, decision);
   CREATE INDEX decisions_adoption ON decisions(ts, department, trained, principal, decision);
   ALTER TABLE identity_credentials ADD COLUMN department TEXT;
   ALTER TABLE identity_credentials ADD COLUMN trained INTEGER;`,
  // Threat detection (issue #7): alerts, incidents, quarantined principals, TAXII objects and status.
  `CREATE TABLE threat_alerts (
     id TEXT PRIMARY KEY,
     ts TEXT NOT NULL,
     principal TEXT NOT NULL,
     type TEXT NOT NULL,
     rule TEXT NOT NULL,
     severity TEXT NOT NULL,
     score REAL NOT NULL,
     action TEXT NOT NULL,
     request_id TEXT,
     incident_id TEXT,
     owasp TEXT NOT NULL,
     atlas TEXT NOT NULL
   );
   CREATE INDEX threat_alerts_ts ON threat_alerts(ts);
   CREATE INDEX threat_alerts_incident ON threat_alerts(incident_id);
   CREATE TABLE threat_incidents (
     id TEXT PRIMARY KEY,
     group_key TEXT NOT NULL,
     opened_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     title TEXT NOT NULL,
     severity TEXT NOT NULL,
     status TEXT NOT NULL,
     alert_count INTEGER NOT NULL,
     principals TEXT NOT NULL,
     approved_by TEXT,
     approved_at TEXT
   );
   CREATE INDEX threat_incidents_updated ON threat_incidents(updated_at);
   CREATE TABLE threat_quarantine (
     principal TEXT PRIMARY KEY,
     since TEXT NOT NULL,
     reason TEXT NOT NULL
   );
   CREATE TABLE taxii_objects (
     collection TEXT NOT NULL,
     id TEXT NOT NULL,
     version TEXT NOT NULL,
     date_added TEXT NOT NULL,
     object TEXT NOT NULL,
     PRIMARY KEY (collection, id, version)
   );
   CREATE INDEX taxii_objects_added ON taxii_objects(collection, date_added);
   CREATE TABLE taxii_status (
     id TEXT PRIMARY KEY,
     created TEXT NOT NULL,
     status TEXT NOT NULL
   );`,
];

export function openSqliteStore(file: string): Store {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  // Deleted content (erased subject keys) is overwritten, not left in free pages.
  db.pragma('secure_delete = ON');
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
  const COLS = ['seq', 'request_id', 'ts', 'principal', 'endpoint', 'model', 'level', 'flags', 'findings', 'decision', 'reason', 'backend', 'status', 'duration_ms', 'upstream_ms', 'attempts', 'department', 'trained'] as const;
  const insertSql = (rows: number) =>
    `INSERT INTO decisions (${COLS.join(', ')}) VALUES ${Array.from({ length: rows }, () => `(${COLS.map(() => '?').join(', ')})`).join(', ')}`;
  const GROUP = 32;
  const insOne = db.prepare(insertSql(1));
  const insGroup = db.prepare(insertSql(GROUP));
  const values = (r: DecisionRecord) => COLS.map((c) => r[c] ?? (c === 'department' ? '' : null));
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
  const importCursor = db.prepare('SELECT last_id FROM audit_imports WHERE source = ?');
  const setImportCursor = db.prepare('INSERT INTO audit_imports (source, last_id) VALUES (?, ?) ON CONFLICT(source) DO UPDATE SET last_id = excluded.last_id');
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

  const insCred = db.prepare(
    'INSERT INTO identity_credentials (id, subject, employee_id, claims, status_list, status_idx, kid, created_at, issued_at, expires_at, revoked_at, department, trained) VALUES (@id, @subject, @employee_id, @claims, @status_list, @status_idx, @kid, @created_at, @issued_at, @expires_at, @revoked_at, @department, @trained)',
  );
  const credById = db.prepare('SELECT * FROM identity_credentials WHERE id = ?');
  const listCreds = db.prepare('SELECT * FROM identity_credentials ORDER BY created_at, id');
  const revokeCred = db.prepare('UPDATE identity_credentials SET revoked_at = ? WHERE (id = ? OR employee_id = ? OR subject = ?) AND revoked_at IS NULL');
  const revokedIdx = db.prepare('SELECT status_idx FROM identity_credentials WHERE status_list = ? AND revoked_at IS NOT NULL');
  const usedIdx = db.prepare('SELECT 1 FROM identity_credentials WHERE status_list = ? AND status_idx = ?');
  const markIssued = db.prepare('UPDATE identity_credentials SET issued_at = ?, kid = ? WHERE id = ?');
  const lastExpiry = db.prepare('SELECT max(expires_at) AS m FROM identity_credentials WHERE kid = ? AND revoked_at IS NULL');
  const insOffer = db.prepare(
    'INSERT INTO identity_offers (id, credential_id, code_hash, expires_at, redeemed_at, access_hash, access_expires_at, issued_at, tx_code_hash) VALUES (@id, @credential_id, @code_hash, @expires_at, @redeemed_at, @access_hash, @access_expires_at, @issued_at, @tx_code_hash)',
  );
  const offerByCode = db.prepare('SELECT * FROM identity_offers WHERE code_hash = ?');
  const offerByAccess = db.prepare('SELECT * FROM identity_offers WHERE access_hash = ?');
  const redeemOffer = db.prepare('UPDATE identity_offers SET redeemed_at = ?, access_hash = ?, access_expires_at = ? WHERE id = ? AND redeemed_at IS NULL');
  const txFailed = db.prepare('UPDATE identity_offers SET tx_attempts = tx_attempts + 1 WHERE id = ? RETURNING tx_attempts');
  const offerIssued = db.prepare('UPDATE identity_offers SET issued_at = ? WHERE id = ? AND issued_at IS NULL');

  return {
    kind: 'sqlite',
    identity: {
      insertCredential: (row: CredentialRow) => void insCred.run({ department: null, trained: null, ...row }),
      credential: (id: string) => credById.get(id) as CredentialRow | undefined,
      credentials: () => listCreds.all() as CredentialRow[],
      revokeCredential: (idOrSubject: string, at: string) => revokeCred.run(at, idOrSubject, idOrSubject, idOrSubject).changes,
      revokedIndexes: (list: number) => (revokedIdx.all(list) as { status_idx: number }[]).map((r) => r.status_idx),
      statusIndexUsed: (list: number, idx: number) => usedIdx.get(list, idx) !== undefined,
      markIssued: (id: string, at: string, kid: string) => void markIssued.run(at, kid, id),
      lastExpiryForKey: (kid: string) => (lastExpiry.get(kid) as { m: string | null }).m ?? undefined,
      insertOffer: (row: OfferRow) => void insOffer.run(row),
      offerByCodeHash: (h: Buffer) => offerByCode.get(h) as OfferRow | undefined,
      offerByAccessHash: (h: Buffer) => offerByAccess.get(h) as OfferRow | undefined,
      redeemOffer: (id: string, at: string, accessHash: Buffer, accessExpires: string) => redeemOffer.run(at, accessHash, accessExpires, id).changes === 1,
      markOfferIssued: (id: string, at: string) => offerIssued.run(at, id).changes === 1,
      txCodeFailed: (id: string) => (txFailed.get(id) as { tx_attempts: number } | undefined)?.tx_attempts ?? 0,
    },
    vault: vaultStore(db),
    threats: threatStore(db),
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
      importCursor: (source) => (importCursor.get(source) as { last_id: number } | undefined)?.last_id ?? 0,
      setImportCursor: (source, lastId) => void setImportCursor.run(source, lastId),
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
    console: consoleStore(db),
    close: () => db.close(),
  };
}

function threatStore(db: Database.Database): ThreatStore {
  const insAlert = db.prepare('INSERT OR REPLACE INTO threat_alerts (id, ts, principal, type, rule, severity, score, action, request_id, incident_id, owasp, atlas) VALUES (@id, @ts, @principal, @type, @rule, @severity, @score, @action, @request_id, @incident_id, @owasp, @atlas)');
  const putInc = db.prepare(
    'INSERT INTO threat_incidents (id, group_key, opened_at, updated_at, title, severity, status, alert_count, principals, approved_by, approved_at) VALUES (@id, @group_key, @opened_at, @updated_at, @title, @severity, @status, @alert_count, @principals, @approved_by, @approved_at) ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, severity = excluded.severity, status = excluded.status, alert_count = excluded.alert_count, principals = excluded.principals, approved_by = excluded.approved_by, approved_at = excluded.approved_at',
  );
  const write = db.transaction((alerts: ThreatAlertRow[], incidents: ThreatIncidentRow[]) => {
    for (const i of incidents) putInc.run(i);
    for (const a of alerts) insAlert.run(a);
  });
  const incById = db.prepare('SELECT * FROM threat_incidents WHERE id = ?');
  const putObj = db.prepare('INSERT OR IGNORE INTO taxii_objects (collection, id, version, date_added, object) VALUES (?, ?, ?, ?, ?)');
  const putObjs = db.transaction((collection: string, objs: { id: string; version: string; date_added: string; object: string }[]) => {
    let n = 0;
    for (const o of objs) n += putObj.run(collection, o.id, o.version, o.date_added, o.object).changes;
    return n;
  });
  const putStatus = db.prepare('INSERT OR REPLACE INTO taxii_status (id, created, status) VALUES (?, ?, ?)');
  const getStatus = db.prepare('SELECT status FROM taxii_status WHERE id = ?').pluck();
  const quarantine = db.prepare('INSERT OR REPLACE INTO threat_quarantine (principal, since, reason) VALUES (?, ?, ?)');
  const release = db.prepare('DELETE FROM threat_quarantine WHERE principal = ?');
  const quarantined = db.prepare('SELECT principal FROM threat_quarantine').pluck();
  return {
    write: async (alerts, incidents) => void write([...alerts], [...incidents]),
    alerts: async (q) => {
      const where: string[] = [];
      const args: unknown[] = [];
      if (q.before) (where.push('ts < ?'), args.push(q.before));
      if (q.incident) (where.push('incident_id = ?'), args.push(q.incident));
      return db.prepare(`SELECT * FROM threat_alerts ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ts DESC, id DESC LIMIT ?`).all(...args, q.limit) as ThreatAlertRow[];
    },
    incidents: async (q) =>
      db.prepare(`SELECT * FROM threat_incidents ${q.status ? 'WHERE status = ?' : ''} ORDER BY updated_at DESC LIMIT ?`).all(...(q.status ? [q.status, q.limit] : [q.limit])) as ThreatIncidentRow[],
    incident: async (id) => incById.get(id) as ThreatIncidentRow | undefined,
    putTaxiiObjects: async (collection, objs) => putObjs(collection, [...objs]),
    taxiiObjects: async (collection, q) => {
      const where = ['collection = ?'];
      const args: unknown[] = [collection];
      if (q.addedAfter) (where.push('date_added > ?'), args.push(q.addedAfter));
      if (q.ids?.length) (where.push(`id IN (${q.ids.map(() => '?').join(', ')})`), args.push(...q.ids));
      if (q.types?.length) (where.push(`(${q.types.map(() => 'id LIKE ?').join(' OR ')})`), args.push(...q.types.map((t) => `${t}--%`)));
      return db.prepare(`SELECT id, version, date_added, object FROM taxii_objects WHERE ${where.join(' AND ')} ORDER BY date_added, id LIMIT ?`).all(...args, q.limit) as { id: string; version: string; date_added: string; object: string }[];
    },
    putTaxiiStatus: async (id, created, status) => void putStatus.run(id, created, status),
    taxiiStatus: async (id) => getStatus.get(id) as string | undefined,
    setQuarantine: async (principal, on, at, reason) => void (on ? quarantine.run(principal, at, reason) : release.run(principal)),
    quarantined: async () => quarantined.all() as string[],
  };
}

const WRAPPED: Record<VaultWrappedTable, { table: string; id: string; data: string }> = {
  secrets: { table: 'vault_secrets', id: 'purpose', data: 'wrapped' },
  subject_keys: { table: 'vault_subject_keys', id: 'kid', data: 'wrapped' },
  records: { table: 'vault_records', id: 'id', data: 'blob' },
};

function vaultStore(db: Database.Database): VaultStore {
  const tenantKeys = db.prepare('SELECT * FROM vault_tenant_keys ORDER BY version');
  const insTenantKey = db.prepare('INSERT OR IGNORE INTO vault_tenant_keys (version, wrapped, created_at, retired_at) VALUES (@version, @wrapped, @created_at, @retired_at)');
  const retire = db.prepare('UPDATE vault_tenant_keys SET wrapped = NULL, retired_at = ? WHERE version = ?');
  const secret = db.prepare('SELECT key_version, wrapped FROM vault_secrets WHERE purpose = ?');
  const insSecret = db.prepare('INSERT OR IGNORE INTO vault_secrets (purpose, key_version, wrapped, created_at) VALUES (?, ?, ?, ?)');
  const subjectKey = db.prepare('SELECT * FROM vault_subject_keys WHERE kid = ?');
  const liveSubjectKey = db.prepare('SELECT * FROM vault_subject_keys WHERE subject_hash = ? ORDER BY created_at DESC LIMIT 1');
  const insSubjectKey = db.prepare('INSERT INTO vault_subject_keys (kid, subject_hash, key_version, wrapped, created_at) VALUES (@kid, @subject_hash, @key_version, @wrapped, @created_at)');
  const subjectCount = db.prepare('SELECT count(DISTINCT subject_hash) AS n FROM vault_subject_keys');
  const delSubjectKeys = db.prepare('DELETE FROM vault_subject_keys WHERE subject_hash = ?');
  const countSubjectRecords = db.prepare('SELECT count(*) AS n FROM vault_records WHERE subject_hash = ?');
  const insErasure = db.prepare('INSERT INTO vault_erasures (subject_hash, ts, keys, records) VALUES (?, ?, ?, ?)');
  const erasuresSince = db.prepare('SELECT id, subject_hash FROM vault_erasures WHERE id > ? ORDER BY id');
  const erasureCount = db.prepare('SELECT count(*) AS n FROM vault_erasures');
  const putRecord = db.prepare('INSERT OR REPLACE INTO vault_records (id, purpose, subject_hash, key_version, level, blob, created_at) VALUES (@id, @purpose, @subject_hash, @key_version, @level, @blob, @created_at)');
  const record = db.prepare('SELECT * FROM vault_records WHERE id = ?');
  const recordIds = db.prepare('SELECT id FROM vault_records WHERE subject_hash = ? ORDER BY created_at');
  const counts = db.prepare(
    `SELECT 'secrets' AS tbl, key_version, count(*) AS n FROM vault_secrets GROUP BY key_version
     UNION ALL SELECT 'subject_keys', key_version, count(*) FROM vault_subject_keys GROUP BY key_version
     UNION ALL SELECT 'records', key_version, count(*) FROM vault_records GROUP BY key_version`,
  );
  const stale = Object.fromEntries(
    Object.entries(WRAPPED).map(([k, t]) => [k, db.prepare(`SELECT ${t.id} AS id, key_version, ${t.data} AS data FROM ${t.table} WHERE key_version > 0 AND key_version <> ? LIMIT ?`)]),
  ) as Record<VaultWrappedTable, Database.Statement>;
  const rewrapStmt = Object.fromEntries(
    Object.entries(WRAPPED).map(([k, t]) => [k, db.prepare(`UPDATE ${t.table} SET key_version = ?, ${t.data} = ? WHERE ${t.id} = ? AND key_version = ?`)]),
  ) as Record<VaultWrappedTable, Database.Statement>;
  const insEvent = db.prepare('INSERT INTO vault_events (ts, kind, reason, purpose, key_version, subject_hash, detail) VALUES (@ts, @kind, @reason, @purpose, @key_version, @subject_hash, @detail)');
  const events = db.prepare('SELECT * FROM vault_events ORDER BY id DESC LIMIT ?');
  const eventsAfter = db.prepare('SELECT * FROM vault_events WHERE id > ? ORDER BY id LIMIT ?');
  const erase = db.transaction((hash: Buffer, at: string) => {
    const keys = delSubjectKeys.run(hash).changes;
    const records = (countSubjectRecords.get(hash) as { n: number }).n;
    insErasure.run(hash, at, keys, records);
    return { keys, records };
  });
  // Batches go in as multi-row statements of 16 rows (several times cheaper than one per row).
  const RCOLS = ['id', 'purpose', 'subject_hash', 'key_version', 'level', 'blob', 'created_at'] as const;
  const RGROUP = 16;
  const putGroup = db.prepare(`INSERT OR REPLACE INTO vault_records (${RCOLS.join(', ')}) VALUES ${Array.from({ length: RGROUP }, () => `(${RCOLS.map(() => '?').join(', ')})`).join(', ')}`);
  const putMany = db.transaction((rows: readonly Parameters<VaultStore['putRecords']>[0][number][]) => {
    let i = 0;
    for (; i + RGROUP <= rows.length; i += RGROUP) putGroup.run(rows.slice(i, i + RGROUP).flatMap((r) => RCOLS.map((c) => r[c])));
    for (; i < rows.length; i++) putRecord.run(rows[i]!);
  });
  const rewrapMany = db.transaction((rows: readonly (VaultWrappedRow & { to: number })[]) => {
    let n = 0;
    for (const r of rows) n += rewrapStmt[r.table].run(r.to, r.data, r.id, r.key_version).changes;
    return n;
  });
  const eventsMany = db.transaction((rows: readonly Parameters<VaultStore['appendEvents']>[0][number][]) => {
    for (const r of rows) insEvent.run(r);
  });
  return {
    tenantKeys: () => tenantKeys.all() as ReturnType<VaultStore['tenantKeys']>,
    insertTenantKey: (row) => insTenantKey.run(row).changes === 1,
    retireTenantKey: (version, at) => void retire.run(at, version),
    secret: (purpose) => secret.get(purpose) as { key_version: number; wrapped: Buffer } | undefined,
    insertSecret: (purpose, v, wrapped, at) => insSecret.run(purpose, v, wrapped, at).changes === 1,
    subjectKey: (kid) => subjectKey.get(kid) as ReturnType<VaultStore['subjectKey']>,
    liveSubjectKey: (hash) => liveSubjectKey.get(hash) as ReturnType<VaultStore['liveSubjectKey']>,
    insertSubjectKey: (row) => void insSubjectKey.run(row),
    subjectCount: () => (subjectCount.get() as { n: number }).n,
    eraseSubject: (hash, at) => erase(hash, at),
    erasuresSince: (id) => erasuresSince.all(id) as { id: number; subject_hash: Buffer }[],
    erasureCount: () => (erasureCount.get() as { n: number }).n,
    putRecords: (rows) => putMany(rows),
    record: (id) => record.get(id) as ReturnType<VaultStore['record']>,
    recordIds: (hash) => (recordIds.all(hash) as { id: string }[]).map((r) => r.id),
    versionCounts: () => (counts.all() as { tbl: VaultWrappedTable; key_version: number; n: number }[]).map((r) => ({ table: r.tbl, key_version: r.key_version, n: r.n })),
    stale: (current, limit) => {
      const out: VaultWrappedRow[] = [];
      for (const table of Object.keys(WRAPPED) as VaultWrappedTable[]) {
        if (out.length >= limit) break;
        for (const r of stale[table].all(current, limit - out.length) as { id: string | Buffer; key_version: number; data: Buffer }[]) out.push({ table, ...r });
      }
      return out;
    },
    rewrap: (rows) => rewrapMany(rows),
    appendEvents: (rows) => eventsMany(rows),
    events: (limit) => events.all(limit) as ReturnType<VaultStore['events']>,
    eventsAfter: (after, limit) => eventsAfter.all(after, limit) as ReturnType<VaultStore['eventsAfter']>,
    checkpoint: () => void db.pragma('wal_checkpoint(TRUNCATE)'),
  };
}
