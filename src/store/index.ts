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
}

export interface Store {
  readonly kind: 'sqlite';
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
  };
  close(): void;
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
