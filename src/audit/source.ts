/**
 * Where a verifier reads a log from: the local store, or any C2SP tlog-tiles HTTP server.
 * Both speak the same three calls, so `audit verify` runs the same code either way.
 */
import type { Store } from '../store/index.js';
import { AuditError } from './errors.js';
import { encodeBundle, HASH_SIZE, TILE_WIDTH, tilePath } from './tiles.js';

export interface LogSource {
  /** The signed checkpoint note. */
  checkpoint(): Promise<string>;
  /** Tile (level, n) with exactly `width` hashes. */
  tile(level: number, n: number, width: number): Promise<Buffer>;
  /** Entry bundle n with exactly `width` entries. */
  entries(n: number, width: number): Promise<Buffer>;
  /** The same entries already split (sources that have them so, to skip bundling). */
  entryList?(n: number, width: number): Promise<Buffer[]>;
  describe: string;
}

const notFound = (what: string) => new AuditError('not_found', `${what} がありません`, `${what} not found`);

/** Reads tiles and entries from the store, within the latest published checkpoint. */
export function storeSource(store: Store): LogSource & {
  tileOrUndefined(level: number, n: number, width: number): Promise<Buffer | undefined>;
  entriesOrUndefined(n: number, width: number): Promise<Buffer | undefined>;
  checkpointOrUndefined(): Promise<string | undefined>;
} {
  // The published size only grows: re-read it only when a request goes beyond what was seen.
  let seen = 0;
  const within = async (end: number) => end <= seen || end <= (seen = (await store.audit.latestCheckpoint())?.size ?? 0);
  const tileOrUndefined = async (level: number, n: number, width: number) => {
    const data = await store.audit.tile(level, n);
    if (!data || data.length < width * HASH_SIZE) return undefined;
    return data.length === width * HASH_SIZE ? data : data.subarray(0, width * HASH_SIZE);
  };
  const entriesOrUndefined = async (n: number, width: number) => {
    const start = n * TILE_WIDTH;
    if (!(await within(start + width))) return undefined;
    const list = await store.audit.entryData(start, start + width);
    if (list.length !== width) return undefined;
    return encodeBundle(list);
  };
  const checkpointOrUndefined = async () => (await store.audit.latestCheckpoint())?.note;
  return {
    describe: 'local store',
    tileOrUndefined,
    entriesOrUndefined,
    checkpointOrUndefined,
    async checkpoint() {
      const c = await checkpointOrUndefined();
      if (!c) throw notFound('checkpoint');
      return c;
    },
    async tile(level, n, width) {
      const t = await tileOrUndefined(level, n, width);
      if (!t) throw notFound(tilePath(level, n, width));
      return t;
    },
    async entries(n, width) {
      const b = await entriesOrUndefined(n, width);
      if (!b) throw notFound(tilePath('entries', n, width));
      return b;
    },
    async entryList(n, width) {
      const start = n * TILE_WIDTH;
      const list = (await within(start + width)) ? await store.audit.entryData(start, start + width) : [];
      if (list.length !== width) throw notFound(tilePath('entries', n, width));
      return list;
    },
  };
}

/** Reads a log over HTTP (`<base>/checkpoint`, `<base>/tile/...`), optionally with a bearer token. */
export function httpSource(base: string, token?: string): LogSource {
  const root = base.replace(/\/+$/, '');
  const get = async (p: string, max: number): Promise<Buffer> => {
    const res = await fetch(`${root}/${p}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, redirect: 'error', signal: AbortSignal.timeout(30_000) });
    if (res.status === 404) throw notFound(`${root}/${p}`);
    if (res.status !== 200) throw new AuditError('http_error', `${root}/${p} が ${res.status} を返しました`, `${root}/${p} answered ${res.status}`);
    const b = Buffer.from(await res.arrayBuffer());
    if (b.length > max) throw new AuditError('too_large', `${root}/${p} が大きすぎます`, `${root}/${p} is too large`);
    return b;
  };
  return {
    describe: root,
    checkpoint: async () => (await get('checkpoint', 1 << 20)).toString('utf8'),
    tile: (level, n, width) => get(tilePath(level, n, width), width * HASH_SIZE),
    entries: (n, width) => get(tilePath('entries', n, width), width * (2 + 0xffff)),
  };
}
