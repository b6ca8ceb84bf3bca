// What a promotion gate measures, given the policy, the holdout table and the predictions: the
// inputs fed to the model (features, labels, class names), each GateCheck's figures and wording,
// and the worker thread that scores a model version with ONNX Runtime (gate-worker.ts).
import { Worker } from 'node:worker_threads';
import onnxProto from 'onnx-proto';
import { SluiceError } from '../../lib/errors.js';
import { fairnessGaps, higherIsBetter, sliceMetrics, worstAndGap } from './gate-metrics.js';
import type { PromotionPolicy } from './gate-policy.js';
import type { GateWorkerResult, GateWorkerTask } from './gate-worker.js';
import type { HoldoutTable } from './holdout-datasets.js';
import type { GateCheck } from './lifecycle.js';
import type { ModelVersion } from './registry.js';

const { onnx } = onnxProto;

export function evaluationFailed(message: string, details: Record<string, unknown> = {}, cause?: unknown): SluiceError {
  return new SluiceError('SLUICE_E_GATE_EVALUATION_FAILED', message, { details, cause });
}

export const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** Why the dataset cannot feed this version (undefined: it can). */
export function signatureFit(policy: PromotionPolicy, v: ModelVersion): string | undefined {
  const input = v.signature.inputs.find((t) => t.name === policy.input.tensor);
  if (!input) return `it has no input ${policy.input.tensor} (inputs: ${v.signature.inputs.map((t) => t.name).join(', ')})`;
  if (v.signature.inputs.length !== 1) return `it has ${v.signature.inputs.length} inputs; the gate feeds one`;
  if (input.datatype !== 'FP32') return `input ${input.name} is ${input.datatype}; the gate feeds FP32`;
  const width = input.shape.at(-1);
  if (input.shape.length !== 2 || (width !== -1 && width !== policy.input.columns.length)) {
    return `input ${input.name} has shape [${input.shape.join(',')}], the policy gives [N, ${policy.input.columns.length}]`;
  }
  if (!v.signature.outputs.some((t) => t.name === policy.label.output)) return `it has no output ${policy.label.output} (outputs: ${v.signature.outputs.map((t) => t.name).join(', ')})`;
  return undefined;
}

/** The class names an ONNX model carries in its `labels` metadata (comma-separated), if any. */
export function metadataLabels(bytes: Uint8Array): string[] | undefined {
  const entry = onnx.ModelProto.decode(bytes).metadataProps?.find((p) => p.key === 'labels');
  const labels = entry?.value?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return labels && labels.length > 0 ? labels : undefined;
}

export function column(table: HoldoutTable, name: string): string[] {
  const j = table.columns.findIndex((c) => c.name === name);
  if (j < 0) throw evaluationFailed(`the dataset has no column ${name}`, { column: name });
  return table.rows.map((r) => r[j]!);
}

export function featureMatrix(policy: PromotionPolicy, table: HoldoutTable): Float32Array {
  const cols = policy.input.columns.map((name) => {
    const j = table.columns.findIndex((c) => c.name === name);
    if (j < 0 || !table.columns[j]!.numeric) throw evaluationFailed(`the dataset has no numeric column ${name}`, { column: name });
    return j;
  });
  const x = new Float32Array(table.rows.length * cols.length);
  table.rows.forEach((r, i) => cols.forEach((j, k) => (x[i * cols.length + k] = Number(r[j]))));
  return x;
}

/** A class index per row (a class name looked up in `classes`, or an index), or a number for a regressor. */
export function labelValues(policy: PromotionPolicy, table: HoldoutTable, classes: string[] | undefined): Float64Array {
  const values = column(table, policy.label.column);
  const out = new Float64Array(values.length);
  values.forEach((v, i) => {
    const n = Number(v);
    if (policy.label.task === 'regression') {
      out[i] = n;
      return;
    }
    const named = classes?.indexOf(v) ?? -1;
    if (named >= 0) out[i] = named;
    else if (v.trim() !== '' && Number.isInteger(n) && n >= 0 && (classes === undefined || n < classes.length)) out[i] = n;
    else {
      const known = classes ? `classes: ${classes.join(', ')}` : 'the model has no labels metadata and the policy no label.classes';
      throw evaluationFailed(`line ${i + 2}, column ${policy.label.column}: label "${v.slice(0, 40)}" is not a class (${known})`, { line: i + 2, column: policy.label.column });
    }
  });
  return out;
}

export function floorCheck(policy: PromotionPolicy, score: number, dataset: string): GateCheck {
  const higher = higherIsBetter(policy.metric);
  const limit = higher ? policy.floor : policy.ceiling;
  const name = `${policy.metric} on ${dataset}`;
  if (limit === undefined) return { kind: 'metric_floor', name, passed: true, measured: round(score), limit: null, detail: `${policy.metric} ${round(score)}; the policy sets no ${higher ? 'floor' : 'ceiling'}` };
  return {
    kind: 'metric_floor',
    name,
    passed: higher ? score >= limit : score <= limit,
    measured: round(score),
    limit,
    detail: `${policy.metric} ${round(score)} on ${dataset}, ${higher ? 'floor' : 'ceiling'} ${limit}`,
  };
}

