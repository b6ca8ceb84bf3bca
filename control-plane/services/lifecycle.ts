// What the retraining loop (issue 16) and the model timeline read from the gates and the alerts: the
// shapes both sides agree on. GateService (gates.ts) and AlertService (alerts.ts) implement these.
import type { CallContext } from './actor.js';

/** One check of a promotion policy, as measured on one candidate. */
export interface GateCheck {
  /** e.g. `metric_floor`, `no_regression`, `slice_floor`, `slice_gap`, `robustness`, `compatibility`, `parity`. */
  kind: string;
  /** What exactly was checked, e.g. `accuracy on holdout-2015`, `accuracy of season=winter`. */
  name: string;
  passed: boolean;
  /** The measured value (null when the check is not numeric, e.g. compatibility). */
  measured: number | null;
  /** The limit it was held against (null when not numeric). */
  limit: number | null;
  /** One line a person reads: what was compared with what. */
  detail: string;
}

export interface GateReport {
  id: string;
  model: string;
  version: number;
  /** The promotion policy's revision the report was made under (null: the model has no policy; nothing was checked and the report passes). */
  policyRevision: number | null;
  passed: boolean;
  checks: GateCheck[];
  createdAt: string;
  createdBy: string;
}

/** How the loop runs gates: evaluate the model's current policy on a version, store and audit the report. */
export interface GateRunner {
  evaluate(ctx: CallContext, model: string, version: number): Promise<GateReport>;
  /** Every stored report of a model, oldest first. */
  reports(model: string): Promise<GateReport[]>;
}

export const ALERT_METRICS = ['drift_psi', 'accuracy', 'error_rate', 'latency_p99_ms', 'mae', 'attribution_shift', 'slice_error_rate', 'slice_error_disparity'] as const;
export type AlertMetric = (typeof ALERT_METRICS)[number];
export const ALERT_STATES = ['pending', 'firing', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

/** One alert: a rule's condition held (pending), held for the rule's `for` (firing), or stopped holding (resolved). */
export interface Alert {
  id: string;
  ruleId: string;
  ruleName: string;
  model: string;
  /** The model version the figure is about. */
  version: number;
  metric: AlertMetric;
  /** The feature for drift_psi; null otherwise. */
  feature: string | null;
  severity: string;
  state: AlertState;
  /** The last evaluated value and the rule's threshold. */
  value: number | null;
  threshold: number;
  /** When the condition started to hold (pending since). */
  activeSince: string;
  firedAt: string | null;
  resolvedAt: string | null;
  silencedUntil: string | null;
}

export interface AlertFilter {
  model?: string | undefined;
  state?: AlertState | undefined;
}

/** How the loop and the timeline read alerts. */
export interface AlertSource {
  /** Alerts matching the filter, newest first (at most `limit`, default 100). */
  list(filter: AlertFilter, limit?: number): Promise<Alert[]>;
}
