/**
 * The vault: the tenant's key hierarchy over a keystore.
 *
 *   KEK vN (keystore: key file, HSM, external service; never in this process for HSM/external)
 *     └ tenant key vN: AES-256, sealed by KEK vN, unwrapped once at start (reason `startup`)
 *         ├ subject keys: one per data subject, wrapped by the current tenant key
 *         │    └ record DEKs (one per record) → record data
 *         ├ purpose secrets (`secretFor`): 32 bytes for the audit log, identity …
 *         └ DEKs of records without a subject
 *
 * The hot path never calls the keystore: sealing a record is node:crypto only. Erasing a
 * subject deletes its keys; its records stay and can no longer be opened (crypto-shredding).
 * Rotation adds KEK/tenant key vN+1 and rewraps what vN wrapped (rotate.ts).
 */
import { aad, hmac, open, random, seal, zeroize, KEY_BYTES } from './aead.js';
import { checkRef, openEnvelope, parseEnvelope, rewrapEnvelope, sealEnvelope, type RecordRef } from './envelope.js';
import { VaultError } from './errors.js';
import type { VaultEvents } from './events.js';
import type { KeyCallContext, KeyReason, Keystore } from './keystore/types.js';
import type { VaultRecordRow, VaultStore, VaultWrappedRow } from '../store/index.js';

export interface VaultOptions {
  store: VaultStore;
  keystore: Keystore;
  tenant: string;
  events: VaultEvents;
  /** How long an unwrapped subject key stays in memory (ms). */
  subjectCacheMs?: number;
  /** How often to look for tenant key versions and erasures made by other processes (ms; 0: never). */
  pollMs?: number;
  /** Why the tenant keys are unwrapped on open (`startup` for the gateway; the CLI says what it does). */
  reason?: KeyReason;
}

const SUBJECT_INDEX = 'subject-index';
const MAX_SUBJECT = 256;
const MAX_SECRET_PURPOSE = /^[a-z][a-z0-9._-]{0,63}$/;

interface CachedKey {
  key: Buffer;
  expires: number;
}

export class Vault {
  private readonly tenantKeys = new Map<number, Buffer>();
  private current = 0;
  private readonly secrets = new Map<string, Buffer>();
  private readonly subjectKeys = new Map<string, CachedKey>();
  private readonly liveKid = new Map<string, { kid: Buffer; expires: number }>();
  /** subject id → what sealing needs, so the hot path does one map lookup (bounded). */
  private readonly writeCache = new Map<string, { hash: Buffer; kid: Buffer; key: Buffer; expires: number }>();
  private subjectIndexKey!: Buffer;
  private lastErasure = 0;
  private poller: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly cacheMs: number;

  private constructor(private readonly o: VaultOptions) {
    this.cacheMs = o.subjectCacheMs ?? 60_000;
  }

  /** Opens the vault: creates version 1 on first use, unwraps every live tenant key (reason `startup`). */
  static async open(o: VaultOptions): Promise<Vault> {
    const v = new Vault(o);
    const reason = o.reason ?? 'startup';
    const ctx: KeyCallContext = { reason, tenant: o.tenant, purpose: 'tenant-key' };
    if ((await o.store.tenantKeys()).length === 0) await v.createVersion(1, ctx);
    await v.loadTenantKeys(reason);
    v.subjectIndexKey = await v.secretFor(SUBJECT_INDEX);
    v.lastErasure = (await o.store.erasuresSince(0)).at(-1)?.id ?? 0;
    if ((o.pollMs ?? 5000) > 0) {
      v.poller = setInterval(() => void v.refresh().catch(() => {}), o.pollMs ?? 5000);
      v.poller.unref();
    }
    return v;
  }

  get tenant(): string {
    return this.o.tenant;
  }

  get keystore(): Keystore {
    return this.o.keystore;
  }

  get store(): VaultStore {
    return this.o.store;
  }

  /** The tenant key version new wraps use. */
  get currentVersion(): number {
    return this.current;
  }

  get loadedVersions(): number[] {
    return [...this.tenantKeys.keys()].sort((a, b) => a - b);
  }

  /** Creates KEK and tenant key version `version` (first start and rotation). */
  async createVersion(version: number, ctx: KeyCallContext): Promise<void> {
    await this.o.keystore.createVersion(version, ctx);
    const key = random(KEY_BYTES);
    try {
      const wrapped = await this.o.keystore.encrypt(version, key, tenantKeyAad(this.o.tenant, version), ctx);
      await this.o.store.insertTenantKey({ version, wrapped, created_at: new Date().toISOString(), retired_at: null });
    } finally {
      zeroize(key);
    }
  }

