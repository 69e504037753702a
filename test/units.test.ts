/** The pure stages on their own: config validation, policy, routing, SSE framing. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseConfig, ConfigError, jsonSchema } from '../src/config/index.ts';
import { Policy, type BackendFacts } from '../src/policy/index.ts';
import { Router } from '../src/routing/index.ts';
import { SseFramer, parseEvent } from '../src/checkpoint/sse.ts';

const EXAMPLE = `listen: { host: 127.0.0.1, port: 8787 }
store: { sqlite: ./data/sekisho.db }
tenant: { id: acme, name: ACME株式会社 }
backends:
  - id: tokyo-llm
    kind: openai
    url: http://127.0.0.1:9001/v1
    api_key_env: TOKYO_KEY
    models: [llm-jp-3]
    location: { country: JP, region: tokyo }
    operator: { name: 自社運用, jurisdictions: [JP] }
    contract: { no_training: true, retention_days: 0 }
  - id: us-frontier
    kind: openai
    url: http://127.0.0.1:9002/v1
    models: [frontier-1]
    location: { country: US }
    operator: { name: Example Inc., jurisdictions: [US] }
    contract: { no_training: false }
models:
  - { name: default, backends: [us-frontier, tokyo-llm] }
`;

function problems(yaml: string) {
  try {
    parseConfig(yaml, 'sekisho.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('config', () => {
  test('the issue example loads, with defaults filled in', () => {
    const { config } = parseConfig(EXAMPLE, '/etc/sekisho/sekisho.yaml');
    assert.equal(config.backends.length, 2);
    assert.equal(config.backends[0]!.kind, 'openai');
    assert.equal(config.limits.max_body_bytes, 1024 * 1024);
    assert.equal(config.models[0]!.strategy, 'priority');
  });

  test('errors name file, line, key path, what was found and what is expected, in ja and en', () => {
    const p = problems(EXAMPLE.replace('country: US', 'country: usa').replace('port: 8787', 'port: "80"'));
    const port = p.find((x) => x.key === 'listen.port')!;
    assert.equal(port.line, 1);
    assert.equal(port.found, '"80"');
    assert.match(port.en, /^sekisho\.yaml:1:\d+: listen\.port: found "80", expected a value of type number/);
    assert.match(port.ja, /数値/);
    const country = p.find((x) => x.key === 'backends[1].location.country')!;
    assert.equal(country.line, 17);
    assert.match(country.en, /found "usa"/);
  });

  test('unknown keys, bad references, duplicates and bad URLs are reported', () => {
    assert.match(problems(EXAMPLE.replace('tenant:', 'tennant: {id: x, name: y}\ntenant:'))[0]!.en, /unknown key\(s\) tennant/);
    const ref = problems(EXAMPLE.replace('backends: [us-frontier, tokyo-llm]', 'backends: [us-frontier, osaka]'))[0]!;
    assert.equal(ref.key, 'models[0].backends[1]');
    assert.equal(ref.line, 21);
    assert.match(ref.en, /found "osaka", expected the id of a backend defined under backends/);
    assert.match(problems(EXAMPLE.replace('id: us-frontier', 'id: tokyo-llm'))[0]!.en, /not used before/);
    assert.match(problems(EXAMPLE.replace('http://127.0.0.1:9002/v1', 'http://user:pw@127.0.0.1:9002/v1'))[0]!.en, /without credentials/);
    assert.match(problems(EXAMPLE.replace('http://127.0.0.1:9002/v1', 'file:///etc/passwd'))[0]!.en, /http:\/\/ or https:\/\//);
    assert.match(problems(EXAMPLE.replace('kind: openai', 'kind: magic'))[0]!.en, /kind/);
    assert.match(problems('listen: [\n')[0]!.en, /valid YAML/);
  });

  test('the JSON Schema comes from the same source and describes the keys', () => {
    const s = jsonSchema() as any;
    assert.equal(s.type, 'object');
    assert.ok(s.properties.backends);
    assert.ok(s.properties.policy);
    assert.deepEqual(s.required, ['tenant']);
  });
});

const jp: BackendFacts = {
  id: 'jp',
  approved: true,
  location: { country: 'JP', on_premises: false },
  operator: { name: 'JP Co', jurisdictions: ['JP'] },
  contract: { no_training: true, retention_days: 0, click_through: false },
};
const jpForeignParent: BackendFacts = { ...jp, id: 'jp-us-parent', operator: { name: 'US sub', jurisdictions: ['JP', 'US'] } };
const us: BackendFacts = { ...jp, id: 'us', location: { country: 'US', on_premises: false }, operator: { name: 'US', jurisdictions: ['US'] }, contract: { no_training: false, click_through: true } };
const onprem: BackendFacts = { ...jp, id: 'onprem', location: { country: 'JP', on_premises: true }, operator: { name: '自社', jurisdictions: ['JP', 'US'] } };

describe('policy', () => {
  const policy = new Policy([jp, jpForeignParent, us, onprem]);
  const decide = (level: any, extra: any = {}) => policy.decide({ level, principalMax: 'L4', candidates: ['us', 'jp-us-parent', 'jp', 'onprem'], ...extra });

  test('default levels follow DESIGN.md', () => {
    assert.deepEqual(decide('L0').compliant, ['us', 'jp-us-parent', 'jp', 'onprem']);
    assert.deepEqual(decide('L1').compliant, ['jp-us-parent', 'jp', 'onprem']);
    assert.deepEqual(decide('L2').compliant, ['jp-us-parent', 'jp', 'onprem']);
    // L3: the CLOUD Act reaches a JP server whose operator has a US parent.
    assert.deepEqual(decide('L3').compliant, ['jp', 'onprem']);
    assert.equal(decide('L4').action, 'block');
    assert.equal(policy.ceiling('us'), 'L0');
    assert.equal(policy.ceiling('jp-us-parent'), 'L2');
    assert.equal(policy.ceiling('jp'), 'L3');
  });

  test('flags raise the level or block', () => {
    const d = decide('L0', { flags: ['my_number'] });
    assert.equal(d.level, 'L3');
    assert.ok(d.levelReasons.some((r) => r.code === 'flag_raises_level'));
    assert.equal(decide('L0', { flags: ['personal'] }).level, 'L1');
    assert.equal(decide('L0', { flags: ['secret'] }).reason.code, 'flag_blocked');
  });

  test('the principal maximum caps the level', () => {
    assert.equal(decide('L3', { principalMax: 'L2' }).reason.code, 'level_above_principal_max');
  });

  test('a policy section overrides rules field by field; ISMAP expiry is honoured', () => {
    const p = new Policy([jp, { ...jp, id: 'ismap-old', ismap: { listed: true, expires: '2020-01-01' } }, { ...jp, id: 'ismap-ok', ismap: { listed: true, expires: '2999-01-01' } }], {
      levels: { L1: { require_ismap: true } },
      flags: { personal: 'L2' },
    });
    const d = p.decide({ level: 'L1', principalMax: 'L4', candidates: ['jp', 'ismap-old', 'ismap-ok'] });
    assert.deepEqual(d.compliant, ['ismap-ok']);
    assert.deepEqual(d.excluded.map((e) => e.reasons[0]!.code), ['not_ismap_listed', 'ismap_expired']);
    assert.equal(p.decide({ level: 'L0', flags: ['personal'], principalMax: 'L4', candidates: ['jp'] }).level, 'L2');
  });

  test('property: a compliant backend at a level satisfies every rule of that level', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('JP', 'US', 'DE'),
        fc.subarray(['JP', 'US', 'CN'], { minLength: 1 }),
        fc.boolean(),
        fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }),
        fc.boolean(),
        fc.constantFrom('L0', 'L1', 'L2', 'L3', 'L4'),
        (country, jurisdictions, noTraining, retention, onPrem, level) => {
          const b: BackendFacts = {
            id: 'b',
            approved: true,
            location: { country, on_premises: onPrem },
            operator: { name: 'x', jurisdictions },
            contract: { no_training: noTraining, click_through: false, ...(retention === undefined ? {} : { retention_days: retention }) },
          };
          const d = new Policy([b]).decide({ level: level as any, principalMax: 'L4', candidates: ['b'] });
          if (d.action !== 'allow') return;
          if (level !== 'L0') assert.equal(country, 'JP');
          if (level !== 'L0') assert.ok(noTraining);
          if (level === 'L3') assert.ok(onPrem || jurisdictions.every((j) => j === 'JP'));
          assert.notEqual(level, 'L4');
        },
      ),
    );
  });
});

describe('routing', () => {
  test('priority order; open circuits are skipped; half-open admits one probe', () => {
    let now = 0;
    const r = new Router({ failureThreshold: 2, openMs: 100, clock: () => now });
    const c = [
      { id: 'a', weight: 1 },
      { id: 'b', weight: 1 },
    ];
    assert.deepEqual(r.order(c, 'priority'), ['a', 'b']);
    r.failure('a');
    assert.deepEqual(r.order(c, 'priority'), ['a', 'b']);
    r.failure('a');
    assert.equal(r.state('a'), 'open');
    assert.deepEqual(r.order(c, 'priority'), ['b']);
    now = 150;
    assert.equal(r.state('a'), 'half-open');
    assert.ok(r.begin('a'));
    assert.equal(r.begin('a'), false, 'only one probe at a time');
    assert.deepEqual(r.order(c, 'priority'), ['b']);
    r.failure('a');
    assert.equal(r.state('a'), 'open', 'a failed probe opens it again');
    now = 300;
    assert.ok(r.begin('a'));
    r.success('a', 5);
    assert.equal(r.state('a'), 'closed');
  });

  test('latency prefers the fastest; weighted follows the weights', () => {
    const r = new Router({ failureThreshold: 3, openMs: 100 });
    r.success('slow', 50);
    r.success('fast', 5);
    assert.deepEqual(r.order([{ id: 'slow', weight: 1 }, { id: 'fast', weight: 1 }], 'latency'), ['fast', 'slow']);
    let seed = 1;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const w = new Router({ failureThreshold: 3, openMs: 100, random: rnd });
    let heavyFirst = 0;
    for (let i = 0; i < 2000; i++) if (w.order([{ id: 'light', weight: 1 }, { id: 'heavy', weight: 3 }], 'weighted')[0] === 'heavy') heavyFirst++;
    assert.ok(heavyFirst > 1300 && heavyFirst < 1700, `heavy first ${heavyFirst}/2000 (expected ~1500)`);
  });
});

describe('SSE framing', () => {
  const events = (s: string) => `data: {"a":"${s}"}\n\n`;
  test('events are cut whole wherever the chunks split, multi-byte characters included', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 8 }).map((s) => s.replace(/["\\\n\r]/g, '')), { minLength: 1, maxLength: 10 }), fc.array(fc.nat(), { maxLength: 12 }), (texts, cuts) => {
        const whole = Buffer.from(texts.map(events).join('') + 'data: [DONE]\n\n');
        const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
        const f = new SseFramer();
        const out: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, whole.length]) {
          out.push(...f.push(whole.subarray(prev, p)));
          prev = p;
        }
        assert.equal(Buffer.concat(out).toString('utf8'), whole.toString('utf8'));
        assert.equal(out.length, texts.length + 1);
        for (const e of out) assert.ok(parseEvent(e));
        assert.equal(f.rest(), '');
      }),
    );
  });

  test('garbage is recognised; comments, CRLF and [DONE] are fine', () => {
    assert.equal(parseEvent(Buffer.from('<html>\n\n')), undefined);
    assert.equal(parseEvent(Buffer.from('data: {broken\n\n')), undefined);
    assert.equal(parseEvent(Buffer.from('data: [1,2]\n\n')), undefined);
    assert.deepEqual(parseEvent(Buffer.from(': ping\r\n\r\n')), { done: false, data: [] });
    assert.equal(parseEvent(Buffer.from('data: [DONE]\n\n'))!.done, true);
    const f = new SseFramer(16);
    assert.throws(() => f.push(Buffer.from('x'.repeat(40))));
  });
});

test('the committed sekisho.schema.json is the generated one (run `npm run schema` after changing the config schema)', async () => {
  const fs = await import('node:fs');
  const committed = JSON.parse(fs.readFileSync(new URL('../sekisho.schema.json', import.meta.url), 'utf8'));
  assert.deepEqual(committed, JSON.parse(JSON.stringify(jsonSchema())));
});

test('the example configuration is valid', async () => {
  const fs = await import('node:fs');
  const text = fs.readFileSync(new URL('../sekisho.example.yaml', import.meta.url), 'utf8');
  const { config } = parseConfig(text, 'sekisho.example.yaml');
  assert.deepEqual(config.models[0]!.backends, ['us-frontier', 'tokyo-llm']);
});
