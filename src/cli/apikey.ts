import { parseArgs } from 'node:util';
import { openStore } from '../store/index.js';
import { createApiKey } from '../identity/index.js';
import { parseLevel, type LevelName } from '../policy/index.js';
import { resolveConfig } from './common.js';
import { CliError, cliLang, label } from './i18n.js';

function level(flag: string, v: string | undefined, def: LevelName): LevelName {
  if (v === undefined) return def;
  const l = parseLevel(v);
  if (!l) throw new CliError({ ja: `${flag} は L0〜L4 のいずれかです (指定値: ${v})`, en: `${flag} must be one of L0 to L4 (got ${v})` });
  return l;
}

export async function apikey(argv: string[], io: { out: (s: string) => void; err: (s: string) => void }): Promise<number> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      name: { type: 'string' },
      level: { type: 'string' },
      'max-level': { type: 'string' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  const loaded = resolveConfig(values.config, io.err);
  const store = await openStore(loaded);
  const lang = cliLang();
  try {
    switch (verb) {
      case 'create': {
        const name = values.name ?? positionals[0];
        if (!name || name.length > 128) throw new CliError({ ja: '--name NAME を指定してください (128 文字以内)', en: 'Give --name NAME (at most 128 characters)' });
        const defaultLevel = level('--level', values.level, 'L0');
        const maxLevel = level('--max-level', values['max-level'], 'L3');
        let created;
        try {
          created = await createApiKey(store, { name, defaultLevel, maxLevel });
        } catch (e) {
          if (e instanceof RangeError) throw new CliError({ ja: `--level ${defaultLevel} が --max-level ${maxLevel} を超えています`, en: e.message });
          throw e;
        }
        io.err(
          label({ ja: `API キー「${name}」を作成しました (id ${created.row.id}, 既定 ${defaultLevel}, 上限 ${maxLevel})。キーは一度だけ表示されます:`, en: `Created API key "${name}" (id ${created.row.id}, default ${defaultLevel}, max ${maxLevel}). The key is shown only once:` }, lang),
        );
        io.out(created.key);
        return 0;
      }
      case 'list': {
        const rows = await store.apiKeys.list();
        if (values.json) {
          io.out(JSON.stringify(rows.map(({ hash: _h, ...r }) => r)));
          return 0;
        }
        io.out(['id', 'name', 'prefix', 'level', 'max', 'created', 'revoked'].join('\t'));
        for (const r of rows) io.out([r.id, r.name, r.prefix + '…', r.default_level, r.max_level, r.created_at, r.revoked_at ?? '-'].join('\t'));
        return 0;
      }
      case 'revoke': {
        const target = positionals[0] ?? values.name;
        if (!target) throw new CliError({ ja: '失効させるキーの id または名前を指定してください', en: 'Give the id or name of the key to revoke' });
        const n = await store.apiKeys.revoke(target, new Date().toISOString());
        if (n === 0) throw new CliError({ ja: `有効なキー ${target} はありません`, en: `No active key ${target}` }, 1);
        io.out(label({ ja: `${n} 件のキーを失効させました`, en: `Revoked ${n} key(s)` }, lang));
        return 0;
      }
      default:
        throw new CliError({ ja: '使い方: sekisho apikey create|list|revoke', en: 'Usage: sekisho apikey create|list|revoke' });
    }
  } finally {
    await store.close();
  }
}
