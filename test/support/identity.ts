/** An identity service on a temporary SQLite store, without HTTP (unit and interop tests). */
import fs from 'node:fs';
import type { Store } from '../../src/store/index.ts';
import { Identity } from '../../src/config/schema.ts';
import { IdentityService, KeyRing, createOffer, validateClaims, vaultClaims, type ClaimsVault, type StaffClaims } from '../../src/identity/index.ts';
import { openTestVault } from './vault.ts';
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
  /** the vault-sealed claims store (the fixture's own file keystore) */
  claims: ClaimsVault;
  dir: string;
  clock: { now: number };
  /** Records a credential and issues it bound to `holderJwk`. */
  issue(holderJwk: Record<string, unknown>, claims?: Partial<StaffClaims>, ttlDays?: number): Promise<{ sdJwt: string; id: string }>;
  close(): Promise<void>;
}

export async function identityFixture(config: Record<string, unknown> = {}): Promise<Fixture> {
  const dir = tmpDir('sekisho-id-');
  const tv = await openTestVault({ dir });
  const store = tv.store;
  const claims = vaultClaims(tv.vault);
  const claimsVault = claims;
  const clock = { now: Date.now() };
  const svc = new IdentityService({ store, keys: await KeyRing.ephemeral(), claims, config: Identity.parse({ vp_response_mode: 'direct_post', ...config }), origin: ORIGIN, now: () => clock.now });
  return {
    svc,
    store,
    claims,
    dir,
    clock,
    async issue(holderJwk, claims = {}, ttlDays = 30) {
      const o = await createOffer(store, ORIGIN, claimsVault, { ...CLAIMS, ...claims }, { credentialTtlDays: ttlDays, offerTtlS: 600, now: new Date(clock.now) });
      const row = (await store.identity.credential(o.credentialId))!;
      return { sdJwt: await svc.vci.issue(row, holderJwk as never, clock.now), id: o.credentialId };
    },
    async close() {
      svc.close();
      await tv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
