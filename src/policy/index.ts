/**
 * The decide stage: (principal limits, level, flags, candidate backends) → allow or block,
 * the compliant backends in preference order, and a reason in Japanese and English.
 * Pure and precomputed: compliance of every (level, backend) pair is computed once per
 * configuration (and again when an ISMAP listing expires), so a decision is a lookup.
 */
import { LEVEL_NAMES, levelIndex, maxLevel, type LevelName } from './levels.js';
import type { GuardPrincipal, PrincipalGuard } from './cedar/index.js';
import { exclusions, mergeLevelRules, DEFAULT_FLAG_RULES, type BackendFacts, type Exclusion, type FlagRule, type LevelRule } from './rules.js';

export * from './levels.js';
export * from './rules.js';
export type { GuardPrincipal, PrincipalGuard } from './cedar/index.js';

export interface Reason {
  code: string;
  ja: string;
  en: string;
  /** The training that would unlock the request (attribute-based denials). */
  training?: string;
}

export interface Decision {
  action: 'allow' | 'block';
  level: LevelName;
  /** Why the level is what it is (base level, raised by header or flags). */
  levelReasons: Reason[];
  /** Compliant candidates in preference order (empty when blocked). */
  compliant: string[];
  excluded: { backend: string; reasons: Exclusion[] }[];
  reason: Reason;
}

export interface DecideInput {
  /** Level before flags: the key's default, possibly raised by the request. */
  level: LevelName;
  levelReasons?: Reason[];
  flags?: readonly string[];
  /** The highest level this principal may send. */
  principalMax: LevelName;
  /** Candidate backend ids in preference order (the model's route). */
  candidates: readonly string[];
  /** Who asks, for attribute-based policy (Cedar); absent: only the residency rules apply. */
  principal?: GuardPrincipal;
}

export interface PolicyOptions {
  levels?: Partial<Record<LevelName, Partial<LevelRule>>>;
  flags?: Record<string, FlagRule>;
}

export class Policy {
  readonly rules: Record<LevelName, LevelRule>;
  readonly flagRules: Record<string, FlagRule>;
  private readonly backends: Map<string, BackendFacts>;
  private table = new Map<string, Exclusion[]>(); // `${level}\0${backend}` → reasons
  private validThrough = '';
  /** Date.now() at which `validThrough` ends (the next UTC midnight). */
  private validUntilMs = 0;

  constructor(
    backends: readonly BackendFacts[],
    opts: PolicyOptions = {},
    private readonly clock: { (): Date } = () => new Date(),
    /** Attribute-based policy (Cedar) consulted per (principal, level, flags, backend). */
    readonly guard?: PrincipalGuard,
  ) {
    this.rules = mergeLevelRules(opts.levels ?? {});
    this.flagRules = { ...DEFAULT_FLAG_RULES, ...(opts.flags ?? {}) };
    this.backends = new Map(backends.map((b) => [b.id, b]));
    this.rebuild();
  }

  private today(): string {
    return this.clock().toISOString().slice(0, 10);
  }

  /** Compliance only changes with the date (ISMAP expiry), so the table is rebuilt at most daily. */
  private rebuild(): void {
    const today = this.today();
    const table = new Map<string, Exclusion[]>();
    for (const level of LEVEL_NAMES) {
      for (const b of this.backends.values()) table.set(`${level}\0${b.id}`, exclusions(this.rules[level], b, level, today));
    }
    this.table = table;
    this.validThrough = today;
    const now = this.clock();
    this.validUntilMs = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    this.cache = new Map();
  }

  /** Why `backendId` may not receive `level` data; empty when it may. */
  private fresh(): void {
    if (this.clock().getTime() >= this.validUntilMs) this.rebuild();
  }

  check(level: LevelName, backendId: string): Exclusion[] {
    this.fresh();
    return (
      this.table.get(`${level}\0${backendId}`) ?? [
        { code: 'unknown_backend', ja: `バックエンド ${backendId} は設定されていません`, en: `backend ${backendId} is not configured` },
      ]
    );
  }

  /** The highest level each backend may receive (null: not even L0). */
  ceiling(backendId: string): LevelName | null {
    let best: LevelName | null = null;
    for (const l of LEVEL_NAMES) if (this.check(l, backendId).length === 0) best = l;
    return best;
  }

  private cache = new Map<string, Decision>();

