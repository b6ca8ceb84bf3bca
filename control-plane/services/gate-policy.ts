// A model's promotion policy: its one schema (types, validation, defaults). A bad policy is
// SLUICE_E_GATE_POLICY_INVALID naming the field; docs/gates.md describes every field.
import { SluiceError } from '../../lib/errors.js';
import { GATE_METRICS, higherIsBetter, type GateMetric } from './gate-metrics.js';
import type { HoldoutColumn } from './holdout-datasets.js';

export const GATE_TASKS = ['classification', 'regression'] as const;
export type GateTask = (typeof GATE_TASKS)[number];

export interface PromotionPolicy {
  /** Name of a holdout dataset registered for the model. */
  dataset: string;
  /** The model input the dataset's columns fill, in this order: one [N, columns.length] FP32 tensor. */
  input: { tensor: string; columns: string[] };
  /** The dataset's label column and the model output compared with it. */
  label: { column: string; output: string; task: GateTask; classes?: string[] };
  metric: GateMetric;
  /** accuracy / macro_f1: the candidate's metric must be ≥ floor. */
  floor?: number;
  /** mae / rmse: the candidate's metric must be ≤ ceiling. */
  ceiling?: number;
  /** The candidate may be this much worse than the production version (checked when set). */
  maxRegression?: number;
  slices?: { column: string; floor?: number; ceiling?: number; maxGap?: number; minRows: number };
  fairness?: { column: string; positiveClass: string; maxParityGap?: number; maxOpportunityGap?: number; minRows: number };
  robustness?: { noise: number; seed: number; maxDrop: number };
  compatibility: boolean;
  requireApproval: boolean;
}

const MAX_COLUMNS = 256;

function invalid(field: string, message: string): SluiceError {
  return new SluiceError('SLUICE_E_GATE_POLICY_INVALID', `promotion policy field ${field}: ${message}`, { details: { field } });
}

type Obj = Record<string, unknown>;

function object(v: unknown, field: string, keys: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(field, 'must be an object');
  for (const k of Object.keys(v)) if (!keys.includes(k)) throw invalid(field === '' ? k : `${field}.${k}`, `is not a policy field (known: ${keys.join(', ')})`);
  return v as Obj;
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > 128) throw invalid(field, 'must be a non-empty string of at most 128 characters');
  return v;
}

function num(v: unknown, field: string, min: number, max: number): number;
function num(v: unknown, field: string, min: number, max: number, optional: true): number | undefined;
function num(v: unknown, field: string, min: number, max: number, optional = false): number | undefined {
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw invalid(field, 'is required');
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw invalid(field, `must be a number from ${min} to ${max}`);
  return v;
}

function bool(v: unknown, field: string, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw invalid(field, 'must be true or false');
  return v;
}

function strings(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_COLUMNS) throw invalid(field, `must be a list of 1-${MAX_COLUMNS} names`);
  const out = v.map((x, i) => str(x, `${field}[${i}]`));
  if (new Set(out).size !== out.length) throw invalid(field, 'names a column twice');
  return out;
}

