// Alert rules as given (GraphQL AlertRuleInput) → the validated values the store keeps. A rule is
// checked whole; the first bad field is named in SLUICE_E_ALERT_RULE_INVALID's details.field.
import { SluiceError } from '../../lib/errors.js';
import type { AlertRuleTable } from '../store/tables.js';
import { ALERT_METRICS, type AlertMetric } from './lifecycle.js';

export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];
export const COMPARISONS = ['>', '<'] as const;

/** Traffic windows are pruned after an hour by default (loops/rollout-controller.ts): a rule cannot look further back. */
export const MAX_WINDOW_SECONDS = 3600;
export const DEFAULT_WINDOW_SECONDS = 300;
const MAX_FOR_SECONDS = 7 * 86400;
const MAX_WEBHOOKS = 16;
const MAX_LABELS = 32;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const LABEL_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const ALIAS = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;
/**
 * Metrics whose figure needs a least number of calls (error_rate, latency), feedback rows (accuracy,
 * mae), explained rows (attribution_shift) or labelled rows per slice (slice_*).
 */
const COUNTED: readonly AlertMetric[] = ['accuracy', 'mae', 'error_rate', 'latency_p99_ms', 'attribution_shift', 'slice_error_rate', 'slice_error_disparity'];
/** What minCount counts, per metric. */
const COUNTS: Partial<Record<AlertMetric, string>> = { accuracy: 'feedback rows', mae: 'feedback rows', attribution_shift: 'explained rows', slice_error_rate: 'labelled rows of a slice', slice_error_disparity: 'labelled rows of a slice' };
/** Metrics that are ratios, so their thresholds lie in [0, 1] (a slice's error is an MAE for regressors). */
const RATIOS: readonly AlertMetric[] = ['accuracy', 'error_rate', 'attribution_shift'];

export interface AlertRuleInput {
  name: string;
  model: string;
  /** An alias (`production`), a version number, or `*` for every version with figures (default `production`). */
  versions?: string | null;
  metric: string;
  feature?: string | null;
  comparison: string;
  threshold: number;
  minCount?: number | null;
  windowSeconds?: number | null;
  forSeconds?: number | null;
  severity?: string | null;
  webhooks?: string[] | null;
  labels?: { key: string; value: string }[] | null;
}

/** What updateAlertRule takes: any field but the name; the rest stays. */
export type AlertRulePatch = Partial<Omit<AlertRuleInput, 'name'>>;

export type ParsedRule = Omit<AlertRuleTable, 'id' | 'webhooks' | 'silenced_until' | 'silence_reason' | 'created_at' | 'created_by' | 'updated_at'> & { webhookNames: string[] };

export function ruleInvalid(field: string, message: string): SluiceError {
  return new SluiceError('SLUICE_E_ALERT_RULE_INVALID', `${field}: ${message}`, { details: { field } });
}

function integer(value: number | null | undefined, field: string, min: number, max: number, fallback: number | undefined): number {
  if (value === null || value === undefined) {
    if (fallback === undefined) throw ruleInvalid(field, 'is required');
    return fallback;
  }
  if (!Number.isInteger(value) || value < min || value > max) throw ruleInvalid(field, `must be an integer from ${min} to ${max}`);
  return value;
}

