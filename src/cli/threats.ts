/**
 * `sekisho threats` — the administrator's view of threat detection (issue #7) from a shell, on
 * the store directly (no gateway needed), like `apikey` and `credential`:
 *   threats alerts [--since 24h|ISO] [--limit N] [--json]
 *   threats incidents [--status open|approved|shared|closed] [--json]
 *   threats approve ID                 approve sharing (an audit-log event, as the admin API does)
 *   threats export ID --stix|--jpcert  the STIX 2.1 bundle or the JPCERT/CC-style report (approved only)
 *   threats release PRINCIPAL          end a quarantine (every node hears it)
 * Approvals and releases are audit-log events; the vault is opened for the log's signing key.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { openStore, type Store } from '../store/index.js';
import { openVault } from '../vault/index.js';
import { AuditLog } from '../audit/log.js';
import { auditKeysFromVault } from '../audit/keys.js';
import { auditOrigin } from '../audit/config.js';
import { memorySharedState, openSharedState } from '../store/shared-state.js';
import { createLogger } from '../ops/log.js';
import { HttpProblem } from '../ops/problem.js';
import { ThreatEngine } from '../threats/engine.js';
import type { AlertView, IncidentView } from '../threats/admin.js';
import type { LoadedConfig } from '../config/index.js';
import { resolveConfig } from './common.js';
import { CliError, cliLang, label, say } from './i18n.js';

type Io = { out: (s: string) => void; err: (s: string) => void };

export const THREATS_HELP = `sekisho threats — 脅威検知の警告・インシデント / threat alerts and incidents

使い方 / usage:
  sekisho threats alerts [--since 24h|2026-01-01T00:00:00Z] [--limit N] [--json]
                                      警告の一覧 (新しい順) / alerts, newest first
  sekisho threats incidents [--status open|approved|shared|closed] [--json]
                                      インシデントの一覧 / incidents
  sekisho threats approve ID          外部共有を承認 (監査ログに記録) / approve sharing (recorded in the audit log)
  sekisho threats export ID --stix|--jpcert
                                      承認済みインシデントの STIX 2.1 / JPCERT/CC 様式の報告 / export an approved incident
  sekisho threats release PRINCIPAL   隔離を解除 (監査ログに記録) / release a quarantined principal (recorded in the audit log)
共通 / common: --config FILE`;

const STATUSES = ['open', 'approved', 'shared', 'closed'] as const;

/** `--since`: a duration back from now (30m, 24h, 7d) or an ISO 8601 time. */
export function parseSince(v: string, now = Date.now()): string {
  const m = /^(\d{1,6})([mhd])$/.exec(v.trim());
  if (m) return new Date(now - Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd']).toISOString();
  const t = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new CliError({ ja: `--since は 30m・24h・7d のような期間か ISO 8601 の日時にしてください (指定値: ${v})`, en: `--since takes a duration such as 30m, 24h, 7d or an ISO 8601 time (got ${v})` });
  return new Date(t).toISOString();
}

/** The engine over the store; `withAudit` also opens the vault (the audit log's key) and the shared state (bus). */
async function withEngine<T>(loaded: LoadedConfig, withAudit: boolean, fn: (engine: ThreatEngine, store: Store) => Promise<T>): Promise<T> {
  const { config } = loaded;
  const log = createLogger('silent');
  const store = await openStore(loaded);
  const closers: (() => Promise<unknown>)[] = [() => store.close()];
  try {
    let audit: AuditLog | undefined;
    // The shared state only where something is announced to the nodes (a release).
    const shared = withAudit ? await openSharedState(config, { log }) : undefined;
    if (shared) closers.unshift(() => shared.close());
    if (withAudit) {
      const vault = await openVault(loaded, { store: store.vault, interactive: true, reason: 'admin_read', pollMs: 0 });
      closers.unshift(() => vault.close());
      // A client of the log: it appends; the serving process publishes checkpoints.
      audit = await AuditLog.open({ store, log, origin: auditOrigin(config), keys: await auditKeysFromVault(vault), checkpointIntervalMs: 0, checkpointEntries: config.audit.checkpoint_entries, witnesses: [], recover: false, publish: false });
      const a = audit;
      closers.unshift(async () => {
        await a.close();
        await a.settle();
      });
    }
    const state = shared ?? memorySharedState();
    const engine = new ThreatEngine({ config: config.threats, configDir: loaded.dir, counters: state.counters, bus: state.bus, store: store.threats, log, tenant: config.tenant, ...(audit ? { audit } : {}) });
    try {
      return await fn(engine, store);
    } catch (e) {
      if (e instanceof HttpProblem) throw new CliError({ ja: e.ja, en: e.en }, 1);
      throw e;
    }
  } finally {
    for (const c of closers) await c().catch(() => undefined);
  }
}

function admin(): string {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    /* no passwd entry (containers) */
  }
  return `cli:${user}@${os.hostname()}`;
}

