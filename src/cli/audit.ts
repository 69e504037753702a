/**
 * `sekisho audit vkey | verify | prove | show` and `sekisho report residency`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openStore, type Store } from '../store/index.js';
import type { LoadedConfig } from '../config/index.js';
import { AuditError } from '../audit/errors.js';
import { AuditLog } from '../audit/log.js';
import { auditKeysFromVault, type AuditKeys } from '../audit/keys.js';
import { auditOrigin } from '../audit/config.js';
import { ed25519Signer } from '../audit/note.js';
import { httpSource, storeSource, type LogSource } from '../audit/source.js';
import { verifyLog } from '../audit/verify.js';
import { decodeLeaf } from '../audit/leaf.js';
import { leafHash, verifyInclusion } from '../audit/merkle.js';
import { ResidencyCounter, parseTime, type ResidencyCounts } from '../audit/report/counts.js';
import { renderResidencyHtml } from '../audit/report/html.js';
import { createLogger } from '../ops/log.js';
import { resolveConfig, withVault } from './common.js';
import { CliError, say } from './i18n.js';

interface Io {
  out(s: string): void;
  err(s: string): void;
}

/** The audit keys of the local tenant: from its vault (passphrase, HSM or key service; reason audit_export). */
function localKeys(loaded: LoadedConfig): Promise<AuditKeys> {
  return withVault(loaded, 'audit_export', (vault) => auditKeysFromVault(vault));
}

async function localVkey(loaded: LoadedConfig): Promise<string> {
  return ed25519Signer(auditOrigin(loaded.config), (await localKeys(loaded)).signingSeed).vkey;
}

async function withStore<T>(loaded: LoadedConfig, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(loaded);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function auditFailed(e: AuditError): CliError {
  const at = e.index === undefined ? { ja: '', en: '' } : { ja: `\n最初の不正な索引: ${e.index}`, en: `\nfirst bad index: ${e.index}` };
  return new CliError({ ja: `検証に失敗しました: ${e.ja}${at.ja}`, en: `verification FAILED: ${e.en}${at.en}` }, 1);
}

async function progressBar(enabled: boolean): Promise<{ update(done: number, total: number): void; stop(): void }> {
  if (!enabled) return { update() {}, stop() {} };
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: '検証 verify [{bar}] {percentage}% | {value}/{total} entries | ETA {eta}s', noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 2000, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export async function auditCmd(argv: string[], io: Io): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'vkey': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' } }, strict: true });
      io.out(await localVkey(resolveConfig(values.config, io.err)));
      return 0;
    }
    case 'verify':
      return verifyCmd(rest, io);
    case 'prove':
      return proveCmd(rest, io);
    case 'show':
      return showCmd(rest, io);
    default:
      throw new CliError({ ja: '使い方: sekisho audit vkey|verify|prove|show', en: 'Usage: sekisho audit vkey|verify|prove|show' });
  }
}

