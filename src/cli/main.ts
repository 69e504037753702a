/**
 * `sekisho` command line.
 *   serve | try | apikey create|list|revoke | credential issue|offer|revoke|list | login |
 *   policy test|explain | identity did|rotate-key | config schema|check|reload|networkpolicy | inspect |
 *   keys status|rotate|retire | erase | threats alerts|incidents|approve|export|release | mock-upstream
 */
import { parseArgs } from 'node:util';
import { ConfigError, jsonSchema } from '../config/index.js';
import { resolveConfig } from './common.js';
import { CliError, say } from './i18n.js';

const HELP = `関所 Sekisho — 主権 AI ゲートウェイ / sovereign AI gateway

使い方 / usage: sekisho <command> [options]
  serve [--config FILE] [--host H] [--port P]        ゲートウェイを起動 / run the gateway
  try [--config FILE] [--level L] [--model M] [--key K] [--send] [--json] "text"
                                                      経過を表示 (既定では送信しない) / show the checkpoint trace (no call unless --send)
  apikey create [--config FILE] --name NAME [--level L0] [--max-level L3]
  apikey list [--json] | apikey revoke ID|NAME        API キーの管理 / manage API keys
  credential issue --name N --employee-id E [--department D] [--role R] --clearance L2 [--training ID:YYYY-MM-DD]… [--pin]
  credential offer ID | revoke ID|EMPLOYEE_ID | list  資格情報の発行 (OpenID4VCI)・失効 / issue (OpenID4VCI), revoke credentials
  login [--offer URI [--pin CODE]] [--gateway URL] [--wallet FILE] [--qr]
                                                      資格情報を提示してセッション取得 / present a credential, get a session token
  policy test [--pack P|--all] | policy explain --level L [--clearance L] [--training ID]… [--model M]
                                                      Cedar 規程の例の実行・判定理由 / run policy examples, explain a decision
  identity did | identity rotate-key [--alg ES256|EdDSA]  テナントの DID・署名鍵の更新 / tenant DIDs, signing key rotation
  config schema | config check [--config FILE]        JSON Schema を出力・設定を検証 / print the JSON Schema, validate a config
  config reload [--config FILE]                       全ノードに設定の再読み込みを指示 (redis:) / every node re-reads its config (redis:)
  config networkpolicy [--config FILE] [--json|--systemd]
                                                      接続先の許可リスト (名前は解決しない) / egress allow-list for the Helm chart or systemd (resolves nothing)
  inspect [--jsonl] [FILE|-]                          個人情報・秘密の検出 / detect personal data and secrets
  inspect PATH... [--jsonl] [--progress]              ファイル・フォルダの一括スキャン (txt md csv jsonl docx pdf) / batch scan
  keys status [--json] | keys rotate [--batch N] | keys retire --version N
                                                      テナント鍵の状態・ローテーション・廃止 / tenant key status, rotation, retirement
  erase --subject ID                                  対象者の鍵を破棄 (暗号消去) / destroy a subject's key (crypto-shredding)
  threats alerts [--since 24h] [--json] | threats incidents [--status S] [--json]
  threats approve ID | threats export ID --stix|--jpcert | threats release PRINCIPAL
                                                      脅威検知の警告・インシデント・共有承認・隔離解除 / threat alerts, incidents, sharing approval, quarantine release
  mock-upstream [--port 9001] [--name N]              試用の模擬モデルサーバ / a fake model server for trials
  audit vkey                                          監査ログの検証鍵 / the audit log's verifier key
  audit verify [--url URL] [--vkey K] [--since CHECKPOINT_FILE] [--counts --from D --to D]
                                                      監査ログを検証 / verify the audit log (signature, tree, tiles, consistency)
  audit prove --index N | audit show --request-id ID  包含証明・記録の表示 / inclusion proof, show a leaf
  report residency --from D --to D [--out DIR] [--png] データ所在報告書 (HTML, PDF) / residency report

設定ファイル / configuration: --config, $SEKISHO_CONFIG, or ./sekisho.yaml (created from sekisho.example.yaml)
鍵ファイルのパスフレーズ / key file passphrase: $SEKISHO_VAULT_PASSPHRASE, else asked on the terminal
言語 / language: SEKISHO_LANG=ja|en|both`;

