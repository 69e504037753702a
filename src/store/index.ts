/**
 * Persistence. This is the only module that knows SQL engines exist; the rest of Sekisho
 * talks to the `Store` interface. One implementation over Kysely (store/kysely.ts) and one set
 * of migrations (store/migrations.ts) for both engines: an embedded SQLite file (one node) or
 * PostgreSQL (several gateway nodes, `store: { postgres: postgres://… }`).
 */
import type { Selectable } from 'kysely';
import type { ApiKeysTable, ThreatAlertsTable, ThreatIncidentsTable, VaultRecordsTable, VaultSubjectKeysTable } from './schema.js';

/** An API key: the key itself is never stored, only its SHA-256 (see ApiKeysTable). */
export type ApiKeyRow = Selectable<ApiKeysTable>;

/** One decision of the checkpoint: metadata only, never prompt or answer text. */
export interface DecisionRecord {
  seq: number;
  request_id: string;
  ts: string;
  principal: string;
  endpoint: string;
  model: string;
  level: string;
  flags: string;
  /** Finding types and counts, such as `PERSON_NAME:2,answer:JP_MY_NUMBER:1` (never values). */
  findings: string;
  decision: string;
  reason: string;
  backend: string | null;
  status: number;
  duration_ms: number;
  upstream_ms: number | null;
  attempts: number;
  /** The person's department (credential claim); '' for services and unknown. */
  department?: string;
  /** 1 when the person has completed a training, 0 when not; null for services. */
  trained?: number | null;
}

/** A credential the tenant issued (identity, issue #4). Claims as JSON; never the signed token. */
export interface CredentialRow {
  id: string;
  /** `sub` of the credential. */
  subject: string;
  employee_id: string | null;
  claims: string;
  status_list: number;
  status_idx: number;
  /** Signing key id, set when the credential is actually issued. */
  kid: string | null;
  created_at: string;
  issued_at: string | null;
  expires_at: string;
  revoked_at: string | null;
  /** Department and training status, kept in clear for the workforce counts (adoption). */
  department?: string | null;
  trained?: number | null;
}

/** An OpenID4VCI pre-authorized code offer; the code and access token are stored as SHA-256. */
export interface OfferRow {
  id: string;
  credential_id: string;
  code_hash: Buffer;
  expires_at: string;
  redeemed_at: string | null;
  access_hash: Buffer | null;
  access_expires_at: string | null;
  issued_at: string | null;
  /** SHA-256 of the transaction code (PIN) the holder must also give, when the offer has one. */
  tx_code_hash: Buffer | null;
  tx_attempts?: number;
}

/** A tenant intermediate key: version N, sealed by KEK version N in the keystore. */
export interface VaultTenantKeyRow {
  version: number;
  /** null once retired (destroyed). */
  wrapped: Buffer | null;
  created_at: string;
  retired_at: string | null;
}

export type VaultSubjectKeyRow = Selectable<VaultSubjectKeysTable>;

/** An encrypted record (retained body, pseudonym map …): an envelope, never plaintext. */
export type VaultRecordRow = Selectable<VaultRecordsTable>;

export interface VaultEventRow {
  ts: string;
  kind: 'key_access' | 'erasure' | 'rotation';
  reason: string;
  purpose: string;
  key_version: number | null;
  subject_hash: Buffer | null;
  /** JSON: metadata only (ids, counts), never key material or personal data. */
  detail: string;
}

/** Rows wrapped under a tenant key version, for rotation. */
export type VaultWrappedTable = 'secrets' | 'subject_keys' | 'records';
export interface VaultWrappedRow {
  table: VaultWrappedTable;
  id: string | Buffer;
  key_version: number;
  data: Buffer;
}

