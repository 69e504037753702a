/**
 * deploy/: the Helm chart renders for its default values and the Tokyo and Osaka examples, every
 * manifest validates against the Kubernetes API schemas (kubernetes-models: the OpenAPI schemas
 * as validators, and their TypeScript types for unknown fields), and the policy properties hold:
 * egress only to the configured destinations, no secret in a ConfigMap, non-root pods. Also the
 * systemd unit (systemd-analyze), the Containerfile (dockerfile-utils), the guides, and
 * `sekisho config networkpolicy`.
 *
 * No helm here (not packaged for Debian; nothing else can be downloaded): the chart is rendered by
 * test/support/helm-lite.ts. Where helm is on PATH, it renders too and both must agree.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import AjvModule from 'ajv';
import ts from 'typescript';
import YAML from 'yaml';
import { renderChart, documents, parseYaml11, readYaml, mergeValues, goFloat, goQuote, toYaml, type Rendered, TemplateError } from './support/helm-lite.ts';
import { egressEndpoints, egressValuesYaml, egressSystemdDropIn, type EgressEndpoint } from '../src/config/egress.ts';
import { Config, loadConfig } from '../src/config/index.ts';

const require = createRequire(import.meta.url);
const Ajv = (AjvModule as unknown as { default?: typeof AjvModule }).default ?? AjvModule;

const CHART = path.resolve('deploy/helm/sekisho');
const BIN = path.resolve('bin/sekisho.js');
type Doc = Record<string, any>;

/** The variants every property is checked on: chart defaults, the two sites, Osaka while on standby, an HSM keystore. */
const VARIANTS: Record<string, { files: string[]; values?: Record<string, unknown>[] }> = {
  default: { files: [] },
  tokyo: { files: [path.join(CHART, 'values-tokyo.yaml')] },
  osaka: { files: [path.join(CHART, 'values-osaka.yaml')] },
  'osaka-standby': {
    files: [path.join(CHART, 'values-osaka.yaml')],
    values: [{ replicaCount: 0, autoscaling: { enabled: false }, podDisruptionBudget: { enabled: false } }],
  },
  pkcs11: {
    files: [],
    values: [
      {
        vault: { keystore: { kind: 'pkcs11', pkcs11: { library: '/opt/hsm/lib/libpkcs11.so', tokenLabel: 'sekisho', keyLabel: 'sekisho-kek', pinSecret: { name: 'sekisho-hsm-pin', key: 'pin' } } } },
        networkPolicy: { egress: { extra: [{ name: 'network-hsm', cidrs: ['10.10.6.0/29'], ports: [1792] }] } },
      },
    ],
  },
};

const rendered = new Map<string, { r: Rendered; docs: { source: string; doc: Doc }[] }>();
const byKind = (name: string, kind: string): Doc[] => rendered.get(name)!.docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
const one = (name: string, kind: string): Doc => {
  const all = byKind(name, kind);
  assert.equal(all.length, 1, `${name}: one ${kind}`);
  return all[0]!;
};
const container = (name: string): Doc => one(name, 'Deployment').spec.template.spec.containers[0];
const gatewayConfig = (name: string): Doc => parseYaml11(one(name, 'ConfigMap').data['sekisho.yaml'], `${name} sekisho.yaml`) as Doc;

before(() => {
  for (const [name, v] of Object.entries(VARIANTS)) {
    const r = renderChart(CHART, { valuesFiles: v.files, ...(v.values ? { values: v.values } : {}) });
    rendered.set(name, { r, docs: documents(r) as { source: string; doc: Doc }[] });
  }
});

describe('helm-lite follows Go template semantics', () => {
  test('numbers, quoting and YAML as Go and Sprig write them', () => {
    assert.equal(goFloat(8787), '8787');
    assert.equal(goFloat(1_000_000), '1e+06');
    assert.equal(goFloat(1_234_567), '1.234567e+06');
    assert.equal(goFloat(0.5), '0.5');
    assert.equal(goFloat(0.00001), '1e-05');
    assert.equal(goQuote('東京 "a"\n'), '"東京 \\"a\\"\\n"');
    assert.equal(toYaml({ b: 'on', a: ['yes', 1, '0400'] }), 'a:\n- "yes"\n- 1\n- "0400"\nb: "on"');
  });

  test('templates: trim markers, default, quote of nil, range over a map, variables, float64 vs int', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helm-lite-'));
    fs.mkdirSync(path.join(dir, 'templates'));
    fs.writeFileSync(path.join(dir, 'Chart.yaml'), 'apiVersion: v2\nname: t\nversion: 1.0.0\nappVersion: "2"\n');
    fs.writeFileSync(path.join(dir, 'values.yaml'), 'num: 3\nb: false\nm: { z: 1, a: 2 }\nl: [p, q]\n');
    const render = (tpl: string, values?: Record<string, unknown>) => {
      fs.writeFileSync(path.join(dir, 'templates', 'x.yaml'), tpl);
      return renderChart(dir, values ? { values: [values] } : {}).manifests.get('templates/x.yaml') ?? '';
    };
    assert.equal(render('a: {{ .Values.num }}\nb:   {{- " x" }}\nc: {{ "y" -}}   \n  z'), 'a: 3\nb: x\nc: yz');
    assert.equal(render('{{ default true .Values.b }} {{ quote .Values.missing }}| {{ .Values.missing }}|'), 'true | |');
    assert.equal(render('{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}{{ range .Values.l }}{{ . }}{{ end }}'), 'a=2;z=1;pq');
    assert.equal(render('{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }} {{ len .Values.l | printf "%d" }} {{ int .Values.num | printf "%d" }}'), '2 2 3');
    assert.equal(render('{{ .Chart.Name }}-{{ .Chart.AppVersion }} {{ .Release.Name }} {{ .Template.Name }}'), 't-2 sekisho t/templates/x.yaml');
    assert.throws(() => render('{{ if eq .Values.num 3 }}x{{ end }}'), /incompatible types for comparison/);
    assert.throws(() => render('{{ nindent .Values.num "x" }}'), /expected int; got float64/);
    assert.throws(() => render('{{ .Values.missing.deeper }}'), /nil pointer evaluating interface \{\}\.deeper/);
    assert.throws(() => render('{{ tpl "x" . }}'), /not defined/);
    assert.throws(() => render('{{ .Release.Nope }}'), /can't evaluate field Nope/);
    assert.equal(render('{{ if eq .Values.missing "x" }}y{{ else }}n{{ end }}'), 'n');
    assert.equal(render('{{ .Values.num }}', { num: 1_000_000 }), '1e+06');
    // YAML 1.1 as go-yaml v2 reads values: n, y and on are booleans, dates stay strings.
    assert.deepEqual(parseYaml11('n: 1\nl: [x, y, on, "y"]\nd: 2027-03-31\no: 0440\n', 'test'), { false: 1, l: ['x', true, true, 'y'], d: '2027-03-31', o: 288 });
    assert.equal(render('{{- define "d" -}}[{{ . }}]{{- end -}}{{ include "d" "v" | upper }}'), '[V]');
  });
});