const io = {
  out: (s: string) => void process.stdout.write(s + '\n'),
  err: (s: string) => void process.stderr.write(s + '\n'),
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve':
      return (await import('./serve.js')).serve(rest, io);
    case 'try':
      return (await import('./try.js')).tryCmd(rest, io);
    case 'apikey':
      return (await import('./apikey.js')).apikey(rest, io);
    case 'credential':
      return (await import('./credential.js')).credential(rest, io);
    case 'login':
      return (await import('./login.js')).login(rest, io);
    case 'policy':
      return (await import('./policy.js')).policy(rest, io);
    case 'identity':
      return (await import('./identity.js')).identity(rest, io);
    case 'keys':
      return (await import('./keys.js')).keys(rest, io);
    case 'threats':
      return (await import('./threats.js')).threats(rest, io);
    case 'erase':
      return (await import('./keys.js')).erase(rest, io);
    case 'config': {
      const [verb, ...more] = rest;
      if (verb === 'schema') {
        io.out(JSON.stringify(jsonSchema(), null, 2));
        return 0;
      }
      if (verb === 'check') {
        const { values } = parseArgs({ args: more, options: { config: { type: 'string', short: 'c' } }, strict: true });
        const loaded = resolveConfig(values.config, io.err);
        io.out(say({ ja: `${loaded.file}: 問題ありません`, en: `${loaded.file}: OK` }));
        return 0;
      }
      if (verb === 'networkpolicy') {
        const { values } = parseArgs({ args: more, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, systemd: { type: 'boolean' } }, strict: true });
        const loaded = resolveConfig(values.config, io.err);
        const { egressEndpoints, egressValuesYaml, egressSystemdDropIn } = await import('../config/egress.js');
        const eps = egressEndpoints(loaded.config);
        if (values.json) io.out(JSON.stringify(eps, null, 2));
        else io.out((values.systemd ? egressSystemdDropIn(eps) : egressValuesYaml(eps)).trimEnd());
        return 0;
      }
      if (verb === 'reload') return (await import('./reload.js')).configReload(more, io);
      throw new CliError({ ja: '使い方: sekisho config schema|check|reload|networkpolicy', en: 'Usage: sekisho config schema|check|reload|networkpolicy' });
    }
    case 'audit':
      return (await import('./audit.js')).auditCmd(rest, io);
    case 'report':
      return (await import('./audit.js')).reportCmd(rest, io);
    case 'inspect': {
      let mod: { runInspect?: (args: string[], io: { stdin: NodeJS.ReadableStream; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }) => Promise<number> };
      try {
        mod = await import('./inspect.js');
      } catch {
        throw new CliError({ ja: 'inspect コマンドはこのビルドに含まれていません', en: 'The inspect command is not part of this build' });
      }
      return mod.runInspect!(rest, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
    }
    case 'mock-upstream': {
      const { values } = parseArgs({ args: rest, options: { port: { type: 'string', short: 'p' }, host: { type: 'string' }, name: { type: 'string' } }, strict: true });
      const { startMockUpstream } = await import('../dev/mock-upstream.js');
      const m = await startMockUpstream({ port: Number(values.port ?? 9001), host: values.host ?? '127.0.0.1', name: values.name ?? 'mock' });
      io.err(`模擬モデルサーバ / mock model server: ${m.url}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await m.close();
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(HELP);
      return cmd === undefined ? 2 : 0;
    default:
      throw new CliError({ ja: `不明なコマンド: ${cmd} (sekisho --help を参照)`, en: `Unknown command: ${cmd} (see sekisho --help)` });
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof ConfigError) {
      io.err(e.report());
      process.exitCode = 2;
    } else if (e instanceof CliError) {
      io.err(say(e.msg, 'both'));
      process.exitCode = e.exitCode;
    } else if (typeof (e as { code?: unknown })?.code === 'string' && (e as { code: string }).code.startsWith('ERR_PARSE_ARGS')) {
      io.err(`引数が正しくありません / invalid arguments: ${(e as Error).message}`);
      process.exitCode = 2;
    } else if ((e as { code?: string })?.code === 'EADDRINUSE') {
      io.err(`ポートは使用中です / the port is already in use: ${(e as Error).message}`);
      process.exitCode = 1;
    } else if (typeof (e as { ja?: unknown })?.ja === 'string' && typeof (e as { en?: unknown })?.en === 'string') {
      io.err(`${(e as { ja: string }).ja}\n${(e as { en: string }).en}`);
      process.exitCode = 2;
    } else {
      io.err(`エラー / error: ${(e as Error)?.message ?? String(e)}`);
      process.exitCode = 1;
    }
  },
);
