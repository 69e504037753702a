/**
 * The admin console (issue #8). Hash routes (#/overview …), Japanese by default, keyboard
 * accessible: a skip link, one h1 per page that takes the focus on navigation, labelled
 * controls, visible focus, contrast ≥ 4.5:1.
 */
import './style.css';
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { api, setCsrf, ApiError } from './api.js';
import { t, getLang, setLang, type Lang } from './i18n.js';
import { Login } from './pages/login.js';
import { Overview } from './pages/overview.js';
import { Backends } from './pages/backends.js';
import { Policies } from './pages/policies.js';
import { Identities } from './pages/identities.js';
import { Audit } from './pages/audit.js';
import { Threats } from './pages/threats.js';
import { Adoption } from './pages/adoption.js';
import { Settings } from './pages/settings.js';

const PAGES: Record<string, (p: any) => unknown> = {
  overview: Overview,
  backends: Backends,
  policies: Policies,
  identities: Identities,
  audit: Audit,
  threats: Threats,
  adoption: Adoption,
  settings: Settings,
};

interface Session {
  admin: { id: string; name: string; kind: string; via: string };
  csrf: string;
  tenant?: { id: string; name: string };
}

function currentRoute(): { page: string; query: URLSearchParams } {
  const m = /^#\/([a-z]+)(?:\?(.*))?$/.exec(location.hash);
  const page = m && PAGES[m[1]!] ? m[1]! : 'overview';
  return { page, query: new URLSearchParams(m?.[2] ?? '') };
}

function App() {
  const [lang, setLangState] = useState<Lang>(getLang());
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [route, setRoute] = useState(currentRoute());
  const h1 = useRef<HTMLHeadingElement>(null);
  const first = useRef(true);

  useEffect(() => {
    api<Session>('session')
      .then((s) => {
        setCsrf(s.csrf);
        setSession(s);
      })
      .catch((e: ApiError) => setSession(e.status === 401 ? null : null));
    const onHash = () => {
      if (location.hash.startsWith('#/')) setRoute(currentRoute());
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  // The focus moves to the page's heading on navigation and after sign-in, not on the first load.
  const signedIn = session ? 'in' : session === null ? 'out' : 'unknown';
  const prev = useRef({ page: route.page, signedIn });
  useEffect(() => {
    document.title = `${session ? t(route.page) + ' — ' : ''}${t('app')}`;
    const p = prev.current;
    prev.current = { page: route.page, signedIn };
    if (first.current && signedIn !== 'in') return;
    if (first.current) {
      first.current = false;
      if (p.signedIn === 'unknown') return;
    }
    if (p.page !== route.page || p.signedIn !== signedIn) h1.current?.focus();
  }, [route.page, signedIn]);

  const switchLang = (l: Lang) => {
    setLang(l);
    setLangState(l);
  };

  const langSwitch = html`<div class="lang" role="group" aria-label=${t('language')}>
    <button type="button" lang="ja" aria-pressed=${lang === 'ja'} onClick=${() => switchLang('ja')}>日本語</button>
    <button type="button" lang="en" aria-pressed=${lang === 'en'} onClick=${() => switchLang('en')}>English</button>
  </div>`;

  if (session === undefined) return html`<main id="main"><p role="status">${t('loading')}</p></main>`;
  if (session === null) {
    return html`<div class="login-shell">
      <header class="top"><span class="brand">関所 <span>Sekisho</span></span>${langSwitch}</header>
      <${Login} lang=${lang} onSignedIn=${(s: Session) => {
        setCsrf(s.csrf);
        setSession(s);
      }} />
    </div>`;
  }

  const Page = PAGES[route.page]!;
  const signOut = async () => {
    try {
      await api('logout', { method: 'POST' });
    } finally {
      setSession(null);
    }
  };
  return html`
    <a class="skip" href="#main" onClick=${(e: Event) => {
      e.preventDefault();
      document.getElementById('main')?.focus();
    }}>${t('skip')}</a>
    <header class="top">
      <span class="brand">関所 <span>Sekisho</span></span>
      <span class="tenant">${session.tenant?.name ?? ''}</span>
      <span class="who">${t('signedInAs')} <strong>${session.admin.name}</strong></span>
      ${langSwitch}
      <button type="button" class="link" onClick=${signOut}>${t('signout')}</button>
    </header>
    <div class="layout">
      <nav aria-label=${t('nav')}>
        <ul>
          ${Object.keys(PAGES).map((p) => html`<li><a href=${`#/${p}`} aria-current=${route.page === p ? 'page' : undefined}>${t(p)}</a></li>`)}
        </ul>
      </nav>
      <main id="main" tabindex="-1">
        <h1 tabindex="-1" ref=${h1}>${t(route.page)}</h1>
        <${Page} key=${route.page + lang} lang=${lang} query=${route.query} session=${session} />
      </main>
    </div>
  `;
}

render(html`<${App} />`, document.getElementById('app')!);
