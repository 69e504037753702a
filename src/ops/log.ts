/**
 * JSON logs (pino). Never log prompt or answer text, keys or tokens: log ids, levels,
 * decisions, backends and timings only. `redact` is a second line of defence.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { svc: 'sekisho' },
      redact: { paths: ['authorization', '*.authorization', 'key', '*.key', 'body', '*.body', 'messages', '*.messages'], censor: '[redacted]' },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
