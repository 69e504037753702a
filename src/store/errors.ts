/** Store errors: a stable code and a message in Japanese and English (the CLI prints both). */
export type StoreErrorCode = 'store_newer' | 'store_migration' | 'store_unreachable' | 'store_config';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    readonly ja: string,
    readonly en: string,
  ) {
    super(en);
    this.name = 'StoreError';
  }
}