describe('Helm chart: values', () => {
  const schema = JSON.parse(fs.readFileSync(path.join(CHART, 'values.schema.json'), 'utf8'));
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  const merged = (name: string, extra: Record<string, unknown>[] = []) => {
    const v = VARIANTS[name]!;
    let values = readYaml(path.join(CHART, 'values.yaml'));
    for (const f of v.files) values = mergeValues(values, readYaml(f));
    for (const x of [...(v.values ?? []), ...extra]) values = mergeValues(values, x);
    return values;
  };

  test('the defaults, the Tokyo and Osaka examples and the other variants fit values.schema.json', () => {
    for (const name of Object.keys(VARIANTS)) {
      assert.ok(validate(merged(name)), `${name}: ${ajv.errorsText(validate.errors)}`);
    }
  });

  test('values.schema.json refuses secrets in values, open egress and root', () => {
    const refused: [string, Record<string, unknown>][] = [
      ['a password in the PostgreSQL URL', { postgres: { url: 'postgres://sekisho:hunter2@db:5432/sekisho' } }],
      ['a password parameter in the PostgreSQL URL', { postgres: { url: 'postgres://sekisho@db/sekisho?password=hunter2' } }],
      ['a password in the Redis URL', { redis: { url: 'redis://:hunter2@redis:6379/0' } }],
      ['a user in the Redis URL', { redis: { url: 'redis://sekisho@redis:6379/0' } }],
      ['a Redis prefix the gateway refuses', { redis: { prefix: 'sekisho:acme:' } }],
      ['the passphrase as a plain variable', { env: [{ name: 'SEKISHO_VAULT_PASSPHRASE', value: 'hunter2hunter2' }] }],
      ['the database password as a plain variable', { env: [{ name: 'PGPASSWORD', value: 'hunter2' }] }],
      ['store in config (the chart writes it)', { config: { tenant: { id: 'a', name: 'A' }, store: { sqlite: '/x' } } }],
      ['vault in config (the chart writes it)', { config: { tenant: { id: 'a', name: 'A' }, vault: { keystore: { kind: 'file' } } } }],
      ['egress to the whole Internet', { networkPolicy: { egress: { backends: [{ name: 'any', cidrs: ['0.0.0.0/0'], ports: [443] }] } } }],
      ['an egress entry without destination', { networkPolicy: { egress: { backends: [{ name: 'x', cidrs: [], ports: [443] }] } } }],
      ['an egress entry without ports', { networkPolicy: { egress: { extra: [{ name: 'x', cidrs: ['10.0.0.1/32'], ports: [] }] } } }],
      ['egress to every namespace', { networkPolicy: { egress: { redis: { selectors: [{ namespaceSelector: {} }], ports: [6379] } } } }],
      ['root', { securityContext: { runAsUser: 0, runAsGroup: 0 } }],
      ['a privileged port', { containerPort: 80 }],
      ['no identity keys while identity is on', { identity: { keysSecret: { name: '', key: 'identity.json' } } }],
      ['both PDB bounds', { podDisruptionBudget: { enabled: true, maxUnavailable: 1, minAvailable: 2 } }],
      ['an external keystore without URL', { vault: { keystore: { kind: 'external', external: { url: '', keyIds: [], allowedHosts: [], timeoutMs: 2000, tokenSecret: { name: '', key: 'token' } } } } }],
      ['an unknown key', { replicas: 3 }],
    ];
    for (const [what, extra] of refused) assert.equal(validate(merged('default', [extra])), false, `refused: ${what}`);
    assert.ok(validate(merged('default', [{ config: { tenant: { id: 'a', name: 'A' }, identity: { enabled: false } }, identity: { keysSecret: { name: '', key: 'identity.json' } } }])), 'identity off needs no keys');
  });
});

