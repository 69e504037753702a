import { parseArgs } from 'node:util';
import { startGateway } from '../server/gateway.js';
import { resolveConfig } from './common.js';
import { CliError } from './i18n.js';

export async function serve(argv: string[], io: { err: (s: string) => void }): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, host: { type: 'string' }, port: { type: 'string', short: 'p' } }, strict: true });
  const loaded = resolveConfig(values.config, io.err);
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError({ ja: `--port は 0〜65535 の整数です (指定値: ${values.port})`, en: `--port must be an integer from 0 to 65535 (got ${values.port})` });
  }
  const gw = await startGateway(loaded, { interactive: true, ...(values.host ? { host: values.host } : {}), ...(port !== undefined ? { port } : {}) });
  gw.core.log.info({ url: gw.url, config: loaded.file, store: loaded.sqlitePath, shared: gw.core.shared.where, backends: loaded.config.backends.length }, 'sekisho listening');
  io.err(`関所 Sekisho: ${gw.url}/v1 (${loaded.file})`);
  if (gw.core.store.apiKeys.count() === 0) {
    io.err(
      `API キーがまだありません。作成: npx sekisho apikey create --config ${loaded.file} --name me\nNo API keys yet. Create one: npx sekisho apikey create --config ${loaded.file} --name me`,
    );
  }
  // SIGHUP: re-read the configuration file on this node (`sekisho config reload` does it on every node).
  const hup = () => {
    void gw.core.reload('SIGHUP').then((r) => {
      if (!r.ok) io.err(`${r.ja}\n${r.en}`);
    });
  };
  process.on('SIGHUP', hup);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      process.off('SIGHUP', hup);
      gw.core.log.info({ signal: sig }, 'shutting down: finishing in-flight requests');
      gw.close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  gw.core.log.flush?.();
  return 0;
}
