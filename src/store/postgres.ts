/**
 * PostgreSQL (several gateway nodes, one database): Kysely's PostgresDialect over a `pg` pool,
 * the same migrations as SQLite, and the coordination the nodes need for one audit log
 * (`Cluster`):
 *
 *  - sequencing: one counter row (`audit_counters.audit_next`). A node reserves a batch of
 *    consecutive indices for the requests that started together in one statement that locks
 *    the row, takes the range, moves the counter and records who holds the range
 *    (`audit_reservations`) — atomic, so no index is handed out twice;
 *  - liveness: each node holds a session advisory lock named by its id (from `audit_nodes`,
 *    never reused) on a connection of its own. When the process dies its connection closes
 *    and PostgreSQL releases the lock: `alive(node)` is a try-lock;
 *  - leadership: one integrator (tiles and checkpoints) at a time, the node that holds the
 *    integrator's advisory lock; another takes over when that session ends.
 *
 * Lock keys are derived from the database and schema, so several logs (tests, tenants) in one
 * PostgreSQL server do not interfere.
 */
import os from 'node:os';
import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Cluster, Reservation, Store } from './index.js';
import type { DB } from './schema.js';
import { kyselyStore } from './kysely.js';
import { runMigrations } from './migrate.js';
import { StoreError } from './errors.js';
import { redactUrl } from './urls.js';

export { redactUrl };

/** int8 as a JS number (every id, index and count Sekisho stores is far below 2^53). */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 && format !== 'binary') return (v: string) => Number(v);
    return (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format);
  },
} as unknown as pg.CustomTypesConfig;

/** The URL without its password, for logs and messages. */
export interface PostgresOptions {
  /** Pool size (connections per node). */
  poolMax?: number;
}

export async function openPostgresStore(url: string, opts: PostgresOptions = {}): Promise<Store> {
  const where = redactUrl(url);
  const pool = new pg.Pool({ connectionString: url, max: opts.poolMax ?? 10, types, keepAlive: true, connectionTimeoutMillis: 10_000 });
  // An idle client that loses its server is dropped by the pool; without a listener the error would kill the process.
  pool.on('error', () => {});
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  let schema: string;
  let database: string;
  try {
    const r = await sql<{ schema: string | null; database: string }>`SELECT current_schema() AS schema, current_database() AS database`.execute(db);
    const row = r.rows[0]!;
    if (!row.schema) {
      throw new StoreError(
        'store_config',
        `${where}: search_path のスキーマがありません (CREATE SCHEMA で作成してください)`,
        `${where}: no schema of the search_path exists (create it with CREATE SCHEMA)`,
      );
    }
    schema = row.schema;
    database = row.database;
    await runMigrations(db, 'postgres', { schema, where });
  } catch (e) {
    await db.destroy().catch(() => {});
    if (e instanceof StoreError) throw e;
    const msg = (e as Error).message;
    throw new StoreError('store_unreachable', `${where}: PostgreSQL に接続できません: ${msg}`, `${where}: cannot use PostgreSQL: ${msg}`);
  }
  const cluster = new PgCluster(url, db, `${database}/${schema}`);
  return kyselyStore(db, {
    kind: 'postgres',
    describe: where,
    cluster,
    // PostgreSQL has no secure_delete: vacuum the subject keys so that the erased rows' space is
    // reclaimed (the bytes may stay in free space and in the WAL until overwritten; see README).
    // Bounded: an erasure never hangs behind a lock (autovacuum, a concurrent VACUUM); when the
    // lock is not granted within 5 s, autovacuum reclaims the space later (the key rows are gone).
    afterErasure: async (d) => {
      await d.connection().execute(async (c) => {
        await sql`SET lock_timeout = '5s'`.execute(c);
        try {
          await sql`VACUUM vault_subject_keys`.execute(c);
        } catch (e) {
          if ((e as { code?: string }).code !== '55P03') throw e;
        } finally {
          await sql`RESET lock_timeout`.execute(c);
        }
      });
    },
    close: async () => {
      await cluster.close();
      await db.destroy();
    },
  });
}

interface Session {
  client: pg.Client;
  nodeId: number;
}

class PgCluster implements Cluster {
  private session: Promise<Session> | undefined;
  private current: Session | undefined;
  private keys: { node: number; lead: number } | undefined;
  private ping: NodeJS.Timeout | undefined;
  private closed = false;
  private resetHandlers: (() => void)[] = [];
  leader = false;

  constructor(
    private readonly url: string,
    private readonly db: Kysely<DB>,
    private readonly name: string,
  ) {}