  /** Unwraps tenant key versions not yet in memory; the highest becomes current. */
  private async loadTenantKeys(reason: KeyReason): Promise<void> {
    for (const row of await this.o.store.tenantKeys()) {
      if (row.wrapped === null) {
        const k = this.tenantKeys.get(row.version);
        if (k) zeroize(k);
        this.tenantKeys.delete(row.version);
        continue;
      }
      if (this.tenantKeys.has(row.version)) continue;
      const ctx: KeyCallContext = { reason, tenant: this.o.tenant, purpose: 'tenant-key' };
      const key = await this.o.keystore.decrypt(row.version, row.wrapped, tenantKeyAad(this.o.tenant, row.version), ctx);
      if (key.length !== KEY_BYTES) throw new VaultError('vault_tampered', `テナント鍵 v${row.version} の長さが不正です`, `Tenant key v${row.version} has a wrong length`);
      this.tenantKeys.set(row.version, key);
      this.emitAccess(reason, 'tenant-key', row.version);
    }
    const versions = this.loadedVersions;
    if (versions.length === 0) throw new VaultError('vault_key_missing', '使えるテナント鍵がありません', 'No usable tenant key');
    this.current = versions.at(-1)!;
  }

  /** Picks up versions and erasures made by other processes (`sekisho keys rotate`, `sekisho erase`). */
  async refresh(): Promise<void> {
    if (this.closed) return;
    const rows = await this.o.store.tenantKeys();
    const live = rows.filter((r) => r.wrapped !== null).map((r) => r.version);
    if (live.some((v) => !this.tenantKeys.has(v)) || this.loadedVersions.some((v) => !live.includes(v))) await this.loadTenantKeys('rotation');
    for (const e of await this.o.store.erasuresSince(this.lastErasure)) {
      await this.forgetSubject(e.subject_hash);
      this.lastErasure = e.id;
    }
  }

  tenantKey(version: number): Buffer {
    const k = this.tenantKeys.get(version);
    if (!k) throw new VaultError('vault_version_unknown', `テナント鍵 v${version} がありません (廃止済みか、まだ読み込まれていません)`, `Tenant key v${version} is not available (retired, or not loaded yet)`);
    return k;
  }

  /**
   * A 32-byte secret for a named purpose (`audit-commitment`, `identity-signing` …): generated
   * once, stored wrapped under the tenant key, unwrapped on first use after start.
   */
  async secretFor(purpose: string): Promise<Buffer> {
    if (!MAX_SECRET_PURPOSE.test(purpose)) throw new VaultError('vault_input_invalid', '秘密の用途名が不正です', 'Invalid secret purpose name');
    const cached = this.secrets.get(purpose);
    if (cached) return Buffer.from(cached);
    let row = await this.o.store.secret(purpose);
    if (!row) {
      const s = random(KEY_BYTES);
      const v = this.current;
      await this.o.store.insertSecret(purpose, v, seal(this.tenantKey(v), s, secretAad(this.o.tenant, purpose, v)), new Date().toISOString());
      zeroize(s);
      row = (await this.o.store.secret(purpose))!;
    }
    const s = open(this.tenantKey(row.key_version), row.wrapped, secretAad(this.o.tenant, purpose, row.key_version), `secret ${purpose}`, `秘密 ${purpose}`);
    this.emitAccess(this.o.reason ?? 'startup', `secret:${purpose}`, row.key_version);
    this.secrets.set(purpose, s);
    return Buffer.from(s);
  }

  /** The stored form of a subject id: HMAC under the tenant's subject-index secret. */
  subjectHash(subject: string): Buffer {
    if (subject.length === 0 || subject.length > MAX_SUBJECT) throw new VaultError('vault_input_invalid', `対象者 ID は 1〜${MAX_SUBJECT} 文字です`, `A subject id must be 1 to ${MAX_SUBJECT} characters`);
    return hmac(this.subjectIndexKey, this.o.tenant, subject);
  }

