/**
 * The tables as Kysely sees them (both engines). BLOB (SQLite) and bytea (PostgreSQL) are
 * Buffers; 64-bit integers are numbers (the PostgreSQL pool parses int8 as a JS number:
 * every value Sekisho stores is far below 2^53).
 */
import type { Generated } from 'kysely';

export interface ApiKeysTable {
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

export interface DecisionsTable {
  seq: number;
  request_id: string;
  ts: string;
  principal: string;
  endpoint: string;
  model: string;
  level: string;
  flags: string;
  findings: string;
  decision: string;
  reason: string;
  backend: string | null;
  status: number;
  duration_ms: number;
  upstream_ms: number | null;
  attempts: number;
  department: Generated<string>;
  trained: number | null;
}

export interface IdentityCredentialsTable {
  id: string;
  subject: string;
  employee_id: string | null;
  claims: string;
  status_list: number;
  status_idx: number;
  kid: string | null;
  created_at: string;
  issued_at: string | null;
  expires_at: string;
  revoked_at: string | null;
  department: string | null;
  trained: number | null;
}

export interface IdentityOffersTable {
  id: string;
  credential_id: string;
  code_hash: Buffer;
  expires_at: string;
  redeemed_at: string | null;
  access_hash: Buffer | null;
  access_expires_at: string | null;
  issued_at: string | null;
  tx_code_hash: Buffer | null;
  tx_attempts: Generated<number>;
}

export interface VaultTenantKeysTable {
  version: number;
  wrapped: Buffer | null;
  created_at: string;
  retired_at: string | null;
}

export interface VaultSecretsTable {
  purpose: string;
  key_version: number;
  wrapped: Buffer;
  created_at: string;
}

export interface VaultSubjectKeysTable {
  kid: Buffer;
  /** HMAC of the subject id (the id itself is never stored). */
  subject_hash: Buffer;
  key_version: number;
  wrapped: Buffer;
  created_at: string;
}

export interface VaultRecordsTable {
  id: string;
  purpose: string;
  subject_hash: Buffer | null;
  /** Tenant key version that wraps the data key; 0 when a subject key wraps it. */
  key_version: number;
  level: string;
  blob: Buffer;
  created_at: string;
}

export interface VaultErasuresTable {
  /** SQLite: the rowid; PostgreSQL: assigned under a table lock, so that ids appear in commit order. */
  id: Generated<number>;
  subject_hash: Buffer;
  ts: string;
  keys: number;
  records: number;
}

export interface VaultEventsTable {
  /** As vault_erasures.id: readers follow it as a cursor, so it must become visible in order. */
  id: Generated<number>;
  ts: string;
  kind: string;
  reason: string;
  purpose: string;
  key_version: number | null;
  subject_hash: Buffer | null;
  detail: string;
}

export interface AuditEntriesTable {
  idx: number;
  data: Buffer;
}

export interface AuditTilesTable {
  level: number;
  n: number;
  data: Buffer;
  inner: Buffer | null;
}

export interface AuditCheckpointsTable {
  size: number;
  note: string;
  ts: string;
}

export interface AuditImportsTable {
  source: string;
  last_id: number;
}

/** Named counters; `audit_next` is the sequencer's single counter row (PostgreSQL). */
export interface AuditCountersTable {
  name: string;
  value: number;
}

/** Indices a node reserved for requests it is serving: [first, first + count). */
export interface AuditReservationsTable {
  first: number;
  count: number;
  node: number;
  ts: string;
}

/** Gateway nodes, one row per start; the id names the node's liveness lock. */
export interface AuditNodesTable {
  id: Generated<number>;
  host: string;
  pid: number;
  started_at: string;
}

export interface ThreatAlertsTable {
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

export interface ThreatIncidentsTable {
  id: string;
  /** The principal (anonymous failures: the rule and what it counts): alerts with the same key within the window join the incident. */
  group_key: string;
  opened_at: string;
  updated_at: string;
  /** The title of its most severe rule, in English and (when the rule has one) Japanese. */
  title: string;
  title_ja: string | null;
  severity: string;
  status: string;
  alert_count: number;
  /** JSON array of principal ids. */
  principals: string;
  approved_by: string | null;
  approved_at: string | null;
}

export interface ThreatQuarantineTable {
  principal: string;
  since: string;
  reason: string;
}

export interface TaxiiObjectsTable {
  collection: string;
  id: string;
  version: string;
  date_added: string;
  object: string;
}

export interface TaxiiStatusTable {
  id: string;
  created: string;
  status: string;
}

export interface DB {
  threat_alerts: ThreatAlertsTable;
  threat_incidents: ThreatIncidentsTable;
  threat_quarantine: ThreatQuarantineTable;
  taxii_objects: TaxiiObjectsTable;
  taxii_status: TaxiiStatusTable;
  api_keys: ApiKeysTable;
  decisions: DecisionsTable;
  identity_credentials: IdentityCredentialsTable;
  identity_offers: IdentityOffersTable;
  vault_tenant_keys: VaultTenantKeysTable;
  vault_secrets: VaultSecretsTable;
  vault_subject_keys: VaultSubjectKeysTable;
  vault_records: VaultRecordsTable;
  vault_erasures: VaultErasuresTable;
  vault_events: VaultEventsTable;
  audit_entries: AuditEntriesTable;
  audit_tiles: AuditTilesTable;
  audit_checkpoints: AuditCheckpointsTable;
  audit_imports: AuditImportsTable;
  audit_counters: AuditCountersTable;
  audit_reservations: AuditReservationsTable;
  audit_nodes: AuditNodesTable;
}
