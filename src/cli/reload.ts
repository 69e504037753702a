/**
 * `sekisho config reload` — every gateway node re-reads its configuration file.
 * The command validates the file first (an invalid file is reported here and nothing is
 * sent), then publishes `config.reload` over Redis; each node validates its own file again and
 * swaps policy, routes and backends for new requests, or keeps its configuration and logs why.
 * One node without Redis: send it SIGHUP instead.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { openSharedState } from '../store/shared-state.js';
import { resolveConfig } from './common.js';
import { CliError, say } from './i18n.js';

export async function configReload(argv: string[], io: { out: (s: string) => void; err: (s: string) => void }): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' } }, strict: true });
  // resolveConfig throws a ConfigError (file:line, key, both languages) for an invalid file
  const loaded = resolveConfig(values.config, io.err);
  if (!loaded.config.redis) {
    throw new CliError(
      {
        ja: `${loaded.file} に redis: がないため、ほかのノードに知らせる手段がありません。1 台の場合は serve のプロセスに SIGHUP を送ってください (kill -HUP <pid>)`,
        en: `${loaded.file} has no redis: section, so there is no way to reach other nodes. On a single node, send SIGHUP to the serve process (kill -HUP <pid>)`,
      },
      2,
    );
  }
  const shared = await openSharedState(loaded.config);
  try {
    const n = await shared.publishCount('config.reload', JSON.stringify({ from: `${os.hostname()}:${process.pid}`, at: new Date().toISOString() }));
    io.out(
      say({
        ja: `${loaded.file}: 問題ありません。${n} 台のノードに再読み込みを指示しました (各ノードは自分の設定ファイルを検証してから適用します。結果は各ノードのログを参照)`,
        en: `${loaded.file}: OK. Asked ${n} node(s) to reload (each node validates its own configuration file before applying it; see each node's log for the outcome)`,
      }),
    );
    return n > 0 ? 0 : 1;
  } finally {
    await shared.close();
  }
}
