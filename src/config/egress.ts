/**
 * Where a configured gateway connects to: every backend, the PostgreSQL store, Redis, an
 * external key service, audit witnesses and identity status lists, read from the configuration
 * alone. Nothing is resolved: a host name stays a name (its address block has to be written by
 * whoever writes the network policy), so this never sends a DNS query or connects anywhere
 * (SSRF-safe). `sekisho config networkpolicy` prints the result as values for the Helm chart's
 * NetworkPolicy (deploy/helm/sekisho) or as a systemd drop-in.
 */
import net from 'node:net';
import type { Config } from './schema.js';

export type EgressCategory = 'backend' | 'postgres' | 'redis' | 'keystore' | 'witness' | 'status_list';

export interface EgressEndpoint {
  category: EgressCategory;
  /** Backend id, witness name, issuer id, or the category for postgres/redis/keystore. */
  name: string;
  /** As written in the configuration (IPv6 without brackets). */
  host: string;
  port: number;
  /** A /32 or /128 for an IP literal; null for a host name (never resolved). */
  cidr: string | null;
  /** 127.0.0.0/8, ::1 or localhost: on the same host or pod, no network rule needed. */
  loopback: boolean;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'postgres:': 5432, 'postgresql:': 5432, 'redis:': 6379, 'rediss:': 6379 };

function endpoint(category: EgressCategory, name: string, host: string, port: number): EgressEndpoint {
  const h = host.replace(/^\[|\]$/g, '');
  const family = net.isIP(h);
  const loopback = h.toLowerCase() === 'localhost' || (family === 4 && h.startsWith('127.')) || (family === 6 && (h === '::1' || /^0*:0*:0*:0*:0*:0*:0*:0*1$/.test(h)));
  return { category, name, host: h, port, cidr: family === 4 ? `${h}/32` : family === 6 ? `${h}/128` : null, loopback };
}

