/**
 * Server-Sent Events framing for the relay: cut an upstream byte stream into whole events
 * (so a multi-byte character is never split and each event can be inspected), and tell
 * well-formed OpenAI stream events from garbage. WHATWG HTML §9.2.6 (event stream format).
 */
const LF = 0x0a;
const CR = 0x0d;

export class SseFramer {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxPending = 1024 * 1024) {}

  /** Complete events (each ending with its blank line). Throws when an event grows too large. */
  push(chunk: Uint8Array): Buffer[] {
    const buf = this.pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.pending, chunk]);
    const events: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      if (buf[i] !== LF) continue;
      // An event ends at a blank line: LF LF, or CR LF CR LF.
      const next = buf[i + 1];
      if (next === LF) {
        events.push(buf.subarray(start, i + 2));
        start = i + 2;
        i++;
      } else if (next === CR && buf[i + 2] === LF) {
        events.push(buf.subarray(start, i + 3));
        start = i + 3;
        i += 2;
      }
    }
    // Copy the remainder so the upstream chunk can be released.
    this.pending = start >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(start));
    if (this.pending.length > this.maxPending) throw new Error('event larger than the limit');
    return events;
  }

  /** What is left at the end of the stream (whitespace only is fine). */
  rest(): string {
    return this.pending.toString('utf8').trim();
  }
}

export interface ParsedEvent {
  done: boolean;
  /** The parsed `data:` payloads (JSON objects). */
  data: Record<string, unknown>[];
}

/** Validates one OpenAI stream event; returns undefined for garbage. */
export function parseEvent(event: Buffer): ParsedEvent | undefined {
  const text = event.toString('utf8');
  const out: ParsedEvent = { done: false, data: [] };
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '' || line.startsWith(':')) continue;
    if (line.startsWith('data:')) {
      const payload = line.slice(5).trim();
      if (payload === '[DONE]') {
        out.done = true;
        continue;
      }
      if (payload.charCodeAt(0) !== 0x7b /* { */) return undefined;
      try {
        const v = JSON.parse(payload);
        if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
        out.data.push(v);
      } catch {
        return undefined;
      }
      continue;
    }
    if (line.startsWith('event:') || line.startsWith('id:') || line.startsWith('retry:')) continue;
    return undefined;
  }
  return out;
}

/** An error event the official clients understand (`data: {"error": …}`), then the stream ends. */
export function errorEvent(error: Record<string, unknown>): string {
  return `data: ${JSON.stringify({ error })}\n\n`;
}
