/** The admin API from the page: same-origin fetch, JSON, the CSRF token on every write. */
let csrf = '';

export function setCsrf(token: string): void {
  csrf = token;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly ja: string,
    readonly en: string,
    readonly body: unknown,
  ) {
    super(en || code);
  }
}

export async function api<T = any>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-sekisho-csrf'] = csrf;
  const res = await fetch(`/console/api/${path}`, { method, headers, credentials: 'same-origin', cache: 'no-store', ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
  const text = await res.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!res.ok) {
    const e = body?.error ?? {};
    throw new ApiError(res.status, e.code ?? `http_${res.status}`, e.message?.ja ?? '', e.message?.en ?? '', body);
  }
  return body as T;
}
