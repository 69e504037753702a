/**
 * STIX 2.1 for an approved incident: the tenant's identity, TLP 2.0 marking definitions, one
 * indicator per Sigma rule (pattern_type sigma), observed-data and sightings of the alerts
 * (metadata only: rule, type, counts, times — never prompt text), and the incident with the
 * Incident Core Extension. Also the JPCERT/CC-style report (インシデント報告様式) in Japanese.
 */
import crypto from 'node:crypto';
import type { AlertView, IncidentView } from './admin.js';
import type { Rule } from './sigma.js';

/** TLP 2.0 marking definitions (ids and statements as published by FIRST/OASIS). */
export const TLP: Record<string, { id: string; name: string }> = {
  clear: { id: 'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487', name: 'TLP:CLEAR' },
  green: { id: 'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb', name: 'TLP:GREEN' },
  amber: { id: 'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421', name: 'TLP:AMBER' },
  'amber+strict': { id: 'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003', name: 'TLP:AMBER+STRICT' },
  red: { id: 'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1', name: 'TLP:RED' },
};
export const INCIDENT_CORE_EXTENSION = 'extension-definition--ef765651-680c-498d-9894-99799f2fa126';
const TLP_EXTENSION = 'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d';

/** A deterministic STIX id (UUIDv5-style under a fixed namespace) so re-exports keep their ids. */
export function stixId(type: string, key: string): string {
  const h = crypto.createHash('sha1').update(`sekisho:${type}:${key}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${type}--${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

const ts = (s: string) => new Date(s).toISOString();

function tlpMarking(level: string): Record<string, unknown> {
  const t = TLP[level] ?? TLP.amber!;
  return {
    type: 'marking-definition',
    spec_version: '2.1',
    id: t.id,
    created: '2022-10-01T00:00:00.000Z',
    name: t.name,
    extensions: { [TLP_EXTENSION]: { extension_type: 'property-extension', tlp_2_0: t.name.slice(4).toLowerCase() } },
  };
}

export interface StixContext {
  tenant: { id: string; name: string };
  tlp: string;
  rules: readonly Rule[];
}

export function incidentBundle(inc: IncidentView, alerts: readonly AlertView[], ctx: StixContext): Record<string, unknown> {
  const marking = TLP[ctx.tlp] ?? TLP.amber!;
  const identity = stixId('identity', ctx.tenant.id);
  const common = (created: string) => ({ spec_version: '2.1', created: ts(created), modified: ts(created), created_by_ref: identity, object_marking_refs: [marking.id] });
  const objects: Record<string, unknown>[] = [
    tlpMarking(ctx.tlp),
    { type: 'identity', spec_version: '2.1', id: identity, created: ts(inc.opened_at), modified: ts(inc.opened_at), name: ctx.tenant.name, identity_class: 'organization', object_marking_refs: [marking.id] },
  ];
  // What was observed: requests at the AI gateway (the software), never their text.
  const gateway = stixId('software', `${ctx.tenant.id}:sekisho`);
  objects.push({ type: 'software', spec_version: '2.1', id: gateway, name: 'Sekisho AI gateway', vendor: ctx.tenant.name });
  const ruleIds = [...new Set(alerts.map((a) => a.rule))];
  const indicators = new Map<string, string>();
  for (const rid of ruleIds) {
    const rule = ctx.rules.find((r) => r.id === rid || r.name === rid);
    const id = stixId('indicator', rid);
    indicators.set(rid, id);
    const first = alerts.find((a) => a.rule === rid)!;
    objects.push({
      type: 'indicator',
      ...common(inc.opened_at),
      id,
      name: rule?.title ?? rid,
      description: rule?.description || `Sekisho detection rule ${rid}`,
      indicator_types: ['malicious-activity'],
      pattern: rule?.source ?? `title: ${rid}\nlogsource: {product: sekisho}`,
      pattern_type: 'sigma',
      valid_from: ts(first.ts),
      labels: [first.type.toLowerCase(), ...first.owasp.map((o) => `owasp-llm-2025:${o}`), ...first.atlas.map((a) => `mitre-atlas:${a}`)],
      external_references: [
        ...first.owasp.map((o) => ({ source_name: 'OWASP Top 10 for LLM Applications 2025', external_id: o, url: 'https://genai.owasp.org/llm-top-10/' })),
        ...first.atlas.map((a) => ({ source_name: 'mitre-atlas', external_id: a, url: `https://atlas.mitre.org/techniques/${a.split('.').slice(0, 2).join('.')}` })),
      ],
    });
  }
  // One observed-data and one sighting per rule: counts and times only.
  for (const rid of ruleIds) {
    const xs = alerts.filter((a) => a.rule === rid);
    const first = xs.reduce((m, a) => (a.ts < m ? a.ts : m), xs[0]!.ts);
    const last = xs.reduce((m, a) => (a.ts > m ? a.ts : m), xs[0]!.ts);
    const od = stixId('observed-data', `${inc.id}:${rid}`);
    objects.push({
      type: 'observed-data',
      ...common(last),
      id: od,
      first_observed: ts(first),
      last_observed: ts(last),
      number_observed: xs.length,
      object_refs: [gateway],
    });
    objects.push({
      type: 'sighting',
      ...common(last),
      id: stixId('sighting', `${inc.id}:${rid}`),
      sighting_of_ref: indicators.get(rid)!,
      first_seen: ts(first),
      last_seen: ts(last),
      count: xs.length,
      observed_data_refs: [od],
      where_sighted_refs: [identity],
    });
  }
  objects.push({
    type: 'incident',
    ...common(inc.opened_at),
    modified: ts(inc.updated_at),
    id: stixId('incident', inc.id),
    name: inc.title,
    description: `${inc.alert_count} alert(s) from ${inc.principals.length} principal(s) at the Sekisho AI gateway`,
    extensions: {
      [INCIDENT_CORE_EXTENSION]: {
        extension_type: 'property-extension',
        determination: 'suspected',
        investigation_status: inc.status === 'closed' ? 'closed' : 'open',
        criticality: { low: 25, medium: 50, high: 75, critical: 95 }[inc.severity],
        incident_types: ['ai-misuse'],
        first_seen: ts(inc.opened_at),
        last_seen: ts(inc.updated_at),
        detection_methods: ['automated-tool'],
      },
    },
  });
  return { type: 'bundle', id: stixId('bundle', `${inc.id}:${inc.updated_at}:${inc.alert_count}`), objects };
}

