/**
 * `sekisho login` — the holder, for staff without a wallet app: keeps a key in a local file
 * (mode 0600), redeems an offer (`--offer`), presents the credential over OpenID4VP and
 * prints the session token (the last line of output; use it as the OpenAI API key).
 */
import { parseArgs } from 'node:util';
import QRCode from 'qrcode';
import { Wallet, HolderError } from '../identity/holder.js';
import { parseOfferUri } from '../identity/index.js';
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
      qr: { type: 'boolean' },
      pin: { type: 'string' },
    },
    strict: true,
  });
  const lang = cliLang();
  const alg = values.alg === 'EdDSA' ? 'EdDSA' : 'ES256';
  const wallet = await Wallet.open(values.wallet ?? defaultWalletFile(), alg);
  try {
    let gateway = values.gateway ?? process.env.SEKISHO_GATEWAY;
    if (values.offer) {
      if (parseOfferUri(values.offer).txCodeRequired && !values.pin) throw new CliError({ ja: 'この申し出には別途伝えられた番号が必要です (--pin 123456)', en: 'This offer needs the code given to you separately (--pin 123456)' });
      await wallet.obtain(values.offer, values.pin);
      io.err(label({ ja: '資格情報を受け取りました', en: 'Credential received' }, lang));
      gateway ??= wallet.data.credentials.at(-1)!.issuer;
    }
    gateway ??= wallet.data.credentials.at(-1)?.issuer;
    if (!gateway) throw new CliError({ ja: '--gateway URL か --offer URI を指定してください', en: 'Give --gateway URL or --offer URI' });
    if (values.qr) return await withWalletApp(gateway.replace(/\/+$/, ''), io, lang);
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

/** Cross-device: show the OpenID4VP request as a QR code for a wallet app, then pick up the session. */
async function withWalletApp(gateway: string, io: IO, lang: ReturnType<typeof cliLang>): Promise<number> {
  const res = await fetch(`${gateway}/oid4vp/request`, { method: 'POST', redirect: 'error' });
  if (!res.ok) throw new CliError({ ja: `提示要求を作れません (HTTP ${res.status})`, en: `Cannot create a presentation request (HTTP ${res.status})` }, 1);
  const r = (await res.json()) as { uri: string; transaction_id: string };
  io.err(await QRCode.toString(r.uri, { type: 'terminal', small: true, errorCorrectionLevel: 'L' }));
  io.err(r.uri);
  io.err(label({ ja: 'ウォレットアプリでこの QR コードを読み、資格情報を提示してください (5 分以内)', en: 'Scan this QR code with your wallet app and present your credential (within 5 minutes)' }, lang));
  const until = Date.now() + 300_000;
  while (Date.now() < until) {
    const p = await fetch(`${gateway}/oid4vp/session`, { method: 'POST', redirect: 'error', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ transaction_id: r.transaction_id }).toString() });
    if (p.status === 200) {
      const s = (await p.json()) as { session_token: string; expires_in: number };
      io.err(label({ ja: `ログインしました (${s.expires_in} 秒有効)。セッショントークン:`, en: `Logged in (valid for ${s.expires_in} s). Session token:` }, lang));
      io.out(s.session_token);
      return 0;
    }
    await new Promise((done) => setTimeout(done, 1000));
  }
  throw new CliError({ ja: '提示を待つ時間が過ぎました', en: 'Timed out waiting for the presentation' }, 1);
}
