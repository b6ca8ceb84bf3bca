// Explanations of a tabular model version: per-feature attributions (Shapley values) of each row
// of a call, computed on the model itself. The coalition rows (the explained row's features where
// the coalition has them, a background row's elsewhere) go through the version's batcher as
// background work: below every inference call, in their own bounded queue (batching/batcher.ts),
// in chunks of max_batch_size rows, never mixed into a call's batch and never seen by drift.
import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import { SluiceError } from '../../lib/errors.js';
import { seededRandom } from '../../lib/random.js';
import { EXPLAIN_DEFAULTS, type ExplainConfig } from '../models/config.js';
import type { LoadedVersion } from '../models/loaded-version.js';
import type { Tensor } from '../models/tensors.js';
import { readProfile } from '../drift/compile.js';
import type { DriftProfile, FeatureProfile } from '../drift/profile.js';
import type { CancelSignal } from '../util/cancel-signal.js';
import { drawBackground, inputFeatures, outputColumns } from './background.js';
import { EXACT_LIMIT, KernelFit, exactPlan, exactShapley, kernelPlan, type CoalitionPlan } from './shapley.js';

/** Never equal to an inference call's shape key (those are dims and semicolons): no mixed batches. */
const BACKGROUND_SHAPE_KEY = '\u0000explain';
const CHUNK_ROWS = 128;

export interface ExplainOptions {
  /** 'exact' | 'kernel'; default exact up to explain.exact_max_features, kernel beyond. */
  method?: unknown;
  /** 0..2^32−1; default a random one (returned, so the call can be repeated). */
  seed?: unknown;
  /** KernelSHAP coalitions; default explain.kernel_samples. */
  nsamples?: unknown;
  signal?: CancelSignal | undefined;
  /** Rows this explanation may take instead of explain.max_rows (the gateway's own reference run). */
  rowLimit?: number | undefined;
}

export interface OutputExplanation {
  name: string;
  /** One name per output column. */
  columns: string[];
  /** v(∅) per column: the mean output over the background sample. */
  expected_value: number[];
  /** The model's answer per row per column (v of the full coalition). */
  predictions: number[][];
  /** [row][column][feature]; each row and column sums to prediction − expected_value. */
  attributions: number[][][];
}

export interface Explanation {
  model_name: string;
  model_version: string;
  method: 'exact' | 'kernel';
  seed: number;
  features: string[];
  /** The sample's size, where it was drawn from, and its mean per feature (the E[x_i] of the attributions). */
  background: { size: number; source: string; mean: number[] };
  /** Coalitions evaluated per row, the empty and full ones included. */
  coalitions: number;
  /** Rows run on the model for the whole explanation. */
  evaluated_rows: number;
  outputs: OutputExplanation[];
}

/** What an explanation needs of a version, checked once per loaded version. */
export interface Explainable {
  input: string;
  width: number;
  features: FeatureProfile[];
  profile: DriftProfile;
  profileFile: string;
  outputs: { name: string; width: number; columns: string[] }[];
}

export class Explainer {
  readonly #explainable = new WeakMap<LoadedVersion, Explainable>();

  /** Refuses (coded 4xx) a version that is not tabular or has no reference profile of its input. */
  explainable(version: LoadedVersion): Explainable {
    let e = this.#explainable.get(version);
    if (e === undefined) {
      e = describe(version);
      this.#explainable.set(version, e);
    }
    return e;
  }

