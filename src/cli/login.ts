/**
 * `sekisho login` — the holder, for staff without a wallet app: keeps a key in a local file
 * (mode 0600), redeems an offer (`--offer`), presents the credential over OpenID4VP and
 * prints the session token (the last line of output; use it as the OpenAI API key).
 */
import { parseArgs } from 'node:util';
import { Wallet, HolderError } from '../identity/holder.js';
import { defaultWalletFile } from './credential.js';
import { CliError, cliLang, label } from './i18n.js';

type IO = { out: (s: string) => void; err: (s: string) => void };

export async function login(argv: string[], io: IO): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      gateway: { type: 'string', short: 'g' },
      offer: { type: 'string' },
      wallet: { type: 'string' },
      alg: { type: 'string' },
    },
    strict: true,
  });
  const lang = cliLang();
  const alg = values.alg === 'EdDSA' ? 'EdDSA' : 'ES256';
  const wallet = await Wallet.open(values.wallet ?? defaultWalletFile(), alg);
  try {
    let gateway = values.gateway ?? process.env.SEKISHO_GATEWAY;
    if (values.offer) {
      await wallet.obtain(values.offer);
      io.err(label({ ja: '資格情報を受け取りました', en: 'Credential received' }, lang));
      gateway ??= wallet.data.credentials.at(-1)!.issuer;
    }
    gateway ??= wallet.data.credentials.at(-1)?.issuer;
    if (!gateway) throw new CliError({ ja: '--gateway URL か --offer URI を指定してください', en: 'Give --gateway URL or --offer URI' });
    const s = await wallet.login(gateway);
    io.err(label({ ja: `ログインしました (${s.expires_in} 秒有効)。セッショントークン:`, en: `Logged in (valid for ${s.expires_in} s). Session token:` }, lang));
    io.out(s.session_token);
    return 0;
  } catch (e) {
    if (e instanceof HolderError) {
      const b = e.body as { error?: { sekisho?: { message?: { ja: string; en: string } } }; sekisho?: { message?: { ja: string; en: string } } };
      const m = b?.error?.sekisho?.message ?? b?.sekisho?.message;
      throw new CliError(m ?? { ja: e.message, en: e.message }, 1);
    }
    throw e;
  }
}
