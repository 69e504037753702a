/**
 * Which engine the suite runs on: `SEKISHO_TEST_STORE=postgres` (PostgreSQL at
 * `SEKISHO_TEST_PG_URL`, default postgres://postgres@127.0.0.1:5432/test, trust auth), else
 * SQLite. On PostgreSQL every test directory (gateway, vault, store) gets a schema of its own
 * in that database (search_path in the URL; the same directory, the same schema, so tests can
 * reopen their data), dropped when the gateway closes or the test file ends, so tests stay
 * independent and may run concurrently.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { after } from 'node:test';
import pg from 'pg';
import Database from 'better-sqlite3';
import { openStore, type Store, type StoreTarget } from '../../src/store/index.ts';

export const TEST_STORE: 'sqlite' | 'postgres' = process.env.SEKISHO_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';
export const onPostgres = TEST_STORE === 'postgres';
export const PG_BASE_URL = process.env.SEKISHO_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let databaseReady: Promise<void> | undefined;

/** Creates the test database when it does not exist (several test processes may race). */
function ensureDatabase(): Promise<void> {
  databaseReady ??= (async () => {
    const u = new URL(PG_BASE_URL);
    const name = decodeURIComponent(u.pathname.slice(1)) || 'test';
    const admin = new URL(PG_BASE_URL);
    admin.pathname = '/postgres';
    const c = new pg.Client({ connectionString: admin.toString() });
    await c.connect();
    try {
      const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (r.rowCount === 0) await c.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`).catch((e: { code?: string }) => {
        if (e.code !== '42P04' && e.code !== '23505') throw e; // created meanwhile by another process
      });
    } finally {
      await c.end();
    }
  })();
  return databaseReady;
}

/** A client on the test database itself (no schema). */
async function adminClient(): Promise<pg.Client> {
  await ensureDatabase();
  const c = new pg.Client({ connectionString: PG_BASE_URL });
  await c.connect();
  return c;
}

export interface PgSchema {
  schema: string;
  /** The test database's URL with `search_path` set to the schema. */
  url: string;
  drop(): Promise<void>;
}

/** Schemas this test process created: dropped when its tests end. */
const created = new Set<string>();
after(async () => {
  for (const schema of created) await dropSchema(schema).catch(() => {});
});

async function dropSchema(schema: string): Promise<void> {
  const a = await adminClient();
  try {
    await a.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await a.end();
  }
  created.delete(schema);
}

/** The URL of the test database with `search_path` set to `schema`. */
export function pgUrlFor(schema: string): string {
  const u = new URL(PG_BASE_URL);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

/** The schema of a test directory (the same directory, the same data: tests reopen stores). */
export function schemaForDir(dir: string): string {
  return `sekisho_t_${crypto.createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 16)}`;
}

function pgSchema(schema: string): PgSchema {
  return { schema, url: pgUrlFor(schema), drop: () => dropSchema(schema) };
}

/** Creates the schema when it does not exist (dropped when the test process's tests end). */
export async function ensureSchema(schema: string): Promise<PgSchema> {
  const c = await adminClient();
  try {
    await c.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`).catch((e: { code?: string }) => {
      if (e.code !== '42P06' && e.code !== '23505') throw e;
    });
  } finally {
    await c.end();
  }
  created.add(schema);
  return pgSchema(schema);
}

/** A new, empty schema in the test database. */
export async function freshPgSchema(prefix = 'x'): Promise<PgSchema> {
  return ensureSchema(`sekisho_${prefix}_${process.pid}_${crypto.randomBytes(4).toString('hex')}`);
}

/** The store part of a config in `dir` (synchronous): `{}` on SQLite, `{ store: { postgres } }` on PostgreSQL. */
export function storeConfigFor(dir: string): Record<string, unknown> {
  return onPostgres ? { store: { postgres: pgUrlFor(schemaForDir(dir)), pool_max: 4 } } : {};
}

/** The schema a loaded config points at, if PostgreSQL (created if need be). */
export async function schemaOf(loaded: { store: StoreTarget }): Promise<PgSchema | undefined> {
  if (loaded.store.kind !== 'postgres') return undefined;
  const opt = new URL(loaded.store.url).searchParams.get('options') ?? '';
  const m = /search_path=([A-Za-z0-9_]+)/.exec(opt);
  if (!m) throw new Error(`test store URL without a schema: ${loaded.store.url}`);
  return ensureSchema(m[1]!);
}

/** Opens the store of a loaded test config (creating its PostgreSQL schema first). */
export async function openStoreFor(loaded: { store: StoreTarget }): Promise<Store> {
  await schemaOf(loaded);
  return openStore(loaded);
}

export interface TestStoreConfig {
  /** Merge into a gateway's config: `{}` on SQLite, `{ store: { postgres: URL } }` on PostgreSQL. */
  config: Record<string, unknown>;
  /** The PostgreSQL schema, when on PostgreSQL. */
  pg: PgSchema | undefined;
  cleanup(): Promise<void>;
}

/** The store part of a test gateway's config in `dir`, for the engine under test (schema created). */
export async function testStoreConfig(dir: string): Promise<TestStoreConfig> {
  if (!onPostgres) return { config: {}, pg: undefined, cleanup: async () => {} };
  const s = await ensureSchema(schemaForDir(dir));
  return { config: storeConfigFor(dir), pg: s, cleanup: () => s.drop() };
}

/** A store for a unit test: a SQLite file in `dir`, or the directory's PostgreSQL schema. */
export async function openTestStore(dir: string, file = 'test.db'): Promise<Store & { pgSchema?: PgSchema }> {
  if (!onPostgres) return openStore({ kind: 'sqlite', file: path.join(dir, file) });
  const s = await ensureSchema(schemaForDir(path.join(dir, file)));
  const store = await openStore({ kind: 'postgres', url: s.url, poolMax: 4 });
  return Object.assign(store, { pgSchema: s });
}

/**
 * A statement on the store of a loaded test config, outside Sekisho (tests that tamper with
 * or inspect rows): `?` placeholders, rows back for queries.
 */
export async function rawQuery(loaded: { store: StoreTarget; sqlitePath: string }, text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  if (loaded.store.kind === 'sqlite') {
    const db = new Database(loaded.sqlitePath);
    try {
      const st = db.prepare(text);
      if (st.reader) return st.all(...params) as Record<string, unknown>[];
      st.run(...params);
      return [];
    } finally {
      db.close();
    }
  }
  const c = new pg.Client({ connectionString: loaded.store.url });
  await c.connect();
  try {
    let i = 0;
    const r = await c.query(text.replace(/\?/g, () => `$${++i}`), params);
    return r.rows;
  } finally {
    await c.end();
  }
}

/**
 * Every value stored in the schema, as bytes (text, numbers and bytea alike): the PostgreSQL
 * counterpart of reading the SQLite file, for tests that look for plaintext that must not be
 * there.
 */
export async function pgSchemaBytes(s: PgSchema): Promise<Buffer> {
  const c = new pg.Client({ connectionString: s.url });
  await c.connect();
  try {
    const tables = await c.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [s.schema]);
    const parts: Buffer[] = [];
    for (const t of tables.rows) {
      const r = await c.query({ text: `SELECT * FROM "${s.schema}"."${t.table_name}"`, rowMode: 'array' });
      for (const row of r.rows as unknown[][]) for (const v of row) if (v !== null) parts.push(Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8'));
    }
    return Buffer.concat(parts);
  } finally {
    await c.end();
  }
}
