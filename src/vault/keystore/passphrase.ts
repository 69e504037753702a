/**
 * The file keystore's passphrase: from an environment variable, else typed on a terminal
 * (not echoed), else a clear refusal.
 */
import { VaultError } from '../errors.js';

export interface PassphraseSource {
  env: NodeJS.ProcessEnv;
  envName: string;
  /** Allow a terminal prompt (the CLI sets this; library use never prompts). */
  interactive: boolean;
}

export const MIN_PASSPHRASE = 8;
export const MAX_PASSPHRASE = 1024;

export async function getPassphrase(src: PassphraseSource, creating: boolean): Promise<string> {
  let p = src.env[src.envName];
  if (p === undefined || p === '') {
    if (!(src.interactive && process.stdin.isTTY && process.stderr.isTTY)) {
      throw new VaultError(
        'vault_passphrase_missing',
        `鍵ファイルのパスフレーズがありません。環境変数 ${src.envName} に設定するか、端末から起動して入力してください`,
        `No passphrase for the key file: set the environment variable ${src.envName}, or start on a terminal to type it`,
      );
    }
    p = await prompt(creating ? '新しい鍵ファイルのパスフレーズ / new key file passphrase: ' : '鍵ファイルのパスフレーズ / key file passphrase: ');
    if (creating) {
      const again = await prompt('もう一度 / again: ');
      if (again !== p) throw new VaultError('vault_passphrase_wrong', 'パスフレーズが一致しません', 'The passphrases do not match');
    }
  }
  if (p.length < MIN_PASSPHRASE || p.length > MAX_PASSPHRASE) {
    throw new VaultError(
      'vault_passphrase_missing',
      `パスフレーズは ${MIN_PASSPHRASE}〜${MAX_PASSPHRASE} 文字にしてください`,
      `The passphrase must be ${MIN_PASSPHRASE} to ${MAX_PASSPHRASE} characters long`,
    );
  }
  return p;
}

async function prompt(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let buf = '';
    const wasRaw = stdin.isRaw;
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode?.(wasRaw);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(buf);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new VaultError('vault_passphrase_missing', '入力が中断されました', 'Input interrupted'));
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
        else if (buf.length < MAX_PASSPHRASE) buf += ch;
      }
    };
    stdin.on('data', onData);
  });
}
