/**
 * What the console (and the admin API) see of threat detection (issue #7). The threats module
 * implements it; the console codes against this shape only.
 */
export type ThreatType =
  | 'PROMPT_INJECTION'
  | 'JAILBREAK'
  | 'INDIRECT_INJECTION'
  | 'EXFILTRATION'
  | 'BULK_PERSONAL_DATA'
  | 'CREDENTIAL_STUFFING'
  | 'BRUTE_FORCE'
  | 'ANOMALY'
  | 'UNBOUNDED_CONSUMPTION';

export type ThreatAction = 'log' | 'alert' | 'block' | 'step_up' | 'quarantine';

export interface AlertView {
  id: string;
  ts: string;
  principal: string;
  type: ThreatType;
  rule: string;
  severity: 'low' | 'medium' | 'high' | 'critical';
  score: number;
  action: ThreatAction;
  request_id: string | null;
  incident_id: string | null;
  /** OWASP LLM Top 10 2025 ids (LLM01 …) and MITRE ATLAS ids (AML.T0051 …). */
  owasp: string[];
  atlas: string[];
}

export interface IncidentView {
  id: string;
  opened_at: string;
  updated_at: string;
  title: string;
  /** The Japanese title, when the rule has one (`title_ja`). */
  title_ja: string | null;
  severity: AlertView['severity'];
  status: 'open' | 'approved' | 'shared' | 'closed';
  alert_count: number;
  principals: string[];
  approved_by: string | null;
}

export interface ThreatsAdmin {
  alerts(q: { limit: number; before?: string; incident?: string }): Promise<AlertView[]>;
  incidents(q: { limit: number; status?: IncidentView['status'] }): Promise<IncidentView[]>;
  /** An administrator approves sharing; nothing leaves the organization before this. */
  approve(incidentId: string, admin: string): Promise<IncidentView>;
  /** The STIX 2.1 bundle of an approved incident (throws when not approved). */
  exportStix(incidentId: string): Promise<Record<string, unknown>>;
}
