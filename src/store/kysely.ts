/**
 * The Store over Kysely: one implementation for SQLite and PostgreSQL. The few places where
 * the engines differ say so (`pg`). Queries on the request path (group commits of decision
 * records and audit leaves, retained bodies, proofs) are compiled once per shape and then
 * executed with new parameters, so the query builder costs nothing per request.
 */
import { CompiledQuery, sql, type Compilable, type Kysely, type QueryResult, type RawBuilder, type Transaction } from 'kysely';
import type { AdoptionRow, ConsoleStore, RecordQuery, ThreatAlertRow, ThreatIncidentRow, ThreatStore, TrafficRow } from './index.js';
import type { ApiKeyRow, AuditCheckpointRow, AuditEntryRow, Cluster, CredentialRow, DecisionRecord, OfferRow, Store, StoreKind, VaultEventRow, VaultRecordRow, VaultStore, VaultWrappedRow, VaultWrappedTable } from './index.js';
import type { DB } from './schema.js';

type Db = Kysely<DB> | Transaction<DB>;

/** Compiled queries by shape; executed with fresh parameters. */
class Shapes {
  private readonly cache = new Map<string, CompiledQuery>();
  constructor(private readonly db: Kysely<DB>) {}

  async run<R = unknown>(key: string, build: (db: Kysely<DB>) => Compilable<unknown>, params: readonly unknown[], on: Db = this.db): Promise<QueryResult<R>> {
    let c = this.cache.get(key);
    if (!c) {
      c = build(this.db).compile();
      if (c.parameters.length !== params.length) throw new Error(`store: query ${key} has ${c.parameters.length} parameters, ${params.length} given`);
      this.cache.set(key, c);
    }
    return on.executeQuery<R>(CompiledQuery.raw(c.sql, params as unknown[]));
  }
}

/** The decision record's columns, in the order the inserts bind them. */
export const DECISION_COLS = ['seq', 'request_id', 'ts', 'principal', 'endpoint', 'model', 'level', 'flags', 'findings', 'decision', 'reason', 'backend', 'status', 'duration_ms', 'upstream_ms', 'attempts', 'department', 'trained'] as const;
const RECORD_COLS = ['id', 'purpose', 'subject_hash', 'key_version', 'level', 'blob', 'created_at'] as const;

/** Placeholder row of the right shape for compiling an insert (values are parameters). */
function shapeRow<C extends string>(cols: readonly C[]): Record<C, unknown> {
  return Object.fromEntries(cols.map((c) => [c, 0])) as Record<C, unknown>;
}

/** Rows a statement changed (Kysely names the count differently per kind of statement). */
const affected = (r: { numAffectedRows?: bigint } | { numInsertedOrUpdatedRows?: bigint } | { numDeletedRows: bigint } | { numUpdatedRows: bigint }): number => {
  const x = r as { numAffectedRows?: bigint; numInsertedOrUpdatedRows?: bigint; numDeletedRows?: bigint; numUpdatedRows?: bigint };
  return Number(x.numAffectedRows ?? x.numInsertedOrUpdatedRows ?? x.numDeletedRows ?? x.numUpdatedRows ?? 0n);
};

const WRAPPED: Record<VaultWrappedTable, { table: 'vault_secrets' | 'vault_subject_keys' | 'vault_records'; id: string; data: string }> = {
  secrets: { table: 'vault_secrets', id: 'purpose', data: 'wrapped' },
  subject_keys: { table: 'vault_subject_keys', id: 'kid', data: 'wrapped' },
  records: { table: 'vault_records', id: 'id', data: 'blob' },
};

export interface KyselyStoreOptions {
  kind: StoreKind;
  describe: string;
  cluster?: Cluster;
  /** After an erasure (SQLite: WAL checkpoint; PostgreSQL: vacuum). */
  afterErasure(db: Kysely<DB>): Promise<void>;
  close(): Promise<void>;
}

