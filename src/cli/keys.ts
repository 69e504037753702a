/**
 * `sekisho keys status|rotate|retire` and `sekisho erase --subject ID`: the vault from the
 * command line. They open the same store and keystore as the gateway (which may keep
 * running: it picks up rotations and erasures within vault.poll_ms).
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { rotate, retire, status } from '../vault/index.js';
import { resolveConfig, withVault } from './common.js';
import { CliError, cliLang, say } from './i18n.js';

type IO = { out: (s: string) => void; err: (s: string) => void };

export async function keys(argv: string[], io: IO): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'status': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } }, strict: true });
      return withVault(resolveConfig(values.config, io.err), 'status', async (v) => {
        const s = await status(v);
        if (values.json) {
          io.out(JSON.stringify(s, null, 2));
          return 0;
        }
        const lang = cliLang();
        const ks = Object.entries(s.keystore)
          .map(([k, x]) => `${k}=${x}`)
          .join(' ');
        io.out(say({ ja: `鍵ストア: ${ks}`, en: `keystore: ${ks}` }, lang));
        io.out(say({ ja: `現在の鍵バージョン: v${s.current}`, en: `current key version: v${s.current}` }, lang));
        for (const x of s.versions) {
          const state = x.retired_at ? { ja: `廃止 ${x.retired_at}`, en: `retired ${x.retired_at}` } : x.version === s.current ? { ja: '現在', en: 'current' } : { ja: '旧 (復号のみ)', en: 'old (decrypts only)' };
          io.out(say({ ja: `  v${x.version}  作成 ${x.created_at}  ${state.ja}  ${x.items} 件をラップ`, en: `  v${x.version}  created ${x.created_at}  ${state.en}  wraps ${x.items} item(s)` }, lang));
        }
        io.out(say({ ja: `再ラップ待ち: ${s.pending} 件`, en: `awaiting rewrap: ${s.pending}` }, lang));
        io.out(say({ ja: `対象者鍵: ${s.subjects} 人分、消去済み: ${s.erasures} 件`, en: `subject keys: ${s.subjects} subject(s); erasures: ${s.erasures}` }, lang));
        return 0;
      });
    }
    case 'rotate': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, batch: { type: 'string' }, force: { type: 'boolean' } }, strict: true });
      const batch = values.batch === undefined ? 256 : Number(values.batch);
      if (!Number.isInteger(batch) || batch < 1 || batch > 10_000) throw new CliError({ ja: '--batch は 1〜10000 の整数です', en: '--batch must be an integer from 1 to 10000' });
      return withVault(resolveConfig(values.config, io.err), 'rotation', async (v) => {
        const ac = new AbortController();
        const stop = () => ac.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        const bar = new cliProgress.SingleBar({ format: ' {bar} {percentage}% | {value}/{total} | v{to}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
        let barOn = false;
        try {
          const r = await rotate(v, {
            batch,
            force: values.force ?? false,
            signal: ac.signal,
            onStart: (total, to, created) => {
              io.err(
                say(
                  created
                    ? { ja: `鍵バージョン v${to} を作成しました。${total} 件を再ラップします`, en: `Created key version v${to}; rewrapping ${total} item(s)` }
                    : { ja: `中断された v${to} へのローテーションを再開します (${total} 件)`, en: `Resuming the interrupted rotation to v${to} (${total} item(s))` },
                ),
              );
              if (total > 0 && process.stderr.isTTY) {
                bar.start(total, 0, { to });
                barOn = true;
              }
            },
            onProgress: (done, total) => {
              if (!barOn) return;
              bar.setTotal(total);
              bar.update(done);
            },
          });
          if (barOn) bar.stop();
          if (ac.signal.aborted) {
            io.err(say({ ja: `中断しました (${r.rewrapped} 件済み)。sekisho keys rotate で再開できます`, en: `Interrupted after ${r.rewrapped} item(s); run sekisho keys rotate to resume` }));
            return 130;
          }
          io.out(say({ ja: `ローテーション完了: 現在 v${r.to}、${r.rewrapped} 件を再ラップ`, en: `Rotation complete: current v${r.to}, ${r.rewrapped} item(s) rewrapped` }));
          return 0;
        } finally {
          if (barOn) bar.stop();
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      });
    }
    case 'retire': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, version: { type: 'string' } }, strict: true });
      const version = Number(values.version);
      if (!Number.isInteger(version) || version < 1) throw new CliError({ ja: '使い方: sekisho keys retire --version N', en: 'Usage: sekisho keys retire --version N' });
      return withVault(resolveConfig(values.config, io.err), 'retire', async (v) => {
        await retire(v, version);
        io.out(say({ ja: `鍵バージョン v${version} を廃止しました (鍵ストアから破棄)`, en: `Retired key version v${version} (destroyed in the keystore)` }));
        return 0;
      });
    }
    default:
      throw new CliError({ ja: '使い方: sekisho keys status|rotate|retire', en: 'Usage: sekisho keys status|rotate|retire' });
  }
}

export async function erase(argv: string[], io: IO): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, subject: { type: 'string' } }, strict: true });
  if (!values.subject) throw new CliError({ ja: '使い方: sekisho erase --subject ID', en: 'Usage: sekisho erase --subject ID' });
  const subject = values.subject;
  return withVault(resolveConfig(values.config, io.err), 'erasure', async (v) => {
    const r = await v.erase(subject);
    io.out(
      say({
        ja: `対象者の鍵 ${r.keys} 個を破棄しました。${r.records} 件の記録は復号できなくなりました (監査記録 ${r.subjectHash.slice(0, 16)}…)`,
        en: `Destroyed ${r.keys} subject key(s); ${r.records} record(s) can no longer be decrypted (audit entry ${r.subjectHash.slice(0, 16)}…)`,
      }),
    );
    return 0;
  });
}
