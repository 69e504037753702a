/**
 * Request ids: UUID version 7 (RFC 9562 §5.7): a 48-bit Unix millisecond timestamp, then
 * random bits. Time-ordered ids keep the store's request-id index append-mostly (several
 * times cheaper to insert than random v4 ids) and sort by arrival.
 */
import crypto from 'node:crypto';

const POOL = 256 * 16;
let pool = crypto.randomBytes(POOL);
let at = POOL;
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function uuidv7(now = Date.now()): string {
  if (at + 10 > POOL) {
    pool = crypto.randomBytes(POOL);
    at = 0;
  }
  const b = new Uint8Array(16);
  // unix_ts_ms: 48 bits, big-endian
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  for (let i = 6; i < 16; i++) b[i] = pool[at++]!;
  b[6] = (b[6]! & 0x0f) | 0x70; // version 7
  b[8] = (b[8]! & 0x3f) | 0x80; // variant 10
  let s = '';
  for (let i = 0; i < 16; i++) {
    s += HEX[b[i]!]!;
    if (i === 3 || i === 5 || i === 7 || i === 9) s += '-';
  }
  return s;
}
