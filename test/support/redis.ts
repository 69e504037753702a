/**
 * Redis for the tests: the server at 127.0.0.1:6379 (`.ci/run` starts it), a unique key prefix
 * per test, clean-up of that prefix, and private throw-away servers for outage tests.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.SEKISHO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether the test Redis answers; with SEKISHO_REQUIRE_REDIS=1 a missing Redis fails the suite instead of skipping it. */
export async function redisAvailable(url = REDIS_URL): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    if (process.env.SEKISHO_REQUIRE_REDIS === '1') throw new Error(`SEKISHO_REQUIRE_REDIS=1 but Redis does not answer at ${url}`);
    return false;
  } finally {
    r.disconnect();
  }
}

/** A prefix no other test uses (keys are sekisho:<prefix>:…). */
export function uniquePrefix(name = 't'): string {
  return `${name}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
}

/** Deletes every key of a prefix. */
export async function cleanPrefix(prefix: string, url = REDIS_URL): Promise<number> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let n = 0;
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `sekisho:${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) n += await r.del(...keys);
    } while (cursor !== '0');
    return n;
  } finally {
    r.disconnect();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export const hasRedisServer = () => spawnSync('redis-server', ['--version']).status === 0;

/** A private redis-server on a free port (no persistence), for outage tests. */
export async function startPrivateRedis(port?: number): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const p = port ?? (await freePort());
  const child: ChildProcess = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${p}`;
  const t0 = Date.now();
  for (;;) {
    const r = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
    r.on('error', () => undefined);
    try {
      await r.connect();
      await r.ping();
      r.disconnect();
      break;
    } catch {
      r.disconnect();
      if (Date.now() - t0 > 5000) {
        child.kill('SIGKILL');
        throw new Error('private redis-server did not start');
      }
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  return {
    url,
    port: p,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
