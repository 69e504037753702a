/**
 * `sekisho try`: pass a prompt through authenticate → inspect → decide → route against the
 * configuration and print the checkpoint trace. Nothing is sent unless --send is given.
 */
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { Policy, parseLevel, LEVEL_LABELS, type LevelName } from '../policy/index.js';
import { traceRequest, type Trace as BaseTrace } from '../checkpoint/trace.js';
import { Router } from '../routing/index.js';
import { Routes } from '../checkpoint/routes.js';
import { Authenticator, AuthError, type Principal } from '../identity/index.js';
import { openSqliteStore } from '../store/index.js';
import { buildCore } from '../server/gateway.js';
import { createLogger } from '../ops/log.js';
import { parseOpenAIBody } from '../server/openai.js';
import { contentStageFor } from '../checkpoint/content.js';
import { resolveConfig } from './common.js';
import { CliError, cliLang, label, type Lang } from './i18n.js';

type Trace = BaseTrace & {
  sent?: { status: number; backend?: string; audit_index?: string; answer?: string; error?: unknown };
};

export async function tryCmd(argv: string[], io: { out: (s: string) => void; err: (s: string) => void }): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      level: { type: 'string', short: 'l' },
      model: { type: 'string', short: 'm' },
      key: { type: 'string' },
      send: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  const text = positionals.join(' ');
  if (!text) throw new CliError({ ja: '使い方: sekisho try [--level L] [--model M] [--send] "テキスト"', en: 'Usage: sekisho try [--level L] [--model M] [--send] "text"' });
  const loaded = resolveConfig(values.config, io.err);
  const { config } = loaded;
  const asked = values.level === undefined ? undefined : parseLevel(values.level);
  if (values.level !== undefined && !asked) throw new CliError({ ja: `--level は L0〜L4 です (指定値: ${values.level})`, en: `--level must be one of L0 to L4 (got ${values.level})` });

  // authenticate: a real key when given, else the administrator trying the configuration.
  let principal: Principal = { id: 'cli', kind: 'service', name: 'sekisho try', defaultLevel: 'L0', maxLevel: 'L4' };
  if (values.key) {
    const store = openSqliteStore(loaded.sqlitePath);
    try {
      principal = new Authenticator(store).authenticate(`Bearer ${values.key}`);
    } catch (e) {
      if (e instanceof AuthError) throw new CliError({ ja: e.ja, en: e.en }, 1);
      throw e;
    } finally {
      store.close();
    }
  }
  const routes = new Routes(config);
  const model = values.model ?? config.models[0]?.name ?? routes.all()[0]?.name;
  const route = model === undefined ? undefined : routes.get(model);
  if (!route || model === undefined) {
    throw new CliError({ ja: `モデル ${model ?? '(なし)'} は設定にありません`, en: `The model ${model ?? '(none)'} is not configured` });
  }
  const policy = new Policy(config.backends, config.policy);
  const router = new Router({ failureThreshold: config.routing.failure_threshold, openMs: config.routing.open_ms });
  const trace: Trace = traceRequest({ policy, routes, router, content: contentStageFor(config, policy) }, { text, principal, model, requestedLevel: asked });
  const level = trace.level;
  const decision = { action: trace.decision };

  if (values.send && decision.action === 'allow') trace.sent = await send(loaded, principal, level, model, text);
  if (values.json) io.out(JSON.stringify(trace, null, 2));
  else io.out(render(trace, text, cliLang()));
  return decision.action === 'allow' && (!trace.sent || trace.sent.status < 400) ? 0 : 1;
}

async function send(loaded: ReturnType<typeof resolveConfig>, principal: Principal, level: LevelName, model: string, text: string): Promise<Trace['sent']> {
  const core = await buildCore(loaded, { log: createLogger('silent'), interactive: true, authOverride: { authenticate: () => principal } });
  try {
    const result: { status: number; headers: Record<string, string>; body: string } = { status: 0, headers: {}, body: '' };
    await core.checkpoint.handle(
      {
        requestId: crypto.randomUUID(),
        endpoint: 'chat.completions',
        authorization: undefined,
        requestedLevel: level,
        signal: new AbortController().signal,
        readBody: async () => parseOpenAIBody('chat.completions', { model, messages: [{ role: 'user', content: text }] }),
      },
      {
        send(status, headers, body) {
          result.status = status;
          result.headers = headers;
          result.body = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
        },
        start() {},
        write: async () => {},
        end() {},
      },
    );
    const json = JSON.parse(result.body || '{}');
    return {
      status: result.status,
      ...(result.headers['x-sekisho-backend'] ? { backend: result.headers['x-sekisho-backend'] } : {}),
      ...(result.headers['x-sekisho-audit-index'] ? { audit_index: result.headers['x-sekisho-audit-index'] } : {}),
      ...(result.status < 400 ? { answer: String(json?.choices?.[0]?.message?.content ?? '') } : { error: json?.error }),
    };
  } finally {
    await core.close();
  }
}

