/** Opening the configured store: SQLite (default) or PostgreSQL (`store.postgres`). */
import type { Store } from './index.js';
import { openSqliteStore } from './sqlite.js';
import { redactUrl } from './urls.js';
import type { PostgresOptions } from './postgres.js';

export type StoreTarget = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; poolMax: number };

/** Where a loaded configuration keeps its data. */
export function storeTarget(loaded: { store: StoreTarget }): StoreTarget {
  return loaded.store;
}

export function describeTarget(t: StoreTarget): string {
  return t.kind === 'sqlite' ? t.file : redactUrl(t.url);
}

/** Opens the store of a loaded configuration (or a target). */
export function openStore(target: StoreTarget | { store: StoreTarget }): Promise<Store> {
  const t = 'kind' in target ? target : target.store;
  return t.kind === 'sqlite' ? openSqliteStore(t.file) : openPostgresStore(t.url, { poolMax: t.poolMax });
}

/**
 * PostgreSQL, with the `pg` driver, is loaded only when a configuration names it: a one-node
 * SQLite gateway does not carry it in memory.
 */
export async function openPostgresStore(url: string, opts: PostgresOptions = {}): Promise<Store> {
  const { openPostgresStore: open } = await import('./postgres.js');
  return open(url, opts);
}

export { openSqliteStore };