export interface VaultStore {
  tenantKeys(): Promise<VaultTenantKeyRow[]>;
  /** false when the version exists already (another process created it). */
  insertTenantKey(row: VaultTenantKeyRow): Promise<boolean>;
  retireTenantKey(version: number, at: string): Promise<void>;
  secret(purpose: string): Promise<{ key_version: number; wrapped: Buffer } | undefined>;
  /** false when the purpose exists already. */
  insertSecret(purpose: string, keyVersion: number, wrapped: Buffer, at: string): Promise<boolean>;
  subjectKey(kid: Buffer): Promise<VaultSubjectKeyRow | undefined>;
  liveSubjectKey(subjectHash: Buffer): Promise<VaultSubjectKeyRow | undefined>;
  insertSubjectKey(row: VaultSubjectKeyRow): Promise<void>;
  subjectCount(): Promise<number>;
  /** Deletes the subject's keys (secure_delete overwrites them on SQLite) and notes the erasure. */
  eraseSubject(subjectHash: Buffer, at: string): Promise<{ keys: number; records: number }>;
  erasuresSince(id: number): Promise<{ id: number; subject_hash: Buffer }[]>;
  erasureCount(): Promise<number>;
  putRecords(rows: readonly VaultRecordRow[]): Promise<void>;
  record(id: string): Promise<VaultRecordRow | undefined>;
  recordIds(subjectHash: Buffer): Promise<string[]>;
  /** Rows per key version and table (for `keys status`). */
  versionCounts(): Promise<{ table: VaultWrappedTable; key_version: number; n: number }[]>;
  /** Up to `limit` rows wrapped under a version other than `current` (and not 0). */
  stale(current: number, limit: number): Promise<VaultWrappedRow[]>;
  /** Replaces rows still at their old version; returns how many changed. */
  rewrap(rows: readonly (VaultWrappedRow & { to: number })[]): Promise<number>;
  appendEvents(rows: readonly VaultEventRow[]): Promise<void>;
  events(limit: number): Promise<(VaultEventRow & { id: number })[]>;
  /** Events with id > after, ascending (at most limit). */
  eventsAfter(after: number, limit: number): Promise<(VaultEventRow & { id: number })[]>;
  /**
   * After an erasure: SQLite moves the WAL into the database and truncates it; PostgreSQL
   * vacuums the subject-key table (see the README for what each leaves on disk).
   */
  checkpoint(): Promise<void>;
}

/** A threat alert (issue #7): metadata only, never text. owasp/atlas are JSON arrays. */
export type ThreatAlertRow = Selectable<ThreatAlertsTable>;

export type ThreatIncidentRow = Selectable<ThreatIncidentsTable>;

/**
 * Threat persistence. Every method returns a Promise (the SQLite one resolves at once) so that
 * an asynchronous store can implement the same interface; detection never waits on it.
 */
export interface ThreatStore {
  /** Writes a batch of alerts and the incidents they touched (insert or update), in one transaction. */
  write(alerts: readonly ThreatAlertRow[], incidents: readonly ThreatIncidentRow[]): Promise<void>;
  alerts(q: { limit: number; before?: string; incident?: string }): Promise<ThreatAlertRow[]>;
  incidents(q: { limit: number; status?: string }): Promise<ThreatIncidentRow[]>;
  incident(id: string): Promise<ThreatIncidentRow | undefined>;
  /** Returns how many objects were new. */
  putTaxiiObjects(collection: string, objects: readonly { id: string; version: string; date_added: string; object: string }[]): Promise<number>;
  taxiiObjects(collection: string, q: { limit: number; addedAfter?: string; ids?: string[]; types?: string[] }): Promise<{ id: string; version: string; date_added: string; object: string }[]>;
  putTaxiiStatus(id: string, created: string, status: string): Promise<void>;
  taxiiStatus(id: string): Promise<string | undefined>;
  setQuarantine(principal: string, on: boolean, at: string, reason: string): Promise<void>;
  quarantined(): Promise<string[]>;
}


export type StoreKind = 'sqlite' | 'postgres';