export function sliceChecks(policy: PromotionPolicy, predicted: Float64Array, labels: Float64Array, values: string[]): GateCheck[] {
  const s = policy.slices!;
  const m = policy.metric;
  const higher = higherIsBetter(m);
  const figures = sliceMetrics(m, predicted, labels, values, s.minRows);
  const checks: GateCheck[] = figures.map((f) => ({
    kind: 'slice',
    name: `${m} of ${s.column}=${f.value}`,
    passed: true,
    measured: round(f.metric),
    limit: null,
    detail: `${f.rows} rows${f.judged ? '' : ` (under minRows ${s.minRows}: reported, not judged)`}`,
  }));
  const judged = worstAndGap(m, figures);
  const bound = higher ? s.floor : s.ceiling;
  if (bound !== undefined) {
    checks.push(
      judged
        ? {
            kind: 'slice_floor',
            name: `worst ${m} across ${s.column}`,
            passed: higher ? judged.worst.metric >= bound : judged.worst.metric <= bound,
            measured: round(judged.worst.metric),
            limit: bound,
            detail: `worst slice ${s.column}=${judged.worst.value} (${judged.worst.rows} rows): ${round(judged.worst.metric)}, ${higher ? 'floor' : 'ceiling'} ${bound}`,
          }
        : { kind: 'slice_floor', name: `worst ${m} across ${s.column}`, passed: true, measured: null, limit: bound, detail: `no slice of ${s.column} has ${s.minRows} rows; nothing judged` },
    );
  }
  if (s.maxGap !== undefined) {
    checks.push(
      judged
        ? {
            kind: 'slice_gap',
            name: `${m} gap across ${s.column}`,
            passed: judged.gap <= s.maxGap,
            measured: round(judged.gap),
            limit: s.maxGap,
            detail: `best ${s.column}=${judged.best.value} ${round(judged.best.metric)}, worst ${s.column}=${judged.worst.value} ${round(judged.worst.metric)}`,
          }
        : { kind: 'slice_gap', name: `${m} gap across ${s.column}`, passed: true, measured: null, limit: s.maxGap, detail: `no slice of ${s.column} has ${s.minRows} rows; nothing judged` },
    );
  }
  return checks;
}

export function fairnessChecks(policy: PromotionPolicy, predicted: Float64Array, labels: Float64Array, values: string[], classes: string[] | undefined): GateCheck[] {
  const f = policy.fairness!;
  const byName = classes?.indexOf(f.positiveClass) ?? -1;
  const positive = byName >= 0 ? byName : /^\d+$/.test(f.positiveClass) ? Number(f.positiveClass) : -1;
  if (positive < 0 || (classes !== undefined && positive >= classes.length)) {
    throw evaluationFailed(`fairness.positiveClass ${f.positiveClass} is not a class of the model (${classes?.join(', ') ?? 'no class names'})`, { field: 'fairness.positiveClass' });
  }
  const gaps = fairnessGaps(predicted, labels, values, positive, f.minRows);
  const rates = (pick: (g: (typeof gaps.groups)[number]) => number | null) => gaps.groups.map((g) => `${g.value} ${pick(g) === null ? '-' : round(pick(g)!)}`).join(', ');
  const checks: GateCheck[] = [];
  const gapCheck = (kind: string, label: string, gap: number | null, limit: number, detail: string): GateCheck => ({
    kind,
    name: `${label} of ${f.positiveClass} across ${f.column}`,
    passed: gap === null || gap <= limit,
    measured: gap === null ? null : round(gap),
    limit,
    detail: gap === null ? `fewer than two groups of ${f.column} with ${f.minRows} rows (and positives); nothing judged` : detail,
  });
  if (f.maxParityGap !== undefined) checks.push(gapCheck('parity', 'demographic parity gap', gaps.parityGap, f.maxParityGap, `rate of ${f.positiveClass} predictions: ${rates((g) => g.positiveRate)}`));
  if (f.maxOpportunityGap !== undefined) checks.push(gapCheck('equal_opportunity', 'equal opportunity gap', gaps.opportunityGap, f.maxOpportunityGap, `true-positive rate of ${f.positiveClass}: ${rates((g) => g.truePositiveRate)}`));
  return checks;
}

/** Score on a worker thread that lives for this one task. */
export function runWorker(task: GateWorkerTask): Promise<GateWorkerResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./gate-worker.js', import.meta.url), { workerData: task });
    let settled = false;
    worker.once('message', (r: GateWorkerResult) => {
      settled = true;
      resolve(r);
      void worker.terminate();
    });
    worker.once('error', (err) => {
      if (!settled) reject(new SluiceError('SLUICE_E_INTERNAL', 'the gate worker failed', { cause: err }));
      settled = true;
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new SluiceError('SLUICE_E_INTERNAL', `the gate worker exited with ${code}`));
      settled = true;
    });
  });
}
