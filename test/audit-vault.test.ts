/**
 * Key access is accounted for in the audit log: the vault's events (its outbox table) reach the
 * transparency log as `vault.*` event leaves, the erasure one too — never the subject id itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, mocks, tokyoBackend } from './support/harness.ts';
import { decodeLeaf } from '../src/audit/leaf.ts';

async function eventually<T>(f: () => Promise<T | undefined> | T | undefined, ms = 8000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('vault key accesses and an erasure become audit log events', async () => {
  const [m] = await mocks({ name: 'tokyo' });
  const h = await startHarness({ backends: [tokyoBackend(m!.url)], models: [{ name: 'default', backends: ['tokyo-llm'] }] });
  try {
    const store = h.gw.core.store;
    const events = async () => {
      const out: { event: string; fields: Record<string, unknown>; raw: string }[] = [];
      const max = await store.audit.maxIndex();
      for (const e of (await store.audit.entries(0, max + 1))) {
        const leaf = decodeLeaf(e.data, e.idx) as { kind: string; event?: string; fields?: Record<string, unknown> };
        if (leaf.kind === 'event') out.push({ event: leaf.event!, fields: leaf.fields!, raw: e.data.toString('utf8') });
      }
      return out;
    };
    // the start unwrapped the tenant key: that access is in the log with its reason
    const access = await eventually(async () => (await events()).find((e) => e.event === 'vault.key_access' && e.fields.reason === 'startup'));
    assert.equal(typeof access.fields.event_id, 'number');
    const erased = await h.gw.core.vault.erase('employee-0042');
    const erasure = await eventually(async () => (await events()).find((e) => e.event === 'vault.erasure'));
    assert.equal(erasure.fields.subject_hash, erased.subjectHash);
    assert.ok(!(await events()).some((e) => e.raw.includes('employee-0042')), 'the subject id itself is never in the log');
    // each vault event is copied once
    const ids = (await events()).map((e) => e.fields.event_id).filter((x) => x !== undefined);
    assert.equal(new Set(ids).size, ids.length);
  } finally {
    await h.close();
    await m!.close();
  }
});