export interface Store {
  readonly kind: StoreKind;
  /** Where the data lives, for logs (a file, or a URL without its password). */
  readonly describe: string;
  threats: ThreatStore;
  identity: {
    insertCredential(row: CredentialRow): Promise<void>;
    credential(id: string): Promise<CredentialRow | undefined>;
    credentials(): Promise<CredentialRow[]>;
    /** Revokes by credential id, employee id or subject; returns how many. */
    revokeCredential(idOrSubject: string, at: string): Promise<number>;
    revokedIndexes(list: number): Promise<number[]>;
    statusIndexUsed(list: number, idx: number): Promise<boolean>;
    markIssued(id: string, at: string, kid: string): Promise<void>;
    /** The latest expiry of an unrevoked credential signed by `kid` (key rotation). */
    lastExpiryForKey(kid: string): Promise<string | undefined>;
    insertOffer(row: OfferRow): Promise<void>;
    offerByCodeHash(hash: Buffer): Promise<OfferRow | undefined>;
    offerByAccessHash(hash: Buffer): Promise<OfferRow | undefined>;
    /** Single use: false when the offer was already redeemed. */
    redeemOffer(id: string, at: string, accessHash: Buffer, accessExpires: string): Promise<boolean>;
    markOfferIssued(id: string, at: string): Promise<boolean>;
    /** Counts a wrong transaction code; returns the number of failures so far. */
    txCodeFailed(id: string): Promise<number>;
  };
  vault: VaultStore;
  apiKeys: {
    insert(row: ApiKeyRow): Promise<void>;
    findByHash(hash: Buffer): Promise<ApiKeyRow | undefined>;
    list(): Promise<ApiKeyRow[]>;
    /** Revokes by id or name; returns the number of keys revoked. */
    revoke(idOrName: string, at: string): Promise<number>;
    count(): Promise<number>;
  };
  records: {
    /** The next free sequence number (one past the highest stored). */
    nextSeq(): Promise<number>;
    /**
     * Appends audit log entries and their decision records in one transaction (a group
     * commit). An entry whose index is already taken (by a `lost` leaf another node wrote for
     * it) is not written, nor is its decision record: the returned list names those indices
     * (normally empty).
     */
    append(rows: readonly DecisionRecord[], entries?: readonly AuditEntryRow[]): Promise<number[]>;
    byRequestId(id: string): Promise<DecisionRecord | undefined>;
    count(): Promise<number>;
  };
  /** The audit log (issue #6): entries, hash tiles, signed checkpoints. */
  audit: {
    /** Writes entries; indices already taken are skipped (returns how many were written). */
    append(entries: readonly AuditEntryRow[]): Promise<number>;
    /** The highest entry index stored, or -1. */
    maxIndex(): Promise<number>;
    /** The stored entry indices in [from, to), ascending. */
    indicesIn(from: number, to: number): Promise<number[]>;
    /** The stored entries in [from, to), ascending. */
    entries(from: number, to: number): Promise<AuditEntryRow[]>;
    /** The bytes of the stored entries in [from, to), ascending (no gaps means length = to - from). */
    entryData(from: number, to: number): Promise<Buffer[]>;
    entry(idx: number): Promise<Buffer | undefined>;
    tile(level: number, n: number): Promise<Buffer | undefined>;
    /** A tile's interior nodes (heights 1–7 inside it), kept to answer proofs fast. */
    tileInner(level: number, n: number): Promise<Buffer | undefined>;
    /**
     * Writes tiles and a checkpoint in one transaction. With `from` (the size the tiles were
     * built on), only when the latest checkpoint still has that size: false when another
     * integrator published meanwhile (nothing is written).
     */
    publish(tiles: readonly { level: number; n: number; data: Buffer; inner?: Buffer }[], size: number, note: string, ts: string, from?: number): Promise<boolean>;
    latestCheckpoint(): Promise<AuditCheckpointRow | undefined>;
    checkpoint(size: number): Promise<AuditCheckpointRow | undefined>;
    /** Replaces a checkpoint's note (to add witness cosignatures). */
    setCheckpointNote(size: number, note: string): Promise<void>;
    /** How far an outside event source (such as `vault_events`) has been copied into the log. */
    importCursor(source: string): Promise<number>;
    setImportCursor(source: string, lastId: number): Promise<void>;
  };
  /**
   * Coordination of several gateway nodes over one database (PostgreSQL only): index
   * reservations on the shared counter, node liveness and the integrator's leadership.
   */
  cluster: Cluster | undefined;
  /** What the admin console reads (issue #8): aggregates and searches, all asynchronous. */
  console: ConsoleStore;
  close(): Promise<void>;
}

