/**
 * The one bilingual HTTP error of the admin, identity and threat-sharing endpoints: an HTTP
 * status, a reason code, and the message in Japanese and English. Each endpoint family renders
 * it in its own wire format (OpenAI-style error JSON, OAuth 2.0 errors, TAXII errors); this
 * module knows nothing of HTTP itself, so every layer may use it.
 */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly ja: string,
    readonly en: string,
    /** Seconds the client should wait (HTTP 429/503: `Retry-After`). */
    readonly retryAfterS?: number,
  ) {
    super(en);
    this.name = 'HttpProblem';
  }
}
