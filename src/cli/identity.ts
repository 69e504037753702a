/**
 * `sekisho identity did` prints the tenant's DIDs; `sekisho identity rotate-key [--alg ES256|EdDSA]`
 * replaces a signing key (the old one stays published until its last credential expires;
 * restart the gateway to sign with the new key).
 */
import { parseArgs } from 'node:util';
import { openStore } from '../store/index.js';
import { KeyRing, didJwkFor, didWebFor } from '../identity/index.js';
import { SEALING_PURPOSE } from '../identity/keys.js';
import { originOf } from './credential.js';
import { resolveConfig, withVault } from './common.js';
import { CliError, cliLang, label } from './i18n.js';

type IO = { out: (s: string) => void; err: (s: string) => void };

export async function identity(argv: string[], io: IO): Promise<number> {
  const [verb, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, alg: { type: 'string' } }, strict: true });
  const loaded = resolveConfig(values.config, io.err);
  // the signing keys are sealed under a vault secret: open the vault (passphrase, HSM …) for it
  const sealing = await withVault(loaded, 'admin_read', (vault) => vault.secretFor(SEALING_PURPOSE));
  const keys = await KeyRing.open(loaded.dataDir, sealing);
  const lang = cliLang();
  switch (verb) {
    case 'did': {
      io.out(didWebFor(originOf(loaded)));
      for (const alg of ['ES256', 'EdDSA'] as const) io.out(didJwkFor(keys.signer(alg).publicJwk));
      return 0;
    }
    case 'rotate-key': {
      const alg = values.alg ?? loaded.config.identity.signing_alg;
      if (alg !== 'ES256' && alg !== 'EdDSA') throw new CliError({ ja: '--alg は ES256 か EdDSA です', en: '--alg must be ES256 or EdDSA' });
      const store = await openStore(loaded);
      try {
        const old = keys.signer(alg).kid;
        const until = await store.identity.lastExpiryForKey(old);
        const r = await keys.rotate(alg, until);
        io.out(label({ ja: `${alg} の署名鍵を更新しました: ${r.active} (旧鍵 ${r.retired} は ${until ?? '即時'} まで公開)。ゲートウェイを再起動してください`, en: `Rotated the ${alg} signing key: ${r.active} (the old key ${r.retired} stays published until ${until ?? 'now'}). Restart the gateway` }, lang));
        return 0;
      } finally {
        await store.close();
      }
    }
    default:
      throw new CliError({ ja: '使い方: sekisho identity did|rotate-key [--alg ES256|EdDSA]', en: 'Usage: sekisho identity did|rotate-key [--alg ES256|EdDSA]' });
  }
}
