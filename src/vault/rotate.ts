/**
 * Rotation and retirement of tenant key versions, and the status report.
 *
 * `rotate` creates KEK + tenant key vN+1 and rewraps, in batches, everything vN (or older)
 * wraps: subject keys, purpose secrets and the DEKs of records without a subject. Record
 * data is not re-encrypted. Each row carries its version and each batch is one transaction
 * that only touches rows still at their old version, so a rotation that stops (crash,
 * Ctrl-C) resumes where it was when run again, and a gateway may keep serving meanwhile: it
 * picks up the new version within its poll interval and reads either version.
 * Old versions keep decrypting until `retire` destroys them, which it refuses while any row
 * still uses them.
 */
import { VaultError } from './errors.js';
import type { Vault } from './vault.js';
import type { KeyCallContext } from './keystore/types.js';

export interface RotateOptions {
  batch?: number;
  /** Start a new version even when an earlier rotation is unfinished. */
  force?: boolean;
  onStart?(total: number, to: number, created: boolean): void;
  onProgress?(done: number, total: number): void;
  signal?: AbortSignal;
}

export interface RotateResult {
  to: number;
  created: boolean;
  rewrapped: number;
  skipped: number;
}

export async function rotate(vault: Vault, opts: RotateOptions = {}): Promise<RotateResult> {
  const store = vault.store;
  const batch = Math.max(1, Math.min(opts.batch ?? 256, 10_000));
  await vault.refresh();
  const ctx: KeyCallContext = { reason: 'rotation', tenant: vault.tenant, purpose: 'tenant-key' };
  let created = false;
  const from = vault.currentVersion;
  if (opts.force || (await store.stale(vault.currentVersion, 1)).length === 0) {
    const next = Math.max(0, ...(await store.tenantKeys()).map((r) => r.version)) + 1;
    await vault.createVersion(next, ctx);
    await vault.refresh();
    created = true;
    vault.events.rotation({ ts: new Date().toISOString(), phase: 'version_created', from, to: next });
  }
  const to = vault.currentVersion;
  const total = await pending(vault, to);
  opts.onStart?.(total, to, created);
  let done = 0;
  let skipped = 0;
  const skip = new Set<string>();
  for (;;) {
    if (opts.signal?.aborted) break;
    const rows = (await store.stale(to, batch + skip.size)).filter((r) => !skip.has(keyOf(r)));
    if (rows.length === 0) break;
    const out = [];
    for (const r of rows.slice(0, batch)) {
      try {
        out.push({ ...r, data: await vault.rewrap(r, to), to });
      } catch (e) {
        // A subject erased meanwhile: nothing left to rewrap. Anything else stops the rotation.
        if (!(e instanceof VaultError) || (e.code !== 'vault_key_erased' && e.code !== 'vault_key_missing')) throw e;
        skip.add(keyOf(r));
        skipped++;
      }
    }
    if (out.length > 0) await store.rewrap(out);
    vault.emitAccess('rotation', 'rewrap', to, {});
    done += out.length;
    opts.onProgress?.(Math.min(done, Math.max(total, done)), Math.max(total, done));
    // Let the event loop breathe (online rotation in a serving process).
    await new Promise((r) => setImmediate(r));
  }
  if (!opts.signal?.aborted) vault.events.rotation({ ts: new Date().toISOString(), phase: 'completed', from, to, rewrapped: done });
  return { to, created, rewrapped: done, skipped };
}

function keyOf(r: { table: string; id: string | Buffer }): string {
  return `${r.table}:${Buffer.isBuffer(r.id) ? r.id.toString('hex') : r.id}`;
}

/** Rows still wrapped under another version than `current`. */
export async function pending(vault: Vault, current = vault.currentVersion): Promise<number> {
  return (await vault.store.versionCounts())
    .filter((c) => c.key_version > 0 && c.key_version !== current)
    .reduce((a, c) => a + c.n, 0);
}

/** Destroys tenant key and KEK version `version`; refused while it is current or in use. */
export async function retire(vault: Vault, version: number): Promise<void> {
  await vault.refresh();
  if (version === vault.currentVersion) {
    throw new VaultError('vault_version_in_use', `鍵バージョン ${version} は現在のバージョンなので廃止できません`, `Key version ${version} is the current version and cannot be retired`);
  }
  const row = (await vault.store.tenantKeys()).find((r) => r.version === version);
  if (!row || row.wrapped === null) throw new VaultError('vault_version_unknown', `鍵バージョン ${version} はありません (廃止済み)`, `There is no key version ${version} (or it is retired)`);
  const inUse = (await vault.store.versionCounts()).filter((c) => c.key_version === version).reduce((a, c) => a + c.n, 0);
  if (inUse > 0) {
    throw new VaultError(
      'vault_version_in_use',
      `鍵バージョン ${version} はまだ ${inUse} 件で使われています。先に sekisho keys rotate を完了してください`,
      `Key version ${version} still wraps ${inUse} item(s); finish \`sekisho keys rotate\` first`,
    );
  }
  await vault.store.retireTenantKey(version, new Date().toISOString());
  await vault.keystore.destroyVersion(version, { reason: 'retire', tenant: vault.tenant, purpose: 'tenant-key' });
  await vault.refresh();
  vault.events.rotation({ ts: new Date().toISOString(), phase: 'retired', from: version, to: vault.currentVersion });
}

export interface VaultStatus {
  keystore: Record<string, string | number | boolean>;
  current: number;
  versions: { version: number; created_at: string; retired_at: string | null; items: number }[];
  pending: number;
  subjects: number;
  erasures: number;
}

export async function status(vault: Vault): Promise<VaultStatus> {
  const counts = await vault.store.versionCounts();
  return {
    keystore: vault.keystore.describe(),
    current: vault.currentVersion,
    versions: (await vault.store.tenantKeys()).map((r) => ({
      version: r.version,
      created_at: r.created_at,
      retired_at: r.retired_at,
      items: counts.filter((c) => c.key_version === r.version).reduce((a, c) => a + c.n, 0),
    })),
    pending: await pending(vault),
    subjects: await vault.store.subjectCount(),
    erasures: await vault.store.erasureCount(),
  };
}