async function verifyCmd(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      url: { type: 'string' },
      vkey: { type: 'string' },
      token: { type: 'string' },
      since: { type: 'string' },
      'save-checkpoint': { type: 'string' },
      witness: { type: 'string', multiple: true },
      'witness-quorum': { type: 'string' },
      counts: { type: 'boolean' },
      from: { type: 'string' },
      to: { type: 'string' },
      'no-progress': { type: 'boolean' },
      strict: { type: 'boolean' },
    },
    strict: true,
  });
  let vkey = values.vkey;
  let source: LogSource;
  let store: Store | undefined;
  if (values.url) {
    const base = /\/audit\/v1\/?$/.test(values.url) ? values.url : values.url.replace(/\/+$/, '') + '/audit/v1';
    source = httpSource(base, values.token ?? process.env.SEKISHO_AUDIT_TOKEN);
    if (!vkey) {
      const res = await fetch(`${base}/vkey`, { headers: values.token ? { authorization: `Bearer ${values.token}` } : {} });
      vkey = (await res.text()).trim();
      io.err(say({ ja: `注意: 検証鍵をログ自身から取得しました (${vkey})。信頼できる経路で得た鍵を --vkey で渡してください`, en: `note: the verifier key was fetched from the log itself (${vkey}); pass one obtained out of band with --vkey` }));
    }
  } else {
    const loaded = resolveConfig(values.config, io.err);
    vkey ??= await localVkey(loaded);
    store = await openStore(loaded);
    source = storeSource(store);
  }
  const since = values.since ? fs.readFileSync(values.since, 'utf8') : undefined;
  const from = values.from ? parseTime(values.from, '--from') : '0000-01-01T00:00:00.000Z';
  const to = values.to ? parseTime(values.to, '--to') : '9999-12-31T23:59:59.999Z';
  const counter = new ResidencyCounter(from, to);
  const bar = await progressBar(!values['no-progress']);
  try {
    const r = await verifyLog(source, {
      vkey,
      ...(since ? { since } : {}),
      witnesses: values.witness ?? [],
      witnessQuorum: Number(values['witness-quorum'] ?? 0),
      strict: values.strict === true,
      onProgress: (d, t) => bar.update(d, t),
      onLeaf: (leaf) => counter.add(leaf),
    });
    bar.stop();
    const root = r.checkpoint.root.toString('base64');
    io.out(
      say({
        ja: `検証成功: ${r.checkpoint.origin} 木の大きさ ${r.checkpoint.size}、根 ${root}、署名・全記録・全タイル一致${r.since ? `、大きさ ${r.since.size} のチェックポイントと整合` : ''}${r.cosignatures.length ? `、立会人の副署名 ${r.cosignatures.map((c) => c.name).join(', ')}` : ''}`,
        en: `OK: ${r.checkpoint.origin} tree size ${r.checkpoint.size}, root ${root}: signature, every entry and every tile verified${r.since ? `; consistent with the checkpoint of size ${r.since.size}` : ''}${r.cosignatures.length ? `; cosigned by ${r.cosignatures.map((c) => c.name).join(', ')}` : ''}`,
      }),
    );
    if (values['save-checkpoint']) fs.writeFileSync(values['save-checkpoint'], r.note);
    if (values.counts) io.out(JSON.stringify(counter.result({ origin: r.checkpoint.origin, size: r.checkpoint.size, root }), null, 2));
    return 0;
  } catch (e) {
    bar.stop();
    if (e instanceof AuditError) throw auditFailed(e);
    throw e;
  } finally {
    await store?.close();
  }
}

function readOnlyLog(loaded: LoadedConfig, store: Store, keys: AuditKeys): Promise<AuditLog> {
  return AuditLog.open({ store, log: createLogger('silent'), origin: auditOrigin(loaded.config), keys, checkpointIntervalMs: 0, recover: false });
}

async function proveCmd(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, index: { type: 'string' } }, strict: true });
  const index = Number(values.index);
  if (!Number.isSafeInteger(index) || index < 0) throw new CliError({ ja: '--index には 0 以上の整数を指定してください', en: '--index must be an integer ≥ 0' });
  const loaded = resolveConfig(values.config, io.err);
  const keys = await localKeys(loaded);
  return withStore(loaded, async (store) => {
    const log = await readOnlyLog(loaded, store, keys);
    const note = await log.checkpointNote();
    if (!note || index >= log.size) {
      throw new CliError({ ja: `索引 ${index} はまだチェックポイント (大きさ ${log.size}) に含まれていません`, en: `index ${index} is not yet covered by a checkpoint (size ${log.size})` }, 1);
    }
    const entry = (await store.audit.entry(index))!;
    const proof = await log.inclusion(index);
    const leaf = leafHash(entry);
    const root = Buffer.from(note.split('\n')[2]!, 'base64');
    if (!verifyInclusion(leaf, index, log.size, proof, root)) throw new CliError({ ja: '包含証明が検証できません', en: 'the inclusion proof does not verify' }, 1);
    io.out(
      JSON.stringify(
        { index, tree_size: log.size, leaf_hash: leaf.toString('base64'), entry: JSON.parse(entry.toString('utf8')), proof: proof.map((h) => h.toString('base64')), checkpoint: note, vkey: log.vkey },
        null,
        2,
      ),
    );
    return 0;
  });
}