export function parseRule(input: AlertRuleInput): ParsedRule {
  if (typeof input.name !== 'string' || !NAME.test(input.name)) throw ruleInvalid('name', 'must be 1-64 letters, digits, ".", "_" or "-"');
  if (typeof input.model !== 'string' || input.model.length === 0 || input.model.length > 64) throw ruleInvalid('model', 'must be a model name');
  const versions = input.versions ?? 'production';
  if (!(versions === '*' || /^[1-9]\d{0,8}$/.test(versions) || ALIAS.test(versions))) throw ruleInvalid('versions', 'must be an alias (e.g. production), a version number, or * for every version');
  if (!(ALERT_METRICS as readonly string[]).includes(input.metric)) throw ruleInvalid('metric', `must be one of ${ALERT_METRICS.join(', ')}`);
  const metric = input.metric as AlertMetric;
  const feature = input.feature ?? null;
  if (metric === 'drift_psi' || metric === 'slice_error_rate') {
    const what = metric === 'drift_psi' ? 'a feature name, or * for any feature' : 'a slice name, or * for any slice';
    if (feature === null || feature.length === 0 || feature.length > 128) throw ruleInvalid('feature', `${metric} needs ${what}`);
  } else if (metric === 'attribution_shift') {
    if (feature !== null && (feature.length === 0 || feature.length > 128)) throw ruleInvalid('feature', 'attribution_shift takes a feature name, * for any feature, or none for the whole shift');
  } else if (feature !== null) {
    throw ruleInvalid('feature', `only drift_psi, attribution_shift and slice_error_rate take a feature, not ${metric}`);
  }
  if (!(COMPARISONS as readonly string[]).includes(input.comparison)) throw ruleInvalid('comparison', 'must be > or <');
  const threshold = input.threshold;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < 0) throw ruleInvalid('threshold', 'must be a finite number >= 0');
  if (RATIOS.includes(metric) && threshold > 1) throw ruleInvalid('threshold', `${metric} is a ratio: the threshold must be from 0 to 1`);
  let minCount = 0;
  if (COUNTED.includes(metric)) {
    const what = COUNTS[metric] ?? 'calls';
    if (input.minCount === null || input.minCount === undefined) throw ruleInvalid('minCount', `${metric} needs the fewest ${what} a figure counts on`);
    minCount = integer(input.minCount, 'minCount', 1, Number.MAX_SAFE_INTEGER, undefined);
  } else if (input.minCount !== null && input.minCount !== undefined) {
    throw ruleInvalid('minCount', 'drift_psi counts rows by the version\'s min_rows; it takes no minCount');
  }
  const windowSeconds = integer(input.windowSeconds, 'windowSeconds', 1, MAX_WINDOW_SECONDS, DEFAULT_WINDOW_SECONDS);
  const forSeconds = integer(input.forSeconds, 'forSeconds', 0, MAX_FOR_SECONDS, 0);
  const severity = (input.severity ?? 'warning').toLowerCase();
  if (!(ALERT_SEVERITIES as readonly string[]).includes(severity)) throw ruleInvalid('severity', `must be one of ${ALERT_SEVERITIES.join(', ')}`);
  const webhookNames = input.webhooks ?? [];
  if (webhookNames.length > MAX_WEBHOOKS || new Set(webhookNames).size !== webhookNames.length) throw ruleInvalid('webhooks', `must name at most ${MAX_WEBHOOKS} different webhooks`);
  const labels: Record<string, string> = {};
  for (const { key, value } of input.labels ?? []) {
    if (!LABEL_KEY.test(key) || key in labels) throw ruleInvalid('labels', `${key} is not a label name (letters, digits, _; each once)`);
    if (typeof value !== 'string' || value.length > 256) throw ruleInvalid('labels', `${key}'s value must be at most 256 characters`);
    labels[key] = value;
  }
  if (Object.keys(labels).length > MAX_LABELS) throw ruleInvalid('labels', `at most ${MAX_LABELS} labels`);
  return {
    name: input.name,
    model: input.model,
    versions,
    metric,
    feature,
    comparison: input.comparison,
    threshold,
    min_count: minCount,
    window_seconds: windowSeconds,
    for_seconds: forSeconds,
    severity,
    webhookNames,
    labels: JSON.stringify(labels),
  };
}

/** A stored rule as input again (the base an update patches). */
export function ruleAsInput(r: AlertRuleTable, webhookNames: string[]): AlertRuleInput {
  return {
    name: r.name,
    model: r.model,
    versions: r.versions,
    metric: r.metric,
    feature: r.feature,
    comparison: r.comparison,
    threshold: Number(r.threshold),
    minCount: Number(r.min_count) === 0 ? null : Number(r.min_count),
    windowSeconds: Number(r.window_seconds),
    forSeconds: Number(r.for_seconds),
    severity: r.severity,
    webhooks: webhookNames,
    labels: Object.entries(JSON.parse(r.labels) as Record<string, string>).map(([key, value]) => ({ key, value })),
  };
}