export async function threats(argv: string[], io: Io): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === 'help' || verb === '--help' || verb === '-h') {
    io.out(THREATS_HELP);
    return verb === undefined ? 2 : 0;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      since: { type: 'string' },
      limit: { type: 'string' },
      status: { type: 'string' },
      json: { type: 'boolean' },
      stix: { type: 'boolean' },
      jpcert: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(THREATS_HELP);
    return 0;
  }
  const lang = cliLang();
  const one = (what: { ja: string; en: string }): string => {
    const id = positionals[0];
    if (!id || positionals.length > 1 || id.length > 256) throw new CliError({ ja: `${what.ja}を一つ指定してください\n${THREATS_HELP}`, en: `Give one ${what.en}\n${THREATS_HELP}` });
    return id;
  };
  switch (verb) {
    case 'alerts': {
      const since = values.since !== undefined ? parseSince(values.since) : undefined;
      const limit = values.limit === undefined ? 100 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new CliError({ ja: `--limit は 1〜100000 の整数にしてください (指定値: ${values.limit})`, en: `--limit must be an integer from 1 to 100000 (got ${values.limit})` });
      const loaded = resolveConfig(values.config, io.err);
      return withEngine(loaded, false, async (engine) => {
        // newest first, page by page, until --since or --limit
        const out: AlertView[] = [];
        let before: string | undefined;
        for (;;) {
          const page = await engine.alerts({ limit: Math.min(1000, limit - out.length), ...(before ? { before } : {}) });
          const keep = since ? page.filter((a) => a.ts >= since) : page;
          out.push(...keep);
          if (keep.length < page.length || page.length === 0 || out.length >= limit) break;
          before = page[page.length - 1]!.ts;
        }
        if (values.json) io.out(JSON.stringify(out, null, 2));
        else {
          io.out(['ts', 'id', 'principal', 'type', 'rule', 'severity', 'action', 'incident'].join('\t'));
          for (const a of out) io.out([a.ts, a.id, a.principal, a.type, a.rule, a.severity, a.action, a.incident_id ?? '-'].join('\t'));
          io.err(label({ ja: `${out.length} 件`, en: `${out.length} alert(s)` }, lang));
        }
        return 0;
      });
    }
    case 'incidents': {
      const status = values.status as IncidentView['status'] | undefined;
      if (status !== undefined && !STATUSES.includes(status)) throw new CliError({ ja: `--status は ${STATUSES.join('・')} のいずれかにしてください (指定値: ${status})`, en: `--status must be one of ${STATUSES.join(', ')} (got ${status})` });
      const loaded = resolveConfig(values.config, io.err);
      return withEngine(loaded, false, async (engine) => {
        const list = await engine.incidents({ limit: 1000, ...(status ? { status } : {}) });
        if (values.json) io.out(JSON.stringify(list, null, 2));
        else {
          io.out(['id', 'status', 'severity', 'alerts', 'updated', 'title'].join('\t'));
          for (const i of list) io.out([i.id, i.status, i.severity, String(i.alert_count), i.updated_at, lang === 'en' ? i.title : (i.title_ja ?? i.title)].join('\t'));
        }
        return 0;
      });
    }
    case 'approve': {
      const id = one({ ja: 'インシデント ID ', en: 'incident id' });
      const loaded = resolveConfig(values.config, io.err);
      return withEngine(loaded, true, async (engine) => {
        const inc = await engine.approve(id, admin());
        if (values.json) io.out(JSON.stringify(inc, null, 2));
        else io.out(say({ ja: `インシデント ${inc.id} の共有を承認しました (承認者 ${inc.approved_by}、監査ログに記録)`, en: `Approved incident ${inc.id} for sharing (by ${inc.approved_by}, recorded in the audit log)` }, lang));
        return 0;
      });
    }
    case 'export': {
      const id = one({ ja: 'インシデント ID ', en: 'incident id' });
      if (values.stix === values.jpcert) throw new CliError({ ja: '--stix か --jpcert のどちらか一つを指定してください', en: 'Give exactly one of --stix or --jpcert' });
      const loaded = resolveConfig(values.config, io.err);
      return withEngine(loaded, false, async (engine) => {
        if (values.stix) io.out(JSON.stringify(await engine.exportStix(id), null, 2));
        else io.out((await engine.exportJpcert(id)).trimEnd());
        return 0;
      });
    }
    case 'release': {
      const principal = one({ ja: '利用者 (principal) ', en: 'principal' });
      const loaded = resolveConfig(values.config, io.err);
      return withEngine(loaded, true, async (engine) => {
        if (!(await engine.store.quarantined()).includes(principal)) throw new CliError({ ja: `${principal} は隔離されていません`, en: `${principal} is not quarantined` }, 1);
        await engine.release(principal, admin());
        io.out(say({ ja: `${principal} の隔離を解除しました (全ノードに通知、監査ログに記録)`, en: `Released ${principal} from quarantine (every node told, recorded in the audit log)` }, lang));
        return 0;
      });
    }
    default:
      throw new CliError({ ja: `不明なサブコマンド: ${verb}\n${THREATS_HELP}`, en: `Unknown subcommand: ${verb}\n${THREATS_HELP}` });
  }
}
