/**
 * Cedar policy packs: every example case beside every pack passes; the decide stage asks
 * Cedar per (principal attributes, level, flags, backend) and caches the answer.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { runExamples, exampleBackends, guardPrincipal } from '../src/policy/cedar/examples.ts';
import { CedarGuard, PACKS } from '../src/policy/cedar/index.ts';
import { Policy } from '../src/policy/index.ts';

describe('policy packs and their examples', () => {
  for (const pack of PACKS) {
    test(`${pack}: every example passes`, async () => {
      const results = await runExamples(pack);
      assert.ok(results.length >= 5);
      for (const r of results) assert.ok(r.ok, `${pack}: ${r.case.name}: ${r.problem}`);
    });
  }
});

describe('Cedar in the decide stage', () => {
  const trained = guardPrincipal({ kind: 'person', clearance: 'L3', trainings: ['ai-security-basic'] });
  const untrained = guardPrincipal({ kind: 'person', clearance: 'L3', trainings: [] });

  test('a training-less person is blocked at L2 with the training named; the residency reasons stay the table\'s', async () => {
    const backends = exampleBackends();
    const policy = new Policy(backends, {}, undefined, await CedarGuard.load('default', backends));
    const d = policy.decide({ level: 'L2', principalMax: 'L3', candidates: ['us-frontier', 'jp-domestic'], principal: untrained });
    assert.equal(d.action, 'block');
    assert.equal(d.reason.code, 'training_required');
    assert.equal(d.reason.training, 'ai-security-basic');
    const us = d.excluded.find((e) => e.backend === 'us-frontier')!;
    // the table's detailed message, not duplicated by Cedar's rule of the same code
    assert.equal(us.reasons.filter((r) => r.code === 'location_not_allowed').length, 1);
    assert.equal(us.reasons.find((r) => r.code === 'location_not_allowed')!.policy, undefined);
    const ok = policy.decide({ level: 'L2', principalMax: 'L3', candidates: ['us-frontier', 'jp-domestic'], principal: trained });
    assert.equal(ok.action, 'allow');
    assert.deepEqual(ok.compliant, ['jp-domestic']);
  });

  test('decisions are cached by (attribute hash, level, flags, backend, policy version)', async () => {
    const backends = exampleBackends();
    const guard = await CedarGuard.load('default', backends);
    const a = guard.check(trained, 'L2', [], 'jp-domestic', '2026-12-01');
    assert.equal(guard.check(trained, 'L2', [], 'jp-domestic', '2026-12-01'), a, 'the same array: served from the cache');
    assert.match(guard.version, /^[\w-]{12}$/);
    const other = await CedarGuard.load('finance', backends);
    assert.notEqual(other.version, guard.version);
  });

  test('explain names the determining policies, in ja and en', async () => {
    const guard = await CedarGuard.load('government', exampleBackends());
    const e = guard.explain(trained, 'L3', [], 'jp-domestic', '2026-12-01');
    assert.equal(e.decision, 'deny');
    const ex = e.exclusions.find((x) => x.code === 'confidentiality3_on_premises_only')!;
    assert.match(ex.ja, /オンプレミス/);
    assert.match(ex.en, /premises/);
    const allow = guard.explain(trained, 'L0', [], 'onprem', '2026-12-01');
    assert.equal(allow.decision, 'allow');
    assert.deepEqual(allow.policies.map((p) => p.id), ['invoke']);
  });
});

test("a tenant's policy.levels relaxation is not denied again by the default pack; pack rules still apply", async () => {
  const backends = exampleBackends();
  const trained = guardPrincipal({ kind: 'person', clearance: 'L3', trainings: ['ai-security-basic'] });
  const levels = { L1: { countries: ['JP', 'US'], require_no_training: false } };
  const relaxed = new Policy(backends, { levels } as never, undefined, await CedarGuard.load('default', backends, undefined, { levelsFromConfig: true }));
  const d = relaxed.decide({ level: 'L1', principalMax: 'L3', candidates: ['us-frontier'], principal: trained });
  assert.equal(d.action, 'allow', JSON.stringify(d.excluded));
  // without the option (DESIGN.md's rules in Cedar), the same request is denied
  const strict = new Policy(backends, { levels } as never, undefined, await CedarGuard.load('default', backends));
  assert.equal(strict.decide({ level: 'L1', principalMax: 'L3', candidates: ['us-frontier'], principal: trained }).action, 'block');
  // the principal rules (training for L2) stay
  const untrained = guardPrincipal({ kind: 'person', clearance: 'L3', trainings: [] });
  assert.equal(relaxed.decide({ level: 'L2', principalMax: 'L3', candidates: ['jp-domestic'], principal: untrained }).reason.code, 'training_required');
});
