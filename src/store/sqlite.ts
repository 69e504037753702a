/**
 * The embedded engine: one SQLite file (better-sqlite3 v12) under Kysely's SqliteDialect.
 *
 * Security settings kept from the start: WAL with synchronous=NORMAL (a committed transaction
 * survives the death of the process), secure_delete=ON (deleted rows, such as erased subject
 * keys, are overwritten rather than left in free pages) and a WAL checkpoint after an erasure.
 *
 * Kysely prepares every query it runs; the database handed to it caches prepared statements
 * by SQL text, so the request path re-uses them as before.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql, type SqliteDatabase } from 'kysely';
import type { Store } from './index.js';
import type { DB } from './schema.js';
import { kyselyStore } from './kysely.js';
import { withSqliteFastPath } from './sqlite-fast.js';
import { runMigrations } from './migrate.js';
import { StoreError } from './errors.js';

/**
 * The schema before Kysely (Sekisho 0.1): statements applied in order, `PRAGMA user_version`
 * counting them. A file at a lower version is brought to 7 with them, then adopted by the
 * Kysely migrations. Never edit.
 */
export const LEGACY: string[] = [
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
  // The console (issue #8, shipped as user_version 7): who asked, by department and training
  // status (adoption), and the indexes its aggregate queries use.
  `ALTER TABLE decisions ADD COLUMN department TEXT NOT NULL DEFAULT '';
   ALTER TABLE decisions ADD COLUMN trained INTEGER;
   CREATE INDEX decisions_ts ON decisions(ts, level, decision);
   CREATE INDEX decisions_adoption ON decisions(ts, department, trained, principal, decision);
   ALTER TABLE identity_credentials ADD COLUMN department TEXT;
   ALTER TABLE identity_credentials ADD COLUMN trained INTEGER;`,
];

/** user_version of a file managed by Kysely migrations (an older Sekisho refuses it as newer). */
const KYSELY_USER_VERSION = LEGACY.length + 1;

/** better-sqlite3 with a bounded cache of prepared statements (Kysely prepares per query). */
function cachingDatabase(db: Database.Database): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => db.close(),
    prepare(text: string) {
      let s = cache.get(text);
      if (!s) {
        s = db.prepare(text);
        if (cache.size >= 512) cache.clear();
        cache.set(text, s);
      }
      return s as unknown as ReturnType<SqliteDatabase['prepare']>;
    },
  };
}

export async function openSqliteStore(file: string): Promise<Store> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const raw = new Database(file);
  let db: Kysely<DB> | undefined;
  try {
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.pragma('busy_timeout = 5000');
    // Deleted content (erased subject keys) is overwritten, not left in free pages.
    raw.pragma('secure_delete = ON');
    const version = raw.pragma('user_version', { simple: true }) as number;
    const managed = raw.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kysely_migration'").get() !== undefined;
    /** The legacy schema version a pre-Kysely file was adopted at (0: none). */
    let adopted = 0;
    if (!managed && version > 0) {
      if (version > LEGACY.length) {
        throw new StoreError(
          'store_newer',
          `${file}: データベースのスキーマ (user_version ${version}) をこの Sekisho は知りません。Sekisho を更新してください`,
          `${file}: the database schema (user_version ${version}) is unknown to this Sekisho; upgrade Sekisho`,
        );
      }
      // A file written before Kysely: finish its old migrations, then adopt it.
      for (let v = version; v < LEGACY.length; v++) {
        raw.transaction(() => {
          raw.exec(LEGACY[v]!);
          raw.pragma(`user_version = ${v + 1}`);
        })();
      }
      adopted = LEGACY.length;
    }
    db = new Kysely<DB>({ dialect: new SqliteDialect({ database: cachingDatabase(raw) }) });
    await runMigrations(db, 'sqlite', { adopted, where: file });
    if (version !== KYSELY_USER_VERSION) raw.pragma(`user_version = ${KYSELY_USER_VERSION}`);
  } catch (e) {
    if (db) await db.destroy();
    else raw.close();
    throw e;
  }
  const kdb = db;
  const store = kyselyStore(kdb, {
    kind: 'sqlite',
    describe: file,
    cluster: undefined,
    // Copies of the deleted rows may linger in the WAL until a checkpoint.
    afterErasure: async (d) => {
      await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(d);
    },
    close: () => kdb.destroy(),
  });
  return withSqliteFastPath(store, raw);
}
