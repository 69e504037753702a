/**
 * Classification levels (DESIGN.md): L0 公開 … L4 法定秘. Internally a level is its index,
 * so "raise" is Math.max and comparisons are plain numbers.
 */
export const LEVEL_NAMES = ['L0', 'L1', 'L2', 'L3', 'L4'] as const;
export type LevelName = (typeof LEVEL_NAMES)[number];

export const LEVEL_LABELS: Record<LevelName, { ja: string; en: string }> = {
  L0: { ja: '公開', en: 'public' },
  L1: { ja: '社内限り', en: 'internal' },
  L2: { ja: '機密', en: 'confidential' },
  L3: { ja: '極秘', en: 'strictly confidential' },
  L4: { ja: '法定秘', en: 'legally protected secret' },
};

export function levelIndex(name: LevelName): number {
  return LEVEL_NAMES.indexOf(name);
}

export function isLevelName(s: unknown): s is LevelName {
  return typeof s === 'string' && (LEVEL_NAMES as readonly string[]).includes(s);
}

/** Parses `L3`, `l3` or `3`; undefined when it is none of these. */
export function parseLevel(s: string | undefined | null): LevelName | undefined {
  if (s == null) return undefined;
  const t = s.trim().toUpperCase();
  const name = /^[0-4]$/.test(t) ? `L${t}` : t;
  return isLevelName(name) ? name : undefined;
}

export function maxLevel(a: LevelName, b: LevelName): LevelName {
  return levelIndex(a) >= levelIndex(b) ? a : b;
}
