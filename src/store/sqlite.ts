import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ApiKeyRow, CredentialRow, DecisionRecord, OfferRow, Store } from './index.js';

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

  const insCred = db.prepare(
    'INSERT INTO identity_credentials (id, subject, employee_id, claims, status_list, status_idx, kid, created_at, issued_at, expires_at, revoked_at) VALUES (@id, @subject, @employee_id, @claims, @status_list, @status_idx, @kid, @created_at, @issued_at, @expires_at, @revoked_at)',
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
      insertCredential: (row: CredentialRow) => void insCred.run(row),
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
