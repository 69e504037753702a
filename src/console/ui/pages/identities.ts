import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { api } from '../api.js';
import { t, fmtTime } from '../i18n.js';
import { useApi, ErrorBox, Loading, Section, SvgImage, Level } from '../components.js';

const LEVELS = ['L0', 'L1', 'L2', 'L3', 'L4'];

export function Identities() {
  const { data, error, loading, reload } = useApi<any>('identities');
  if (error) return html`<${ErrorBox} error=${error} onRetry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  if (!data.enabled) return html`<p class="muted">${t('identityDisabled')}</p>`;
  return html`<${Issue} data=${data} onIssued=${reload} /><${SessionsList} data=${data} onChange=${reload} /><${Credentials} data=${data} onChange=${reload} />`;
}

function Issue({ data, onIssued }: { data: any; onIssued: () => void }) {
  const [f, setF] = useState({ name: '', employee_id: '', department: '', role: 'staff', clearance: 'L2', trainings: 'ai-security-basic', pin: false });
  const [offer, setOffer] = useState<any>(null);
  const [error, setError] = useState<unknown>();
  const set = (k: string) => (e: Event) => {
    const el = e.target as HTMLInputElement;
    setF({ ...f, [k]: el.type === 'checkbox' ? el.checked : el.value });
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      setOffer(
        await api('identities/credentials', {
          method: 'POST',
          body: { ...f, trainings: f.trainings.split(',').map((s) => s.trim()).filter(Boolean) },
        }),
      );
      onIssued();
    } catch (err) {
      setError(err);
    }
  };
  return html`<${Section} title=${t('issue')} id="issue">
    <form onSubmit=${submit} class="fields">
      <div><label for="c-name">${t('name')}</label><input id="c-name" required value=${f.name} onInput=${set('name')} autocomplete="off" /></div>
      <div><label for="c-emp">${t('employeeId')}</label><input id="c-emp" required value=${f.employee_id} onInput=${set('employee_id')} autocomplete="off" /></div>
      <div><label for="c-dept">${t('department')}</label><input id="c-dept" required value=${f.department} onInput=${set('department')} /></div>
      <div><label for="c-role">${t('role')}</label><input id="c-role" required value=${f.role} onInput=${set('role')} /></div>
      <div><label for="c-clearance">${t('clearance')}</label><select id="c-clearance" value=${f.clearance} onChange=${set('clearance')}>${LEVELS.map((l) => html`<option value=${l}>${l}</option>`)}</select></div>
      <div><label for="c-trainings">${t('trainings')}</label><input id="c-trainings" value=${f.trainings} onInput=${set('trainings')} /></div>
      <div class="check"><input id="c-pin" type="checkbox" checked=${f.pin} onChange=${set('pin')} /><label for="c-pin">${t('pin')}</label></div>
      <div><button type="submit" class="primary">${t('issueBtn')}</button></div>
    </form>
    <${ErrorBox} error=${error} />
    ${offer
      ? html`<div class="offer" data-testid="offer" aria-live="polite">
          <${SvgImage} svg=${offer.qr_svg} alt=${t('offerQr')} size=${260} />
          <div>
            <p>${t('offerLead', { h: Math.round(offer.expires_in / 3600) })}</p>
            ${offer.tx_code ? html`<p class="warn" data-testid="offer-pin">${t('pinIs', { pin: offer.tx_code })}</p>` : null}
            <p class="mono small break" data-testid="offer-uri">${offer.uri}</p>
          </div>
        </div>`
      : null}
  </${Section}>`;
}

function SessionsList({ data, onChange }: { data: any; onChange: () => void }) {
  const [error, setError] = useState<unknown>();
  const end = async (id: string) => {
    try {
      await api(`identities/sessions/${id}/end`, { method: 'POST', body: {} });
      onChange();
    } catch (e) {
      setError(e);
    }
  };
  return html`<${Section} title=${`${t('sessions')} (${data.sessions.length})`} id="sessions">
    <${ErrorBox} error=${error} />
    ${data.sessions.length === 0
      ? html`<p class="muted">${t('none')}</p>`
      : html`<table><thead><tr><th scope="col">${t('name')}</th><th scope="col">${t('department')}</th><th scope="col">${t('role')}</th><th scope="col">${t('clearance')}</th><th scope="col">${t('expires')}</th><th scope="col"><span class="sr-only">${t('end')}</span></th></tr></thead>
        <tbody>${data.sessions.map((s: any) => html`<tr><td>${s.name}</td><td>${s.department}</td><td>${s.role}</td><td><${Level} level=${s.clearance} /></td><td>${fmtTime(s.expires_at)}</td><td><button type="button" onClick=${() => end(s.id)} aria-label=${`${t('end')}: ${s.name}`}>${t('end')}</button></td></tr>`)}</tbody></table>`}
  </${Section}>`;
}

function Credentials({ data, onChange }: { data: any; onChange: () => void }) {
  const [error, setError] = useState<unknown>();
  const revoke = async (id: string) => {
    if (!confirm(t('confirmRevoke', { id }))) return;
    try {
      await api(`identities/credentials/${id}/revoke`, { method: 'POST', body: {} });
      onChange();
    } catch (e) {
      setError(e);
    }
  };
  return html`<${Section} title=${`${t('credentials')} (${data.credentials.length})`} id="creds">
    <${ErrorBox} error=${error} />
    <table data-testid="credentials"><thead><tr><th scope="col">ID</th><th scope="col">${t('department')}</th><th scope="col">${t('trained')}</th><th scope="col">${t('created')}</th><th scope="col">${t('expires')}</th><th scope="col">${t('status')}</th></tr></thead>
      <tbody>${data.credentials.map(
        (c: any) => html`<tr>
          <td class="mono">${c.id}</td><td>${c.department ?? '—'}</td><td>${c.trained == null ? '—' : c.trained ? '✓' : '✗'}</td>
          <td>${fmtTime(c.created_at)}</td><td>${fmtTime(c.expires_at)}</td>
          <td>${c.revoked_at ? html`<span class="bad">${t('revoked')} ${fmtTime(c.revoked_at)}</span>` : html`<button type="button" onClick=${() => revoke(c.id)} aria-label=${`${t('revoke')}: ${c.id}`}>${t('revoke')}</button>`}</td>
        </tr>`,
      )}</tbody></table>
  </${Section}>`;
}
