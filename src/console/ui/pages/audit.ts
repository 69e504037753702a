import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { api } from '../api.js';
import { t, fmtTime, fmtNum } from '../i18n.js';
import { useApi, ErrorBox, Section, Level, DecisionBadge } from '../components.js';
import { verifyProof, type Verdict } from '../verify.js';

const PIN_KEY = 'sekisho_audit_vkey';

function pinned(): string {
  try {
    return localStorage.getItem(PIN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function Audit({ query }: { query: URLSearchParams }) {
  const [form, setForm] = useState({ request_id: query.get('request_id') ?? '', from: '', to: '' });
  const [q, setQ] = useState(() => new URLSearchParams({ limit: '50', ...(form.request_id ? { request_id: form.request_id } : {}) }).toString());
  const { data, error, reload } = useApi<any>(`audit/search?${q}`);
  const [vkey, setVkey] = useState(pinned());
  const submit = (e: Event) => {
    e.preventDefault();
    const p = new URLSearchParams({ limit: '50' });
    if (form.request_id.trim()) p.set('request_id', form.request_id.trim());
    if (form.from) p.set('from', new Date(form.from).toISOString());
    if (form.to) p.set('to', new Date(form.to).toISOString());
    setQ(p.toString());
  };
  const set = (k: string) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  const pin = (e: Event) => {
    e.preventDefault();
    try {
      if (vkey.trim()) localStorage.setItem(PIN_KEY, vkey.trim());
      else localStorage.removeItem(PIN_KEY);
    } catch {
      /* private mode */
    }
  };
  return html`
    <${Section} title=${t('search')} id="a-search">
      <form onSubmit=${submit} class="fields">
        <div><label for="a-rid">${t('requestId')}</label><input id="a-rid" class="mono" value=${form.request_id} onInput=${set('request_id')} spellcheck="false" /></div>
        <div><label for="a-from">${t('from')}</label><input id="a-from" type="datetime-local" step="1" value=${form.from} onInput=${set('from')} /></div>
        <div><label for="a-to">${t('to')}</label><input id="a-to" type="datetime-local" step="1" value=${form.to} onInput=${set('to')} /></div>
        <div><button type="submit" class="primary">${t('search')}</button></div>
      </form>
    </${Section}>
    <${Section} title=${t('results')} id="a-results">
      <${ErrorBox} error=${error} onRetry=${reload} />
      ${data
        ? data.records.length === 0
          ? html`<p class="muted">${t('noResults')}</p>`
          : html`<table data-testid="audit-results"><thead><tr><th scope="col">${t('index')}</th><th scope="col">${t('time')}</th><th scope="col">${t('requestId')}</th><th scope="col">${t('level')}</th><th scope="col">${t('decision')}</th><th scope="col">${t('backend')}</th><th scope="col">${t('verify')}</th></tr></thead>
              <tbody>${data.records.map((r: any) => html`<${Row} key=${r.index} r=${r} size=${data.checkpoint_size} vkey=${vkey.trim() || undefined} />`)}</tbody></table>`
        : null}
    </${Section}>
    <${Section} title=${t('vkeyPinned')} id="a-vkey" desc=${t('vkeyHelp')}>
      <form onSubmit=${pin} class="row">
        <label for="a-vkey-in" class="sr-only">${t('vkeyPinned')}</label>
        <input id="a-vkey-in" class="mono grow" value=${vkey} onInput=${(e: Event) => setVkey((e.target as HTMLInputElement).value)} spellcheck="false" placeholder="origin+hash+key" />
        <button type="submit">${t('pinKey')}</button>
      </form>
    </${Section}>
    <${Checkpoints} />
  `;
}

function Row({ r, size, vkey }: { r: any; size: number; vkey: string | undefined }) {
  const [verdict, setVerdict] = useState<Verdict | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const verify = async () => {
    setBusy(true);
    setError(undefined);
    setVerdict(null);
    try {
      const proof = await api(`audit/proof?index=${r.index}`);
      setVerdict(await verifyProof(proof, { ...(vkey ? { vkey } : {}), requestId: r.request_id }));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<tr>
    <td class="num">${r.index}</td><td>${fmtTime(r.ts)}</td><td class="mono small">${r.request_id}</td><td><${Level} level=${r.level} /></td>
    <td><${DecisionBadge} decision=${r.decision} /> <code class="small">${r.reason}</code></td><td>${r.backend ?? '—'}</td>
    <td>
      ${r.index >= size && !verdict ? html`<span class="muted small">${t('pendingCheckpoint')}</span><br />` : null}
      <button type="button" onClick=${verify} disabled=${busy} aria-label=${`${t('verify')}: ${r.index}`}>${busy ? t('verifying') : t('verify')}</button>
      <div aria-live="polite" data-testid=${`verdict-${r.index}`}>
        <${ErrorBox} error=${error} />
        ${verdict
          ? html`<p class=${verdict.ok ? 'ok' : 'bad'}><strong>${verdict.ok ? '✓ ' + t('verified', { n: fmtNum(verdict.size ?? 0) }) : '✗ ' + t('notVerified')}</strong></p>
              <ul class="steps small">${verdict.steps.map((s) => html`<li class=${s.ok ? 'ok' : 'bad'}>${s.ok ? '✓' : '✗'} ${t('step_' + s.key)}: ${s.detail}</li>`)}</ul>`
          : null}
      </div>
    </td>
  </tr>`;
}

function Checkpoints() {
  const [before, setBefore] = useState<number | undefined>(undefined);
  const { data, error } = useApi<any>(`audit/checkpoints?limit=10${before !== undefined ? `&before=${before}` : ''}`);
  return html`<${Section} title=${t('checkpoints')} id="a-cps">
    <${ErrorBox} error=${error} />
    ${data
      ? html`<p class="muted small mono break">vkey: ${data.vkey}</p>
          <table><thead><tr><th scope="col">${t('size')}</th><th scope="col">${t('time')}</th><th scope="col">${t('root')}</th><th scope="col">${t('signatures')}</th></tr></thead>
          <tbody>${data.checkpoints.map((c: any) => html`<tr><td class="num">${fmtNum(c.size)}</td><td>${fmtTime(c.ts)}</td><td class="mono small">${c.root}</td><td class="num">${c.signatures}</td></tr>`)}</tbody></table>
          ${data.checkpoints.length === 10 ? html`<button type="button" onClick=${() => setBefore(data.checkpoints.at(-1).size)}>${t('more')}</button>` : null}`
      : null}
  </${Section}>`;
}
