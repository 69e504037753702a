/**
 * `sekisho policy test [--pack P | --all]` runs the example cases kept beside the Cedar packs.
 * `sekisho policy explain --level L [--flags f,g] [--kind person|service] [--clearance L]
 *   [--training ID]… [--role R] [--model M | --backend B]` tells, per backend, why a request
 * would be allowed or denied (ja and en), with the configured pack and residency rules.
 */
import { parseArgs } from 'node:util';
import { Policy, parseLevel, LEVEL_NAMES } from '../policy/index.js';
import { CedarGuard, PACKS, type PackName } from '../policy/cedar/index.js';
import { runExamples, guardPrincipal } from '../policy/cedar/examples.js';
import { resolveConfig } from './common.js';
import { CliError, cliLang, say } from './i18n.js';

type IO = { out: (s: string) => void; err: (s: string) => void };

export async function policy(argv: string[], io: IO): Promise<number> {
  const [verb, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      pack: { type: 'string' },
      all: { type: 'boolean' },
      level: { type: 'string' },
      flags: { type: 'string' },
      kind: { type: 'string' },
      clearance: { type: 'string' },
      training: { type: 'string', multiple: true },
      role: { type: 'string' },
      department: { type: 'string' },
      model: { type: 'string' },
      backend: { type: 'string', multiple: true },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  const lang = cliLang();
  const packArg = (p: string | undefined): PackName | undefined => {
    if (p === undefined) return undefined;
    if (!(PACKS as readonly string[]).includes(p)) throw new CliError({ ja: `--pack は ${PACKS.join(', ')} のいずれかです`, en: `--pack must be one of ${PACKS.join(', ')}` });
    return p as PackName;
  };
  switch (verb) {
    case 'test': {
      const packs: PackName[] = values.all ? [...PACKS] : [packArg(values.pack) ?? (values.config || process.env.SEKISHO_CONFIG ? resolveConfig(values.config, io.err).config.policy.pack : 'default')];
      let failed = 0;
      for (const pack of packs) {
        const results = await runExamples(pack);
        for (const r of results) {
          if (!r.ok) failed++;
          io.out(`${r.ok ? 'ok  ' : 'FAIL'} ${pack}: ${r.case.name}${r.ok ? '' : ` — ${r.problem}`}`);
        }
      }
      io.out(say({ ja: failed ? `${failed} 件の例が失敗しました` : 'すべての例が通りました', en: failed ? `${failed} example(s) failed` : 'all examples pass' }, lang));
      return failed ? 1 : 0;
    }
    case 'explain': {
      const loaded = resolveConfig(values.config, io.err);
      const cfg = loaded.config;
      const level = parseLevel(values.level ?? 'L0');
      if (!level) throw new CliError({ ja: '--level は L0〜L4 です', en: '--level must be L0 to L4' });
      const clearance = parseLevel(values.clearance ?? 'L3') ?? 'L3';
      const kind = values.kind === 'service' ? 'service' : 'person';
      const pack = packArg(values.pack) ?? cfg.policy.pack;
      const guard = await CedarGuard.load(pack, cfg.backends, undefined, { levelsFromConfig: Object.keys(cfg.policy.levels).length > 0 });
      const pol = new Policy(cfg.backends, cfg.policy, undefined, guard);
      const route = values.model ? cfg.models.find((m) => m.name === values.model) : undefined;
      if (values.model && !route) throw new CliError({ ja: `モデル ${values.model} は設定されていません`, en: `The model ${values.model} is not configured` });
      const candidates = values.backend ?? route?.backends ?? cfg.backends.map((b) => b.id);
      const principal = guardPrincipal({ kind, clearance, trainings: values.training ?? [], role: values.role ?? '', department: values.department ?? '' });
      const flags = values.flags ? values.flags.split(',').map((s) => s.trim()).filter(Boolean) : [];
      const d = pol.decide({ level, flags, principalMax: clearance, candidates, principal });
      if (values.json) {
        io.out(JSON.stringify({ pack, policy_version: guard.version, decision: d, cedar: candidates.map((b) => ({ backend: b, ...guard.explain(principal, d.level, flags, b, new Date().toISOString().slice(0, 10)) })) }, null, 2));
        return 0;
      }
      const lines: { ja: string; en: string }[] = [];
      lines.push({ ja: `規程パック ${pack} (版 ${guard.version}) / ${kind === 'person' ? '職員' : 'サービス'} 資格 ${clearance} 研修 [${(values.training ?? []).join(', ')}] / 要求 ${d.level}`, en: `pack ${pack} (version ${guard.version}) / ${kind} clearance ${clearance} trainings [${(values.training ?? []).join(', ')}] / request ${d.level}` });
      for (const r of d.levelReasons) lines.push({ ja: `  レベル: ${r.ja}`, en: `  level: ${r.en}` });
      lines.push({ ja: `判定: ${d.action === 'allow' ? '許可' : '拒否'} — ${d.reason.ja}`, en: `decision: ${d.action} — ${d.reason.en}` });
      for (const id of d.compliant) {
        const e = guard.explain(principal, d.level, flags, id, new Date().toISOString().slice(0, 10));
        lines.push({ ja: `  ✓ ${id}: 許可 (ポリシー ${e.policies.map((p) => p.id).join(', ')})`, en: `  ✓ ${id}: allowed (policy ${e.policies.map((p) => p.id).join(', ')})` });
      }
      for (const x of d.excluded) {
        lines.push({ ja: `  ✗ ${x.backend}:`, en: `  ✗ ${x.backend}:` });
        for (const r of x.reasons) lines.push({ ja: `      - ${r.ja}${r.policy ? ` [${r.policy}]` : ' [居住性規則]'}${r.training ? ` → 研修 ${r.training} で解除` : ''}`, en: `      - ${r.en}${r.policy ? ` [${r.policy}]` : ' [residency rule]'}${r.training ? ` → unlocked by the training ${r.training}` : ''}` });
      }
      for (const l of lines) io.out(say(l, lang === 'both' ? 'both' : lang));
      return 0;
    }
    default:
      throw new CliError({ ja: `使い方: sekisho policy test [--pack P|--all] | explain --level L … (レベル: ${LEVEL_NAMES.join(', ')})`, en: `Usage: sekisho policy test [--pack P|--all] | explain --level L … (levels: ${LEVEL_NAMES.join(', ')})` });
  }
}