  /** The subject's current key, created on first use. */
  private async subjectKeyForWrite(hash: Buffer, reason: KeyReason, requestId?: string): Promise<{ kid: Buffer; key: Buffer }> {
    const hex = hash.toString('hex');
    const now = Date.now();
    const live = this.liveKid.get(hex);
    if (live && live.expires > now) {
      const c = this.subjectKeys.get(live.kid.toString('hex'));
      if (c && c.expires > now) return { kid: live.kid, key: c.key };
    }
    const row = await this.o.store.liveSubjectKey(hash);
    if (row) {
      const key = await this.subjectKeyByKid(row.kid, reason, requestId);
      this.liveKid.set(hex, { kid: row.kid, expires: now + this.cacheMs });
      return { kid: row.kid, key };
    }
    const kid = random(16);
    const key = random(KEY_BYTES);
    const v = this.current;
    await this.o.store.insertSubjectKey({ kid, subject_hash: hash, key_version: v, wrapped: seal(this.tenantKey(v), key, subjectKeyAad(this.o.tenant, kid, hash, v)), created_at: new Date().toISOString() });
    this.subjectKeys.set(kid.toString('hex'), { key, expires: now + this.cacheMs });
    this.liveKid.set(hex, { kid, expires: now + this.cacheMs });
    return { kid, key };
  }

  private async subjectKeyByKid(kid: Buffer, reason: KeyReason, requestId?: string): Promise<Buffer> {
    const hex = kid.toString('hex');
    const c = this.subjectKeys.get(hex);
    if (c && c.expires > Date.now()) return c.key;
    if (c) zeroize(c.key);
    this.subjectKeys.delete(hex);
    const row = await this.o.store.subjectKey(kid);
    if (!row) throw new VaultError('vault_key_erased', 'この記録の対象者鍵は削除されています (消去済み)', 'The subject key of this record was destroyed (erased)');
    const key = open(this.tenantKey(row.key_version), row.wrapped, subjectKeyAad(this.o.tenant, kid, row.subject_hash, row.key_version), 'subject key', '対象者鍵');
    this.emitAccess(reason, 'subject-key', row.key_version, { subjectHash: row.subject_hash.toString('hex'), ...(requestId ? { requestId } : {}) });
    this.subjectKeys.set(hex, { key, expires: Date.now() + this.cacheMs });
    return key;
  }

  /** Seals a record: under the subject's key when there is a subject, else the tenant key. */
  async seal(ref: RecordRef, plaintext: Buffer, opts: { subject?: string | undefined; level?: string; requestId?: string } = {}): Promise<VaultRecordRow> {
    this.assertOpen();
    checkRef(ref);
    let blob: Buffer;
    let hash: Buffer | null = null;
    let keyVersion = 0;
    if (opts.subject !== undefined) {
      const now = Date.now();
      let w = this.writeCache.get(opts.subject);
      if (!w || w.expires <= now) {
        const h = this.subjectHash(opts.subject);
        const { kid, key } = await this.subjectKeyForWrite(h, 'request', opts.requestId);
        if (this.writeCache.size >= 10_000) this.writeCache.clear();
        w = { hash: h, kid, key, expires: now + this.cacheMs };
        this.writeCache.set(opts.subject, w);
      }
      hash = w.hash;
      blob = sealEnvelope(this.o.tenant, ref, plaintext, w.key, 0, w.kid);
    } else {
      keyVersion = this.current;
      blob = sealEnvelope(this.o.tenant, ref, plaintext, this.tenantKey(keyVersion), keyVersion, Buffer.alloc(0));
    }
    return { id: ref.id, purpose: ref.purpose, subject_hash: hash, key_version: keyVersion, level: opts.level ?? '', blob, created_at: new Date().toISOString() };
  }

  /** Opens a stored record; the reason lands in the key-access events. */
  async openRecord(row: Pick<VaultRecordRow, 'id' | 'purpose' | 'blob'>, reason: KeyReason, requestId?: string): Promise<Buffer> {
    this.assertOpen();
    const ref = { id: row.id, purpose: row.purpose };
    const h = parseEnvelope(row.blob, `record ${row.id}`);
    const key = h.kid.length > 0 ? await this.subjectKeyByKid(Buffer.from(h.kid), reason, requestId) : this.tenantKey(h.keyVersion);
    const pt = openEnvelope(this.o.tenant, ref, h, key);
    this.emitAccess(reason, row.purpose, h.kid.length > 0 ? null : h.keyVersion, { recordId: row.id, ...(requestId ? { requestId } : {}) });
    return pt;
  }

  /** Reads and opens a record by id (undefined when there is none). */
  async read(id: string, reason: KeyReason, requestId?: string): Promise<Buffer | undefined> {
    const row = await this.o.store.record(id);
    return row ? this.openRecord(row, reason, requestId) : undefined;
  }

