// The arithmetic of promotion gates, pure: metrics of predictions against labels, per-slice metrics,
// fairness gaps (demographic parity, equal opportunity) and the seeded input noise of the robustness
// check. No ONNX Runtime and no store here, so every figure is tested on plain arrays.
import { gaussian, seededRandom } from '../../lib/random.js';

export const GATE_METRICS = ['accuracy', 'macro_f1', 'mae', 'rmse'] as const;
export type GateMetric = (typeof GATE_METRICS)[number];

/** accuracy and macro_f1 grow with quality; mae and rmse are errors and shrink. */
export function higherIsBetter(metric: GateMetric): boolean {
  return metric === 'accuracy' || metric === 'macro_f1';
}

/** The metric over the rows in `rows` (all rows when omitted). Classes are integer indices. */
export function metricOf(metric: GateMetric, predicted: ArrayLike<number>, labels: ArrayLike<number>, rows?: readonly number[]): number {
  const idx = rows ?? Array.from({ length: labels.length }, (_, i) => i);
  if (idx.length === 0) return NaN;
  switch (metric) {
    case 'accuracy': {
      let right = 0;
      for (const i of idx) if (predicted[i] === labels[i]) right++;
      return right / idx.length;
    }
    case 'macro_f1':
      return macroF1(predicted, labels, idx);
    case 'mae': {
      let sum = 0;
      for (const i of idx) sum += Math.abs(predicted[i]! - labels[i]!);
      return sum / idx.length;
    }
    case 'rmse': {
      let sum = 0;
      for (const i of idx) sum += (predicted[i]! - labels[i]!) ** 2;
      return Math.sqrt(sum / idx.length);
    }
  }
}

/** Mean F1 over the classes that occur in the labels or the predictions of these rows (scikit-learn's `average="macro"`). */
function macroF1(predicted: ArrayLike<number>, labels: ArrayLike<number>, idx: readonly number[]): number {
  const tp = new Map<number, number>();
  const fp = new Map<number, number>();
  const fn = new Map<number, number>();
  const bump = (m: Map<number, number>, k: number) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const i of idx) {
    const p = predicted[i]!;
    const l = labels[i]!;
    if (p === l) bump(tp, l);
    else {
      bump(fp, p);
      bump(fn, l);
    }
  }
  const classes = new Set([...tp.keys(), ...fp.keys(), ...fn.keys()]);
  let sum = 0;
  for (const c of classes) {
    const t = tp.get(c) ?? 0;
    const denominator = 2 * t + (fp.get(c) ?? 0) + (fn.get(c) ?? 0);
    sum += denominator === 0 ? 0 : (2 * t) / denominator;
  }
  return sum / classes.size;
}

/** Row indices grouped by the value of a column, in first-seen order. */
export function groupRows(values: readonly string[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  values.forEach((v, i) => {
    const g = groups.get(v);
    if (g) g.push(i);
    else groups.set(v, [i]);
  });
  return groups;
}

export interface SliceFigure {
  value: string;
  rows: number;
  metric: number;
  /** Slices smaller than the policy's minRows are reported but not judged. */
  judged: boolean;
}

export function sliceMetrics(metric: GateMetric, predicted: ArrayLike<number>, labels: ArrayLike<number>, sliceValues: readonly string[], minRows: number): SliceFigure[] {
  return [...groupRows(sliceValues)].map(([value, rows]) => ({ value, rows: rows.length, metric: metricOf(metric, predicted, labels, rows), judged: rows.length >= minRows }));
}

/** The worst judged slice and the gap between the best and the worst judged slices (undefined: none judged). */
export function worstAndGap(metric: GateMetric, slices: readonly SliceFigure[]): { worst: SliceFigure; best: SliceFigure; gap: number } | undefined {
  const judged = slices.filter((s) => s.judged);
  if (judged.length === 0) return undefined;
  const better = (a: SliceFigure, b: SliceFigure) => (higherIsBetter(metric) ? a.metric > b.metric : a.metric < b.metric);
  let worst = judged[0]!;
  let best = judged[0]!;
  for (const s of judged) {
    if (better(worst, s)) worst = s;
    if (better(s, best)) best = s;
  }
  return { worst, best, gap: Math.abs(best.metric - worst.metric) };
}

export interface GroupRate {
  value: string;
  rows: number;
  /** Share of the group's rows predicted as the positive class. */
  positiveRate: number;
  /** Share of the group's positive-labelled rows predicted positive (null: the group has none). */
  truePositiveRate: number | null;
}

/**
 * Demographic parity and equal opportunity (Hardt et al. 2016) for one positive class across the
 * values of a sensitive column: the largest difference between groups of the positive-prediction
 * rate, and of the true-positive rate. Groups under `minRows` are left out.
 */
export function fairnessGaps(
  predicted: ArrayLike<number>,
  labels: ArrayLike<number>,
  groupValues: readonly string[],
  positive: number,
  minRows: number,
): { groups: GroupRate[]; parityGap: number | null; opportunityGap: number | null } {
  const groups: GroupRate[] = [];
  for (const [value, rows] of groupRows(groupValues)) {
    if (rows.length < minRows) continue;
    let predictedPositive = 0;
    let labelledPositive = 0;
    let truePositive = 0;
    for (const i of rows) {
      const p = predicted[i] === positive;
      if (p) predictedPositive++;
      if (labels[i] === positive) {
        labelledPositive++;
        if (p) truePositive++;
      }
    }
    groups.push({ value, rows: rows.length, positiveRate: predictedPositive / rows.length, truePositiveRate: labelledPositive === 0 ? null : truePositive / labelledPositive });
  }
  const spread = (xs: number[]) => (xs.length < 2 ? null : Math.max(...xs) - Math.min(...xs));
  return {
    groups,
    parityGap: spread(groups.map((g) => g.positiveRate)),
    opportunityGap: spread(groups.flatMap((g) => (g.truePositiveRate === null ? [] : [g.truePositiveRate]))),
  };
}

/** Population standard deviation of each column of a row-major [rows, cols] matrix. */
export function columnStd(x: Float32Array, rows: number, cols: number): Float64Array {
  const mean = new Float64Array(cols);
  const std = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mean[j]! += x[i * cols + j]!;
  for (let j = 0; j < cols; j++) mean[j]! /= rows;
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) std[j]! += (x[i * cols + j]! - mean[j]!) ** 2;
  for (let j = 0; j < cols; j++) std[j] = Math.sqrt(std[j]! / rows);
  return std;
}

/** A copy of `x` with Gaussian noise of `scale` × each column's std added, from a seeded generator (the same seed, the same noise). */
export function withNoise(x: Float32Array, rows: number, cols: number, scale: number, seed: number): Float32Array {
  const std = columnStd(x, rows, cols);
  const random = seededRandom(seed);
  const out = new Float32Array(x.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = x[i * cols + j]! + scale * std[j]! * gaussian(random);
  return out;
}

/** How much worse `perturbed` is than `base` (positive: worse), whichever way the metric points. */
export function metricDrop(metric: GateMetric, base: number, perturbed: number): number {
  return higherIsBetter(metric) ? base - perturbed : perturbed - base;
}
