/**
 * A request the checkpoint refuses or cannot complete. The server renders it as
 * OpenAI-style error JSON with a `sekisho` object (reason code, ja, en).
 */
export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'api_error';

export class CheckpointError extends Error {
  constructor(
    readonly status: number,
    readonly type: OpenAIErrorType,
    readonly code: string,
    readonly ja: string,
    readonly en: string,
    readonly details: Record<string, unknown> = {},
    readonly param: string | null = null,
  ) {
    super(en);
    this.name = 'CheckpointError';
  }

  toJSON(): { error: Record<string, unknown> } {
    return {
      error: {
        message: this.en,
        type: this.type,
        param: this.param,
        code: this.code,
        sekisho: { code: this.code, message: { ja: this.ja, en: this.en }, ...this.details },
      },
    };
  }
}

export const badRequest = (code: string, ja: string, en: string, param: string | null = null) =>
  new CheckpointError(400, 'invalid_request_error', code, ja, en, {}, param);