  /** Explain every row of `x` ([rows, F], already checked against the signature). */
  async explain(version: LoadedVersion, x: Tensor, options: ExplainOptions = {}): Promise<Explanation> {
    const e = this.explainable(version);
    const config = version.config.explain ?? EXPLAIN_DEFAULTS;
    const rows = x.shape[0]!;
    const limit = options.rowLimit ?? config.max_rows;
    if (rows > limit) {
      throw new SluiceError('SLUICE_E_EXPLAIN_TOO_MANY_ROWS', `an explanation takes at most ${limit} rows (explain.max_rows); the call has ${rows}`);
    }
    const p = parameters(options, e.width, config);
    const random = seededRandom(p.seed);
    const size = config.background_size;
    const background = drawBackground(e.features, size, random);
    const plan = p.method === 'exact' ? exactPlan(e.width) : kernelPlan(e.width, p.nsamples, random);
    const data = x.data as Float32Array;
    const controller = new AbortController();
    // Every queued chunk listens on it: as many listeners as chunks is expected, not a leak.
    setMaxListeners(0, controller.signal);
    const signal = options.signal;
    const abort = (): void => controller.abort();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      // One run answers the base (every background row) and the full coalition of every row.
      const anchor = new Float32Array((size + rows) * e.width);
      anchor.set(background);
      anchor.set(data.subarray(0, rows * e.width), size * e.width);
      const anchored = await evaluate(version, e, anchor, size + rows, controller.signal);
      const base = e.outputs.map((o, k) => columnMeans(anchored[k]!, o.width, 0, size));
      const result = e.outputs.map((o, k): OutputExplanation => ({
        name: o.name,
        columns: o.columns,
        expected_value: Array.from(base[k]!),
        predictions: [],
        attributions: [],
      }));
      const fit = plan.method === 'kernel' ? new KernelFit(plan) : undefined;
      for (let r = 0; r < rows; r++) {
        const row = data.subarray(r * e.width, (r + 1) * e.width);
        const values = await coalitionValues(version, e, plan, row, background, size, controller.signal);
        for (let k = 0; k < e.outputs.length; k++) {
          const width = e.outputs[k]!.width;
          const full = anchored[k]!.subarray((size + r) * width, (size + r + 1) * width);
          const perColumn: number[][] = [];
          for (let j = 0; j < width; j++) {
            const v = values[k]!.subarray(j * plan.count, (j + 1) * plan.count);
            const phi = fit === undefined ? exactShapley(e.width, v, base[k]![j]!, full[j]!) : fit.solve(v, base[k]![j]!, full[j]!);
            perColumn.push(Array.from(phi));
          }
          result[k]!.predictions.push(Array.from(full));
          result[k]!.attributions.push(perColumn);
        }
      }
      return {
        model_name: version.name,
        model_version: version.version,
        method: plan.method,
        seed: p.seed,
        features: e.features.map((f) => f.name),
        background: { size, source: `reference profile ${e.profileFile}`, mean: Array.from(columnMeans(background, e.width, 0, size)) },
        coalitions: plan.count + 2,
        evaluated_rows: size + rows + rows * plan.count * size,
        outputs: result,
      };
    } catch (err) {
      controller.abort();
      throw err;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }
}

function describe(version: LoadedVersion): Explainable {
  const where = `model ${version.name} version ${version.version}`;
  const [input, ...more] = version.inputs;
  if (!version.batched || input === undefined || more.length > 0 || input.datatype !== 'FP32' || input.dims.length !== 1 || !(input.dims[0]! > 0)) {
    const shapes = version.inputs.map((i) => `${i.name} ${i.datatype} [${[...(version.batched ? [-1] : []), ...i.dims].join(',')}]`).join(', ');
    throw new SluiceError('SLUICE_E_EXPLAIN_UNSUPPORTED', `${where} is not tabular: explanations need one FP32 input [N,F] with a batch dimension; its inputs are ${shapes}`);
  }
  const outputs = version.outputs.filter((o) => o.datatype === 'FP32' && o.dims.every((d) => d > 0));
  if (outputs.length === 0) {
    throw new SluiceError('SLUICE_E_EXPLAIN_UNSUPPORTED', `${where} has no FP32 output of fixed shape to explain`);
  }
  const width = input.dims[0]!;
  if (width > 4096) throw new SluiceError('SLUICE_E_EXPLAIN_UNSUPPORTED', `${where} has ${width} features; explanations take at most 4096`);
  const file = version.config.drift?.profile;
  if (file === undefined) {
    throw new SluiceError('SLUICE_E_EXPLAIN_NO_BACKGROUND', `${where} has no reference profile (config field drift.profile) to draw the background sample from`);
  }
  const profile = readProfile(join(version.dir, file));
  const features = inputFeatures(profile, input.name, width);
  if (features === undefined) {
    throw new SluiceError('SLUICE_E_EXPLAIN_NO_BACKGROUND', `${where}: reference profile ${file} has no ${width} columns of input ${input.name}`);
  }
  return {
    input: input.name,
    width,
    features,
    profile,
    profileFile: file,
    outputs: outputs.map((o) => {
      const w = o.dims.reduce((a, b) => a * b, 1);
      return { name: o.name, width: w, columns: outputColumns(profile, o.name, w) };
    }),
  };
}

interface Parameters {
  method: 'exact' | 'kernel';
  seed: number;
  nsamples: number;
}