/** One reservation of consecutive audit log indices by a node. */
export interface Reservation {
  first: number;
  count: number;
  node: number;
}

export interface Cluster {
  /** Starts this node's lock session (on first use); resolves with the node's id. */
  start(): Promise<number>;
  /** This node's id (never reused; after start); its liveness is a session advisory lock. */
  readonly nodeId: number;
  /** Reserves `count` consecutive indices for this node; resolves with the first. */
  reserve(count: number): Promise<number>;
  /** The next index the counter will hand out. */
  next(): Promise<number>;
  /** Reservations that overlap [from, to), ascending. */
  reservations(from: number, to: number): Promise<Reservation[]>;
  /** Whether the node is alive (holds its lock). Dead nodes never come back. */
  alive(node: number): Promise<boolean>;
  /** Forgets reservations that end at or before `size` (integrated), and those of `node` when given. */
  dropReservations(size: number, node?: number): Promise<void>;
  /** Takes (or keeps) the integrator's lock; false while another node holds it. */
  lead(): Promise<boolean>;
  /** Whether this node held the integrator's lock at the last check. */
  readonly leader: boolean;
  /** Called when the lock session broke (the node got a new id: reservations of the old one are void). */
  onReset(fn: () => void): void;
  close(): Promise<void>;
}

/** Counts per minute (`YYYY-MM-DDTHH:MM`, UTC), level and decision. */
export interface TrafficRow {
  minute: string;
  level: string;
  decision: string;
  n: number;
}

/** Requests of people per day, department, training status and principal (adoption). */
export interface AdoptionRow {
  day: string;
  department: string;
  trained: number | null;
  principal: string;
  requests: number;
  denials: number;
}

export interface RecordQuery {
  requestId?: string;
  /** ISO timestamps, inclusive from, exclusive to. */
  from?: string;
  to?: string;
  /** Only records with seq below this (paging, newest first). */
  beforeSeq?: number;
  decision?: string;
  limit: number;
}

/**
 * The console's queries. Every method returns a Promise so that an asynchronous store
 * (PostgreSQL) implements the same interface.
 */
export interface ConsoleStore {
  traffic(since: string): Promise<TrafficRow[]>;
  /** Reasons of denied requests (decision other than allow) since `since`, most frequent first. */
  topDenials(since: string, limit: number): Promise<{ reason: string; n: number }[]>;
  /** Per backend since `since`: requests, mean and max upstream latency, failed answers (status ≥ 500). */
  backendStats(since: string): Promise<{ backend: string; n: number; avg_ms: number | null; max_ms: number | null; errors: number }[]>;
  /** Records with seq > after, ascending (the live tail). */
  recordsAfter(after: number, limit: number): Promise<DecisionRecord[]>;
  /** The highest seq stored, or -1. */
  lastSeq(): Promise<number>;
  /** Records matching the query, newest first. */
  search(q: RecordQuery): Promise<DecisionRecord[]>;
  /** Signed checkpoints, largest first. */
  checkpoints(limit: number, beforeSize?: number): Promise<AuditCheckpointRow[]>;
  adoption(since: string): Promise<AdoptionRow[]>;
  /** Unrevoked, unexpired credentials per department and training status (the workforce). */
  workforce(now: string): Promise<{ department: string; trained: number; n: number }[]>;
}

/** One audit log entry: its index and its bytes (canonical JSON). */
export interface AuditEntryRow {
  idx: number;
  data: Buffer;
}

export interface AuditCheckpointRow {
  size: number;
  /** The signed note (with witness cosignatures once collected). */
  note: string;
  ts: string;
}

export { openStore, openSqliteStore, openPostgresStore, storeTarget, describeTarget, type StoreTarget } from './open.js';
export { StoreError } from './errors.js';
