// Alert rows as the store keeps them and as services hand them out: the shared reads of the alert
// service (rules, lists, silences) and of the evaluation that moves alerts between states.
import { createHash } from 'node:crypto';
import type { Store, Tx } from '../store/db.js';
import type { AlertRuleTable, AlertTable } from '../store/tables.js';
import type { Alert, AlertFilter, AlertMetric, AlertState } from './lifecycle.js';

export type AlertRow = AlertTable & { rule_silenced_until: string | null; rule_silence_reason: string | null };

export interface AlertView extends Alert {
  fingerprint: string;
  silenceReason: string | null;
}

const OPEN: AlertState[] = ['pending', 'firing'];

export function alertFingerprint(ruleId: string, model: string, version: number, feature: string | null): string {
  return createHash('sha256').update(JSON.stringify([ruleId, model, version, feature])).digest('hex').slice(0, 32);
}

function later(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}

export function toAlert(r: AlertRow): AlertView {
  const own = r.silenced_until;
  const silencedUntil = later(own, r.rule_silenced_until);
  return {
    id: r.id,
    fingerprint: r.fingerprint,
    ruleId: r.rule_id,
    ruleName: r.rule_name,
    model: r.model,
    version: Number(r.version),
    metric: r.metric as AlertMetric,
    feature: r.feature,
    severity: r.severity,
    state: r.state as AlertState,
    value: r.value === null ? null : Number(r.value),
    threshold: Number(r.threshold),
    activeSince: r.active_since,
    firedAt: r.fired_at,
    resolvedAt: r.resolved_at,
    silencedUntil,
    silenceReason: silencedUntil === null ? null : silencedUntil === own ? r.silence_reason : r.rule_silence_reason,
  };
}

/** Alerts with their rule's silence, filtered by model and state. */
export function alertQuery(db: Tx | Store['db'], filter: AlertFilter) {
  let q = db
    .selectFrom('alerts')
    .leftJoin('alert_rules', 'alert_rules.id', 'alerts.rule_id')
    .selectAll('alerts')
    .select(['alert_rules.silenced_until as rule_silenced_until', 'alert_rules.silence_reason as rule_silence_reason']);
  if (filter.model) q = q.where('alerts.model', '=', filter.model);
  if (filter.state) q = q.where('alerts.state', '=', filter.state);
  return q;
}

/** A rule's pending and firing alerts. */
export function openAlerts(db: Tx | Store['db'], ruleId: string): Promise<AlertRow[]> {
  return alertQuery(db, {}).where('alerts.rule_id', '=', ruleId).where('alerts.state', 'in', OPEN).execute();
}

/** Whether the alert's own silence or its rule's holds at `atIso`. */
export function isSilenced(alert: AlertRow, rule: AlertRuleTable, atIso: string): boolean {
  return (alert.silenced_until !== null && alert.silenced_until > atIso) || (rule.silenced_until !== null && rule.silenced_until > atIso);
}