function parameters(o: ExplainOptions, width: number, config: ExplainConfig): Parameters {
  const bad = (why: string): never => {
    throw new SluiceError('SLUICE_E_EXPLAIN_BAD_PARAMETER', why);
  };
  let method: 'exact' | 'kernel' = width <= config.exact_max_features ? 'exact' : 'kernel';
  if (o.method !== undefined) {
    if (o.method !== 'exact' && o.method !== 'kernel') bad('parameter method must be exact or kernel');
    method = o.method as 'exact' | 'kernel';
    if (method === 'exact' && width > Math.min(config.exact_max_features, EXACT_LIMIT)) {
      bad(`parameter method exact takes at most ${Math.min(config.exact_max_features, EXACT_LIMIT)} features (explain.exact_max_features); the model has ${width}`);
    }
  }
  let seed = Math.floor(Math.random() * 2 ** 32);
  if (o.seed !== undefined) {
    if (typeof o.seed !== 'number' || !Number.isInteger(o.seed) || o.seed < 0 || o.seed >= 2 ** 32) bad('parameter seed must be an integer from 0 to 4294967295');
    seed = o.seed as number;
  }
  let nsamples = config.kernel_samples;
  if (o.nsamples !== undefined) {
    if (typeof o.nsamples !== 'number' || !Number.isInteger(o.nsamples) || o.nsamples < 2 || o.nsamples > 65_536) bad('parameter nsamples must be an integer from 2 to 65536');
    nsamples = o.nsamples as number;
  }
  return { method, seed, nsamples };
}

/**
 * v(S) of every plan coalition for one row: [output][column × count + coalition], each the mean
 * output over the background rows completed by the row's features in S.
 */
async function coalitionValues(
  version: LoadedVersion, e: Explainable, plan: CoalitionPlan, row: Float32Array, background: Float32Array, size: number, signal: CancelSignal,
): Promise<Float64Array[]> {
  const f = e.width;
  const total = plan.count * size;
  const input = new Float32Array(total * f);
  for (let c = 0; c < plan.count; c++) {
    const mask = plan.masks.subarray(c * f, (c + 1) * f);
    for (let b = 0; b < size; b++) {
      const at = (c * size + b) * f;
      for (let i = 0; i < f; i++) input[at + i] = mask[i] === 1 ? row[i]! : background[b * f + i]!;
    }
  }
  const outputs = await evaluate(version, e, input, total, signal);
  return e.outputs.map((o, k) => {
    const out = outputs[k]!;
    const values = new Float64Array(o.width * plan.count);
    for (let c = 0; c < plan.count; c++) {
      const means = columnMeans(out, o.width, c * size, size);
      for (let j = 0; j < o.width; j++) values[j * plan.count + c] = means[j]!;
    }
    return values;
  });
}

function columnMeans(out: Float32Array, width: number, firstRow: number, rows: number): Float64Array {
  const means = new Float64Array(width);
  for (let r = firstRow; r < firstRow + rows; r++) for (let j = 0; j < width; j++) means[j] = means[j]! + out[r * width + j]!;
  for (let j = 0; j < width; j++) means[j] = means[j]! / rows;
  return means;
}

/** Run `rows` rows of `input` on the model as background work; one Float32Array per explained output. */
async function evaluate(version: LoadedVersion, e: Explainable, input: Float32Array, rows: number, signal: CancelSignal): Promise<Float32Array[]> {
  // Small enough that a call arriving behind a chunk waits little (a weather chunk of 128 rows runs
  // in well under a millisecond), large enough that the per-run cost (≈10 µs) stays a small part.
  const chunk = Math.min(version.config.max_batch_size, CHUNK_ROWS);
  const runs: Promise<Tensor[]>[] = [];
  for (let start = 0; start < rows; start += chunk) {
    const n = Math.min(chunk, rows - start);
    // Each chunk owns its buffer: the batch moves it to the worker.
    const data = input.slice(start * e.width, (start + n) * e.width);
    runs.push(version.enqueue(
      { inputs: [{ name: e.input, datatype: 'FP32', shape: [n, e.width], data }], rows: n },
      { rows: n, shapeKey: BACKGROUND_SHAPE_KEY, background: true, signal },
    ));
  }
  // A refusal (queue full) or failure of one chunk fails the explanation; the caller aborts the rest.
  const results = await Promise.all(runs);
  return e.outputs.map((o) => {
    const out = new Float32Array(rows * o.width);
    let at = 0;
    for (const tensors of results) {
      const t = tensors.find((x) => x.name === o.name)!;
      out.set(t.data as Float32Array, at);
      at += (t.data as Float32Array).length;
    }
    return out;
  });
}
