/**
 * The console's front end, built by `npm run build` into dist/console-ui/: index.html and
 * content-hashed assets. Assets are served with an ETag, gzip when the client accepts it, and
 * `immutable` caching (their names change with their content); the page itself is
 * revalidated (no-cache) and carries the language chosen for the request.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

/** dist/console-ui at the package root (the same from src/console and dist/console). */
export const UI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/console-ui');

export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
};

export interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer | undefined;
  etag: string;
}

function asset(file: string, body: Buffer): Asset {
  const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
  const gz = body.length > 512 && !type.startsWith('image/png') ? zlib.gzipSync(body, { level: 9 }) : undefined;
  return { type, body, gzip: gz && gz.length < body.length ? gz : undefined, etag: `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

export class StaticAssets {
  /** Read and compressed on first use (nothing slows the gateway's start). */
  private assets = new Map<string, Asset | null>();
  private pages = new Map<string, Asset>();
  private template: string | undefined;
  private readonly assetDir: string;
  readonly built: boolean;

  constructor(private readonly dir = UI_DIR) {
    this.assetDir = path.join(dir, 'assets');
    this.built = fs.existsSync(path.join(dir, 'index.html'));
    if (!this.built) return;
    for (const name of fs.existsSync(this.assetDir) ? fs.readdirSync(this.assetDir) : []) this.assets.set(name, null);
  }

  asset(name: string): Asset | undefined {
    if (!this.assets.has(name)) return undefined;
    let a = this.assets.get(name);
    if (!a) {
      try {
        a = asset(name, fs.readFileSync(path.join(this.assetDir, name)));
      } catch {
        return undefined;
      }
      this.assets.set(name, a);
    }
    return a;
  }

  /** index.html in the given language. */
  page(lang: 'ja' | 'en'): Asset | undefined {
    if (!this.built) return undefined;
    this.template ??= fs.readFileSync(path.join(this.dir, 'index.html'), 'utf8');
    let p = this.pages.get(lang);
    if (!p) {
      const html = this.template.replace(/<html lang="[a-z]+"/, `<html lang="${lang}"`);
      this.pages.set(lang, (p = asset('index.html', Buffer.from(html, 'utf8'))));
    }
    return p;
  }

  /** Names and sizes (raw, gzip) of the JavaScript a first load fetches. */
  sizes(): { name: string; bytes: number; gzip: number }[] {
    return [...this.assets.keys()].map((name) => {
      const a = this.asset(name)!;
      return { name, bytes: a.body.length, gzip: a.gzip?.length ?? a.body.length };
    });
  }
}

/** The language of a request: the `sekisho_lang` cookie, else Accept-Language; Japanese by default. */
export function langOf(cookie: string | undefined, acceptLanguage: string | undefined): 'ja' | 'en' {
  const c = /(?:^|;\s*)sekisho_lang=(ja|en)\b/.exec(cookie ?? '');
  if (c) return c[1] as 'ja' | 'en';
  let best: { lang: 'ja' | 'en'; q: number } | undefined;
  for (const part of (acceptLanguage ?? '').split(',')) {
    const [tag, ...params] = part.trim().toLowerCase().split(';');
    const q = Number(params.find((p) => p.trim().startsWith('q='))?.trim().slice(2) ?? '1');
    const lang = tag?.startsWith('ja') ? 'ja' : tag?.startsWith('en') ? 'en' : undefined;
    if (lang && Number.isFinite(q) && q > 0 && (!best || q > best.q)) best = { lang, q };
  }
  return best?.lang ?? 'ja';
}
