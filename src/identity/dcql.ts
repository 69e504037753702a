/**
 * DCQL (OpenID4VP 1.0 §6, Digital Credentials Query Language), the subset Sekisho asks
 * with: credential queries of format `dc+sd-jwt` with `meta.vct_values`, `claims` by path,
 * and optional `claim_sets`. The verifier checks that what was presented satisfies the
 * query; the holder uses the same code to choose which Disclosures to present.
 */
export interface ClaimsQuery {
  id?: string;
  path: (string | number | null)[];
  values?: (string | number | boolean)[];
}

export interface CredentialQuery {
  id: string;
  format: 'dc+sd-jwt';
  meta: { vct_values: string[] };
  claims?: ClaimsQuery[];
  claim_sets?: string[][];
}

export interface DcqlQuery {
  credentials: CredentialQuery[];
}

export function staffQuery(vct: string): DcqlQuery {
  return {
    credentials: [
      {
        id: 'staff',
        format: 'dc+sd-jwt',
        meta: { vct_values: [vct] },
        claims: [
          { id: 'clearance', path: ['clearance'] },
          { id: 'trainings', path: ['trainings'] },
          { id: 'role', path: ['role'] },
          { id: 'department', path: ['department'] },
          { id: 'name', path: ['name'] },
        ],
        // The most useful set first; clearance alone is enough to open a session.
        claim_sets: [['clearance', 'trainings', 'role', 'department', 'name'], ['clearance', 'trainings', 'role', 'department'], ['clearance', 'trainings'], ['clearance']],
      },
    ],
  };
}

function at(claims: unknown, path: ClaimsQuery['path']): unknown[] {
  let cur: unknown[] = [claims];
  for (const seg of path) {
    const next: unknown[] = [];
    for (const c of cur) {
      if (seg === null) {
        if (Array.isArray(c)) next.push(...c);
      } else if (typeof seg === 'number') {
        if (Array.isArray(c) && seg < c.length) next.push(c[seg]);
      } else if (c && typeof c === 'object' && !Array.isArray(c) && Object.prototype.hasOwnProperty.call(c, seg)) {
        next.push((c as Record<string, unknown>)[seg]);
      }
    }
    cur = next;
  }
  return cur;
}

function claimOk(claims: Record<string, unknown>, q: ClaimsQuery): boolean {
  const found = at(claims, q.path);
  if (found.length === 0) return false;
  return !q.values || found.some((v) => q.values!.includes(v as string));
}

/** Which claim ids of the query the credential satisfies; undefined when it does not match. */
export function satisfiedSet(q: CredentialQuery, vct: string, claims: Record<string, unknown>): string[] | undefined {
  if (!q.meta.vct_values.includes(vct)) return undefined;
  const cqs = q.claims ?? [];
  if (!q.claim_sets) return cqs.every((c) => claimOk(claims, c)) ? cqs.map((c) => c.id ?? '') : undefined;
  const ok = new Set(cqs.filter((c) => claimOk(claims, c)).map((c) => c.id));
  return q.claim_sets.find((set) => set.every((id) => ok.has(id)));
}

/** Top-level claim names the holder should disclose for `q` (those with a one-segment path or the first segment). */
export function claimNamesFor(q: CredentialQuery): string[] {
  return [...new Set((q.claims ?? []).map((c) => c.path[0]).filter((s): s is string => typeof s === 'string'))];
}

/** Strict validation of a DCQL query received by a holder (bounded sizes). */
export function parseDcql(v: unknown): DcqlQuery {
  const fail = () => {
    throw new Error('invalid dcql_query');
  };
  if (!v || typeof v !== 'object' || !Array.isArray((v as DcqlQuery).credentials)) fail();
  const q = v as DcqlQuery;
  if (q.credentials.length === 0 || q.credentials.length > 8) fail();
  for (const c of q.credentials) {
    if (typeof c.id !== 'string' || c.format !== 'dc+sd-jwt' || !Array.isArray(c.meta?.vct_values)) fail();
    if (c.claims && (!Array.isArray(c.claims) || c.claims.length > 64 || c.claims.some((x) => !Array.isArray(x.path) || x.path.length === 0 || x.path.length > 8))) fail();
  }
  return q;
}
