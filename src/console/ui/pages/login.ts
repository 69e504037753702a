import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { api, ApiError } from '../api.js';
import { t } from '../i18n.js';
import { ErrorBox, SvgImage } from '../components.js';

export function Login({ onSignedIn }: { onSignedIn: (s: any) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [vp, setVp] = useState<{ uri: string; transaction_id: string; qr_svg: string } | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const s = await api('login', { method: 'POST', body: { api_key: key } });
      const full = await api('session');
      onSignedIn({ ...s, ...full });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  const startVp = async () => {
    setError(undefined);
    try {
      setVp(await api('login/vp', { method: 'POST', body: {} }));
    } catch (err) {
      setError(err);
    }
  };

  useEffect(() => {
    if (!vp) return;
    let live = true;
    const tick = async () => {
      while (live) {
        await new Promise((r) => setTimeout(r, 1500));
        if (!live) return;
        try {
          const r = await api('login/vp/poll', { method: 'POST', body: { transaction_id: vp.transaction_id } });
          if (r && r.admin) {
            const full = await api('session');
            onSignedIn({ ...r, ...full });
            return;
          }
        } catch (err) {
          if (err instanceof ApiError && err.status !== 202) {
            setError(err);
            setVp(null);
            return;
          }
        }
      }
    };
    void tick();
    return () => {
      live = false;
    };
  }, [vp]);

  return html`<main id="main" class="login" tabindex="-1">
    <h1>${t('signin')}</h1>
    <p>${t('signinLead')}</p>
    <form onSubmit=${submit} class="card">
      <label for="api-key">${t('apiKey')}</label>
      <input id="api-key" name="api_key" type="password" autocomplete="off" spellcheck="false" required value=${key} aria-describedby="api-key-help" onInput=${(e: Event) => setKey((e.target as HTMLInputElement).value)} />
      <p id="api-key-help" class="muted">${t('apiKeyHelp')}</p>
      <button type="submit" class="primary" disabled=${busy}>${t('signin')}</button>
    </form>
    <${ErrorBox} error=${error} />
    <section class="card" aria-labelledby="vp-h">
      <h2 id="vp-h">${t('withWallet')}</h2>
      ${vp
        ? html`<p>${t('walletLead')}</p>
            <${SvgImage} svg=${vp.qr_svg} alt=${t('walletQr')} />
            <p class="mono small break" data-testid="vp-uri">${vp.uri}</p>
            <p role="status" class="muted">${t('walletWaiting')}</p>`
        : html`<button type="button" onClick=${startVp}>${t('withWallet')}</button>`}
    </section>
  </main>`;
}
