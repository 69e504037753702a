/** The two maps of the overview: Japan with the backends by region, and the world by level. */
import mapData from 'sekisho-map-data';
import { html } from './html.js';
import { getLang, t } from './i18n.js';

interface MapData {
  japan: { w: number; h: number; d: string; proj: { lon0: number; lat0: number; s: number; k: number } };
  world: { w: number; h: number; countries: { a2: string; name: string; d: string }[]; centroids: Record<string, [number, number]> };
}
const M = mapData as MapData;

export interface MapBackend {
  id: string;
  country: string;
  region: string | null;
  place: { key: string; ja: string; en: string; lat: number; lon: number } | null;
  state: string;
  ceiling: string | null;
}

function jp(lat: number, lon: number): [number, number] {
  const p = M.japan.proj;
  return [(lon - p.lon0) * p.s * p.k, (p.lat0 - lat) * p.s];
}

const STATE_CLASS: Record<string, string> = { closed: 'up', open: 'down', 'half-open': 'probe' };

export function JapanMap({ backends }: { backends: MapBackend[] }) {
  const placed = backends.filter((b) => b.place);
  const groups = new Map<string, MapBackend[]>();
  for (const b of placed) groups.set(b.place!.key, [...(groups.get(b.place!.key) ?? []), b]);
  const lang = getLang();
  const label = [...groups.values()].map((bs) => `${bs[0]!.place![lang]}: ${bs.map((b) => b.id).join(', ')}`).join('; ');
  return html`<figure class="map">
    <svg viewBox=${`0 0 ${M.japan.w} ${M.japan.h}`} role="img" aria-label=${`${t('japanMap')} — ${label || t('none')}`}>
      <path class="land" d=${M.japan.d} />
      ${[...groups.entries()].map(([key, bs], gi) => {
        const [x, y] = jp(bs[0]!.place!.lat, bs[0]!.place!.lon);
        const left = x > M.japan.w * 0.62;
        return html`<g class="site" key=${key}>
          <circle cx=${x} cy=${y} r="7" class=${`pin ${bs.every((b) => b.state === 'closed') ? 'up' : 'down'}`} />
          <text x=${left ? x - 12 : x + 12} y=${y + 5 + (gi % 2 ? 14 : 0)} text-anchor=${left ? 'end' : 'start'} class="pin-label">${bs[0]!.place![lang]}: ${bs.map((b) => b.id).join(', ')}</text>
        </g>`;
      })}
    </svg>
    <figcaption>
      <ul class="legend">
        ${placed.map((b) => html`<li><span class=${`dot ${STATE_CLASS[b.state] ?? 'up'}`} aria-hidden="true"></span>${b.id} — ${b.place![lang]} (${t(b.state)})</li>`)}
        ${backends
          .filter((b) => b.country === 'JP' && !b.place)
          .map((b) => html`<li><span class="dot unknown" aria-hidden="true"></span>${b.id} — ${t('regionUnknown')}${b.region ? ` (${b.region})` : ''}</li>`)}
      </ul>
    </figcaption>
  </figure>`;
}

export function WorldMap({ countries, ruleCountries, backends }: { countries: string[]; ruleCountries: string[] | null; backends: MapBackend[] }) {
  const may = new Set(countries);
  const rule = new Set(ruleCountries ?? []);
  return html`<figure class="map world">
    <svg viewBox=${`0 0 ${M.world.w} ${M.world.h}`} role="img" aria-label=${`${t('worldMap')}: ${countries.join(', ') || t('none')}`}>
      ${M.world.countries.map((c) => html`<path d=${c.d} class=${may.has(c.a2) ? 'country may' : rule.has(c.a2) ? 'country rule' : 'country'}><title>${c.name}</title></path>`)}
      ${backends.map((b) => {
        const c = M.world.centroids[b.country];
        if (!c) return null;
        return html`<circle cx=${c[0]} cy=${c[1]} r="3.5" class=${may.has(b.country) ? 'bpin may' : 'bpin'}><title>${b.id}</title></circle>`;
      })}
    </svg>
  </figure>`;
}
