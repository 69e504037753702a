/** Errors of the audit log: a stable code, and a message in Japanese and English. */
export class AuditError extends Error {
  constructor(
    readonly code: string,
    readonly ja: string,
    readonly en: string,
    /** The first leaf index found bad, where there is one. */
    readonly index?: number,
  ) {
    super(en);
    this.name = 'AuditError';
  }
}