export function kyselyStore(db: Kysely<DB>, o: KyselyStoreOptions): Store {
  const pg = o.kind === 'postgres';
  const shapes = new Shapes(db);
  const any = db as unknown as Kysely<any>;
  /** Rows per multi-row statement: SQLite runs them in-process (groups of 32, then singles); PostgreSQL saves round trips. */
  const groups = (n: number): number[] => {
    const out: number[] = [];
    const g = pg ? 128 : 32;
    let left = n;
    while (left >= g) {
      out.push(g);
      left -= g;
    }
    if (pg) {
      if (left > 0) out.push(left);
    } else for (; left > 0; left--) out.push(1);
    return out;
  };

  async function insertEntries(on: Db, entries: readonly AuditEntryRow[]): Promise<number> {
    let at = 0;
    let n = 0;
    for (const g of groups(entries.length)) {
      const params: unknown[] = [];
      for (let i = at; i < at + g; i++) params.push(entries[i]!.idx, entries[i]!.data);
      const r = await shapes.run(
        `entries:${g}`,
        (d) =>
          d
            .insertInto('audit_entries')
            .values(Array.from({ length: g }, () => ({ idx: 0, data: Buffer.alloc(0) })))
            .onConflict((oc) => oc.column('idx').doNothing()),
        params,
        on,
      );
      n += affected(r);
      at += g;
    }
    return n;
  }

  async function insertDecisions(on: Db, rows: readonly DecisionRecord[]): Promise<void> {
    let at = 0;
    for (const g of groups(rows.length)) {
      const params: unknown[] = [];
      for (let i = at; i < at + g; i++) for (const c of DECISION_COLS) params.push(rows[i]![c] ?? (c === 'department' ? '' : null));
      await shapes.run(
        `decisions:${g}`,
        (d) =>
          d
            .insertInto('decisions')
            .values(Array.from({ length: g }, () => shapeRow(DECISION_COLS) as never))
            .onConflict((oc) => oc.column('seq').doNothing()),
        params,
        on,
      );
      at += g;
    }
  }

  /** Indices among `entries` whose stored bytes are not ours (another writer took them). */
  async function notOurs(on: Db, entries: readonly AuditEntryRow[]): Promise<number[]> {
    const stored = new Map<number, Buffer>();
    for (let i = 0; i < entries.length; i += 500) {
      const rows = await on
        .selectFrom('audit_entries')
        .select(['idx', 'data'])
        .where(
          'idx',
          'in',
          entries.slice(i, i + 500).map((e) => e.idx),
        )
        .execute();
      for (const r of rows) stored.set(Number(r.idx), r.data);
    }
    return entries.filter((e) => !stored.get(e.idx)?.equals(e.data)).map((e) => e.idx);
  }

  const vault: VaultStore = {
    tenantKeys: () => db.selectFrom('vault_tenant_keys').selectAll().orderBy('version').execute(),
    insertTenantKey: async (row) =>
      affected(
        await db
          .insertInto('vault_tenant_keys')
          .values({ version: row.version, wrapped: row.wrapped, created_at: row.created_at, retired_at: row.retired_at })
          .onConflict((oc) => oc.column('version').doNothing())
          .executeTakeFirst(),
      ) === 1,
    retireTenantKey: async (version, at) => {
      await db.updateTable('vault_tenant_keys').set({ wrapped: null, retired_at: at }).where('version', '=', version).execute();
    },
    secret: (purpose) => db.selectFrom('vault_secrets').select(['key_version', 'wrapped']).where('purpose', '=', purpose).executeTakeFirst(),
    insertSecret: async (purpose, v, wrapped, at) =>
      affected(
        await db
          .insertInto('vault_secrets')
          .values({ purpose, key_version: v, wrapped, created_at: at })
          .onConflict((oc) => oc.column('purpose').doNothing())
          .executeTakeFirst(),
      ) === 1,
    subjectKey: (kid) => shapes.run<Awaited<ReturnType<VaultStore['subjectKey']>> & object>('subjectKey', (d) => d.selectFrom('vault_subject_keys').selectAll().where('kid', '=', Buffer.alloc(0)), [kid]).then((r) => r.rows[0]),
    liveSubjectKey: (hash) =>
      shapes
        .run<Awaited<ReturnType<VaultStore['liveSubjectKey']>> & object>(
          'liveSubjectKey',
          (d) => d.selectFrom('vault_subject_keys').selectAll().where('subject_hash', '=', Buffer.alloc(0)).orderBy('created_at', 'desc').limit(1),
          [hash, 1],
        )
        .then((r) => r.rows[0]),
    insertSubjectKey: async (row) => {
      await db.insertInto('vault_subject_keys').values({ kid: row.kid, subject_hash: row.subject_hash, key_version: row.key_version, wrapped: row.wrapped, created_at: row.created_at }).execute();
    },
    subjectCount: async () =>
      Number(
        (await db
          .selectFrom('vault_subject_keys')
          .select((eb) => eb.fn.count<number>('subject_hash').distinct().as('n'))
          .executeTakeFirstOrThrow()).n,
      ),
    eraseSubject: (hash, at) =>
      db.transaction().execute(async (trx) => {
        const keys = affected(await trx.deleteFrom('vault_subject_keys').where('subject_hash', '=', hash).executeTakeFirst());
        const records = Number(
          (await trx
            .selectFrom('vault_records')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('subject_hash', '=', hash)
            .executeTakeFirstOrThrow()).n,
        );
        const id = pg ? await nextIdLocked(trx, 'vault_erasures') : undefined;
        await trx
          .insertInto('vault_erasures')
          .values({ ...(id !== undefined ? { id } : {}), subject_hash: hash, ts: at, keys, records })
          .execute();
        return { keys, records };
      }),
    erasuresSince: async (id) => (await db.selectFrom('vault_erasures').select(['id', 'subject_hash']).where('id', '>', id).orderBy('id').execute()).map((r) => ({ id: Number(r.id), subject_hash: r.subject_hash })),
    erasureCount: async () => Number((await db.selectFrom('vault_erasures').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n),
    putRecords: async (rows) => {
      if (rows.length === 0) return;
      const write = async (on: Db) => {
        let at = 0;
        for (const g of groups(rows.length)) {
          const params: unknown[] = [];
          for (let i = at; i < at + g; i++) for (const c of RECORD_COLS) params.push(rows[i]![c]);
          await shapes.run(
            `records:${g}`,
            (d) =>
              d
                .insertInto('vault_records')
                .values(Array.from({ length: g }, () => shapeRow(RECORD_COLS) as never))
                .onConflict((oc) =>
                  oc.column('id').doUpdateSet((eb) => ({
                    purpose: eb.ref('excluded.purpose'),
                    subject_hash: eb.ref('excluded.subject_hash'),
                    key_version: eb.ref('excluded.key_version'),
                    level: eb.ref('excluded.level'),
                    blob: eb.ref('excluded.blob'),
                    created_at: eb.ref('excluded.created_at'),
                  })),
                ),
            params,
            on,
          );
          at += g;
        }
      };
      if (rows.length === 1) await write(db);
      else await db.transaction().execute(write);
    },
    record: (id) => shapes.run<VaultRecordRow>('record', (d) => d.selectFrom('vault_records').selectAll().where('id', '=', ''), [id]).then((r) => r.rows[0]),
    recordIds: async (hash) => (await db.selectFrom('vault_records').select('id').where('subject_hash', '=', hash).orderBy('created_at').execute()).map((r) => r.id),
    versionCounts: async () => {
      const out: { table: VaultWrappedTable; key_version: number; n: number }[] = [];
      for (const table of Object.keys(WRAPPED) as VaultWrappedTable[]) {
        const rows = await any
          .selectFrom(WRAPPED[table].table)
          .select(['key_version', (eb: any) => eb.fn.countAll().as('n')])
          .groupBy('key_version')
          .execute();
        for (const r of rows) out.push({ table, key_version: Number(r.key_version), n: Number(r.n) });
      }
      return out;
    },
    stale: async (current, limit) => {
      const out: VaultWrappedRow[] = [];
      for (const table of Object.keys(WRAPPED) as VaultWrappedTable[]) {
        if (out.length >= limit) break;
        const t = WRAPPED[table];
        const rows = await any
          .selectFrom(t.table)
          .select([`${t.id} as id`, 'key_version', `${t.data} as data`])
          .where('key_version', '>', 0)
          .where('key_version', '<>', current)
          .limit(limit - out.length)
          .execute();
        for (const r of rows as { id: string | Buffer; key_version: number; data: Buffer }[]) out.push({ table, id: r.id, key_version: Number(r.key_version), data: r.data });
      }
      return out;
    },
    rewrap: (rows) =>
      db.transaction().execute(async (trx) => {
        let n = 0;
        const t = trx as unknown as Kysely<any>;
        for (const r of rows) {
          const w = WRAPPED[r.table];
          n += affected(
            await t
              .updateTable(w.table)
              .set({ key_version: r.to, [w.data]: r.data })
              .where(w.id, '=', r.id)
              .where('key_version', '=', r.key_version)
              .executeTakeFirst(),
          );
        }
        return n;
      }),
    appendEvents: async (rows) => {
      if (rows.length === 0) return;
      await db.transaction().execute(async (trx) => {
        let id = pg ? await nextIdLocked(trx, 'vault_events') : 0;
        for (let i = 0; i < rows.length; i += 128) {
          const chunk = rows.slice(i, i + 128).map((r) => {
            const v = { ts: r.ts, kind: r.kind, reason: r.reason, purpose: r.purpose, key_version: r.key_version, subject_hash: r.subject_hash, detail: r.detail };
            return pg ? { id: id++, ...v } : v;
          });
          await trx.insertInto('vault_events').values(chunk).execute();
        }
      });
    },
    events: async (limit) => (await db.selectFrom('vault_events').selectAll().orderBy('id', 'desc').limit(limit).execute()).map(eventRow),
    eventsAfter: async (after, limit) => (await db.selectFrom('vault_events').selectAll().where('id', '>', after).orderBy('id').limit(limit).execute()).map(eventRow),
    checkpoint: () => o.afterErasure(db),
  };

  return {
    kind: o.kind,
    describe: o.describe,
    cluster: o.cluster,
    identity: {
      insertCredential: async (row: CredentialRow) => {
        await db
          .insertInto('identity_credentials')
          .values({
            id: row.id,
            subject: row.subject,
            employee_id: row.employee_id,
            claims: row.claims,
            status_list: row.status_list,
            status_idx: row.status_idx,
            kid: row.kid,
            created_at: row.created_at,
            issued_at: row.issued_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            department: row.department ?? null,
            trained: row.trained ?? null,
          })
          .execute();
      },
      credential: (id) => db.selectFrom('identity_credentials').selectAll().where('id', '=', id).executeTakeFirst(),
      credentials: () => db.selectFrom('identity_credentials').selectAll().orderBy('created_at').orderBy('id').execute(),
      revokeCredential: async (idOrSubject, at) =>
        affected(
          await db
            .updateTable('identity_credentials')
            .set({ revoked_at: at })
            .where((eb) => eb.or([eb('id', '=', idOrSubject), eb('employee_id', '=', idOrSubject), eb('subject', '=', idOrSubject)]))
            .where('revoked_at', 'is', null)
            .executeTakeFirst(),
        ),
      revokedIndexes: async (list) => (await db.selectFrom('identity_credentials').select('status_idx').where('status_list', '=', list).where('revoked_at', 'is not', null).execute()).map((r) => Number(r.status_idx)),
      statusIndexUsed: async (list, idx) => (await db.selectFrom('identity_credentials').select('id').where('status_list', '=', list).where('status_idx', '=', idx).executeTakeFirst()) !== undefined,
      markIssued: async (id, at, kid) => {
        await db.updateTable('identity_credentials').set({ issued_at: at, kid }).where('id', '=', id).execute();
      },
      lastExpiryForKey: async (kid) =>
        (await db
          .selectFrom('identity_credentials')
          .select((eb) => eb.fn.max('expires_at').as('m'))
          .where('kid', '=', kid)
          .where('revoked_at', 'is', null)
          .executeTakeFirst())?.m ?? undefined,
      insertOffer: async (row: OfferRow) => {
        await db
          .insertInto('identity_offers')
          .values({
            id: row.id,
            credential_id: row.credential_id,
            code_hash: row.code_hash,
            expires_at: row.expires_at,
            redeemed_at: row.redeemed_at,
            access_hash: row.access_hash,
            access_expires_at: row.access_expires_at,
            issued_at: row.issued_at,
            tx_code_hash: row.tx_code_hash,
          })
          .execute();
      },
      offerByCodeHash: (h) => db.selectFrom('identity_offers').selectAll().where('code_hash', '=', h).executeTakeFirst(),
      offerByAccessHash: (h) => db.selectFrom('identity_offers').selectAll().where('access_hash', '=', h).executeTakeFirst(),
      redeemOffer: async (id, at, accessHash, accessExpires) =>
        affected(
          await db
            .updateTable('identity_offers')
            .set({ redeemed_at: at, access_hash: accessHash, access_expires_at: accessExpires })
            .where('id', '=', id)
            .where('redeemed_at', 'is', null)
            .executeTakeFirst(),
        ) === 1,
      markOfferIssued: async (id, at) => affected(await db.updateTable('identity_offers').set({ issued_at: at }).where('id', '=', id).where('issued_at', 'is', null).executeTakeFirst()) === 1,
      txCodeFailed: async (id) =>
        Number(
          (await db
            .updateTable('identity_offers')
            .set((eb) => ({ tx_attempts: eb('tx_attempts', '+', 1) }))
            .where('id', '=', id)
            .returning('tx_attempts')
            .executeTakeFirst())?.tx_attempts ?? 0,
        ),
    },
    vault,
    apiKeys: {
      insert: async (row: ApiKeyRow) => {
        await db
          .insertInto('api_keys')
          .values({ id: row.id, name: row.name, prefix: row.prefix, hash: row.hash, default_level: row.default_level, max_level: row.max_level, created_at: row.created_at, revoked_at: row.revoked_at })
          .execute();
      },
      findByHash: (hash) => shapes.run<ApiKeyRow>('keyByHash', (d) => d.selectFrom('api_keys').selectAll().where('hash', '=', Buffer.alloc(0)), [hash]).then((r) => r.rows[0]),
      list: () => db.selectFrom('api_keys').selectAll().orderBy('created_at').orderBy('id').execute(),
      revoke: async (idOrName, at) =>
        affected(
          await db
            .updateTable('api_keys')
            .set({ revoked_at: at })
            .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
            .where('revoked_at', 'is', null)
            .executeTakeFirst(),
        ),
      count: async () => Number((await db.selectFrom('api_keys').select((eb) => eb.fn.countAll<number>().as('n')).where('revoked_at', 'is', null).executeTakeFirstOrThrow()).n),
    },
    records: {
      nextSeq: async () => Number((await db.selectFrom('decisions').select((eb) => eb.fn.max<number | null>('seq').as('m')).executeTakeFirst())?.m ?? -1) + 1,
      append: async (rows, entries = []) => {
        if (rows.length === 0 && entries.length === 0) return [];
        return db.transaction().execute(async (trx) => {
          const written = await insertEntries(trx, entries);
          let lost: number[] = [];
          let keep = rows;
          if (written < entries.length) {
            lost = await notOurs(trx, entries);
            const gone = new Set(lost);
            keep = rows.filter((r) => !gone.has(r.seq));
          }
          await insertDecisions(trx, keep);
          return lost;
        });
      },
      byRequestId: (id) => db.selectFrom('decisions').selectAll().where('request_id', '=', id).orderBy('seq', 'desc').limit(1).executeTakeFirst().then((r) => r && decisionRow(r)),
      count: async () => Number((await db.selectFrom('decisions').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n),
    },
    audit: {
      append: async (entries) => (entries.length === 0 ? 0 : db.transaction().execute((trx) => insertEntries(trx, entries))),
      maxIndex: async () => Number((await db.selectFrom('audit_entries').select((eb) => eb.fn.max<number | null>('idx').as('m')).executeTakeFirst())?.m ?? -1),
      indicesIn: async (from, to) => (await db.selectFrom('audit_entries').select('idx').where('idx', '>=', from).where('idx', '<', to).orderBy('idx').execute()).map((r) => Number(r.idx)),
      entries: async (from, to) =>
        (await shapes.run<{ idx: number; data: Buffer }>('entriesFrom', (d) => d.selectFrom('audit_entries').select(['idx', 'data']).where('idx', '>=', 0).where('idx', '<', 0).orderBy('idx'), [from, to])).rows.map((r) => ({
          idx: Number(r.idx),
          data: r.data,
        })),
      entryData: async (from, to) =>
        (await shapes.run<{ data: Buffer }>('entryDataFrom', (d) => d.selectFrom('audit_entries').select('data').where('idx', '>=', 0).where('idx', '<', 0).orderBy('idx'), [from, to])).rows.map((r) => r.data),
      entry: async (idx) => (await shapes.run<{ data: Buffer }>('entryAt', (d) => d.selectFrom('audit_entries').select('data').where('idx', '=', 0), [idx])).rows[0]?.data,
      tile: async (level, n) => (await shapes.run<{ data: Buffer }>('tileAt', (d) => d.selectFrom('audit_tiles').select('data').where('level', '=', 0).where('n', '=', 0), [level, n])).rows[0]?.data,
      tileInner: async (level, n) => (await shapes.run<{ inner: Buffer | null }>('tileInnerAt', (d) => d.selectFrom('audit_tiles').select('inner').where('level', '=', 0).where('n', '=', 0), [level, n])).rows[0]?.inner ?? undefined,
      publish: (tiles, size, note, ts, from) =>
        db.transaction().execute(async (trx) => {
          // Compare-and-set on the published size: two integrators never both extend the same tree.
          const cas = trx.updateTable('audit_counters').set({ value: size }).where('name', '=', 'audit_size');
          const r = await (from === undefined ? cas : cas.where('value', '=', from)).executeTakeFirst();
          if (affected(r) !== 1) {
            if (from !== undefined) return false;
            await trx.insertInto('audit_counters').values({ name: 'audit_size', value: size }).onConflict((oc) => oc.column('name').doUpdateSet({ value: size })).execute();
          }
          for (const t of tiles) {
            await shapes.run(
              'putTile',
              (d) =>
                d
                  .insertInto('audit_tiles')
                  .values({ level: 0, n: 0, data: Buffer.alloc(0), inner: Buffer.alloc(0) })
                  .onConflict((oc) => oc.columns(['level', 'n']).doUpdateSet((eb) => ({ data: eb.ref('excluded.data'), inner: eb.ref('excluded.inner') }))),
              [t.level, t.n, t.data, t.inner ?? null],
              trx,
            );
          }
          await trx
            .insertInto('audit_checkpoints')
            .values({ size, note, ts })
            .onConflict((oc) => oc.column('size').doUpdateSet({ note, ts }))
            .execute();
          return true;
        }),
      latestCheckpoint: () => db.selectFrom('audit_checkpoints').select(['size', 'note', 'ts']).orderBy('size', 'desc').limit(1).executeTakeFirst().then((r) => r && checkpointRow(r)),
      checkpoint: (size) => db.selectFrom('audit_checkpoints').select(['size', 'note', 'ts']).where('size', '=', size).executeTakeFirst().then((r) => r && checkpointRow(r)),
      setCheckpointNote: async (size, note) => {
        await db.updateTable('audit_checkpoints').set({ note }).where('size', '=', size).execute();
      },
      importCursor: async (source) => Number((await db.selectFrom('audit_imports').select('last_id').where('source', '=', source).executeTakeFirst())?.last_id ?? 0),
      setImportCursor: async (source, lastId) => {
        await db
          .insertInto('audit_imports')
          .values({ source, last_id: lastId })
          .onConflict((oc) => oc.column('source').doUpdateSet({ last_id: lastId }))
          .execute();
      },
    },
    console: consoleStore(db),
    threats: threatStore(db),
    close: () => o.close(),
  };
}

/** Threat persistence (issue #7): alerts, incidents, quarantine, TAXII objects and status resources. */
function threatStore(db: Kysely<DB>): ThreatStore {
  const incidentRow = (r: ThreatIncidentRow): ThreatIncidentRow => ({ ...r, title_ja: r.title_ja ?? null, alert_count: Number(r.alert_count) });
  const alertRow = (r: ThreatAlertRow): ThreatAlertRow => ({ ...r, score: Number(r.score) });
  return {
    write: (alerts, incidents) =>
      db.transaction().execute(async (tx) => {
        for (const i of incidents) {
          await tx
            .insertInto('threat_incidents')
            .values(i)
            .onConflict((oc) =>
              oc.column('id').doUpdateSet({
                updated_at: i.updated_at,
                title: i.title,
                title_ja: i.title_ja,
                severity: i.severity,
                status: i.status,
                alert_count: i.alert_count,
                principals: i.principals,
                approved_by: i.approved_by,
                approved_at: i.approved_at,
              }),
            )
            .execute();
        }
        for (const a of alerts) {
          const { id, ...rest } = a;
          await tx.insertInto('threat_alerts').values(a).onConflict((oc) => oc.column('id').doUpdateSet(rest)).execute();
        }
      }),
    alerts: async (q) => {
      let s = db.selectFrom('threat_alerts').selectAll();
      if (q.before) s = s.where('ts', '<', q.before);
      if (q.incident) s = s.where('incident_id', '=', q.incident);
      return (await s.orderBy('ts', 'desc').orderBy('id', 'desc').limit(q.limit).execute()).map(alertRow);
    },
    incidents: async (q) => {
      let s = db.selectFrom('threat_incidents').selectAll();
      if (q.status) s = s.where('status', '=', q.status);
      return (await s.orderBy('updated_at', 'desc').limit(q.limit).execute()).map(incidentRow);
    },
    incident: async (id) => {
      const r = await db.selectFrom('threat_incidents').selectAll().where('id', '=', id).executeTakeFirst();
      return r && incidentRow(r);
    },
    putTaxiiObjects: (collection, objs) =>
      db.transaction().execute(async (tx) => {
        let n = 0;
        for (const o of objs) {
          const r = await tx
            .insertInto('taxii_objects')
            .values({ collection, id: o.id, version: o.version, date_added: o.date_added, object: o.object })
            .onConflict((oc) => oc.columns(['collection', 'id', 'version']).doNothing())
            .executeTakeFirst();
          n += Number(r.numInsertedOrUpdatedRows ?? 0n);
        }
        return n;
      }),
    taxiiObjects: async (collection, q) => {
      let s = db.selectFrom('taxii_objects').select(['id', 'version', 'date_added', 'object']).where('collection', '=', collection);
      if (q.addedAfter) s = s.where('date_added', '>', q.addedAfter);
      if (q.ids?.length) s = s.where('id', 'in', q.ids);
      if (q.types?.length) {
        const types = q.types;
        s = s.where((eb) => eb.or(types.map((t) => eb('id', 'like', `${t.replace(/[%_\\]/g, '')}--%`))));
      }
      return s.orderBy('date_added').orderBy('id').limit(q.limit).execute();
    },
    putTaxiiStatus: async (id, created, status) => {
      await db
        .insertInto('taxii_status')
        .values({ id, created, status })
        .onConflict((oc) => oc.column('id').doUpdateSet({ created, status }))
        .execute();
    },
    taxiiStatus: async (id) => (await db.selectFrom('taxii_status').select('status').where('id', '=', id).executeTakeFirst())?.status,
    setQuarantine: async (principal, on, at, reason) => {
      if (on) {
        await db
          .insertInto('threat_quarantine')
          .values({ principal, since: at, reason })
          .onConflict((oc) => oc.column('principal').doUpdateSet({ since: at, reason }))
          .execute();
      } else {
        await db.deleteFrom('threat_quarantine').where('principal', '=', principal).execute();
      }
    },
    quarantined: async () => (await db.selectFrom('threat_quarantine').select('principal').execute()).map((r) => r.principal),
  };
}

/** The console's queries (issue #8): portable SQL (substr over ISO timestamps), the same on both engines. */
function consoleStore(db: Kysely<DB>): ConsoleStore {
  const rows = async <T>(q: RawBuilder<T>): Promise<T[]> => (await q.execute(db)).rows;
  /** count/sum/avg arrive as numbers from SQLite and as int8/numeric from PostgreSQL: numbers either way. */
  const num = <T,>(r: T, ...keys: (keyof T)[]): T => {
    const o = r as Record<keyof T, unknown>;
    for (const k of keys) if (o[k] !== null && o[k] !== undefined) o[k] = Number(o[k]);
    return r;
  };
  return {
    traffic: async (since) =>
      (await rows(sql<TrafficRow>`SELECT substr(ts, 1, 16) AS minute, level, decision, count(*) AS n FROM decisions WHERE ts >= ${since} GROUP BY substr(ts, 1, 16), level, decision ORDER BY minute`)).map((r) => num(r, 'n')),
    topDenials: async (since, limit) =>
      (await rows(sql<{ reason: string; n: number }>`SELECT reason, count(*) AS n FROM decisions WHERE ts >= ${since} AND decision <> 'allow' GROUP BY reason ORDER BY n DESC, reason LIMIT ${limit}`)).map((r) => num(r, 'n')),
    backendStats: async (since) =>
      (
        await rows(
          sql<{ backend: string; n: number; avg_ms: number | null; max_ms: number | null; errors: number }>`SELECT backend, count(*) AS n, avg(upstream_ms) AS avg_ms, max(upstream_ms) AS max_ms, sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END) AS errors
            FROM decisions WHERE ts >= ${since} AND backend IS NOT NULL GROUP BY backend ORDER BY backend`,
        )
      ).map((r) => num(r, 'n', 'avg_ms', 'max_ms', 'errors')),
    recordsAfter: async (seq, limit) => (await db.selectFrom('decisions').selectAll().where('seq', '>', seq).orderBy('seq').limit(limit).execute()).map(decisionRow),
    lastSeq: async () => Number((await db.selectFrom('decisions').select((eb) => eb.fn.max<number | null>('seq').as('m')).executeTakeFirst())?.m ?? -1),
    search: async (q: RecordQuery) => {
      let s = db.selectFrom('decisions').selectAll();
      if (q.requestId) s = s.where('request_id', '=', q.requestId);
      if (q.from) s = s.where('ts', '>=', q.from);
      if (q.to) s = s.where('ts', '<', q.to);
      if (q.beforeSeq !== undefined) s = s.where('seq', '<', q.beforeSeq);
      if (q.decision) s = s.where('decision', '=', q.decision);
      return (await s.orderBy('seq', 'desc').limit(q.limit).execute()).map(decisionRow);
    },
    checkpoints: async (limit, beforeSize) =>
      (await db.selectFrom('audit_checkpoints').select(['size', 'note', 'ts']).where('size', '<', beforeSize ?? Number.MAX_SAFE_INTEGER).orderBy('size', 'desc').limit(limit).execute()).map(checkpointRow),
    adoption: async (since) =>
      (
        await rows(
          sql<AdoptionRow>`SELECT substr(ts, 1, 10) AS day, department, trained, principal, count(*) AS requests, sum(CASE WHEN decision = 'allow' THEN 0 ELSE 1 END) AS denials
            FROM decisions WHERE ts >= ${since} AND trained IS NOT NULL GROUP BY substr(ts, 1, 10), department, trained, principal`,
        )
      ).map((r) => num(r, 'trained', 'requests', 'denials')),
    workforce: async (now) =>
      (
        await rows(
          sql<{ department: string; trained: number; n: number }>`SELECT coalesce(department, '') AS department, coalesce(trained, 0) AS trained, count(*) AS n
            FROM identity_credentials WHERE revoked_at IS NULL AND expires_at > ${now} GROUP BY coalesce(department, ''), coalesce(trained, 0)`,
        )
      ).map((r) => num(r, 'trained', 'n')),
  };
}

/**
 * PostgreSQL: the next id of a table that readers follow as a cursor (`id > last`). The table
 * is locked against other writers until the transaction ends, so ids become visible in the
 * order they were given (a serial column could commit 10 before 9, and a reader at 10 would
 * never see 9).
 */
async function nextIdLocked(trx: Transaction<DB>, table: 'vault_events' | 'vault_erasures'): Promise<number> {
  await sql`LOCK TABLE ${sql.table(table)} IN EXCLUSIVE MODE`.execute(trx);
  const r = await trx
    .selectFrom(table)
    .select((eb) => eb.fn.max<number | null>('id').as('m'))
    .executeTakeFirst();
  return Number(r?.m ?? 0) + 1;
}

function eventRow(r: { id: number; ts: string; kind: string; reason: string; purpose: string; key_version: number | null; subject_hash: Buffer | null; detail: string }): VaultEventRow & { id: number } {
  return { id: Number(r.id), ts: r.ts, kind: r.kind as VaultEventRow['kind'], reason: r.reason, purpose: r.purpose, key_version: r.key_version === null ? null : Number(r.key_version), subject_hash: r.subject_hash, detail: r.detail };
}

function checkpointRow(r: { size: number; note: string; ts: string }): AuditCheckpointRow {
  return { size: Number(r.size), note: r.note, ts: r.ts };
}

function decisionRow(r: DecisionRecord): DecisionRecord {
  return { ...r, seq: Number(r.seq) };
}

