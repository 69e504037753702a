import { html } from '../html.js';
import { t, fmtNum } from '../i18n.js';
import { useApi, ErrorBox, Loading, Section } from '../components.js';

const pct = (x: number | null) => (x == null ? '—' : `${Math.round(x * 1000) / 10}%`);

function Bar({ share }: { share: number | null }) {
  return html`<span class="minibar" aria-hidden="true"><span style=${{ width: `${Math.round((share ?? 0) * 100)}%` }}></span></span>`;
}

function Dept({ d, weeks }: { d: any; weeks: string[] }) {
  const name = d.department;
  return html`<tr>
    <th scope="row">${name || (d.__total ? t('allDepartments') : t('unknownDept'))}<br /><span class="muted small">${t('workforce')} ${fmtNum(d.workforce.total)} (${t('trained')} ${fmtNum(d.workforce.trained)})</span></th>
    ${d.weeks.map(
      (w: any) => html`<td class="cell">
        <strong>${pct(w.share)}</strong> <${Bar} share=${w.share} />
        <span class="small">${fmtNum(w.users)} ${t('users')} · ${t('trained')} ${pct(w.trained_share)} / ${t('untrained')} ${pct(w.untrained_share)}</span>
        <span class="small muted">${fmtNum(w.requests)} ${t('requests')} · ${w.denials_per_1000 == null ? '—' : w.denials_per_1000} ${t('per1000')}</span>
      </td>`,
    )}
  </tr>`;
  void weeks;
}

export function Adoption() {
  const { data, error, loading, reload } = useApi<any>('adoption?weeks=6');
  if (error) return html`<${ErrorBox} error=${error} onRetry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  return html`<${Section} title=${t('adoption')} id="adopt" desc=${t('adoptionLead')}>
    <div class="scroll">
      <table class="adoption" data-testid="adoption">
        <thead><tr><th scope="col">${t('department')}</th>${data.weeks.map((w: string) => html`<th scope="col">${w}</th>`)}</tr></thead>
        <tbody>
          <${Dept} d=${{ ...data.total, __total: true }} weeks=${data.weeks} />
          ${data.departments.map((d: any) => html`<${Dept} d=${d} weeks=${data.weeks} />`)}
        </tbody>
      </table>
    </div>
  </${Section}>`;
}
