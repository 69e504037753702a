/** An identity service on a temporary SQLite store, without HTTP (unit and interop tests). */
import fs from 'node:fs';
import path from 'node:path';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import { Identity } from '../../src/config/schema.ts';
import { IdentityService, KeyRing, createOffer, validateClaims, type StaffClaims } from '../../src/identity/index.ts';
import { tmpDir } from './harness.ts';

export const ORIGIN = 'https://sekisho.example.jp';

export const CLAIMS: StaffClaims = validateClaims({
  name: '佐藤 一郎',
  employee_id: 'E2001',
  department: '情報システム部',
  role: 'engineer',
  clearance: 'L3',
  trainings: [
    { id: 'ai-security-basic', date: '2026-09-01' },
    { id: 'medical-info-security', date: '2026-09-15' },
  ],
});

export interface Fixture {
  svc: IdentityService;
  store: Store;
  dir: string;
  clock: { now: number };
  /** Records a credential and issues it bound to `holderJwk`. */
  issue(holderJwk: Record<string, unknown>, claims?: Partial<StaffClaims>, ttlDays?: number): Promise<{ sdJwt: string; id: string }>;
  close(): void;
}

export async function identityFixture(config: Record<string, unknown> = {}): Promise<Fixture> {
  const dir = tmpDir('sekisho-id-');
  const store = openSqliteStore(path.join(dir, 'db.sqlite'));
  const clock = { now: Date.now() };
  const svc = new IdentityService({ store, keys: await KeyRing.ephemeral(), config: Identity.parse({ vp_response_mode: 'direct_post', ...config }), origin: ORIGIN, now: () => clock.now });
  return {
    svc,
    store,
    dir,
    clock,
    async issue(holderJwk, claims = {}, ttlDays = 30) {
      const o = createOffer(store, ORIGIN, { ...CLAIMS, ...claims }, { credentialTtlDays: ttlDays, offerTtlS: 600, now: new Date(clock.now) });
      const row = store.identity.credential(o.credentialId)!;
      return { sdJwt: await svc.vci.issue(row, holderJwk as never, clock.now), id: o.credentialId };
    },
    close() {
      svc.close();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
