/**
 * Leaves: one per request decision and per event (key access, erasure, policy change, admin
 * action). Each leaf is canonical JSON (RFC 8785 JCS: keys sorted by UTF-16 code units, no
 * whitespace, ECMAScript number and string serialization) of metadata only: never prompt
 * or answer text, never personal data. The request and the answer appear as HMAC-SHA-256
 * commitments under a tenant key, bound to the request id (identical prompts do not link).
 */
import crypto from 'node:crypto';
import { AuditError } from './errors.js';
import { MAX_ENTRY_BYTES } from './tiles.js';
import { sha256 } from './merkle.js';

export const LEAF_VERSION = 1;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * RFC 8785 canonical JSON for the values leaves use: a copy with every object's keys in
 * sorted order (UTF-16 code units), then ECMAScript JSON serialization, which is what JCS
 * specifies for strings, numbers and literals.
 */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(sortedCopy(v));
}

function sortedCopy(v: unknown): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new AuditError('bad_leaf', '数値が有限ではありません', 'non-finite number in a leaf');
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : sortedCopy(x)));
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort();
    const out: Record<string, unknown> = {};
    for (const k of keys) if (o[k] !== undefined) out[k] = sortedCopy(o[k]);
    return out;
  }
  throw new AuditError('bad_leaf', `葉に使えない値の型です: ${typeof v}`, `a leaf cannot hold a value of type ${typeof v}`);
}

/** A request decision as it goes into the log. */
export interface RequestLeaf {
  v: 1;
  kind: 'request';
  index: number;
  ts: string;
  request_id: string;
  /** Pseudonymous principal id (HMAC of the principal id under a tenant key). */
  principal: string;
  endpoint: string;
  model: string;
  level: string;
  flags: string[];
  /** Finding types and counts, never values. */
  findings: Record<string, number>;
  decision: string;
  reason: string;
  status: number;
  backend: string | null;
  /** The backend's processing country and the jurisdictions reaching its operator. */
  country: string | null;
  jurisdictions: string[];
  on_premises: boolean;
  policy: string;
  request_commit: string | null;
  answer_commit: string | null;
}

export interface LostLeaf {
  v: 1;
  kind: 'lost';
  index: number;
  ts: string;
  reason: 'reserved_not_recorded';
}

export interface EventLeaf {
  v: 1;
  kind: 'event';
  index: number;
  ts: string;
  event: string;
  fields: Record<string, string | number | boolean | null>;
}

export type Leaf = RequestLeaf | LostLeaf | EventLeaf;

export function encodeLeaf(leaf: Leaf): Buffer {
  const b = Buffer.from(leaf.kind === 'request' ? requestLeafJson(leaf) : canonicalJson(leaf), 'utf8');
  if (b.length > MAX_ENTRY_BYTES) throw new AuditError('entry_too_large', '記録が 65535 バイトを超えています', 'a leaf exceeds 65535 bytes');
  return b;
}

/**
 * The canonical JSON of a request leaf on the hot path: an object literal with its keys already
 * in RFC 8785 order, so that JSON.stringify writes canonical JSON without a sorting pass
 * (the unit tests check it equals canonicalJson).
 */
export function requestLeafJson(l: RequestLeaf): string {
  const findingKeys = Object.keys(l.findings);
  let findings = l.findings;
  if (findingKeys.length > 1) {
    findings = {};
    for (const k of findingKeys.sort()) findings[k] = l.findings[k]!;
  }
  for (const v of Object.values(findings)) if (!Number.isFinite(v)) throw new AuditError('bad_leaf', '数値が有限ではありません', 'non-finite number in a leaf');
  return JSON.stringify({
    answer_commit: l.answer_commit,
    backend: l.backend,
    country: l.country,
    decision: l.decision,
    endpoint: l.endpoint,
    findings,
    flags: l.flags,
    index: l.index,
    jurisdictions: l.jurisdictions,
    kind: l.kind,
    level: l.level,
    model: l.model,
    on_premises: l.on_premises,
    policy: l.policy,
    principal: l.principal,
    reason: l.reason,
    request_commit: l.request_commit,
    request_id: l.request_id,
    status: l.status,
    ts: l.ts,
    v: l.v,
  });
}

