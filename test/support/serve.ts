/**
 * `sekisho serve` as a child process, for tests and benchmarks that need real processes (SIGKILL,
 * several nodes): resolves once the server has printed its URL, rejects if it exits first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve(import.meta.dirname, '../../bin/sekisho.js');

export interface Served {
  child: ChildProcess;
  url: string;
}

export function startServe(config: string, opts: { port?: number; timeoutMs?: number } = {}): Promise<Served> {
  const args = [BIN, 'serve', '--config', config, ...(opts.port !== undefined ? ['--port', String(opts.port)] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, SEKISHO_LANG: 'en' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('serve did not start: ' + err));
    }, opts.timeoutMs ?? 60_000);
    child.stderr!.on('data', (d) => {
      err += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]! });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}: ${err}`));
    });
  });
}
