/**
 * People read Japanese first. The CLI speaks Japanese, English or both: SEKISHO_LANG
 * (ja | en | both) wins, else LANG/LC_ALL starting with "ja" or "en", else both.
 */
export type Lang = 'ja' | 'en' | 'both';

export function cliLang(env: NodeJS.ProcessEnv = process.env): Lang {
  const explicit = env.SEKISHO_LANG?.toLowerCase();
  if (explicit === 'ja' || explicit === 'en' || explicit === 'both') return explicit;
  const l = (env.LC_ALL || env.LANG || '').toLowerCase();
  if (l.startsWith('ja')) return 'ja';
  if (l.startsWith('en')) return 'en';
  return 'both';
}

export interface Msg {
  ja: string;
  en: string;
}

export function say(m: Msg, lang: Lang = cliLang()): string {
  return lang === 'ja' ? m.ja : lang === 'en' ? m.en : `${m.ja}\n${m.en}`;
}

/** A short inline label: "認証 authenticate" in both, one word otherwise. */
export function label(m: Msg, lang: Lang = cliLang()): string {
  return lang === 'ja' ? m.ja : lang === 'en' ? m.en : `${m.ja} ${m.en}`;
}

/** An error the CLI reports in both languages, with an exit code. */
export class CliError extends Error {
  constructor(
    readonly msg: Msg,
    readonly exitCode = 2,
  ) {
    super(msg.en);
    this.name = 'CliError';
  }
}
