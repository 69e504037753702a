import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { api, ApiError } from './api.js';
import { t, msg, levelLabel } from './i18n.js';

/** Loads an API resource; `reload` fetches it again. */
export function useApi<T>(path: string | null, deps: unknown[] = []): { data: T | undefined; error: ApiError | Error | undefined; loading: boolean; reload: () => void; set: (d: T) => void } {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: path !== null });
  const [n, setN] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api<T>(path)
      .then((data) => live && setState({ data, loading: false }))
      .catch((error: Error) => live && setState({ error, loading: false }));
    return () => {
      live = false;
    };
  }, [path, n, ...deps]);
  return { data: state.data, error: state.error, loading: state.loading, reload: () => setN((x) => x + 1), set: (data: T) => setState({ data, loading: false }) };
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  const e = error as ApiError;
  const text = e instanceof ApiError ? msg({ ja: e.ja || e.code, en: e.en || e.code }) : String((error as Error).message ?? error);
  return html`<div class="error" role="alert"><span>${text}</span>${onRetry ? html` <button type="button" onClick=${onRetry}>${t('retry')}</button>` : null}</div>`;
}

export function Loading() {
  return html`<p class="muted" role="status">${t('loading')}</p>`;
}

export function Level({ level }: { level: string }) {
  return html`<span class=${`level level-${level || 'none'}`}>${levelLabel(level)}</span>`;
}

export function DecisionBadge({ decision }: { decision: string }) {
  const ok = decision === 'allow';
  return html`<span class=${ok ? 'badge ok' : 'badge bad'}>${ok ? '✓ ' + t('allowed') : '✗ ' + (decision === 'block' ? t('denied') : decision)}</span>`;
}

export function Section({ title, id, children, desc }: { title: string; id?: string; desc?: string; children?: unknown }) {
  const hid = id ?? `s-${title.replace(/[^A-Za-z0-9]+/g, '-')}`;
  return html`<section class="card" aria-labelledby=${hid}><h2 id=${hid}>${title}</h2>${desc ? html`<p class="muted">${desc}</p>` : null}${children}</section>`;
}

/** An SVG the server rendered (QR code), shown as an image (no markup injection). */
export function SvgImage({ svg, alt, size = 220 }: { svg: string; alt: string; size?: number }) {
  const src = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(svg)))}`;
  return html`<img class="qr" src=${src} alt=${alt} width=${size} height=${size} />`;
}