  /**
   * Decisions depend only on (level, flags, principal maximum, candidates) and the date, so
   * they are cached; the input's level reasons are attached per call.
   */
  decide(input: DecideInput): Decision {
    this.fresh();
    const p = this.guard ? input.principal : undefined;
    const key = `${input.level}|${(input.flags ?? []).join(',')}|${input.principalMax}|${input.candidates.join(',')}|${p ? `${p.hash}|${this.guard!.version}` : ''}`;
    let d = this.cache.get(key);
    if (!d) {
      d = this.decideUncached(input.level, input.flags ?? [], input.principalMax, input.candidates, p);
      if (this.cache.size >= 10_000) this.cache.clear();
      this.cache.set(key, d);
    }
    return input.levelReasons?.length ? { ...d, levelReasons: [...input.levelReasons, ...d.levelReasons] } : d;
  }

  private decideUncached(startLevel: LevelName, flags: readonly string[], principalMax: LevelName, candidates: readonly string[], principal?: GuardPrincipal): Decision {
    const levelReasons: Reason[] = [];
    let level = startLevel;
    // Flags raise the level (DESIGN.md): my_number → L3, personal → L1, secret → block.
    let blockedBy: string | undefined;
    for (const flag of flags) {
      const rule = this.flagRules[flag];
      if (rule === undefined) continue;
      if (rule === 'block') {
        blockedBy ??= flag;
        continue;
      }
      if (levelIndex(rule) > levelIndex(level)) {
        level = maxLevel(level, rule);
        levelReasons.push({ code: 'flag_raises_level', ja: `検出フラグ ${flag} により ${rule} 以上`, en: `flag ${flag} requires at least ${rule}` });
      }
    }
    const block = (reason: Reason): Decision => ({ level, levelReasons, action: 'block', compliant: [], excluded: [], reason });
    if (blockedBy !== undefined) {
      return block({
        code: 'flag_blocked',
        ja: `検出フラグ ${blockedBy} を含む要求は送信できません (例: 認証情報を削除してください)`,
        en: `requests with the flag ${blockedBy} may not be sent (for example, remove the credential)`,
      });
    }
    if (levelIndex(level) > levelIndex(principalMax)) {
      return block({
        code: 'level_above_principal_max',
        ja: `この要求は ${level} ですが、このキー・資格情報で送信できるのは ${principalMax} までです`,
        en: `this request is ${level}, but this key or credential may send at most ${principalMax}`,
      });
    }
    if (!this.rules[level].allow) {
      return block({ code: 'level_blocked', ja: `${level} の情報は AI に送信できません`, en: `${level} data may not be sent to AI backends` });
    }
    const compliant: string[] = [];
    const excluded: Decision['excluded'] = [];
    for (const id of candidates) {
      let reasons = this.check(level, id);
      if (principal && this.guard) {
        // Residency reasons from the configured table first; Cedar adds what it alone denies.
        const more = this.guard.check(principal, level, flags, id, this.validThrough).filter((x) => !reasons.some((r) => r.code === x.code));
        if (more.length) reasons = [...reasons, ...more];
      }
      if (reasons.length === 0) compliant.push(id);
      else excluded.push({ backend: id, reasons });
    }
    if (compliant.length === 0) {
      // A backend held back only by who asks (clearance, a missing training): say what unlocks it.
      const personal = excluded.find((e) => e.reasons.every((r) => r.scope === 'principal'))?.reasons[0];
      if (personal) {
        return {
          level,
          levelReasons,
          action: 'block',
          compliant,
          excluded,
          reason: { code: personal.code, ja: personal.ja, en: personal.en, ...(personal.training ? { training: personal.training } : {}) },
        };
      }
      return {
        level,
        levelReasons,
        action: 'block',
        compliant,
        excluded,
        reason: {
          code: 'no_compliant_backend',
          ja: `${level} の要求を処理できる、規程に適合したバックエンドがありません (他へは送信しません)`,
          en: `no backend compliant with the rules for ${level} serves this model (the request is not sent anywhere else)`,
        },
      };
    }
    return {
      level,
      levelReasons,
      action: 'allow',
      compliant,
      excluded,
      reason: { code: 'allowed', ja: `${level} として許可: 適合バックエンド ${compliant.join(', ')}`, en: `allowed as ${level}: compliant backends ${compliant.join(', ')}` },
    };
  }
}
