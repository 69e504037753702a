/**
 * Test harness: a real gateway (SQLite store, HTTP server on loopback) in front of mock
 * model servers, and the official `openai` client pointed at it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { spawn } from 'node:child_process';
import OpenAI from 'openai';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/index.ts';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/server/gateway.ts';
import { createLogger } from '../../src/ops/log.ts';
import { createApiKey } from '../../src/identity/index.ts';
import { startMockUpstream, type MockUpstream, type MockUpstreamOptions } from '../../src/dev/mock-upstream.ts';
import type { LevelName } from '../../src/policy/index.ts';

/** The passphrase of the test gateways' key files (the file keystore is the zero-config default). */
export const TEST_PASSPHRASE = 'sekisho-test-passphrase';

/** The process environment plus the vault passphrase. */
export function testEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, SEKISHO_VAULT_PASSPHRASE: TEST_PASSPHRASE, ...extra };
}

export function tmpDir(prefix = 'sekisho-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A backend entry for the config; `url` is filled from a mock. */
export function tokyoBackend(url: string, extra: Record<string, unknown> = {}) {
  return {
    id: 'tokyo-llm',
    kind: 'openai',
    url,
    models: ['llm-jp-3'],
    location: { country: 'JP', region: 'tokyo' },
    operator: { name: '自社運用', jurisdictions: ['JP'] },
    contract: { no_training: true, retention_days: 0 },
    timeouts: { connect_ms: 1000, first_byte_ms: 2000, idle_ms: 2000 },
    ...extra,
  };
}

export function usBackend(url: string, extra: Record<string, unknown> = {}) {
  return {
    id: 'us-frontier',
    kind: 'openai',
    url,
    models: ['frontier-1'],
    location: { country: 'US' },
    operator: { name: 'Example Inc.', jurisdictions: ['US'] },
    contract: { no_training: false },
    timeouts: { connect_ms: 1000, first_byte_ms: 2000, idle_ms: 2000 },
    ...extra,
  };
}

export interface Harness {
  gw: Gateway;
  dir: string;
  configFile: string;
  logs: string[];
  key(opts?: { name?: string; level?: LevelName; maxLevel?: LevelName }): string;
  client(key: string, extra?: Partial<ConstructorParameters<typeof OpenAI>[0]>): OpenAI;
  close(): Promise<void>;
}

export async function startHarness(config: Record<string, unknown>, gatewayOptions: GatewayOptions = {}): Promise<Harness> {
  const dir = tmpDir();
  // The file keystore with a cheaper scrypt than the default (2^14): many gateways start in the suite.
  const full = { listen: { host: '127.0.0.1', port: 0 }, data_dir: './data', tenant: { id: 'acme', name: 'ACME株式会社' }, vault: { keystore: { kind: 'file', scrypt_log_n: 14 } }, ...config };
  const configFile = path.join(dir, 'sekisho.yaml');
  fs.writeFileSync(configFile, stringify(full));
  const loaded = parseConfig(fs.readFileSync(configFile, 'utf8'), configFile);
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const gw = await startGateway(loaded, { log: createLogger('info', sink), env: testEnv(), ...gatewayOptions });
  return {
    gw,
    dir,
    configFile,
    logs,
    key(opts = {}) {
      return createApiKey(gw.core.store, { name: opts.name ?? 'test', defaultLevel: opts.level ?? 'L0', maxLevel: opts.maxLevel ?? 'L3' }).key;
    },
    client(key, extra = {}) {
      return new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000, ...extra });
    },
    async close() {
      await gw.close(2000);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function mocks(...opts: MockUpstreamOptions[]): Promise<MockUpstream[]> {
  return Promise.all(opts.map((o) => startMockUpstream(o)));
}

/** A port nothing listens on (bound, then released). */
export async function closedPortUrl(): Promise<string> {
  const m = await startMockUpstream({});
  const url = m.url;
  await m.close();
  return url;
}

export const BIN = path.resolve('bin/sekisho.js');

/**
 * Runs the `sekisho` CLI in a child process, with the test vault passphrase. Asynchronous, so a
 * gateway living in the test process keeps serving while the command talks to it.
 */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, SEKISHO_VAULT_PASSPHRASE: TEST_PASSPHRASE, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}
