/**
 * Gateway nodes as separate processes (`bin/sekisho.js serve`), for the multi-node tests:
 * started one after another (the first creates the key files), stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, TEST_PASSPHRASE } from './harness.ts';

export interface Node {
  url: string;
  proc: ChildProcess;
  /** JSON log lines (stdout), parsed. */
  logs: Record<string, any>[];
  stderr(): string;
  /** Resolves once a log line satisfies `pred` (or rejects after `ms`). */
  waitForLog(pred: (l: Record<string, any>) => boolean, ms?: number): Promise<Record<string, any>>;
  stop(): Promise<void>;
}

export function startNode(configFile: string, port: number, env: Record<string, string> = {}): Promise<Node> {
  const proc = spawn(process.execPath, [BIN, 'serve', '--config', configFile, '--port', String(port)], {
    env: { ...process.env, SEKISHO_VAULT_PASSPHRASE: TEST_PASSPHRASE, SEKISHO_LANG: 'both', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, any>[] = [];
  const waiters = new Set<() => void>();
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString('utf8');
    let i: number;
    while ((i = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ msg: line });
      }
    }
    for (const w of waiters) w();
  });
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8');
    for (const w of waiters) w();
  });
  const node: Node = {
    url: `http://127.0.0.1:${port}`,
    proc,
    logs,
    stderr: () => err,
    waitForLog(pred, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = logs.find(pred);
          if (hit) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no such log line within ${ms} ms; stderr:\n${err}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
    stop() {
      return new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
      });
    },
  };
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`serve exited (${code}) before listening:\n${err}`));
    proc.once('exit', onExit);
    const ready = () => {
      if (/関所 Sekisho: http/.test(err)) {
        waiters.delete(ready);
        proc.off('exit', onExit);
        resolve(node);
      }
    };
    waiters.add(ready);
  });
}
