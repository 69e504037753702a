/** Child of bench/audit.ts: full verification of a stored log in a fresh process (one core). */
import { openSqliteStore } from '../src/store/index.js';
import { storeSource } from '../src/audit/source.js';
import { verifyLog } from '../src/audit/verify.js';

const [file, vkey] = process.argv.slice(2);
const store = await openSqliteStore(file!);
const t = performance.now();
const r = await verifyLog(storeSource(store), { vkey: vkey! });
const ms = performance.now() - t;
await store.close();
console.log(JSON.stringify({ ms, size: r.checkpoint.size }));