describe('Helm chart: rendered manifests', () => {
  test('each variant renders the expected objects', () => {
    const kinds = (name: string) => rendered.get(name)!.docs.map((d) => d.doc.kind).sort().join(',');
    const all = 'ConfigMap,Deployment,HorizontalPodAutoscaler,NetworkPolicy,PodDisruptionBudget,Service,ServiceAccount';
    for (const name of ['default', 'tokyo', 'osaka', 'pkcs11']) assert.equal(kinds(name), all, name);
    assert.equal(kinds('osaka-standby'), 'ConfigMap,Deployment,NetworkPolicy,Service,ServiceAccount');
    assert.equal(one('osaka-standby', 'Deployment').spec.replicas, 0);
    assert.equal(one('tokyo', 'Deployment').spec.replicas, undefined, 'the HPA owns the replica count');
    assert.match(rendered.get('tokyo')!.r.notes, /Egress is limited to DNS, 3 backend entries/);
  });

  test('every manifest validates against the Kubernetes OpenAPI schemas (kubernetes-models)', async () => {
    const modules: Record<string, string> = {
      'v1/ConfigMap': 'v1/ConfigMap',
      'v1/Service': 'v1/Service',
      'v1/ServiceAccount': 'v1/ServiceAccount',
      'apps/v1/Deployment': 'apps/v1/Deployment',
      'autoscaling/v2/HorizontalPodAutoscaler': 'autoscaling/v2/HorizontalPodAutoscaler',
      'policy/v1/PodDisruptionBudget': 'policy/v1/PodDisruptionBudget',
      'networking.k8s.io/v1/NetworkPolicy': 'networking.k8s.io/v1/NetworkPolicy',
    };
    let n = 0;
    for (const [name, { docs }] of rendered) {
      for (const { source, doc } of docs) {
        const mod = modules[`${doc.apiVersion}/${doc.kind}`];
        assert.ok(mod, `${name} ${source}: no schema for ${doc.apiVersion} ${doc.kind}`);
        const Model = (await import(`kubernetes-models/${mod}`))[doc.kind] as new (d: unknown) => { validate(): void };
        assert.doesNotThrow(() => new Model(doc).validate(), `${name} ${source}`);
        assert.match(doc.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a DNS-1123 name');
        n++;
      }
    }
    assert.ok(n >= 30);
    // The validators do find mistakes.
    const { Deployment } = await import('kubernetes-models/apps/v1/Deployment');
    const bad = structuredClone(one('tokyo', 'Deployment'));
    bad.spec.template.spec.containers[0].ports[0].containerPort = '8787';
    assert.throws(() => new Deployment(bad).validate(), /containerPort must be integer/);
  });

  test('no unknown fields: every manifest type-checks against the Kubernetes API types', () => {
    const types: Record<string, [string, string]> = {
      ConfigMap: ['v1/ConfigMap', 'IConfigMap'],
      Service: ['v1/Service', 'IService'],
      ServiceAccount: ['v1/ServiceAccount', 'IServiceAccount'],
      Deployment: ['apps/v1/Deployment', 'IDeployment'],
      HorizontalPodAutoscaler: ['autoscaling/v2/HorizontalPodAutoscaler', 'IHorizontalPodAutoscaler'],
      PodDisruptionBudget: ['policy/v1/PodDisruptionBudget', 'IPodDisruptionBudget'],
      NetworkPolicy: ['networking.k8s.io/v1/NetworkPolicy', 'INetworkPolicy'],
    };
    const check = (docs: { label: string; doc: Doc }[]) => {
      let src = Object.values(types).map(([m, t]) => `import type { ${t} } from 'kubernetes-models/${m}';`).join('\n') + '\n';
      const starts: { line: number; label: string }[] = [];
      docs.forEach(({ label, doc }, i) => {
        starts.push({ line: src.split('\n').length - 1, label });
        src += `export const m${i}: ${types[doc.kind]![1]} = ${JSON.stringify(doc, null, 1)};\n`;
      });
      const file = path.resolve('test', '__k8s_manifests__.ts');
      const options: ts.CompilerOptions = { strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true, types: [], lib: ['lib.es2022.d.ts'] };
      const host = ts.createCompilerHost(options);
      const getSourceFile = host.getSourceFile.bind(host);
      const fileExists = host.fileExists.bind(host);
      host.getSourceFile = (f, lang, ...rest) => (path.resolve(f) === file ? ts.createSourceFile(f, src, lang) : getSourceFile(f, lang, ...rest));
      host.fileExists = (f) => path.resolve(f) === file || fileExists(f);
      const program = ts.createProgram([file], options, host);
      return ts.getPreEmitDiagnostics(program).map((d) => {
        const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
        const at = [...starts].reverse().find((s) => s.line <= line);
        return `${at?.label ?? '?'}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
      });
    };
    const seen = new Set<string>();
    const all = [...rendered].flatMap(([name, { docs }]) => docs.map(({ source, doc }) => ({ label: `${name} ${source}`, doc }))).filter(({ doc }) => !seen.has(JSON.stringify(doc)) && !!seen.add(JSON.stringify(doc)));
    assert.deepEqual(check(all), []);
    // The check does find an unknown field.
    const typo = structuredClone(one('default', 'Deployment'));
    typo.spec.template.spec.containers[0].readinessProbes = typo.spec.template.spec.containers[0].readinessProbe;
    assert.match(check([{ label: 'typo', doc: typo }]).join('\n'), /readinessProbes/);
  });

  test('pods run as non-root with a read-only root file system and no privileges', () => {
    for (const name of rendered.keys()) {
      const pod = one(name, 'Deployment').spec.template.spec;
      const c = container(name);
      assert.equal(pod.securityContext.runAsNonRoot, true, name);
      assert.ok(pod.securityContext.runAsUser > 0 && pod.securityContext.runAsGroup > 0, name);
      assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
      assert.equal(pod.automountServiceAccountToken, false);
      assert.ok(!pod.hostNetwork && !pod.hostPID && !pod.hostIPC);
      assert.ok(pod.volumes.every((v: Doc) => !v.hostPath), 'no hostPath');
      assert.equal(pod.containers.length, 1);
      assert.deepEqual(
        { nonRoot: c.securityContext.runAsNonRoot, ro: c.securityContext.readOnlyRootFilesystem, esc: c.securityContext.allowPrivilegeEscalation, priv: c.securityContext.privileged, drop: c.securityContext.capabilities.drop, add: c.securityContext.capabilities.add },
        { nonRoot: true, ro: true, esc: false, priv: false, drop: ['ALL'], add: undefined },
        name,
      );
      for (const k of ['requests', 'limits']) assert.ok(c.resources[k].cpu && c.resources[k].memory, `${name}: resources.${k}`);
      assert.deepEqual([c.livenessProbe.httpGet.path, c.readinessProbe.httpGet.path, c.startupProbe.httpGet.path], ['/healthz', '/readyz', '/healthz']);
      assert.ok([c.livenessProbe, c.readinessProbe, c.startupProbe].every((p: Doc) => p.httpGet.port === 'http'));
      const writable = c.volumeMounts.filter((m: Doc) => !m.readOnly).map((m: Doc) => m.mountPath).sort();
      assert.deepEqual(writable, ['/tmp', '/var/lib/sekisho'], `${name}: only data_dir and /tmp are writable`);
      const sa = byKind(name, 'ServiceAccount');
      assert.ok(sa.every((s) => s.automountServiceAccountToken === false));
    }
  });

  test('the objects fit together: ports, selectors, the HPA target, the config checksum', () => {
    for (const name of rendered.keys()) {
      const dep = one(name, 'Deployment');
      const labels = dep.spec.template.metadata.labels;
      const matches = (sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);
      assert.ok(matches(dep.spec.selector.matchLabels));
      assert.ok(matches(one(name, 'Service').spec.selector));
      assert.ok(matches(one(name, 'NetworkPolicy').spec.podSelector.matchLabels));
      for (const pdb of byKind(name, 'PodDisruptionBudget')) assert.ok(matches(pdb.spec.selector.matchLabels));
      for (const hpa of byKind(name, 'HorizontalPodAutoscaler')) assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: dep.metadata.name });
      const cfg = gatewayConfig(name);
      const port = container(name).ports.find((p: Doc) => p.name === 'http');
      assert.equal(cfg.listen.port, port.containerPort);
      assert.equal(one(name, 'Service').spec.ports[0].targetPort, 'http');
      assert.match(dep.spec.template.metadata.annotations['checksum/config'], /^[0-9a-f]{64}$/);
      const mounts = Object.fromEntries(container(name).volumeMounts.map((m: Doc) => [m.name, m.mountPath]));
      assert.equal(mounts.config, path.dirname(container(name).env.find((e: Doc) => e.name === 'SEKISHO_CONFIG').value));
      if (cfg.vault.keystore.kind === 'file') assert.equal(path.dirname(cfg.vault.keystore.path), mounts.keyfile);
      assert.equal(mounts.data, cfg.data_dir);
      assert.ok(dep.spec.template.spec.terminationGracePeriodSeconds * 1000 >= (cfg.limits?.shutdown_grace_ms ?? 30_000) + 5000, 'the grace period covers the drain');
    }
    const standby = one('osaka-standby', 'Deployment').spec.template.metadata.annotations['checksum/config'];
    assert.equal(standby, one('osaka', 'Deployment').spec.template.metadata.annotations['checksum/config'], 'scaling does not change the configuration');
    assert.notEqual(standby, one('tokyo', 'Deployment').spec.template.metadata.annotations['checksum/config']);
  });

  test('the rendered sekisho.yaml is a valid gateway configuration', () => {
    const shape = (Config as unknown as { shape: Record<string, unknown> }).shape;
    const knowsRedis = 'redis' in shape;
    const knowsPostgres = Config.safeParse({ tenant: { id: 'a', name: 'A' }, store: { postgres: 'postgres://x@y/z' } }).success;
    for (const name of rendered.keys()) {
      const cfg = gatewayConfig(name);
      assert.match(cfg.store.postgres, /^postgres(ql)?:\/\//);
      assert.match(cfg.redis.url, /^rediss?:\/\/[^@]+$/);
      // Until the PostgreSQL and Redis stores land on this branch, their keys are checked above and left out here.
      const loadable = structuredClone(cfg);
      if (!knowsPostgres) loadable.store = {};
      if (!knowsRedis) delete loadable.redis;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sekisho-chart-'));
      fs.writeFileSync(path.join(dir, 'sekisho.yaml'), YAML.stringify(loadable));
      const loaded = loadConfig(path.join(dir, 'sekisho.yaml'));
      assert.equal(loaded.config.listen.host, '0.0.0.0');
      // Every environment variable the configuration names is set in the container.
      const env = new Set(container(name).env.map((e: Doc) => e.name));
      const ks = loaded.config.vault.keystore;
      const named = [ks.kind === 'file' ? ks.passphrase_env : ks.kind === 'pkcs11' ? ks.pin_env : ks.token_env, cfg.redis.password_env, ...loaded.config.backends.flatMap((b) => (b.kind === 'openai' && b.api_key_env ? [b.api_key_env] : []))];
      for (const v of named) if (v) assert.ok(env.has(v), `${name}: ${v} is set`);
      if (one(name, 'Deployment').spec.template.spec.volumes.some((v: Doc) => v.name === 'identity')) assert.ok(loaded.config.identity.enabled);
    }
  });

  test('egress: exactly DNS, the configured backends, PostgreSQL, Redis and the extra entries', () => {
    for (const [name, { r }] of rendered) {
      const np = one(name, 'NetworkPolicy');
      assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
      assert.deepEqual(np.spec.ingress.map((i: Doc) => i.ports), [[{ port: 'http', protocol: 'TCP' }]], 'ingress only to the gateway port');
      const eg = (r.values as Doc).networkPolicy.egress;
      const expected: Doc[] = [];
      if (eg.dns.enabled) expected.push({ to: [{ namespaceSelector: eg.dns.namespaceSelector, podSelector: eg.dns.podSelector }], ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] });
      for (const e of [...eg.backends, eg.postgres, eg.redis, ...eg.extra]) {
        const to = [...(e.cidrs ?? []).map((cidr: string) => ({ ipBlock: { cidr } })), ...(e.selectors ?? [])];
        if (to.length) expected.push({ to, ports: e.ports.map((port: number) => ({ port, protocol: 'TCP' })) });
      }
      assert.deepEqual(np.spec.egress, expected, name);
      for (const rule of np.spec.egress) {
        assert.ok(rule.to?.length > 0 && rule.ports?.length > 0, `${name}: no rule without destination or port`);
        for (const peer of rule.to) {
          if (peer.ipBlock) assert.ok(!/\/0$/.test(peer.ipBlock.cidr) && !peer.ipBlock.except, `${name}: ${peer.ipBlock.cidr}`);
          for (const s of ['namespaceSelector', 'podSelector']) if (s in peer) assert.ok(Object.keys(peer[s]).length > 0, `${name}: no empty ${s}`);
        }
      }
    }
    // An entry left without destinations gives no rule (a rule without `to` would allow everything).
    const r = renderChart(CHART, { values: [{ networkPolicy: { egress: { dns: { enabled: false }, postgres: { cidrs: [], selectors: [], ports: [5432] }, redis: { cidrs: [], selectors: [], ports: [6379] } } } }] });
    assert.deepEqual(documents(r).find((d) => d.doc.kind === 'NetworkPolicy')!.doc.spec.egress, []);
  });

  test('the site examples allow every destination their sekisho.yaml names, and Osaka never reaches Tokyo\'s database', () => {
    const endpoints = (name: string): EgressEndpoint[] => {
      const cfg = gatewayConfig(name);
      const { redis: _redis, store: _store, ...rest } = cfg;
      const parsed = Config.parse(rest) as Config & Doc;
      return egressEndpoints(Object.assign(parsed, { store: cfg.store, redis: cfg.redis }));
    };
    const allows = (name: string, host: string, port: number) => {
      const rules = one(name, 'NetworkPolicy').spec.egress.filter((r: Doc) => r.ports.some((p: Doc) => p.port === port));
      return rules.some((r: Doc) =>
        r.to.some((peer: Doc) => {
          if (!peer.ipBlock) return false;
          const [base, bits] = peer.ipBlock.cidr.split('/');
          const bl = new net.BlockList();
          bl.addSubnet(base, Number(bits), net.isIPv6(base) ? 'ipv6' : 'ipv4');
          return net.isIP(host) !== 0 && bl.check(host, net.isIPv6(host) ? 'ipv6' : 'ipv4');
        }),
      );
    };
    for (const name of ['tokyo', 'osaka']) {
      const eps = endpoints(name);
      assert.deepEqual([...new Set(eps.map((e) => e.category))].sort(), ['backend', 'keystore', 'postgres', 'redis', 'witness']);
      for (const e of eps) {
        if (e.cidr) assert.ok(allows(name, e.host, e.port), `${name}: ${e.name} ${e.host}:${e.port} is allowed`);
        else assert.ok(one(name, 'NetworkPolicy').spec.egress.some((r: Doc) => r.ports.some((p: Doc) => p.port === e.port) && r.to.some((p: Doc) => p.ipBlock)), `${name}: some address block for ${e.host}:${e.port}`);
      }
    }
    assert.ok(!allows('osaka', '10.10.0.10', 5432), 'the Osaka gateways cannot write to the old primary in Tokyo');
    assert.ok(!allows('tokyo', '10.20.0.10', 5432), 'nor the Tokyo gateways to the standby in Osaka');
    assert.ok(allows('tokyo', '10.10.0.10', 5432) && allows('osaka', '10.20.0.10', 5432));
  });

  test('no secret in a ConfigMap: secrets come from Secrets only', () => {
    const PUBLIC = new Set(['passphrase_env', 'pin_env', 'token_env', 'api_key_env', 'password_env', 'token_label', 'key_label', 'key_ids', 'token_sha256', 'vkey']);
    for (const name of rendered.keys()) {
      const cm = one(name, 'ConfigMap');
      const text = JSON.stringify(cm.data);
      assert.doesNotMatch(text, /sekisho-keyfile\/1|private_jwk|private_sealed|BEGIN [A-Z ]*PRIVATE KEY/, `${name}: no key material`);
      const walk = (v: unknown, at: string): void => {
        if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${at}[${i}]`));
        if (v && typeof v === 'object') {
          for (const [k, x] of Object.entries(v)) {
            if (/pass|pin|token|secret|password|credential/i.test(k) && !PUBLIC.has(k)) assert.fail(`${name}: ${at}.${k} in the ConfigMap looks like a secret`);
            walk(x, `${at}.${k}`);
          }
          return;
        }
        if (typeof v === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(v)) {
          assert.doesNotMatch(v, /^[a-z][a-z0-9+.-]*:\/\/[^/@?#]*:[^/@?#]*@/i, `${name}: ${at} carries a password`);
          assert.doesNotMatch(v, /[?&]password=/i, `${name}: ${at} carries a password`);
        }
      };
      walk(gatewayConfig(name), 'sekisho.yaml');
      const c = container(name);
      for (const e of c.env) {
        if (/PASS|PIN|TOKEN|SECRET|PASSWORD|_KEY$/.test(e.name)) assert.ok(e.valueFrom?.secretKeyRef && e.value === undefined, `${name}: ${e.name} from a Secret`);
      }
      const volumes = one(name, 'Deployment').spec.template.spec.volumes;
      for (const v of volumes.filter((v: Doc) => ['keyfile', 'identity'].includes(v.name))) assert.ok(v.secret && !v.configMap, `${name}: ${v.name} from a Secret`);
      assert.ok(volumes.filter((v: Doc) => v.configMap).every((v: Doc) => v.configMap.name === cm.metadata.name), 'the only ConfigMap is sekisho.yaml');
    }
    assert.equal(container('default').env.find((e: Doc) => e.name === 'SEKISHO_VAULT_PASSPHRASE').valueFrom.secretKeyRef.name, 'sekisho-vault-passphrase');
    assert.equal(container('pkcs11').env.find((e: Doc) => e.name === 'SEKISHO_HSM_PIN').valueFrom.secretKeyRef.name, 'sekisho-hsm-pin');
    assert.equal(container('tokyo').env.find((e: Doc) => e.name === 'SEKISHO_KEY_SERVICE_TOKEN').valueFrom.secretKeyRef.name, 'sekisho-key-service');
  });

  test('the templates refuse what would break a multi-node gateway', () => {
    const fails = (values: Record<string, unknown>, re: RegExp) => assert.throws(() => renderChart(CHART, { values: [values] }), (e: Error) => e instanceof TemplateError && re.test(e.message));
    fails({ identity: { keysSecret: { name: '' } } }, /identity\.keysSecret\.name is required/);
    fails({ vault: { keystore: { kind: 'vault' } } }, /vault\.keystore\.kind must be file, pkcs11 or external/);
    fails({ vault: { keystore: { kind: 'pkcs11' } } }, /vault\.keystore\.pkcs11\.library is required/);
    fails({ postgres: { url: '' } }, /postgres\.url is required/);
    fails({ networkPolicy: { egress: { extra: [{ name: 'kms', cidrs: ['10.0.0.1/32'] }] } } }, /kms needs ports/);
  });

  test('helm itself, where installed, renders the same and lints clean', (t) => {
    const helm = spawnSync('helm', ['version', '--short'], { encoding: 'utf8' });
    if (helm.error || helm.status !== 0) return t.skip('helm is not installed here (not packaged for Debian); helm-lite rendered the chart');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sekisho-helm-'));
    for (const [name, v] of Object.entries(VARIANTS)) {
      const args = v.files.flatMap((f) => ['-f', f]);
      (v.values ?? []).forEach((x, i) => {
        const f = path.join(dir, `${name}-${i}.yaml`);
        fs.writeFileSync(f, YAML.stringify(x));
        args.push('-f', f);
      });
      const lint = spawnSync('helm', ['lint', '--strict', '--kube-version', 'v1.32.0', CHART, ...args], { encoding: 'utf8' });
      assert.equal(lint.status, 0, `${name}: helm lint\n${lint.stdout}${lint.stderr}`);
      const out = spawnSync('helm', ['template', 'sekisho', CHART, '--namespace', 'default', '--kube-version', 'v1.32.0', ...args], { encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      const norm = (d: Doc) => {
        const c = structuredClone(d);
        if (c.kind === 'Deployment') delete c.spec.template.metadata.annotations['checksum/config'];
        if (c.kind === 'ConfigMap') c.data['sekisho.yaml'] = parseYaml11(c.data['sekisho.yaml'], 'sekisho.yaml');
        return c;
      };
      const theirs = YAML.parseAllDocuments(out.stdout, { version: '1.1' }).map((d) => d.toJS()).filter(Boolean).map(norm);
      const ours = rendered.get(name)!.docs.map((d) => norm(d.doc));
      const key = (d: Doc) => `${d.kind}/${d.metadata.name}`;
      assert.deepEqual(theirs.sort((a, b) => key(a).localeCompare(key(b))), ours.sort((a, b) => key(a).localeCompare(key(b))), name);
    }
  });
});

describe('systemd unit', () => {
  const unit = fs.readFileSync('deploy/systemd/sekisho.service', 'utf8');
  const directives = (section: string) => {
    const body = unit.split(/^\[/m).find((s) => s.startsWith(`${section}]`)) ?? '';
    const out = new Map<string, string[]>();
    for (const line of body.split('\n').slice(1)) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
      if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
    }
    return out;
  };

  test('runs as an unprivileged user with the hardening directives', () => {
    const s = directives('Service');
    const first = (k: string) => s.get(k)?.[0];
    assert.ok(first('User') && first('User') !== 'root' && !s.has('DynamicUser'));
    assert.equal(first('CapabilityBoundingSet'), '', 'no capabilities');
    assert.equal(first('AmbientCapabilities'), '');
    for (const [k, v] of Object.entries({ NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', PrivateDevices: 'yes', ProtectKernelTunables: 'yes', ProtectKernelModules: 'yes', ProtectControlGroups: 'yes', RestrictSUIDSGID: 'yes', RestrictNamespaces: 'yes', LockPersonality: 'yes', ProtectProc: 'invisible', UMask: '0077', SystemCallArchitectures: 'native' })) {
      assert.equal(first(k), v, k);
    }
    assert.deepEqual(s.get('SystemCallFilter'), ['@system-service', '~@privileged @resources']);
    assert.equal(first('StateDirectory'), 'sekisho');
    assert.match(first('ExecStart')!, /^\/usr\/bin\/node \/opt\/sekisho\/bin\/sekisho\.js serve --config \/etc\/sekisho\/sekisho\.yaml$/);
    assert.ok(!s.has('MemoryDenyWriteExecute'), 'V8 needs W+X pages');
    assert.ok(Number.parseInt(first('TimeoutStopSec')!, 10) >= 35, 'covers the 30 s drain');
    assert.ok(!/PASSPHRASE=|PASSWORD=|PIN=|TOKEN=/.test(s.get('Environment')?.join(' ') ?? ''), 'no secret in the unit');
    assert.match(fs.readFileSync('deploy/systemd/sekisho.sysusers.conf', 'utf8'), /^u sekisho /m);
  });

  test('systemd-analyze verify and security (offline)', (t) => {
    const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) return t.skip('systemd-analyze is not installed');
    const verify = spawnSync('systemd-analyze', ['verify', 'deploy/systemd/sekisho.service'], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(verify.stderr.trim(), '', verify.stderr);
    const security = spawnSync('systemd-analyze', ['security', '--offline=true', '--threshold=20', '--no-pager', 'deploy/systemd/sekisho.service'], { encoding: 'utf8' });
    assert.equal(security.status, 0, security.stdout.split('\n').slice(-3).join('\n'));
    assert.match(security.stdout, /Overall exposure level for sekisho\.service: [01]\.\d OK/);
  });
});

describe('Containerfile', () => {
  const text = fs.readFileSync('deploy/Containerfile', 'utf8');

  test('lints clean (dockerfile-utils, every rule at error level)', () => {
    const du = require('dockerfile-utils') as typeof import('dockerfile-utils');
    const all = { deprecatedMaintainer: 2, directiveCasing: 2, emptyContinuationLine: 2, instructionCasing: 2, instructionCmdMultiple: 2, instructionEntrypointMultiple: 2, instructionHealthcheckMultiple: 2, instructionJSONInSingleQuotes: 2, instructionWorkdirRelative: 2 } as const;
    assert.deepEqual(du.validate(text, all).map((d) => `${d.range.start.line + 1}: ${d.message}`), []);
    assert.ok(du.validate('FROM x\nWORKDIR rel\n', all).length > 0, 'the linter reports problems');
  });

  test('multi-stage on node:20 slim, npm ci, only what runs, a non-root user', () => {
    const stages = text.split(/^FROM /m).slice(1);
    assert.equal(stages.length, 2);
    assert.match(text, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    assert.ok(stages.every((s) => s.startsWith('${NODE_IMAGE} AS ')));
    const [build, runtime] = stages as [string, string];
    assert.match(build, /npm ci\b/);
    assert.doesNotMatch(runtime, /npm (ci|install)|apt-get install|g\+\+/, 'no toolchain in the runtime stage');
    assert.doesNotMatch(text, /^ADD /m);
    const users = [...runtime.matchAll(/^USER (\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(users, ['10001:10001']);
    const chartUser = (readYaml(path.join(CHART, 'values.yaml')) as Doc).securityContext.runAsUser;
    assert.equal(Number(users[0]!.split(':')[0]), chartUser, 'the chart runs the image\'s user');
    assert.match(runtime, /^EXPOSE 8787$/m);
    const copied = [...runtime.matchAll(/^COPY (?!--from)(\S+) /gm)].map((m) => m[1]);
    assert.deepEqual(copied.sort(), ['bin', 'policies', 'sekisho.example.yaml']);
    // Everything copied from the context is let through by the ignore file, and nothing else.
    const ignore = fs.readFileSync('deploy/Containerfile.dockerignore', 'utf8').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const fromContext = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(' ')).map((s) => s.replace(/\/$/, ''));
    assert.deepEqual([...new Set(fromContext)].sort(), [...ignore].sort());
    for (const f of fromContext) assert.ok(fs.existsSync(f), `${f} exists`);
  });
});

describe('guides', () => {
  test('the Tokyo/Osaka guide exists in Japanese and English and covers the runbook', () => {
    const en = fs.readFileSync('deploy/GUIDE.en.md', 'utf8');
    const ja = fs.readFileSync('deploy/GUIDE.ja.md', 'utf8');
    for (const g of [en, ja]) {
      for (const term of ['primary_conninfo', 'primary_slot_name', 'synchronous_commit', 'synchronous_standby_names', 'remote_apply', 'pg_promote', 'RPO', 'RTO', 'values-tokyo.yaml', 'values-osaka.yaml', 'sekisho audit verify', 'SEKISHO_VAULT_PASSPHRASE', 'systemd-analyze', 'helm template']) {
        assert.ok(g.includes(term), `${g === en ? 'en' : 'ja'}: ${term}`);
      }
    }
    assert.match(ja, /フェイルオーバー/);
    assert.match(ja, /日本国内/);
    const readme = fs.readFileSync('README.md', 'utf8');
    assert.match(readme, /## Deployment \/ 配備/);
    assert.ok(readme.includes('deploy/GUIDE.en.md') && readme.includes('deploy/GUIDE.ja.md'));
  });
});

describe('sekisho config networkpolicy', () => {
  let config: string;
  before(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sekisho-egress-'));
    config = path.join(dir, 'sekisho.yaml');
    fs.writeFileSync(
      config,
      YAML.stringify({
        tenant: { id: 'acme', name: 'ACME' },
        backends: [
          { id: 'tokyo-llm', kind: 'openai', url: 'http://10.10.20.5:8000/v1', models: ['m'], location: { country: 'JP' }, operator: { name: 'x', jurisdictions: ['JP'] } },
          { id: 'jp-cloud', kind: 'openai', url: 'https://api.jp-cloud.example.jp/v1', models: ['m'], location: { country: 'JP' }, operator: { name: 'x', jurisdictions: ['JP'] } },
          { id: 'v6', kind: 'openai', url: 'https://[2001:db8::5]:8443/v1', models: ['m'], location: { country: 'JP' }, operator: { name: 'x', jurisdictions: ['JP'] } },
          { id: 'local', kind: 'openai', url: 'http://127.0.0.1:9001/v1', models: ['m'], location: { country: 'JP' }, operator: { name: 'x', jurisdictions: ['JP'] } },
        ],
        vault: { keystore: { kind: 'external', url: 'https://10.10.5.3', key_ids: ['k1'], allowed_hosts: ['10.10.5.3'] } },
        audit: { witnesses: [{ name: 'witness.example.jp/w1', url: 'https://198.51.100.10', vkey: 'witness.example.jp/w1+01+AA' }] },
      }),
    );
  });

  const run = (args: string[]) => spawnSync(process.execPath, [BIN, 'config', 'networkpolicy', '--config', config, ...args], { encoding: 'utf8', env: { ...process.env, SEKISHO_LANG: 'en' }, timeout: 30_000 });

  test('prints the chart\'s egress values; names are not resolved', () => {
    const r = run([]);
    assert.equal(r.status, 0, r.stderr);
    const v = parseYaml11(r.stdout, 'stdout') as Doc;
    assert.deepEqual(v.networkPolicy.egress.backends, [
      { name: 'tokyo-llm', cidrs: ['10.10.20.5/32'], ports: [8000] },
      { name: 'jp-cloud', cidrs: [], ports: [443] },
      { name: 'v6', cidrs: ['2001:db8::5/128'], ports: [8443] },
    ]);
    assert.match(r.stdout, /# api\.jp-cloud\.example\.jp:443 is a host name: write its address block/);
    assert.deepEqual(v.networkPolicy.egress.extra.map((e: Doc) => [e.name, e.cidrs, e.ports]), [
      ['keystore', ['10.10.5.3/32'], [443]],
      ['witness-witness.example.jp/w1', ['198.51.100.10/32'], [443]],
    ]);
    assert.doesNotMatch(r.stdout, /127\.0\.0\.1/, 'loopback needs no rule');
  });

  test('--json lists every endpoint, --systemd writes an IPAddressAllow drop-in', () => {
    const eps = JSON.parse(run(['--json']).stdout) as EgressEndpoint[];
    assert.deepEqual(eps.find((e) => e.name === 'local'), { category: 'backend', name: 'local', host: '127.0.0.1', port: 9001, cidr: '127.0.0.1/32', loopback: true });
    const dropIn = run(['--systemd']).stdout;
    assert.match(dropIn, /^\[Service\]\nIPAddressDeny=any\nIPAddressAllow=localhost$/m);
    assert.deepEqual([...dropIn.matchAll(/^IPAddressAllow=(.+)$/gm)].map((m) => m[1]), ['localhost', '10.10.20.5/32', '2001:db8::5/128', '10.10.5.3/32', '198.51.100.10/32']);
  });

  test('PostgreSQL and Redis URLs: hosts, default ports, several hosts, Unix sockets', () => {
    const base = Config.parse({ tenant: { id: 'a', name: 'A' } });
    const eps = egressEndpoints(Object.assign(base, { store: { postgres: 'postgres://sekisho@pg1.internal,10.0.0.7:5433/sekisho?sslmode=require' }, redis: { url: 'rediss://10.0.0.9/0' } }));
    assert.deepEqual(eps.map((e) => [e.category, e.host, e.port, e.cidr]), [
      ['postgres', 'pg1.internal', 5432, null],
      ['postgres', '10.0.0.7', 5433, '10.0.0.7/32'],
      ['redis', '10.0.0.9', 6379, '10.0.0.9/32'],
    ]);
    assert.deepEqual(egressEndpoints(Object.assign(Config.parse({ tenant: { id: 'a', name: 'A' } }), { store: { postgres: 'postgres:///sekisho?host=/run/postgresql' } })), []);
    assert.match(egressValuesYaml(eps), /postgres:\n {6}# pg1\.internal:5432 is a host name[^\n]*\n {6}cidrs: \["10\.0\.0\.7\/32"\]\n {6}ports: \[5432, 5433\]/);
    assert.match(egressSystemdDropIn(eps), /IPAddressAllow=10\.0\.0\.9\/32/);
  });
});
