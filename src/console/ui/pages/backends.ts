import { html } from '../html.js';
import { t, msg, fmtNum, levelLabel, getLang } from '../i18n.js';
import { useApi, ErrorBox, Loading, Section, Level } from '../components.js';

export function Backends() {
  const { data, error, loading, reload } = useApi<any>('backends');
  if (error) return html`<${ErrorBox} error=${error} onRetry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  const lang = getLang();
  return html`
    <${Section} title=${t('backends')} id="b-list">
      <table>
        <thead><tr>
          <th scope="col">${t('backend')}</th><th scope="col">${t('location')}</th><th scope="col">${t('operator')}</th>
          <th scope="col">${t('health')}</th><th scope="col">${t('latency')}</th><th scope="col">${t('requests')}</th><th scope="col">${t('ceiling')}</th>
        </tr></thead>
        <tbody>${data.backends.map(
          (b: any) => html`<tr>
            <th scope="row">${b.id}<br /><span class="muted small">${b.models.join(', ')}</span></th>
            <td>${b.country}${b.region ? ` / ${b.place ? b.place[lang] : b.region}` : ''}${b.on_premises ? html`<br /><span class="muted small">${t('onPrem')}</span>` : null}</td>
            <td>${b.operator}<br /><span class="muted small">[${b.jurisdictions.join(', ')}] ${b.contract.no_training ? t('noTraining') : ''} ${b.contract.retention_days !== undefined ? t('retentionDays', { n: b.contract.retention_days }) : ''}</span></td>
            <td><span class=${`health ${b.health?.state ?? 'closed'}`}>${t(b.health?.state ?? 'closed')}</span><br /><span class="muted small">${t('successes')} ${b.health?.successes ?? 0} / ${t('failures')} ${b.health?.failures ?? 0}</span></td>
            <td class="num">${b.stats_24h.avg_ms == null ? '—' : `${Math.round(b.stats_24h.avg_ms)} / ${Math.round(b.stats_24h.max_ms)} ms`}${b.health?.ewmaMs != null ? html`<br /><span class="muted small">EWMA ${Math.round(b.health.ewmaMs)} ms</span>` : null}</td>
            <td class="num">${fmtNum(b.stats_24h.n)}${b.stats_24h.errors ? html`<br /><span class="bad small">5xx ${b.stats_24h.errors}</span>` : null}</td>
            <td>${b.ceiling ? html`<${Level} level=${b.ceiling} />` : '—'}</td>
          </tr>`,
        )}</tbody>
      </table>
    </${Section}>
    <${Section} title=${t('matrix')} id="b-matrix" desc=${t('matrixHelp')}>
      <div class="scroll">
      <table class="matrix" data-testid="matrix">
        <thead><tr><th scope="col">${t('level')}</th>${data.backends.map((b: any) => html`<th scope="col">${b.id}</th>`)}</tr></thead>
        <tbody>${data.levels.map(
          (l: any) => html`<tr>
            <th scope="row">${levelLabel(l.level)}</th>
            ${data.backends.map((b: any) => {
              const reasons = data.matrix[l.level][b.id];
              return reasons.length === 0
                ? html`<td class="yes"><span aria-hidden="true">✓</span><span class="sr-only">${t('compliant')}</span></td>`
                : html`<td class="no"><span aria-hidden="true">✗</span><span class="sr-only">${t('notCompliant')}</span><ul class="reasons">${reasons.map((r: any) => html`<li>${msg(r)}</li>`)}</ul></td>`;
            })}
          </tr>`,
        )}</tbody>
      </table>
      </div>
    </${Section}>
  `;
}
