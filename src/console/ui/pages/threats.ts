import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { api } from '../api.js';
import { t, tv, fmtTime, getLang } from '../i18n.js';
import { useApi, ErrorBox, Loading, Section } from '../components.js';

export function Threats() {
  const { data, error, loading, reload } = useApi<any>('threats');
  const [err, setErr] = useState<unknown>();
  if (error) return html`<${ErrorBox} error=${error} onRetry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  if (!data.enabled) return html`<p class="notice" data-testid="threats-off">${t('threatsOff')}</p>`;
  const approve = async (id: string) => {
    setErr(undefined);
    try {
      await api(`threats/incidents/${encodeURIComponent(id)}/approve`, { method: 'POST', body: {} });
      reload();
    } catch (e) {
      setErr(e);
    }
  };
  return html`
    <${ErrorBox} error=${err} />
    <${Section} title=${`${t('incidents')} (${data.incidents.length})`} id="t-inc">
      ${data.incidents.length === 0
        ? html`<p class="muted">${t('none')}</p>`
        : html`<table data-testid="incidents"><thead><tr><th scope="col">ID</th><th scope="col">${t('title')}</th><th scope="col">${t('severity')}</th><th scope="col">${t('alerts')}</th><th scope="col">${t('status')}</th><th scope="col">${t('action')}</th></tr></thead>
          <tbody>${data.incidents.map(
            (i: any) => html`<tr><td class="mono small">${i.id}</td><td>${getLang() === 'ja' && i.title_ja ? i.title_ja : i.title}<br /><span class="muted small">${fmtTime(i.opened_at)}</span></td><td><span class=${`sev sev-${i.severity}`}>${tv('sev', i.severity)}</span></td><td class="num">${i.alert_count}</td>
              <td>${tv('status', i.status)}${i.approved_by ? html`<br /><span class="muted small">${t('approvedBy')} ${i.approved_by}</span>` : null}</td>
              <td>${i.status === 'open' ? html`<button type="button" onClick=${() => approve(i.id)}>${t('approve')}</button>` : html`<a href=${`/console/api/threats/incidents/${encodeURIComponent(i.id)}/stix`} download>${t('exportStix')}</a>`}</td></tr>`,
          )}</tbody></table>`}
    </${Section}>
    <${Section} title=${`${t('alerts')} (${data.alerts.length})`} id="t-alerts">
      ${data.alerts.length === 0
        ? html`<p class="muted">${t('none')}</p>`
        : html`<table><thead><tr><th scope="col">${t('time')}</th><th scope="col">${t('type')}</th><th scope="col">${t('severity')}</th><th scope="col">${t('action')}</th><th scope="col">OWASP / ATLAS</th><th scope="col">${t('principal')}</th></tr></thead>
          <tbody>${data.alerts.map((a: any) => html`<tr><td>${fmtTime(a.ts)}</td><td>${a.type}<br /><span class="muted small">${a.rule} (${a.score})</span></td><td><span class=${`sev sev-${a.severity}`}>${tv('sev', a.severity)}</span></td><td>${tv('act', a.action)}</td><td class="small">${[...a.owasp, ...a.atlas].join(' ')}</td><td class="mono small">${a.principal}</td></tr>`)}</tbody></table>`}
    </${Section}>`;
}
