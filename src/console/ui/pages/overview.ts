import { useEffect, useMemo, useState } from 'preact/hooks';
import { html } from '../html.js';
import { t, fmtNum, fmtTime, levelLabel, getLang } from '../i18n.js';
import { useApi, ErrorBox, Loading, Section, Level, DecisionBadge } from '../components.js';
import { JapanMap, WorldMap, type MapBackend } from '../map.js';

const LEVELS = ['L0', 'L1', 'L2', 'L3', 'L4'];

interface Overview {
  since: string;
  minutes: number;
  traffic: { minute: string; level: string; decision: string; n: number }[];
  top_denials: { reason: string; n: number }[];
  last_seq: number;
  backends: (MapBackend & { ceiling: string | null })[];
  residency: Record<string, { allowed: boolean; backends: string[]; countries: string[]; rule_countries: string[] | null }>;
}

interface LiveRecord {
  index: number;
  ts: string;
  level: string;
  decision: string;
  reason: string;
  backend: string | null;
  model: string;
  status: number;
}

/** Minute buckets (UTC `YYYY-MM-DDTHH:MM`) of the last `n` minutes. */
function minuteKeys(n: number): string[] {
  const now = Math.floor(Date.now() / 60_000) * 60_000;
  const out: string[] = [];
  for (let i = n - 1; i >= 0; i--) out.push(new Date(now - i * 60_000).toISOString().slice(0, 16));
  return out;
}

