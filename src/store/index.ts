/**
 * Persistence. This is the only module that knows SQL engines exist; the rest of Sekisho
 * talks to the `Store` interface. One node: an embedded SQLite file.
 */
export interface ApiKeyRow {
  id: string;
  name: string;
  /** First characters of the key, safe to show (`sk-sekisho-AbCd…`). */
  prefix: string;
  /** SHA-256 of the whole key. The key itself is never stored. */
  hash: Buffer;
  default_level: string;
  max_level: string;
  created_at: string;
  revoked_at: string | null;
}

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

export interface VaultSubjectKeyRow {
  kid: Buffer;
  /** HMAC of the subject id (the id itself is never stored). */
  subject_hash: Buffer;
  key_version: number;
  wrapped: Buffer;
  created_at: string;
}

/** An encrypted record (retained body, pseudonym map …): an envelope, never plaintext. */
export interface VaultRecordRow {
  id: string;
  purpose: string;
  subject_hash: Buffer | null;
  /** Tenant key version that wraps the data key; 0 when a subject key wraps it. */
  key_version: number;
  level: string;
  blob: Buffer;
  created_at: string;
}

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
  tenantKeys(): VaultTenantKeyRow[];
  /** false when the version exists already (another process created it). */
  insertTenantKey(row: VaultTenantKeyRow): boolean;
  retireTenantKey(version: number, at: string): void;
  secret(purpose: string): { key_version: number; wrapped: Buffer } | undefined;
  /** false when the purpose exists already. */
  insertSecret(purpose: string, keyVersion: number, wrapped: Buffer, at: string): boolean;
  subjectKey(kid: Buffer): VaultSubjectKeyRow | undefined;
  liveSubjectKey(subjectHash: Buffer): VaultSubjectKeyRow | undefined;
  insertSubjectKey(row: VaultSubjectKeyRow): void;
  subjectCount(): number;
  /** Deletes the subject's keys (secure_delete overwrites them) and notes the erasure. */
  eraseSubject(subjectHash: Buffer, at: string): { keys: number; records: number };
  erasuresSince(id: number): { id: number; subject_hash: Buffer }[];
  erasureCount(): number;
  putRecords(rows: readonly VaultRecordRow[]): void;
  record(id: string): VaultRecordRow | undefined;
  recordIds(subjectHash: Buffer): string[];
  /** Rows per key version and table (for `keys status`). */
  versionCounts(): { table: VaultWrappedTable; key_version: number; n: number }[];
  /** Up to `limit` rows wrapped under a version other than `current` (and not 0). */
  stale(current: number, limit: number): VaultWrappedRow[];
  /** Replaces rows still at their old version; returns how many changed. */
  rewrap(rows: readonly (VaultWrappedRow & { to: number })[]): number;
  appendEvents(rows: readonly VaultEventRow[]): void;
  events(limit: number): (VaultEventRow & { id: number })[];
  /** Events with id > after, ascending (at most limit). */
  eventsAfter(after: number, limit: number): (VaultEventRow & { id: number })[];
  /** Moves the WAL into the database and truncates it (after an erasure). */
  checkpoint(): void;
}

/** A threat alert (issue #7): metadata only, never text. owasp/atlas are JSON arrays. */
export interface ThreatAlertRow {
  id: string;
  ts: string;
  principal: string;
  type: string;
  rule: string;
  severity: string;
  score: number;
  action: string;
  request_id: string | null;
  incident_id: string | null;
  owasp: string;
  atlas: string;
}

export interface ThreatIncidentRow {
  id: string;
  /** principal + rule: alerts with the same key within the window join the incident. */
  group_key: string;
  opened_at: string;
  updated_at: string;
  title: string;
  severity: string;
  status: string;
  alert_count: number;
  /** JSON array of principal ids. */
  principals: string;
  approved_by: string | null;
  approved_at: string | null;
}

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

export interface Store {
  readonly kind: 'sqlite';
  threats: ThreatStore;
  identity: {
    insertCredential(row: CredentialRow): void;
    credential(id: string): CredentialRow | undefined;
    credentials(): CredentialRow[];
    /** Revokes by credential id, employee id or subject; returns how many. */
    revokeCredential(idOrSubject: string, at: string): number;
    revokedIndexes(list: number): number[];
    statusIndexUsed(list: number, idx: number): boolean;
    markIssued(id: string, at: string, kid: string): void;
    /** The latest expiry of an unrevoked credential signed by `kid` (key rotation). */
    lastExpiryForKey(kid: string): string | undefined;
    insertOffer(row: OfferRow): void;
    offerByCodeHash(hash: Buffer): OfferRow | undefined;
    offerByAccessHash(hash: Buffer): OfferRow | undefined;
    /** Single use: false when the offer was already redeemed. */
    redeemOffer(id: string, at: string, accessHash: Buffer, accessExpires: string): boolean;
    markOfferIssued(id: string, at: string): boolean;
    /** Counts a wrong transaction code; returns the number of failures so far. */
    txCodeFailed(id: string): number;
  };
  vault: VaultStore;
  apiKeys: {
    insert(row: ApiKeyRow): void;
    findByHash(hash: Buffer): ApiKeyRow | undefined;
    list(): ApiKeyRow[];
    /** Revokes by id or name; returns the number of keys revoked. */
    revoke(idOrName: string, at: string): number;
    count(): number;
  };
  records: {
    /** The next free sequence number (one past the highest stored). */
    nextSeq(): number;
    /** Appends decision records and (in the same transaction) audit log entries. */
    append(rows: readonly DecisionRecord[], entries?: readonly AuditEntryRow[]): void;
    byRequestId(id: string): DecisionRecord | undefined;
    count(): number;
  };
  /** The audit log (issue #6): entries, hash tiles, signed checkpoints. */
  audit: {
    append(entries: readonly AuditEntryRow[]): void;
    /** The highest entry index stored, or -1. */
    maxIndex(): number;
    /** The stored entry indices in [from, to), ascending. */
    indicesIn(from: number, to: number): number[];
    /** The stored entries in [from, to), ascending. */
    entries(from: number, to: number): AuditEntryRow[];
    /** The bytes of the stored entries in [from, to), ascending (no gaps means length = to - from). */
    entryData(from: number, to: number): Buffer[];
    entry(idx: number): Buffer | undefined;
    tile(level: number, n: number): Buffer | undefined;
    /** A tile's interior nodes (heights 1–7 inside it), kept to answer proofs fast. */
    tileInner(level: number, n: number): Buffer | undefined;
    /** Writes tiles and a checkpoint in one transaction. */
    publish(tiles: readonly { level: number; n: number; data: Buffer; inner?: Buffer }[], size: number, note: string, ts: string): void;
    latestCheckpoint(): AuditCheckpointRow | undefined;
    checkpoint(size: number): AuditCheckpointRow | undefined;
    /** Replaces a checkpoint's note (to add witness cosignatures). */
    setCheckpointNote(size: number, note: string): void;
    /** How far an outside event source (such as `vault_events`) has been copied into the log. */
    importCursor(source: string): number;
    setImportCursor(source: string, lastId: number): void;
  };
  /** What the admin console reads (issue #8): aggregates and searches, all asynchronous. */
  console: ConsoleStore;
  close(): void;
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

export { openSqliteStore } from './sqlite.js';