function render(t: Trace, text: string, lang: Lang): string {
  const color = process.stdout.isTTY && !process.env.NO_COLOR;
  const g = (s: string) => (color ? `\x1b[32m${s}\x1b[0m` : s);
  const r = (s: string) => (color ? `\x1b[31m${s}\x1b[0m` : s);
  const b = (s: string) => (color ? `\x1b[1m${s}\x1b[0m` : s);
  const msg = (m: { ja: string; en: string }) => (lang === 'both' ? `${m.ja} / ${m.en}` : m[lang]);
  const lines: string[] = [];
  lines.push(b(label({ ja: '関所 チェックポイントの経過', en: 'Sekisho checkpoint trace' }, lang)));
  lines.push(`  ${label({ ja: '入力', en: 'input' }, lang)}: ${JSON.stringify(text.length > 60 ? text.slice(0, 57) + '...' : text)}  model=${t.model}`);
  lines.push(`1 ${label({ ja: '認証', en: 'authenticate' }, lang)}: ${t.principal.name} (${t.principal.default_level}, max ${t.principal.max_level})`);
  const lv = LEVEL_LABELS[t.level];
  lines.push(`2 ${label({ ja: '検査', en: 'inspect' }, lang)}: ${b(t.level)} ${label(lv, lang)} — ${t.level_reasons.map(msg).join('; ')}`);
  for (const f of t.findings) lines.push(`    • ${f.type.padEnd(20)} ${JSON.stringify(text.slice(f.start, f.end))} [${f.start}, ${f.end}) score ${f.score.toFixed(2)}`);
  if (t.flags.length) lines.push(`    flags: ${t.flags.join(', ')}`);
  const verdict = t.decision === 'allow' ? g(label({ ja: '許可', en: 'ALLOW' }, lang)) : r(label({ ja: '拒否', en: 'BLOCK' }, lang));
  lines.push(`3 ${label({ ja: '判定', en: 'decide' }, lang)}: ${verdict} [${t.reason.code}] ${msg(t.reason)}`);
  for (const be of t.backends) {
    const where = `${be.country}${be.region ? '/' + be.region : ''}`;
    const head = `    ${be.compliant ? g('✓') : r('✗')} ${be.id.padEnd(16)} ${where.padEnd(10)} ${be.operator} [${be.jurisdictions.join(',')}] ${label({ ja: '上限', en: 'ceiling' }, lang)} ${be.ceiling ?? '-'}`;
    lines.push(head);
    for (const why of be.reasons) lines.push(`        - [${why.code}] ${msg(why)}`);
  }
  lines.push(
    `4 ${label({ ja: '変換', en: 'transform' }, lang)}: ${t.outbound === text ? label({ ja: 'なし', en: 'none' }, lang) : JSON.stringify(t.outbound.length > 120 ? t.outbound.slice(0, 117) + '...' : t.outbound)}`,
  );
  lines.push(`5 ${label({ ja: '経路', en: 'route' }, lang)}: ${t.route.length ? t.route.join(' → ') : '-'}`);
  if (!t.sent) {
    lines.push(`6 ${label({ ja: '中継', en: 'relay' }, lang)}: ${label({ ja: '送信していません (--send で送信)', en: 'not sent (use --send)' }, lang)}`);
  } else {
    lines.push(`6 ${label({ ja: '中継', en: 'relay' }, lang)}: HTTP ${t.sent.status}${t.sent.backend ? ` via ${t.sent.backend}` : ''}`);
    if (t.sent.answer !== undefined) lines.push(`    ${t.sent.answer}`);
    if (t.sent.error) lines.push(`    ${JSON.stringify(t.sent.error)}`);
    lines.push(`7 ${label({ ja: '記録', en: 'record' }, lang)}: audit index ${t.sent.audit_index ?? '-'}`);
  }
  return lines.join('\n');
}
