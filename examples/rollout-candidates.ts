// Candidate versions of the example `weather` classifier for rollout walk-throughs and tests, made
// from its trained weights: healthy (logits scaled: other probabilities, the same answers), wrong
// (classes rotated: fast but wrong), slow (a wide hidden layer whose extra units are zero: the
// same answers, much more arithmetic) and erroring (fails at run time for every real day of the
// year, yet loads and warms up on zeros). All keep the stable version's signature.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { MlpWeights } from './mlp.js';
import { mlpToOnnx, type MlpExportOptions } from './onnx-export.js';
import { trainWeatherModel } from './weather.js';
import { WEATHER_FEATURES, WEATHER_LABELS } from './weather-dataset.js';

const { onnx } = onnxProto;
const EXPORT: MlpExportOptions = { inputName: 'features', rawInputs: WEATHER_FEATURES.length, seasonalColumn: 4, graphName: 'weather', metadata: { labels: WEATHER_LABELS.join(',') } };

function exportWith(w: MlpWeights, tag: string): Uint8Array {
  return mlpToOnnx(w, { ...EXPORT, metadata: { ...EXPORT.metadata, candidate: tag } });
}

/** Logits times 1.5: other probabilities, the same argmax. */
export function healthy(w: MlpWeights): Uint8Array {
  return exportWith({ ...w, w2: w.w2.map((x) => x * 1.5), b2: w.b2.map((x) => x * 1.5) }, 'healthy');
}

/** Output columns rotated by one: every label moves to the next class. */
export function wrong(w: MlpWeights): Uint8Array {
  const w2 = new Float64Array(w.w2.length);
  for (let h = 0; h < w.hidden; h++) for (let c = 0; c < w.classes; c++) w2[h * w.classes + ((c + 1) % w.classes)] = w.w2[h * w.classes + c]!;
  const b2 = new Float64Array(w.classes);
  for (let c = 0; c < w.classes; c++) b2[(c + 1) % w.classes] = w.b2[c]!;
  return exportWith({ ...w, w2, b2 }, 'wrong');
}

/** The same answers through a hidden layer of `hidden` units (the extra ones all zero): slow, right. */
export function slow(w: MlpWeights, hidden: number): Uint8Array {
  const w1 = new Float64Array(w.inputs * hidden);
  for (let i = 0; i < w.inputs; i++) for (let h = 0; h < w.hidden; h++) w1[i * hidden + h] = w.w1[i * w.hidden + h]!;
  const b1 = new Float64Array(hidden);
  b1.set(w.b1);
  const w2 = new Float64Array(hidden * w.classes);
  w2.set(w.w2);
  return exportWith({ ...w, hidden, w1, b1, w2 }, 'slow');
}

/**
 * Fails at run time for any call whose day of the year is above 0.5 (every real day), yet loads
 * and warms up (warm-up sends zeros): the standardized features are reshaped to [batch + 1, 6].
 */
export function erroring(w: MlpWeights): Uint8Array {
  const model = onnx.ModelProto.decode(exportWith(w, 'erroring'));
  const g = model.graph!;
  const n = (opType: string, input: string[], output: string, attrs: Record<string, number> = {}) =>
    onnx.NodeProto.create({ opType, name: output, input, output: [output], attribute: Object.entries(attrs).map(([name, i]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i })) });
  g.initializer!.push(
    onnx.TensorProto.create({ name: 'half', dims: [], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [0.5] }),
    onnx.TensorProto.create({ name: 'row_bump', dims: [2], dataType: onnx.TensorProto.DataType.INT64, int64Data: [1, 0] }),
  );
  const gemm = g.node!.findIndex((x) => x.output![0] === 'hidden_linear');
  g.node![gemm]!.input![0] = 'reshaped';
  g.node!.splice(
    gemm,
    0,
    n('ReduceMax', ['day'], 'day_max', { keepdims: 0 }),
    n('Greater', ['day_max', 'half'], 'late'),
    n('Cast', ['late'], 'late_i', { to: onnx.TensorProto.DataType.INT64 }),
    n('Mul', ['late_i', 'row_bump'], 'bump'),
    n('Shape', ['standardized'], 'std_shape'),
    n('Add', ['std_shape', 'bump'], 'bad_shape'),
    n('Reshape', ['standardized', 'bad_shape'], 'reshaped'),
  );
  return onnx.ModelProto.encode(model).finish();
}

export const CANDIDATES = ['healthy', 'wrong', 'slow', 'erroring'] as const;

/** Write `<kind>.onnx` for every candidate into `dir` (the weather model of the example repository, retrained: it is deterministic). */
export function writeCandidates(dir: string, slowHidden = 300_000): Record<(typeof CANDIDATES)[number], string> {
  const w = trainWeatherModel().weights;
  mkdirSync(dir, { recursive: true });
  const bytes = { healthy: healthy(w), wrong: wrong(w), slow: slow(w, slowHidden), erroring: erroring(w) };
  const out = {} as Record<(typeof CANDIDATES)[number], string>;
  for (const kind of CANDIDATES) writeFileSync((out[kind] = join(dir, `${kind}.onnx`)), bytes[kind]);
  return out;
}
