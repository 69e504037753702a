import { html } from '../html.js';
import { t, fmtTime, fmtNum, levelLabel } from '../i18n.js';
import { useApi, ErrorBox, Loading, Section } from '../components.js';

export function Settings() {
  const { data, error, loading, reload } = useApi<any>('settings');
  if (error) return html`<${ErrorBox} error=${error} onRetry=${reload} />`;
  if (!data) return html`<${Loading} />`;
  const v = data.vault;
  return html`
    <${Section} title=${t('keys')} id="st-keys">
      <dl class="kv">
        <dt>${t('keystore')}</dt><dd class="mono small">${Object.entries(v.keystore).map(([k, x]) => `${k}=${x}`).join(' ')}</dd>
        <dt>${t('currentVersion')}</dt><dd data-testid="key-version">v${v.current}</dd>
        <dt>${t('pendingRewrap')}</dt><dd>${fmtNum(v.pending)}</dd>
        <dt>${t('subjects')}</dt><dd>${fmtNum(v.subjects)} · ${t('erasures')} ${fmtNum(v.erasures)}</dd>
      </dl>
      <table><thead><tr><th scope="col">${t('version')}</th><th scope="col">${t('created')}</th><th scope="col">${t('status')}</th><th scope="col" class="num">${t('items')}</th></tr></thead>
        <tbody>${v.versions.map((x: any) => html`<tr><td>v${x.version}</td><td>${fmtTime(x.created_at)}</td><td>${x.retired_at ? `${t('retired')} ${fmtTime(x.retired_at)}` : x.version === v.current ? t('current') : t('old')}</td><td class="num">${fmtNum(x.items)}</td></tr>`)}</tbody></table>
    </${Section}>
    <${Section} title=${t('retention')} id="st-ret">
      <table><tbody>${Object.entries(data.retention).map(([l, r]) => html`<tr><th scope="row">${levelLabel(l)}</th><td>${t(r as string)}</td></tr>`)}</tbody></table>
    </${Section}>
    <${Section} title=${t('auditLog')} id="st-audit">
      <dl class="kv"><dt>origin</dt><dd class="mono small">${data.audit.origin}</dd><dt>vkey</dt><dd class="mono small break">${data.audit.vkey}</dd><dt>${t('size')}</dt><dd>${fmtNum(data.audit.size)}</dd></dl>
    </${Section}>
    ${data.identity
      ? html`<${Section} title=${t('signingKeys')} id="st-sign">
          <p class="mono small break">${data.identity.did}</p>
          <table><thead><tr><th scope="col">kid</th><th scope="col">alg</th><th scope="col">${t('expires')}</th></tr></thead>
          <tbody>${data.identity.keys.map((k: any) => html`<tr><td class="mono small">${k.kid}</td><td>${k.alg}</td><td>${k.publish_until ? fmtTime(k.publish_until) : '—'}</td></tr>`)}</tbody></table>
        </${Section}>`
      : null}
    <${Section} title=${t('apiKeys')} id="st-apikeys">
      <table><thead><tr><th scope="col">${t('name')}</th><th scope="col">prefix</th><th scope="col">${t('level')}</th><th scope="col">${t('created')}</th><th scope="col">${t('status')}</th></tr></thead>
        <tbody>${data.api_keys.map((k: any) => html`<tr><td>${k.name}${k.admin ? html` <span class="badge">${t('admin')}</span>` : null}</td><td class="mono small">${k.prefix}…</td><td>${k.default_level}–${k.max_level}</td><td>${fmtTime(k.created_at)}</td><td>${k.revoked_at ? html`<span class="bad">${t('revoked')}</span>` : '✓'}</td></tr>`)}</tbody></table>
    </${Section}>`;
}
