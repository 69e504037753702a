/**
 * Sekisho inspector — pure: plain data in, plain data out; imports nothing else of Sekisho.
 *
 *   const insp = createInspector();           // compile once (lexicons load at import)
 *   const r = insp.inspect(text);             // { level, flags, findings }
 *   const masked = mask(text, r.findings);    // 〔氏名1〕様の電話番号は〔電話番号1〕です
 *
 * Offsets are JavaScript string indices (UTF-16 code units) into the ORIGINAL text.
 */
import { scanText, resolveOverlaps } from './engine.js';
import { createClassifier, type ClassificationRules } from './classify.js';
import { compilePatterns, runPatterns, type CustomPattern } from './custom.js';
import type { Finding, Flag, Inspection, Level } from './types.js';

export type { Finding, FindingType, Flag, Inspection, Level } from './types.js';
export type { ClassificationRules } from './classify.js';
export { DEFAULT_TYPE_FLAGS, DEFAULT_FLAG_LEVELS, LEVELS, PERSONAL_TYPES } from './classify.js';
export type { CustomPattern } from './custom.js';
export { InspectorConfigError } from './custom.js';
export { mask, pseudonymize, restore, createRestorer, PLACEHOLDER_LABELS, type MaskResult } from './mask.js';
export { normalize } from './text.js';
export { isValidMyNumber, isValidCorporateNumber, isValidDriversLicense, luhn } from './checks.js';

export interface InspectorOptions {
  /** findings below this confidence are dropped (default 0.5) */
  minScore?: number;
  classification?: ClassificationRules;
  customPatterns?: CustomPattern[];
  /** restrict detection to these types (default: all) */
  types?: string[];
}

export interface Inspector {
  inspect(text: string): Inspection;
}

const SENSITIVE_WINDOW = 160;

export function createInspector(opts: InspectorOptions = {}): Inspector {
  const minScore = opts.minScore ?? 0.5;
  const classifier = createClassifier(opts.classification);
  const patterns = compilePatterns(opts.customPatterns);
  const only = opts.types ? new Set(opts.types) : undefined;
  const sensitiveRule = opts.classification?.sensitiveContext !== false;
  return {
    inspect(text: string): Inspection {
      if (typeof text !== 'string') text = String(text ?? '');
      const raw = scanText(text);
      let cands = raw.candidates;
      if (patterns.length) runPatterns(patterns, text, cands);
      if (only) cands = cands.filter((f) => only.has(f.type));
      const findings = resolveOverlaps(cands, minScore);
      let sensitive = false;
      if (sensitiveRule && raw.health.length) sensitive = nearPerson(raw.health, findings, raw.personRefs);
      const extra: { flags: Flag[]; level?: Level }[] = [];
      if (patterns.length) {
        const seen = new Set<string>();
        for (const f of findings) {
          if (seen.has(f.type)) continue;
          seen.add(f.type);
          const p = patterns.find((x) => x.type === f.type);
          if (p) extra.push(p.level ? { flags: p.flags, level: p.level } : { flags: p.flags });
        }
      }
      const { level, flags } = classifier.classify(findings, sensitive, extra);
      return { level, flags, findings };
    },
  };
}

const PERSONAL = new Set(['PERSON_NAME', 'JP_MY_NUMBER', 'JP_PHONE', 'JP_ADDRESS', 'EMAIL', 'JP_PASSPORT', 'JP_RESIDENCE_CARD', 'JP_DRIVERS_LICENSE', 'JP_BANK_ACCOUNT', 'CREDIT_CARD', 'JP_POSTAL_CODE']);

/** a health/sensitive word within SENSITIVE_WINDOW of a personal finding, or within 40 of a person reference */
function nearPerson(health: number[], findings: Finding[], refs: number[]): boolean {
  for (const h of health) {
    for (const f of findings) {
      if (!PERSONAL.has(f.type)) continue;
      if (f.end >= h - SENSITIVE_WINDOW && f.start <= h + SENSITIVE_WINDOW) return true;
    }
    for (const r of refs) if (Math.abs(r - h) <= 40) return true;
  }
  return false;
}

let defaultInspector: Inspector | undefined;
/** convenience: inspect with default options */
export function inspect(text: string): Inspection {
  defaultInspector ??= createInspector();
  return defaultInspector.inspect(text);
}
