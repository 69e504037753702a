/**
 * Residency and jurisdiction rules: which backend may receive which level.
 * Pure: plain data in, plain data out. The default rules are DESIGN.md's table.
 */
import type { LevelName } from './levels.js';
import { LEVEL_NAMES } from './levels.js';

export interface LevelRule {
  allow: boolean;
  countries?: string[];
  require_no_training: boolean;
  max_retention_days?: number;
  forbid_click_through: boolean;
  jurisdictions_only?: string[];
  allow_on_premises: boolean;
  require_ismap: boolean;
}

/** The facts about a backend that policy reads. */
export interface BackendFacts {
  id: string;
  approved: boolean;
  location: { country: string; region?: string; on_premises: boolean };
  operator: { name: string; jurisdictions: string[] };
  contract: { no_training: boolean; retention_days?: number; click_through: boolean };
  ismap?: { listed: boolean; expires?: string };
}

export type FlagRule = LevelName | 'block';

const base: LevelRule = { allow: true, require_no_training: false, forbid_click_through: false, allow_on_premises: false, require_ismap: false };

export const DEFAULT_LEVEL_RULES: Record<LevelName, LevelRule> = {
  L0: { ...base },
  L1: { ...base, countries: ['JP'], require_no_training: true },
  L2: { ...base, countries: ['JP'], require_no_training: true, max_retention_days: 30, forbid_click_through: true },
  L3: {
    ...base,
    countries: ['JP'],
    require_no_training: true,
    max_retention_days: 30,
    forbid_click_through: true,
    jurisdictions_only: ['JP'],
    allow_on_premises: true,
  },
  L4: { ...base, allow: false },
};

export const DEFAULT_FLAG_RULES: Record<string, FlagRule> = {
  my_number: 'L3',
  sensitive_personal: 'L3',
  personal: 'L1',
  secret: 'block',
};

/** Tenant overrides replace a level's rule field by field. */
export function mergeLevelRules(overrides: Partial<Record<LevelName, Partial<LevelRule>>>): Record<LevelName, LevelRule> {
  const out = {} as Record<LevelName, LevelRule>;
  for (const l of LEVEL_NAMES) out[l] = { ...DEFAULT_LEVEL_RULES[l], ...(overrides[l] ?? {}) };
  return out;
}

export interface Exclusion {
  code: string;
  ja: string;
  en: string;
  /** The Cedar policy that produced it (absent for the residency table). */
  policy?: string;
  /** 'principal': about who asks (clearance, training), not about the backend. */
  scope?: 'principal';
  /** The training that would lift this exclusion. */
  training?: string;
}

/**
 * Why `backend` may not receive data under `rule`; empty when it may.
 * `now` is an ISO date (YYYY-MM-DD) for ISMAP expiry.
 */
export function exclusions(rule: LevelRule, b: BackendFacts, level: LevelName, today: string): Exclusion[] {
  const out: Exclusion[] = [];
  if (!rule.allow) {
    out.push({ code: 'level_blocked', ja: `${level} の情報はどのバックエンドにも送信できません`, en: `${level} data may not be sent to any backend` });
    return out;
  }
  if (!b.approved) out.push({ code: 'backend_not_approved', ja: 'このバックエンドは承認されていません', en: 'the backend is not approved' });
  if (rule.countries && !rule.countries.includes(b.location.country)) {
    out.push({
      code: 'location_not_allowed',
      ja: `処理場所 ${b.location.country} は ${level} で許可された国 (${rule.countries.join(', ')}) ではありません`,
      en: `processing location ${b.location.country} is not among the countries allowed for ${level} (${rule.countries.join(', ')})`,
    });
  }
  if (rule.jurisdictions_only && !(rule.allow_on_premises && b.location.on_premises)) {
    const foreign = b.operator.jurisdictions.filter((j) => !rule.jurisdictions_only!.includes(j));
    if (foreign.length > 0) {
      out.push({
        code: 'foreign_jurisdiction',
        ja: `運営者 ${b.operator.name} には ${foreign.join(', ')} の法域が及びます (${level} は ${rule.jurisdictions_only.join(', ')} のみ)`,
        en: `the operator ${b.operator.name} is reached by the law of ${foreign.join(', ')} (${level} allows only ${rule.jurisdictions_only.join(', ')})`,
      });
    }
  }
  if (rule.require_no_training && !b.contract.no_training) {
    out.push({ code: 'training_not_excluded', ja: '契約で入力データの学習利用が禁止されていません', en: 'the contract does not forbid training on inputs' });
  }
  if (rule.max_retention_days !== undefined) {
    const r = b.contract.retention_days;
    if (r === undefined) {
      out.push({ code: 'retention_unspecified', ja: '契約に保存期間の定めがありません', en: 'the contract states no retention period' });
    } else if (r > rule.max_retention_days) {
      out.push({
        code: 'retention_too_long',
        ja: `保存期間 ${r} 日は上限 ${rule.max_retention_days} 日を超えています`,
        en: `retention of ${r} days exceeds the limit of ${rule.max_retention_days} days`,
      });
    }
  }
  if (rule.forbid_click_through && b.contract.click_through) {
    out.push({ code: 'click_through_terms', ja: '約款型 (クリックスルー) のサービスは利用できません', en: 'click-through services are not allowed' });
  }
  if (rule.require_ismap) {
    if (!b.ismap?.listed) out.push({ code: 'not_ismap_listed', ja: 'ISMAP に登録されていません', en: 'not listed in ISMAP' });
    else if (b.ismap.expires && b.ismap.expires < today) {
      out.push({ code: 'ismap_expired', ja: `ISMAP 登録の有効期限 (${b.ismap.expires}) が切れています`, en: `the ISMAP listing expired on ${b.ismap.expires}` });
    }
  }
  return out;
}