/** host[:port] items of a URL authority; several for libpq-style multi-host URLs (h1,h2:5433). */
function authorityHosts(url: string): { scheme: string; hosts: { host: string; port: number | undefined }[] } | null {
  const m = /^([a-z][a-z0-9+.-]*:)\/\/(?:[^@/?#]*@)?([^/?#]*)/i.exec(url.trim());
  if (!m) return null;
  const scheme = m[1]!.toLowerCase();
  const hosts: { host: string; port: number | undefined }[] = [];
  for (const item of m[2]!.split(',')) {
    if (item === '') continue;
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(item);
    const plain = /^([^:]+)(?::(\d+))?$/.exec(item);
    const hit = v6 ?? plain;
    if (!hit) continue;
    hosts.push({ host: decodeURIComponent(hit[1]!), port: hit[2] ? Number(hit[2]) : undefined });
  }
  return { scheme, hosts };
}

function fromUrl(out: EgressEndpoint[], category: EgressCategory, name: string, url: string | undefined): void {
  if (typeof url !== 'string' || url === '') return;
  const a = authorityHosts(url);
  if (!a) return;
  for (const { host, port } of a.hosts) {
    // A PostgreSQL URL without a host (postgres:///db?host=/run/postgresql) is a Unix socket: no egress.
    out.push(endpoint(category, name, host, port ?? DEFAULT_PORTS[a.scheme] ?? 443));
  }
}

/**
 * Every network destination the configuration names. The PostgreSQL (`store.postgres`) and
 * Redis (`redis.url`) keys are read when the configuration has them.
 */
export function egressEndpoints(config: Config): EgressEndpoint[] {
  const out: EgressEndpoint[] = [];
  for (const b of config.backends) if (b.kind === 'openai') fromUrl(out, 'backend', b.id, b.url);
  const loose = config as unknown as { store?: { postgres?: unknown }; redis?: { url?: unknown } };
  if (typeof loose.store?.postgres === 'string') fromUrl(out, 'postgres', 'postgres', loose.store.postgres);
  if (typeof loose.redis?.url === 'string') fromUrl(out, 'redis', 'redis', loose.redis.url);
  const ks = config.vault.keystore;
  if (ks.kind === 'external') fromUrl(out, 'keystore', 'keystore', ks.url);
  for (const w of config.audit.witnesses) fromUrl(out, 'witness', w.name, w.url);
  for (const i of config.identity.trusted_issuers) for (const s of i.status_lists) fromUrl(out, 'status_list', i.id, s);
  return out;
}

const q = (s: string) => JSON.stringify(s);

interface Entry {
  name: string;
  cidrs: string[];
  ports: number[];
  names: string[];
}

function group(eps: EgressEndpoint[]): Entry[] {
  const byName = new Map<string, Entry>();
  for (const e of eps) {
    if (e.loopback) continue;
    const key = e.category === 'witness' || e.category === 'status_list' ? `${e.category}:${e.name}` : e.name;
    const entry = byName.get(key) ?? { name: e.category === 'backend' || e.category === 'postgres' || e.category === 'redis' || e.category === 'keystore' ? e.name : `${e.category.replace('_', '-')}-${e.name}`, cidrs: [], ports: [], names: [] };
    if (e.cidr && !entry.cidrs.includes(e.cidr)) entry.cidrs.push(e.cidr);
    if (!e.cidr && !entry.names.includes(`${e.host}:${e.port}`)) entry.names.push(`${e.host}:${e.port}`);
    if (!entry.ports.includes(e.port)) entry.ports.push(e.port);
    byName.set(key, entry);
  }
  return [...byName.values()];
}

function entryYaml(e: Entry, indent: string, withName: boolean): string[] {
  const lines: string[] = [];
  for (const n of e.names) lines.push(`${indent}# ${n} is a host name: write its address block in cidrs (nothing is resolved)`);
  if (withName) lines.push(`${indent}- name: ${q(e.name)}`);
  const pad = withName ? `${indent}  ` : indent;
  lines.push(`${pad}cidrs: [${e.cidrs.map(q).join(', ')}]`);
  lines.push(`${pad}ports: [${e.ports.join(', ')}]`);
  return lines;
}

/** Values for the Helm chart: `networkPolicy.egress` (backends, postgres, redis, extra). */
export function egressValuesYaml(eps: EgressEndpoint[]): string {
  const cat = (c: EgressCategory[]) => group(eps.filter((e) => c.includes(e.category)));
  const lines = [
    '# sekisho config networkpolicy: egress of deploy/helm/sekisho (networkPolicy.egress), from the configuration.',
    '# Nothing was resolved; loopback destinations are left out. DNS is allowed by networkPolicy.egress.dns.',
    'networkPolicy:',
    '  egress:',
    '    backends:',
  ];
  const backends = cat(['backend']);
  if (backends.length === 0) lines[lines.length - 1] += ' []';
  for (const e of backends) lines.push(...entryYaml(e, '      ', true));
  for (const c of ['postgres', 'redis'] as const) {
    const [e] = cat([c]);
    if (!e) continue;
    lines.push(`    ${c}:`);
    lines.push(...entryYaml(e, '      ', false));
  }
  const extra = cat(['keystore', 'witness', 'status_list']);
  lines.push(`    extra:${extra.length === 0 ? ' []' : ''}`);
  for (const e of extra) lines.push(...entryYaml(e, '      ', true));
  return lines.join('\n') + '\n';
}

/**
 * A systemd drop-in (sekisho.service.d/egress.conf): IPAddressDeny=any and one IPAddressAllow=
 * per address. systemd filters addresses in both directions and without ports, so the clients'
 * networks have to be allowed too.
 */
export function egressSystemdDropIn(eps: EgressEndpoint[]): string {
  const lines = [
    '# sekisho config networkpolicy --systemd: /etc/systemd/system/sekisho.service.d/egress.conf',
    '# systemd filters addresses in both directions and not by port: add the networks of the',
    '# gateway\'s clients (IPAddressAllow=10.0.0.0/8 ...) and of the DNS resolver if a name is used.',
    '[Service]',
    'IPAddressDeny=any',
    'IPAddressAllow=localhost',
  ];
  for (const e of group(eps)) {
    for (const n of e.names) lines.push(`# ${e.name}: ${n} is a host name: add its address block (nothing is resolved)`);
    for (const c of e.cidrs) {
      lines.push(`# ${e.name} (ports ${e.ports.join(', ')})`);
      lines.push(`IPAddressAllow=${c}`);
    }
  }
  return lines.join('\n') + '\n';
}