  get nodeId(): number {
    if (!this.current) throw new Error('cluster: not started');
    return this.current.nodeId;
  }

  onReset(fn: () => void): void {
    this.resetHandlers.push(fn);
  }

  /** The lock session, started on first use (CLI commands that never append never start one). */
  private started(): Promise<Session> {
    if (this.closed) return Promise.reject(new Error('cluster: closed'));
    this.session ??= this.connect().catch((e) => {
      this.session = undefined;
      throw e;
    });
    return this.session;
  }

  private async lockKeys(): Promise<{ node: number; lead: number }> {
    if (!this.keys) {
      const r = await sql<{ node: number; lead: number }>`SELECT hashtext(${'sekisho.node/' + this.name}) AS node, hashtext(${'sekisho.integrator/' + this.name}) AS lead`.execute(this.db);
      this.keys = r.rows[0]!;
    }
    return this.keys;
  }

  private async connect(): Promise<Session> {
    const keys = await this.lockKeys();
    const client = new pg.Client({ connectionString: this.url, keepAlive: true, types, connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      const node = await this.db.insertInto('audit_nodes').values({ host: os.hostname(), pid: process.pid, started_at: new Date().toISOString() }).returning('id').executeTakeFirstOrThrow();
      const nodeId = Number(node.id);
      await client.query('SELECT pg_advisory_lock($1, $2)', [keys.node, nodeId]);
      const s: Session = { client, nodeId };
      client.on('error', () => this.lost(s));
      client.on('end', () => this.lost(s));
      this.current = s;
      this.ping ??= setInterval(() => void this.checkSession(), 2000).unref();
      return s;
    } catch (e) {
      await client.end().catch(() => {});
      throw e;
    }
  }

  private async checkSession(): Promise<void> {
    const s = this.current;
    if (!s || this.closed) return;
    try {
      await s.client.query('SELECT 1');
    } catch {
      this.lost(s);
    }
  }

  /** The lock session broke: this node's id is void (another node may fill its reservations). */
  private lost(s: Session): void {
    if (this.current !== s || this.closed) return;
    this.current = undefined;
    this.session = undefined;
    this.leader = false;
    s.client.end().catch(() => {});
    for (const fn of this.resetHandlers) fn();
  }

  async start(): Promise<number> {
    return (await this.started()).nodeId;
  }

  async reserve(count: number): Promise<number> {
    const s = await this.started();
    const r = await sql<{ first: number }>`
      WITH c AS (UPDATE audit_counters SET value = value + ${count} WHERE name = 'audit_next' RETURNING value)
      INSERT INTO audit_reservations (first, count, node, ts)
      SELECT c.value - ${count}, ${count}, ${s.nodeId}, ${new Date().toISOString()} FROM c
      RETURNING first`.execute(this.db);
    if (this.current !== s) throw new Error('cluster: the node lock was lost while reserving');
    return Number(r.rows[0]!.first);
  }

  async next(): Promise<number> {
    const r = await this.db.selectFrom('audit_counters').select('value').where('name', '=', 'audit_next').executeTakeFirstOrThrow();
    return Number(r.value);
  }

  async reservations(from: number, to: number): Promise<Reservation[]> {
    const rows = await sql<Reservation>`SELECT first, count, node FROM audit_reservations WHERE first < ${to} AND first + count > ${from} ORDER BY first`.execute(this.db);
    return rows.rows.map((r) => ({ first: Number(r.first), count: Number(r.count), node: Number(r.node) }));
  }

  async alive(node: number): Promise<boolean> {
    const s = await this.started();
    if (node === s.nodeId) return true;
    const keys = await this.lockKeys();
    const r = await s.client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS got', [keys.node, node]);
    if (!r.rows[0]!.got) return true;
    await s.client.query('SELECT pg_advisory_unlock($1, $2)', [keys.node, node]);
    return false;
  }

  async dropReservations(size: number, node?: number): Promise<void> {
    if (node === undefined) await sql`DELETE FROM audit_reservations WHERE first + count <= ${size}`.execute(this.db);
    else await sql`DELETE FROM audit_reservations WHERE first + count <= ${size} OR node = ${node}`.execute(this.db);
  }

  async lead(): Promise<boolean> {
    const s = await this.started();
    if (this.leader) return true;
    const keys = await this.lockKeys();
    const r = await s.client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1, 0) AS got', [keys.lead]);
    this.leader = this.current === s && r.rows[0]!.got;
    return this.leader;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ping) clearInterval(this.ping);
    const s = this.current;
    this.current = undefined;
    this.leader = false;
    if (s) await s.client.end().catch(() => {});
  }
}