/** インシデント報告様式 (JPCERT/CC の様式に倣った項目), in Japanese, as text. */
export function jpcertReport(inc: IncidentView, alerts: readonly AlertView[], ctx: { tenant: { name: string }; contact?: string }): string {
  const types = [...new Set(alerts.map((a) => a.type))];
  const jaType: Record<string, string> = {
    PROMPT_INJECTION: 'プロンプトインジェクション',
    JAILBREAK: 'ジェイルブレイク (制限回避)',
    INDIRECT_INJECTION: '間接プロンプトインジェクション',
    EXFILTRATION: 'システムプロンプト・秘密情報の持ち出し',
    BULK_PERSONAL_DATA: '個人情報の大量取得の試み',
    CREDENTIAL_STUFFING: 'クレデンシャルスタッフィング',
    BRUTE_FORCE: 'ブルートフォース (総当たり)',
    ANOMALY: '利用者の異常な振る舞い',
    UNBOUNDED_CONSUMPTION: '過剰な資源消費',
  };
  const owasp = [...new Set(alerts.flatMap((a) => a.owasp))];
  const atlas = [...new Set(alerts.flatMap((a) => a.atlas))];
  const lines = [
    'インシデント報告様式 (JPCERT/CC 様式準拠)',
    '',
    '【報告者情報】',
    `  組織名: ${ctx.tenant.name}`,
    `  連絡先: ${ctx.contact ?? '(管理者が記入)'}`,
    '',
    '【インシデントの概要】',
    `  管理番号: ${inc.id}`,
    `  件名: ${inc.title_ja ?? inc.title}`,
    `  種別: ${types.map((t) => jaType[t] ?? t).join('、')}`,
    `  重要度: ${{ low: '低', medium: '中', high: '高', critical: '緊急' }[inc.severity]}`,
    `  発見日時: ${inc.opened_at}`,
    `  最終確認日時: ${inc.updated_at}`,
    `  検知件数: ${inc.alert_count} 件`,
    `  関係する利用者 (仮名): ${inc.principals.join(', ')}`,
    '',
    '【検知の詳細】',
    ...[...new Set(alerts.map((a) => a.rule))].map((r) => {
      const xs = alerts.filter((a) => a.rule === r);
      return `  - 規則 ${r}: ${xs.length} 件 (対応: ${xs[0]!.action})`;
    }),
    `  OWASP Top 10 for LLM 2025: ${owasp.join(', ') || '-'}`,
    `  MITRE ATLAS: ${atlas.join(', ') || '-'}`,
    '',
    '【対応状況】',
    `  状態: ${{ open: '対応中', approved: '共有承認済み', shared: '共有済み', closed: '完了' }[inc.status]}`,
    `  共有の承認者: ${inc.approved_by ?? '-'}`,
    '',
    '【備考】',
    '  本報告にはプロンプトや回答の本文を含みません (件数・時刻・規則のみ)。',
  ];
  return lines.join('\n') + '\n';
}
