/**
 * Departments for the adoption numbers, without department names in the database: records and
 * credential rows keep a pseudonym (an HMAC under the vault's subject-index secret, like the
 * employee-id pseudonym), and the names behind the pseudonyms are one record sealed by the
 * vault under the tenant key (`console:departments`), read once at start. A new name is added
 * to that record when first seen (issuing a credential, or a request from a person of another
 * issuer).
 */
import type { Vault } from '../vault/index.js';
import { departmentPseudonym } from '../identity/claims-vault.js';
import type { Logger } from '../ops/log.js';

const RECORD = { id: 'console:departments', purpose: 'console.departments' };

export class Departments {
  private readonly byName = new Map<string, string>();
  private readonly names = new Map<string, string>();
  private saving = false;
  private dirty = false;

  constructor(
    private readonly vault: Vault,
    private readonly log?: Logger,
  ) {
    try {
      const pt = vault.read(RECORD.id, 'startup');
      if (pt) {
        for (const [p, n] of Object.entries(JSON.parse(pt.toString('utf8')) as Record<string, string>)) this.names.set(p, n);
        pt.fill(0);
      }
    } catch (e) {
      log?.error({ err: (e as Error).message }, 'console: department names cannot be read');
    }
  }

  /** The stored form of a department name ('' stays ''); remembers the name. */
  pseudonym(name: string): string {
    if (!name) return '';
    let p = this.byName.get(name);
    if (p === undefined) {
      p = departmentPseudonym(this.vault, name);
      if (this.byName.size < 10_000) this.byName.set(name, p);
      if (!this.names.has(p)) {
        this.names.set(p, name);
        this.dirty = true;
        setImmediate(() => this.save());
      }
    }
    return p;
  }

  /** The name behind a stored department ('' for none; the pseudonym itself when unknown). */
  name(stored: string): string {
    if (!stored) return '';
    return this.names.get(stored) ?? stored;
  }

  private save(): void {
    if (this.saving || !this.dirty) return;
    this.saving = true;
    this.dirty = false;
    try {
      const row = this.vault.seal(RECORD, Buffer.from(JSON.stringify(Object.fromEntries(this.names)), 'utf8'));
      this.vault.store.putRecords([row]);
    } catch (e) {
      this.dirty = true;
      this.log?.error({ err: (e as Error).message }, 'console: department names not saved');
    } finally {
      this.saving = false;
    }
  }
}