async function showCmd(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, 'request-id': { type: 'string' }, index: { type: 'string' } }, strict: true });
  const loaded = resolveConfig(values.config, io.err);
  return withStore(loaded, async (store) => {
    let index: number | undefined;
    if (values['request-id']) index = (await store.records.byRequestId(values['request-id']))?.seq;
    else if (values.index !== undefined) index = Number(values.index);
    else throw new CliError({ ja: '--request-id か --index を指定してください', en: 'give --request-id or --index' });
    const entry = index === undefined ? undefined : await store.audit.entry(index);
    if (index === undefined || !entry) throw new CliError({ ja: `記録が見つかりません: ${values['request-id'] ?? values.index}`, en: `no record found: ${values['request-id'] ?? values.index}` }, 1);
    const size = (await store.audit.latestCheckpoint())?.size ?? 0;
    io.out(JSON.stringify({ index, in_checkpoint: index < size, checkpoint_size: size, leaf: decodeLeaf(entry, index) }, null, 2));
    return 0;
  });
}

export async function reportCmd(argv: string[], io: Io): Promise<number> {
  const [kind, ...rest] = argv;
  if (kind !== 'residency') throw new CliError({ ja: '使い方: sekisho report residency --from DATE --to DATE', en: 'Usage: sekisho report residency --from DATE --to DATE' });
  const { values } = parseArgs({
    args: rest,
    options: { config: { type: 'string', short: 'c' }, from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' }, png: { type: 'boolean' }, 'no-pdf': { type: 'boolean' } },
    strict: true,
  });
  if (!values.from || !values.to) throw new CliError({ ja: '--from と --to を指定してください (例: 2026-04-01)', en: 'give --from and --to (such as 2026-04-01)' });
  const from = parseTime(values.from, '--from');
  const to = parseTime(values.to, '--to');
  const loaded = resolveConfig(values.config, io.err);
  const vkey = await localVkey(loaded);
  const store = await openStore(loaded);
  let counts: ResidencyCounts;
  let note: string;
  try {
    // The report counts exactly the entries of a checkpoint it has verified first.
    const counter = new ResidencyCounter(from, to);
    const r = await verifyLog(storeSource(store), { vkey, onLeaf: (leaf) => counter.add(leaf) });
    note = r.note;
    counts = counter.result({ origin: r.checkpoint.origin, size: r.checkpoint.size, root: r.checkpoint.root.toString('base64') });
  } catch (e) {
    if (e instanceof AuditError) throw auditFailed(e);
    throw e;
  } finally {
    await store.close();
  }
  const outDir = path.resolve(values.out ?? '.');
  fs.mkdirSync(outDir, { recursive: true });
  const base = path.join(outDir, `residency-${from.slice(0, 10)}-${to.slice(0, 10)}`);
  fs.writeFileSync(`${base}.checkpoint`, note);
  const html = renderResidencyHtml(counts, {
    tenant: loaded.config.tenant.name,
    note,
    vkey,
    verifyCommand: `sekisho audit verify --url <このゲートウェイ this gateway> --vkey '${vkey}' --counts --from ${from} --to ${to}\n# 同じ木の大きさ ${counts.checkpoint.size} で比べるには / to compare at the same tree size: --since ${path.basename(base)}.checkpoint`,
    generatedAt: new Date().toISOString(),
  });
  fs.writeFileSync(`${base}.html`, html);
  fs.writeFileSync(`${base}.json`, JSON.stringify(counts, null, 2));
  io.out(`${base}.html`);
  if (!values['no-pdf']) {
    const { renderPdf } = await import('../audit/report/render.js');
    await renderPdf(html, { pdf: `${base}.pdf`, ...(values.png ? { png: `${base}.png` } : {}) });
    io.out(`${base}.pdf`);
    if (values.png) io.out(`${base}.png`);
  }
  io.out(say({ ja: counts.l3_outside_japan === 0 ? 'L3 以上の要求が日本の法域外で処理されたことはありません' : `L3 以上の要求 ${counts.l3_outside_japan} 件が日本の法域外で処理されました`, en: counts.l3_outside_japan === 0 ? 'no L3 request was processed outside Japanese jurisdiction' : `${counts.l3_outside_japan} L3 request(s) were processed outside Japanese jurisdiction` }));
  return 0;
}