/** Parse an entry and check that it is canonical, of a known kind, and at `index`. */
export function decodeLeaf(entry: Buffer, index: number, opts: { canonical?: boolean } = {}): Leaf {
  let v: unknown;
  try {
    v = JSON.parse(entry.toString('utf8'));
  } catch {
    throw new AuditError('bad_leaf', `索引 ${index} の記録が JSON ではありません`, `the entry at index ${index} is not JSON`, index);
  }
  const leaf = v as Leaf;
  if (!leaf || typeof leaf !== 'object' || leaf.v !== 1 || !['request', 'lost', 'event'].includes(leaf.kind)) {
    throw new AuditError('bad_leaf', `索引 ${index} の記録の形式が不明です`, `the entry at index ${index} has an unknown format`, index);
  }
  if (leaf.index !== index) throw new AuditError('bad_leaf', `索引 ${index} の記録が索引 ${leaf.index} を名乗っています`, `the entry at index ${index} claims index ${leaf.index}`, index);
  if (opts.canonical !== false && canonicalJson(leaf) !== entry.toString('utf8')) throw new AuditError('bad_leaf', `索引 ${index} の記録が正準形ではありません`, `the entry at index ${index} is not canonical JSON`, index);
  return leaf;
}

const INDEX_KEY = Buffer.from('"index":');

/**
 * The index a canonical leaf names, read without parsing the whole entry (for integrity-only
 * verification; `decodeLeaf` is the full check). -1 when absent or malformed.
 */
export function leafIndexOf(entry: Buffer): number {
  const at = entry.indexOf(INDEX_KEY);
  if (at < 0) return -1;
  let n = 0;
  let i = at + INDEX_KEY.length;
  const first = i;
  for (; i < entry.length; i++) {
    const c = entry[i]!;
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
  }
  if (i === first || i - first > 16 || (entry[first] === 0x30 && i - first > 1)) return -1;
  return entry[i] === 0x2c || entry[i] === 0x7d ? n : -1;
}

const EVENT_KIND = /^[a-z][a-z0-9_.]{0,63}$/;
const FIELD_KEY = /^[a-z][a-z0-9_]{0,63}$/;

/** Checks the event kind and fields (flat, bounded, metadata only). */
export function eventLeaf(index: number, event: string, fields: Record<string, unknown>, ts = new Date().toISOString()): EventLeaf {
  if (!EVENT_KIND.test(event)) throw new AuditError('bad_event', `イベント名 ${event} は使えません`, `invalid event kind ${event}`);
  const clean: EventLeaf['fields'] = {};
  for (const [k, v] of Object.entries(fields)) {
    if (!FIELD_KEY.test(k)) throw new AuditError('bad_event', `イベントの項目名 ${k} は使えません`, `invalid event field name ${k}`);
    if (v === null || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) clean[k] = v;
    else if (typeof v === 'string' && v.length <= 512) clean[k] = v;
    else throw new AuditError('bad_event', `イベントの項目 ${k} の値は 512 文字以下の文字列・数値・真偽値にしてください`, `event field ${k} must be a string of at most 512 characters, a number or a boolean`);
  }
  return { v: 1, kind: 'event', index, ts, event, fields: clean };
}

/** HMAC commitments and pseudonyms under tenant keys. */
export class Committer {
  /** SHA-256 state after the HMAC inner pad (RFC 2104): copied per commitment, so the key is set up once, not per request. */
  private readonly innerStart: crypto.Hash;
  private readonly opad: Buffer;

  constructor(
    commitKey: Buffer,
    private readonly pseudonymKey: Buffer,
  ) {
    const k = commitKey.length > 64 ? sha256(commitKey) : commitKey;
    const ipad = Buffer.alloc(64, 0x36);
    this.opad = Buffer.alloc(64, 0x5c);
    for (let i = 0; i < k.length; i++) {
      ipad[i]! ^= k[i]!;
      this.opad[i]! ^= k[i]!;
    }
    this.innerStart = crypto.createHash('sha256').update(ipad);
  }

  /**
   * A commitment stream: update with the bytes, then `digest()` → "hmac-sha256:<base64>".
   * HMAC-SHA-256 computed from the precomputed pads; equal to crypto.createHmac's result (unit-tested).
   */
  begin(requestId: string, what: 'request' | 'answer'): { update(b: string | Uint8Array): void; digest(): string } {
    const inner = this.innerStart.copy();
    inner.update(`sekisho-audit-v1\0${what}\0${requestId}\0`);
    return {
      update: (b) => void inner.update(b),
      digest: () => 'hmac-sha256:' + sha256(Buffer.concat([this.opad, inner.digest()])).toString('base64'),
    };
  }

  /** The commitment of `data` in one call (the same as `begin`, one update, `digest`). */
  commit(requestId: string, what: 'request' | 'answer', data: string | Uint8Array): string {
    const c = this.begin(requestId, what);
    c.update(data);
    return c.digest();
  }

  private pseudonyms = new Map<string, string>();

  pseudonym(principalId: string): string {
    let p = this.pseudonyms.get(principalId);
    if (p === undefined) {
      p = 'p-' + crypto.createHmac('sha256', this.pseudonymKey).update(principalId).digest('hex').slice(0, 32);
      if (this.pseudonyms.size >= 10_000) this.pseudonyms.clear();
      this.pseudonyms.set(principalId, p);
    }
    return p;
  }
}

export type { Json };
