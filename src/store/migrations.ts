/**
 * One set of schema migrations for both engines, written with Kysely's schema builder and
 * run by Kysely's Migrator (table `kysely_migration`; on PostgreSQL under an advisory lock,
 * so that several nodes starting at once migrate once). Column types differ only where the
 * engines do: BLOB ↔ bytea, INTEGER (SQLite's 64-bit rowid alias) ↔ bigint, REAL ↔ double
 * precision. Add a migration at the end; never edit one that shipped.
 *
 * SQLite files written before Kysely (schema version in `PRAGMA user_version`, 1–7) are
 * brought to version 7 by their old statements (store/sqlite.ts) and then adopted:
 * `0001_baseline` and `0003_console` recognise them and create nothing.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { StoreKind } from './index.js';

interface Types {
  blob: 'blob' | 'bytea';
  int64: 'integer' | 'bigint';
  real: 'real' | 'double precision';
}

function typesFor(kind: StoreKind): Types {
  return kind === 'sqlite' ? { blob: 'blob', int64: 'integer', real: 'real' } : { blob: 'bytea', int64: 'bigint', real: 'double precision' };
}

/** The schema of Sekisho 0.1 (SQLite user_version 6), for a new database. */
function baseline(kind: StoreKind, adopted: number): Migration {
  const t = typesFor(kind);
  return {
    async up(db: Kysely<any>) {
      if (adopted > 0) return; // a pre-Kysely SQLite file: these tables exist
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('hash', t.blob, (c) => c.notNull().unique())
        .addColumn('default_level', 'text', (c) => c.notNull())
        .addColumn('max_level', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema
        .createTable('decisions')
        .addColumn('seq', t.int64, (c) => c.primaryKey())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('ts', 'text', (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('endpoint', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('level', 'text', (c) => c.notNull())
        .addColumn('flags', 'text', (c) => c.notNull())
        .addColumn('decision', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('backend', 'text')
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('duration_ms', t.real, (c) => c.notNull())
        .addColumn('upstream_ms', t.real)
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('findings', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
      await db.schema.createIndex('decisions_request_id').on('decisions').column('request_id').execute();

      // identity (issue #4): credentials the tenant issued, and OpenID4VCI pre-authorized offers
      await db.schema
        .createTable('identity_credentials')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('employee_id', 'text')
        .addColumn('claims', 'text', (c) => c.notNull())
        .addColumn('status_list', 'integer', (c) => c.notNull())
        .addColumn('status_idx', 'integer', (c) => c.notNull())
        .addColumn('kid', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('issued_at', 'text')
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addUniqueConstraint('identity_credentials_status', ['status_list', 'status_idx'])
        .execute();
      await db.schema.createIndex('identity_credentials_employee').on('identity_credentials').column('employee_id').execute();
      await db.schema
        .createTable('identity_offers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('credential_id', 'text', (c) => c.notNull().references('identity_credentials.id'))
        .addColumn('code_hash', t.blob, (c) => c.notNull().unique())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('redeemed_at', 'text')
        .addColumn('access_hash', t.blob, (c) => c.unique())
        .addColumn('access_expires_at', 'text')
        .addColumn('issued_at', 'text')
        .addColumn('tx_code_hash', t.blob)
        .addColumn('tx_attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();

      // The vault (issue #5): wrapped keys and encrypted records; never plaintext.
      await db.schema
        .createTable('vault_tenant_keys')
        .addColumn('version', 'integer', (c) => c.primaryKey())
        .addColumn('wrapped', t.blob)
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('retired_at', 'text')
        .execute();
      await db.schema
        .createTable('vault_secrets')
        .addColumn('purpose', 'text', (c) => c.primaryKey())
        .addColumn('key_version', 'integer', (c) => c.notNull())
        .addColumn('wrapped', t.blob, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('vault_subject_keys')
        .addColumn('kid', t.blob, (c) => c.primaryKey())
        .addColumn('subject_hash', t.blob, (c) => c.notNull())
        .addColumn('key_version', 'integer', (c) => c.notNull())
        .addColumn('wrapped', t.blob, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('vault_subject_keys_subject').on('vault_subject_keys').column('subject_hash').execute();
      await db.schema.createIndex('vault_subject_keys_version').on('vault_subject_keys').column('key_version').execute();
      await db.schema
        .createTable('vault_records')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('subject_hash', t.blob)
        .addColumn('key_version', 'integer', (c) => c.notNull())
        .addColumn('level', 'text', (c) => c.notNull())
        .addColumn('blob', t.blob, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('vault_records_subject').on('vault_records').column('subject_hash').execute();
      await db.schema
        .createIndex('vault_records_version')
        .on('vault_records')
        .column('key_version')
        .where(sql.ref('key_version'), '>', 0)
        .execute();
      // ids: SQLite's rowid; on PostgreSQL assigned by the writer under a table lock (commit order).
      await db.schema
        .createTable('vault_erasures')
        .addColumn('id', t.int64, (c) => c.primaryKey())
        .addColumn('subject_hash', t.blob, (c) => c.notNull())
        .addColumn('ts', 'text', (c) => c.notNull())
        .addColumn('keys', 'integer', (c) => c.notNull())
        .addColumn('records', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('vault_events')
        .addColumn('id', t.int64, (c) => c.primaryKey())
        .addColumn('ts', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('key_version', 'integer')
        .addColumn('subject_hash', t.blob)
        .addColumn('detail', 'text', (c) => c.notNull())
        .execute();

      // Audit log (issue #6): entries (leaf bytes by index), hash tiles (C2SP tlog-tiles,
      // partial tiles grow in place), signed checkpoints, and how far outside sources were copied.
      await db.schema
        .createTable('audit_entries')
        .addColumn('idx', t.int64, (c) => c.primaryKey())
        .addColumn('data', t.blob, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('audit_tiles')
        .addColumn('level', 'integer', (c) => c.notNull())
        .addColumn('n', t.int64, (c) => c.notNull())
        .addColumn('data', t.blob, (c) => c.notNull())
        .addColumn('inner', t.blob)
        .addPrimaryKeyConstraint('audit_tiles_pk', ['level', 'n'])
        .execute();
      await db.schema
        .createTable('audit_checkpoints')
        .addColumn('size', t.int64, (c) => c.primaryKey())
        .addColumn('note', 'text', (c) => c.notNull())
        .addColumn('ts', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('audit_imports')
        .addColumn('source', 'text', (c) => c.primaryKey())
        .addColumn('last_id', t.int64, (c) => c.notNull())
        .execute();
    },
  };
}

/** Several nodes, one log (issue #9): the sequencer's counter row, reservations, nodes. */
function cluster(kind: StoreKind): Migration {
  const t = typesFor(kind);
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('audit_counters')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', t.int64, (c) => c.notNull())
        .execute();
      // The counter starts past whatever a single node already wrote.
      const max = await db
        .selectFrom('audit_entries')
        .select((eb) => eb.fn.max<number | null>('idx').as('m'))
        .executeTakeFirst();
      const seq = await db
        .selectFrom('decisions')
        .select((eb) => eb.fn.max<number | null>('seq').as('m'))
        .executeTakeFirst();
      const next = Math.max(Number(max?.m ?? -1), Number(seq?.m ?? -1)) + 1;
      const size = await db
        .selectFrom('audit_checkpoints')
        .select((eb) => eb.fn.max<number | null>('size').as('m'))
        .executeTakeFirst();
      await db
        .insertInto('audit_counters')
        .values([
          { name: 'audit_next', value: next },
          // the published tree size: integrators compare-and-set it
          { name: 'audit_size', value: Number(size?.m ?? 0) },
        ])
        .execute();
      await db.schema
        .createTable('audit_reservations')
        .addColumn('first', t.int64, (c) => c.primaryKey())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addColumn('node', t.int64, (c) => c.notNull())
        .addColumn('ts', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_reservations_node').on('audit_reservations').column('node').execute();
      await db.schema
        .createTable('audit_nodes')
        .addColumn('id', t.int64, (c) => (kind === 'sqlite' ? c.primaryKey() : c.primaryKey().generatedByDefaultAsIdentity()))
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .execute();
    },
  };
}

/**
 * The admin console (issue #8): who asked, by department and training status (adoption), and
 * the indexes its aggregate queries use. Pre-Kysely SQLite files at user_version 7 have it.
 */
function console_(adopted: number): Migration {
  return {
    async up(db: Kysely<any>) {
      if (adopted >= 7) return;
      await db.schema.alterTable('decisions').addColumn('department', 'text', (c) => c.notNull().defaultTo('')).execute();
      await db.schema.alterTable('decisions').addColumn('trained', 'integer').execute();
      await db.schema.createIndex('decisions_ts').on('decisions').columns(['ts', 'level', 'decision']).execute();
      await db.schema.createIndex('decisions_adoption').on('decisions').columns(['ts', 'department', 'trained', 'principal', 'decision']).execute();
      await db.schema.alterTable('identity_credentials').addColumn('department', 'text').execute();
      await db.schema.alterTable('identity_credentials').addColumn('trained', 'integer').execute();
    },
  };
}

/** Threat detection (issue #7): alerts, incidents, quarantined principals, TAXII objects and status. */
function threats(kind: StoreKind): Migration {
  const t = typesFor(kind);
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('threat_alerts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('ts', 'text', (c) => c.notNull())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('rule', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('score', t.real, (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text')
        .addColumn('incident_id', 'text')
        .addColumn('owasp', 'text', (c) => c.notNull())
        .addColumn('atlas', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('threat_alerts_ts').on('threat_alerts').column('ts').execute();
      await db.schema.createIndex('threat_alerts_incident').on('threat_alerts').column('incident_id').execute();
      await db.schema
        .createTable('threat_incidents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('group_key', 'text', (c) => c.notNull())
        .addColumn('opened_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('alert_count', 'integer', (c) => c.notNull())
        .addColumn('principals', 'text', (c) => c.notNull())
        .addColumn('approved_by', 'text')
        .addColumn('approved_at', 'text')
        .execute();
      await db.schema.createIndex('threat_incidents_updated').on('threat_incidents').column('updated_at').execute();
      await db.schema
        .createTable('threat_quarantine')
        .addColumn('principal', 'text', (c) => c.primaryKey())
        .addColumn('since', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('taxii_objects')
        .addColumn('collection', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('date_added', 'text', (c) => c.notNull())
        .addColumn('object', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('taxii_objects_pk', ['collection', 'id', 'version'])
        .execute();
      await db.schema.createIndex('taxii_objects_added').on('taxii_objects').columns(['collection', 'date_added']).execute();
      await db.schema
        .createTable('taxii_status')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('created', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .execute();
    },
  };
}

/** Incidents get a Japanese title (the console is Japanese first; the JPCERT/CC report uses it). */
function threatsJa(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('threat_incidents').addColumn('title_ja', 'text').execute();
    },
  };
}

export function migrationProvider(kind: StoreKind, opts: { adopted?: number } = {}): MigrationProvider {
  const adopted = opts.adopted ?? 0;
  return {
    async getMigrations() {
      return {
        '0001_baseline': baseline(kind, adopted),
        '0002_cluster': cluster(kind),
        '0003_console': console_(adopted),
        '0004_threats': threats(kind),
        '0005_threats_ja': threatsJa(),
      };
    },
  };
}

/** How many migrations this Sekisho knows (a database that ran more is newer than it). */
export const MIGRATION_NAMES = ['0001_baseline', '0002_cluster', '0003_console', '0004_threats', '0005_threats_ja'];