/** Check a policy's shape and fill its defaults. */
export function parsePolicy(raw: unknown): PromotionPolicy {
  const p = object(raw, '', ['dataset', 'input', 'label', 'metric', 'floor', 'ceiling', 'maxRegression', 'slices', 'fairness', 'robustness', 'compatibility', 'requireApproval']);
  const input = object(p.input, 'input', ['tensor', 'columns']);
  const label = object(p.label, 'label', ['column', 'output', 'task', 'classes']);
  const task = label.task ?? 'classification';
  if (!(GATE_TASKS as readonly unknown[]).includes(task)) throw invalid('label.task', `must be one of ${GATE_TASKS.join(', ')}`);
  const metric = p.metric;
  if (!(GATE_METRICS as readonly unknown[]).includes(metric)) throw invalid('metric', `must be one of ${GATE_METRICS.join(', ')}`);
  const m = metric as GateMetric;
  if (higherIsBetter(m) !== (task === 'classification')) throw invalid('metric', `${m} does not fit a ${task as string} task (classification: accuracy, macro_f1; regression: mae, rmse)`);
  const higher = higherIsBetter(m);
  // A floor bounds a metric that grows with quality, a ceiling an error: the wrong one is refused rather than read backwards.
  if (higher && p.ceiling !== undefined) throw invalid('ceiling', `${m} grows with quality: give floor`);
  if (!higher && p.floor !== undefined) throw invalid('floor', `${m} is an error: give ceiling`);
  const bound = higher ? 1 : Number.MAX_VALUE;
  const policy: PromotionPolicy = {
    dataset: str(p.dataset, 'dataset'),
    input: { tensor: str(input.tensor, 'input.tensor'), columns: strings(input.columns, 'input.columns') },
    label: { column: str(label.column, 'label.column'), output: str(label.output, 'label.output'), task: task as GateTask },
    metric: m,
    compatibility: bool(p.compatibility, 'compatibility', true),
    requireApproval: bool(p.requireApproval, 'requireApproval', false),
  };
  if (label.classes !== undefined) {
    if (task !== 'classification') throw invalid('label.classes', 'only a classification has classes');
    policy.label.classes = strings(label.classes, 'label.classes');
  }
  if (higher) {
    const floor = num(p.floor, 'floor', 0, 1, true);
    if (floor !== undefined) policy.floor = floor;
  } else {
    const ceiling = num(p.ceiling, 'ceiling', 0, bound, true);
    if (ceiling !== undefined) policy.ceiling = ceiling;
  }
  const maxRegression = num(p.maxRegression, 'maxRegression', 0, bound, true);
  if (maxRegression !== undefined) policy.maxRegression = maxRegression;
  if (p.slices !== undefined && p.slices !== null) {
    const s = object(p.slices, 'slices', ['column', 'floor', 'ceiling', 'maxGap', 'minRows']);
    if (higher && s.ceiling !== undefined) throw invalid('slices.ceiling', `${m} grows with quality: give slices.floor`);
    if (!higher && s.floor !== undefined) throw invalid('slices.floor', `${m} is an error: give slices.ceiling`);
    policy.slices = { column: str(s.column, 'slices.column'), minRows: num(s.minRows ?? 20, 'slices.minRows', 1, 1e9) };
    const floor = higher ? num(s.floor, 'slices.floor', 0, 1, true) : undefined;
    const ceiling = higher ? undefined : num(s.ceiling, 'slices.ceiling', 0, bound, true);
    const maxGap = num(s.maxGap, 'slices.maxGap', 0, bound, true);
    if (floor !== undefined) policy.slices.floor = floor;
    if (ceiling !== undefined) policy.slices.ceiling = ceiling;
    if (maxGap !== undefined) policy.slices.maxGap = maxGap;
    if (floor === undefined && ceiling === undefined && maxGap === undefined) throw invalid('slices', `needs ${higher ? 'floor' : 'ceiling'} or maxGap`);
  }
  if (p.fairness !== undefined && p.fairness !== null) {
    if (task !== 'classification') throw invalid('fairness', 'applies to classifiers (a positive class)');
    const f = object(p.fairness, 'fairness', ['column', 'positiveClass', 'maxParityGap', 'maxOpportunityGap', 'minRows']);
    const positive = f.positiveClass;
    policy.fairness = {
      column: str(f.column, 'fairness.column'),
      positiveClass: typeof positive === 'number' && Number.isInteger(positive) && positive >= 0 ? String(positive) : str(positive, 'fairness.positiveClass'),
      minRows: num(f.minRows ?? 20, 'fairness.minRows', 1, 1e9),
    };
    const parity = num(f.maxParityGap, 'fairness.maxParityGap', 0, 1, true);
    const opportunity = num(f.maxOpportunityGap, 'fairness.maxOpportunityGap', 0, 1, true);
    if (parity !== undefined) policy.fairness.maxParityGap = parity;
    if (opportunity !== undefined) policy.fairness.maxOpportunityGap = opportunity;
    if (parity === undefined && opportunity === undefined) throw invalid('fairness', 'needs maxParityGap or maxOpportunityGap');
  }
  if (p.robustness !== undefined && p.robustness !== null) {
    const r = object(p.robustness, 'robustness', ['noise', 'seed', 'maxDrop']);
    policy.robustness = {
      noise: num(r.noise, 'robustness.noise', 0, 100),
      seed: num(r.seed ?? 1, 'robustness.seed', 0, 2 ** 32 - 1),
      maxDrop: num(r.maxDrop, 'robustness.maxDrop', 0, bound),
    };
  }
  return policy;
}

/** Check that the policy's columns exist in its dataset (the inputs numeric); the field is named on failure. */
export function checkPolicyAgainstDataset(policy: PromotionPolicy, columns: readonly HoldoutColumn[]): void {
  const column = (name: string, field: string, numeric: boolean) => {
    const c = columns.find((x) => x.name === name);
    if (!c) throw invalid(field, `dataset ${policy.dataset} has no column ${name} (it has ${columns.map((x) => x.name).join(', ')})`);
    if (numeric && !c.numeric) throw invalid(field, `column ${name} of dataset ${policy.dataset} is not numeric`);
  };
  policy.input.columns.forEach((name, i) => column(name, `input.columns[${i}]`, true));
  column(policy.label.column, 'label.column', policy.label.task === 'regression');
  if (policy.slices) column(policy.slices.column, 'slices.column', false);
  if (policy.fairness) column(policy.fairness.column, 'fairness.column', false);
}
