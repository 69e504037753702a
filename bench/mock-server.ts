/**
 * The mock upstream for `npm run bench:overhead`, in its own process so that it does not share
 * an event loop with the load generator or the proxies. Prints one line `READY <port>` on
 * stdout once it listens on 127.0.0.1.
 *
 *   node --import tsx bench/mock-server.ts [port]
 */
import { startMockUpstream } from '../src/dev/mock-upstream.js';

const port = Number(process.argv[2] ?? 0);
try {
  const mock = await startMockUpstream({ host: '127.0.0.1', port, name: 'bench-mock' });
  // The bench sends hundreds of thousands of requests; the mock's `seen` log is for tests.
  const seen = mock.seen;
  setInterval(() => {
    seen.length = 0;
  }, 1000).unref();
  process.stdout.write(`READY ${mock.port}\n`);
  const stop = () => {
    void mock.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (err) {
  process.stderr.write(`mock-server: ${(err as Error).message}\n`);
  process.exit(1);
}
