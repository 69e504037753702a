/**
 * Key access is accounted for in the log: the vault writes every key access, erasure and
 * rotation to its event table (an outbox, also when `sekisho keys|erase` runs in another
 * process); the serving process copies new rows into the audit log as `vault.<kind>` events,
 * in id order, and remembers how far it got. Delivery is at least once: a crash between the
 * append and the cursor update repeats an event, which its `event_id` identifies.
 * Events carry metadata only (reason, purpose, versions, subject HMACs, counts).
 */
import type { Store } from '../store/index.js';
import type { Logger } from '../ops/log.js';
import type { AuditLog } from './log.js';

const SOURCE = 'vault_events';
const BATCH = 256;

export class VaultEventImporter {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly log: Logger,
    pollMs = 1000,
  ) {
    this.timer = setInterval(() => void this.tick(), pollMs);
    this.timer.unref();
    void this.tick();
  }

  /** Copies what is new; one run at a time. */
  tick(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.running ??= this.copy()
      .catch((e) => this.log.error({ err: (e as Error).message }, 'audit: vault events not copied; will retry'))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async copy(): Promise<void> {
    // Several nodes: only the integrator copies (one copier, so each event goes in once).
    if (this.store.cluster && !this.store.cluster.leader) return;
    let after = await this.store.audit.importCursor(SOURCE);
    for (;;) {
      const rows = await this.store.vault.eventsAfter(after, BATCH);
      if (rows.length === 0) return;
      for (const r of rows) {
        await this.audit.appendEvent(`vault.${r.kind}`, {
          event_id: r.id,
          event_ts: r.ts,
          reason: r.reason,
          purpose: r.purpose,
          key_version: r.key_version,
          subject_hash: r.subject_hash ? r.subject_hash.toString('hex') : null,
          // metadata as the vault wrote it (JSON: ids, counts), bounded like every event field
          detail: r.detail.length <= 512 ? r.detail : r.detail.slice(0, 511) + '…',
        });
        after = r.id;
        await this.store.audit.setImportCursor(SOURCE, after);
      }
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.tick();
    this.closed = true;
  }
}
