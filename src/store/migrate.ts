/** Runs the migrations (store/migrations.ts) with Kysely's Migrator; errors in both languages. */
import { Migrator, type Kysely } from 'kysely';
import type { StoreKind } from './index.js';
import type { DB } from './schema.js';
import { migrationProvider, MIGRATION_NAMES } from './migrations.js';
import { StoreError } from './errors.js';

export async function runMigrations(db: Kysely<DB>, kind: StoreKind, opts: { adopted?: number; schema?: string; where: string }): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: migrationProvider(kind, { adopted: opts.adopted ?? 0 }),
    ...(opts.schema ? { migrationTableSchema: opts.schema } : {}),
  });
  // A database migrated by a newer Sekisho: say so plainly instead of Kysely's "missing migration".
  const executed = await executedNames(db, opts.schema);
  const newer = executed.filter((n) => !MIGRATION_NAMES.includes(n));
  if (newer.length > 0) {
    throw new StoreError(
      'store_newer',
      `${opts.where}: データベースはこの Sekisho より新しい版で移行されています (${newer.join(', ')})。Sekisho を更新してください`,
      `${opts.where}: the database was migrated by a newer Sekisho (${newer.join(', ')}); upgrade Sekisho`,
    );
  }
  let { error } = await migrator.migrateToLatest();
  // Kysely's migrator lists the tables of every schema (introspection); a schema that another
  // client drops at that moment makes the listing fail ("schema … does not exist"). Not ours:
  // list again.
  for (let attempt = 0; error && attempt < 5 && isForeignSchemaGone(error, opts.schema); attempt++) {
    await new Promise((r) => setTimeout(r, 50 + attempt * 100));
    ({ error } = await migrator.migrateToLatest());
  }
  if (error) {
    const msg = error instanceof Error ? error.message : String(error);
    throw new StoreError('store_migration', `${opts.where}: スキーマの移行に失敗しました: ${msg}`, `${opts.where}: the schema migration failed: ${msg}`);
  }
}

async function executedNames(db: Kysely<DB>, schema: string | undefined): Promise<string[]> {
  try {
    const any = db as unknown as Kysely<any>;
    const rows = await (schema ? any.withSchema(schema) : any).selectFrom('kysely_migration').select('name').execute();
    return rows.map((r: { name: string }) => r.name);
  } catch {
    return []; // no migration table yet
  }
}

function isForeignSchemaGone(error: unknown, ours: string | undefined): boolean {
  const m = /schema "([^"]+)" does not exist/.exec(error instanceof Error ? error.message : String(error));
  return m !== null && m[1] !== ours;
}