  /** Crypto-shredding: destroys every key of the subject; its records can no longer be opened. */
  async erase(subject: string): Promise<{ subjectHash: string; keys: number; records: number }> {
    this.assertOpen();
    const hash = this.subjectHash(subject);
    const ts = new Date().toISOString();
    const r = await this.o.store.eraseSubject(hash, ts);
    await this.forgetSubject(hash);
    // Copies of the deleted rows may linger in the WAL until a checkpoint.
    try {
      await this.o.store.checkpoint();
    } catch {
      /* SQLite: a reader holds the WAL; the next checkpoint clears it */
    }
    const subjectHash = hash.toString('hex');
    this.o.events.erasure({ ts, subjectHash, keys: r.keys, records: r.records });
    return { subjectHash, ...r };
  }

  private async forgetSubject(hash: Buffer): Promise<void> {
    const hex = hash.toString('hex');
    this.liveKid.delete(hex);
    for (const [subject, w] of this.writeCache) if (w.hash.equals(hash)) this.writeCache.delete(subject);
    // Subject keys are indexed by kid; drop every cached key of this subject.
    for (const [kidHex, c] of this.subjectKeys) {
      const row = await this.o.store.subjectKey(Buffer.from(kidHex, 'hex'));
      if (!row) {
        zeroize(c.key);
        this.subjectKeys.delete(kidHex);
      }
    }
  }

  /** Rotation: the same secret under tenant key `to` (used by rotate.ts). */
  async rewrap(row: VaultWrappedRow, to: number): Promise<Buffer> {
    const from = this.tenantKey(row.key_version);
    const toKey = this.tenantKey(to);
    switch (row.table) {
      case 'secrets': {
        const purpose = String(row.id);
        const s = open(from, row.data, secretAad(this.o.tenant, purpose, row.key_version), `secret ${purpose}`, `秘密 ${purpose}`);
        try {
          return seal(toKey, s, secretAad(this.o.tenant, purpose, to));
        } finally {
          zeroize(s);
        }
      }
      case 'subject_keys': {
        const kid = row.id as Buffer;
        const sub = await this.o.store.subjectKey(kid);
        if (!sub) throw new VaultError('vault_key_erased', '対象者鍵は削除されています', 'The subject key was destroyed');
        const k = open(from, row.data, subjectKeyAad(this.o.tenant, kid, sub.subject_hash, row.key_version), 'subject key', '対象者鍵');
        try {
          return seal(toKey, k, subjectKeyAad(this.o.tenant, kid, sub.subject_hash, to));
        } finally {
          zeroize(k);
        }
      }
      case 'records': {
        const rec = await this.o.store.record(String(row.id));
        if (!rec) throw new VaultError('vault_key_missing', '記録がありません', 'The record is gone');
        return rewrapRecord(this.o.tenant, rec, from, toKey, to);
      }
    }
  }

  emitAccess(reason: KeyReason, purpose: string, keyVersion: number | null, extra: { subjectHash?: string; recordId?: string; requestId?: string } = {}): void {
    this.o.events.keyAccess({ ts: new Date().toISOString(), reason, purpose, keyVersion, keystore: this.o.keystore.kind, ...extra });
  }

  get events(): VaultEvents {
    return this.o.events;
  }

  private assertOpen(): void {
    if (this.closed) throw new VaultError('vault_closed', '金庫は閉じられています', 'The vault is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    for (const k of this.tenantKeys.values()) zeroize(k);
    for (const s of this.secrets.values()) zeroize(s);
    for (const c of this.subjectKeys.values()) zeroize(c.key);
    this.writeCache.clear();
    this.tenantKeys.clear();
    this.secrets.clear();
    this.subjectKeys.clear();
    await this.o.events.flush?.();
    await this.o.keystore.close();
  }
}

function rewrapRecord(tenant: string, rec: VaultRecordRow, from: Buffer, to: Buffer, toVersion: number): Buffer {
  return rewrapEnvelope(tenant, { id: rec.id, purpose: rec.purpose }, rec.blob, from, to, toVersion);
}

export const tenantKeyAad = (tenant: string, version: number) => aad('tenant-key', tenant, version);
const secretAad = (tenant: string, purpose: string, version: number) => aad('secret', tenant, purpose, version);
const subjectKeyAad = (tenant: string, kid: Buffer, hash: Buffer, version: number) => aad('subject-key', tenant, kid, hash, version);