export function Overview() {
  const { data, error, loading, reload } = useApi<Overview>('overview?minutes=60');
  const [live, setLive] = useState<LiveRecord[]>([]);
  const [connected, setConnected] = useState(false);
  const [level, setLevel] = useState('L2');

  useEffect(() => {
    if (!data) return;
    const es = new EventSource('/console/api/stream');
    es.addEventListener('open', () => setConnected(true));
    es.addEventListener('error', () => setConnected(false));
    es.addEventListener('records', (ev) => {
      const recs = JSON.parse((ev as MessageEvent).data) as LiveRecord[];
      setLive((l) => [...l, ...recs.filter((r) => r.index > data.last_seq)].slice(-2000));
    });
    return () => es.close();
  }, [data]);

  const series = useMemo(() => {
    const keys = minuteKeys(60);
    const rows = new Map(keys.map((k) => [k, { minute: k, byLevel: {} as Record<string, number>, denied: 0, total: 0 }]));
    const add = (minute: string, lvl: string, decision: string, n: number) => {
      const r = rows.get(minute);
      if (!r) return;
      r.byLevel[lvl || 'none'] = (r.byLevel[lvl || 'none'] ?? 0) + n;
      r.total += n;
      if (decision !== 'allow') r.denied += n;
    };
    for (const x of data?.traffic ?? []) add(x.minute, x.level, x.decision, x.n);
    for (const r of live) add(r.ts.slice(0, 16), r.level, r.decision, 1);
    return [...rows.values()];
  }, [data, live]);

  const denialReasons = useMemo(() => {
    const m = new Map<string, number>();
    for (const d of data?.top_denials ?? []) m.set(d.reason, d.n);
    for (const r of live) if (r.decision !== 'allow') m.set(r.reason, (m.get(r.reason) ?? 0) + 1);
    return [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
  }, [data, live]);

  if (error) return html`<${ErrorBox} error=${error} onRetry=${reload} />`;
  if (!data) return html`<${Loading} />`;

  const total = series.reduce((a, r) => a + r.total, 0);
  const denied = series.reduce((a, r) => a + r.denied, 0);
  const max = Math.max(1, ...series.map((r) => r.total));
  const W = 720;
  const H = 180;
  const bw = W / series.length;
  const res = data.residency[level]!;
  return html`
    <div class="kpis" aria-live="polite">
      <div class="kpi"><span class="kpi-n" data-testid="kpi-requests">${fmtNum(total)}</span><span>${t('requests')} (${t('lastHour')})</span></div>
      <div class="kpi"><span class="kpi-n">${fmtNum(total - denied)}</span><span>${t('allowed')}</span></div>
      <div class="kpi bad"><span class="kpi-n" data-testid="kpi-denied">${fmtNum(denied)}</span><span>${t('denials')}</span></div>
      <div class="kpi"><span class=${connected ? 'live on' : 'live off'}>${connected ? '● ' + t('liveOn') : '○ ' + t('liveOff')}</span></div>
    </div>
    <div class="grid2">
      <${Section} title=${t('rpm')} id="rpm" desc=${t('lastHour')}>
        <svg class="chart" viewBox=${`0 0 ${W} ${H + 24}`} role="img" aria-label=${`${t('rpm')}: ${t('requests')} ${total}, ${t('denials')} ${denied}`}>
          ${series.map((r, i) => {
            let y = H;
            return html`<g key=${r.minute}>
              ${LEVELS.concat(['none']).map((l) => {
                const n = r.byLevel[l] ?? 0;
                if (!n) return null;
                const hgt = (n / max) * (H - 10);
                y -= hgt;
                return html`<rect x=${i * bw + 1} y=${y} width=${Math.max(1, bw - 2)} height=${hgt} class=${`bar bar-${l}`}><title>${r.minute.slice(11)} ${levelLabel(l)}: ${n}</title></rect>`;
              })}
              ${r.denied ? html`<rect x=${i * bw + 1} y=${H + 4} width=${Math.max(1, bw - 2)} height="6" class="bar-denied"><title>${r.minute.slice(11)} ${t('denials')}: ${r.denied}</title></rect>` : null}
            </g>`;
          })}
          <line x1="0" y1=${H} x2=${W} y2=${H} class="axis" />
          <text x="0" y=${H + 22} class="tick">${new Date(series[0]!.minute + ':00Z').toLocaleTimeString(getLang() === 'ja' ? 'ja-JP' : 'en-GB', { hour: '2-digit', minute: '2-digit' })}</text>
          <text x=${W} y=${H + 22} text-anchor="end" class="tick">${new Date(series.at(-1)!.minute + ':00Z').toLocaleTimeString(getLang() === 'ja' ? 'ja-JP' : 'en-GB', { hour: '2-digit', minute: '2-digit' })}</text>
          <text x="2" y="12" class="tick">${max}/min</text>
        </svg>
        <ul class="legend inline">${LEVELS.map((l) => html`<li><span class=${`swatch bar-${l}`} aria-hidden="true"></span>${levelLabel(l)}</li>`)}<li><span class="swatch bar-denied" aria-hidden="true"></span>${t('denials')}</li></ul>
      </${Section}>
      <${Section} title=${t('topReasons')} id="reasons">
        ${denialReasons.length === 0
          ? html`<p class="muted">${t('none')}</p>`
          : html`<table><thead><tr><th scope="col">${t('reason')}</th><th scope="col" class="num">${t('denials')}</th></tr></thead>
              <tbody>${denialReasons.map(([r, n]) => html`<tr><td><code>${r}</code></td><td class="num">${fmtNum(n)}</td></tr>`)}</tbody></table>`}
      </${Section}>
    </div>
    <div class="grid2">
      <${Section} title=${t('japanMap')} id="japan" desc=${t('japanMapDesc')}>
        <${JapanMap} backends=${data.backends} />
      </${Section}>
      <${Section} title=${t('worldMap')} id="world" desc=${t('worldMapDesc')}>
        <div class="segmented" role="radiogroup" aria-label=${t('level')}>
          ${LEVELS.map((l) => html`<label class=${level === l ? 'on' : ''}><input type="radio" name="world-level" value=${l} checked=${level === l} onChange=${() => setLevel(l)} />${levelLabel(l)}</label>`)}
        </div>
        <${WorldMap} countries=${res.countries} ruleCountries=${res.rule_countries} backends=${data.backends} />
        <p data-testid="residency">
          ${!res.allowed ? t('levelBlocked') : res.backends.length === 0 ? t('noBackendForLevel') : html`${t('mayGo')}: <strong>${res.countries.join(', ')}</strong> (${res.backends.join(', ')})`}
          ${res.rule_countries ? html`<br /><span class="muted">${t('ruleCountries')}: ${res.rule_countries.join(', ')}</span>` : null}
        </p>
      </${Section}>
    </div>
    <${Section} title=${t('recent')} id="recent">
      ${live.length === 0
        ? html`<p class="muted">${t('none')}</p>`
        : html`<table><thead><tr><th scope="col">${t('time')}</th><th scope="col">${t('index')}</th><th scope="col">${t('level')}</th><th scope="col">${t('decision')}</th><th scope="col">${t('reason')}</th><th scope="col">${t('backend')}</th></tr></thead>
          <tbody>${live.slice(-10).reverse().map((r) => html`<tr><td>${fmtTime(r.ts)}</td><td class="num">${r.index}</td><td><${Level} level=${r.level} /></td><td><${DecisionBadge} decision=${r.decision} /></td><td><code>${r.reason}</code></td><td>${r.backend ?? '—'}</td></tr>`)}</tbody></table>`}
    </${Section}>
  `;
}
