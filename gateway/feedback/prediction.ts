// What a model version predicts, for joining its answers to ground truth: which output holds the
// prediction and how a row of it reads (a class index, the argmax of class scores, or a value).
// Read from the version's outputs, so versions without a config.json (the control plane's, the
// retraining loop's) take feedback too; config `feedback` overrides, `feedback: false` turns it off.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { Datatype, ModelConfig, TensorConfig } from '../models/config.js';
import { FEEDBACK_DEFAULTS } from '../models/config.js';
import { halfToFloat, type NumericArray, type Tensor } from '../models/tensors.js';

export type FeedbackTask = 'classification' | 'regression';

/** How one row of the prediction output reads. */
export const enum RowReading {
  /** An integer class index per row. */
  Index,
  /** K class scores per row: the prediction is the index of the largest. */
  Argmax,
  /** One number per row. */
  Value,
}

/** The parts of a loaded version the spec is read from. */
export interface PredictingVersion {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  readonly config: ModelConfig;
  readonly outputs: readonly TensorConfig[];
  readonly batched: boolean;
}

export class PredictionSpec {
  readonly output: string;
  readonly task: FeedbackTask;
  readonly reading: RowReading;
  /** Numbers per row in the output (K for Argmax, 1 otherwise). */
  readonly width: number;
  readonly ttlMs: number;
  readonly capacity: number;
  readonly windowMs: number;
  readonly #version: PredictingVersion;
  #labels: readonly string[] | null | undefined = undefined;

  constructor(version: PredictingVersion, output: string, task: FeedbackTask, reading: RowReading, width: number) {
    const fb = version.config.feedback === false ? undefined : version.config.feedback;
    this.output = output;
    this.task = task;
    this.reading = reading;
    this.width = width;
    this.ttlMs = (fb?.ttl_seconds ?? FEEDBACK_DEFAULTS.ttl_seconds) * 1000;
    this.capacity = fb?.capacity ?? FEEDBACK_DEFAULTS.capacity;
    this.windowMs = (fb?.window_seconds ?? version.config.drift?.window_seconds ?? FEEDBACK_DEFAULTS.window_seconds) * 1000;
    this.#version = version;
  }

  /** Classes a label index may name: K of an Argmax output, else the labels' count when known. */
  get classes(): number | undefined {
    if (this.reading === RowReading.Argmax) return this.width;
    return this.labels()?.length;
  }

  /**
   * Class names: config `parameters.labels` (an array, or a comma-separated string), else the ONNX
   * model's metadata `labels`. Read on first use (a class name in feedback), then kept.
   */
  labels(): readonly string[] | undefined {
    if (this.#labels === undefined) this.#labels = labelsOf(this.#version) ?? null;
    return this.#labels ?? undefined;
  }

  /** The prediction output among a call's output tensors, when it is there with `rows` rows of numbers. */
  find(tensors: readonly Tensor[], rows: number): Tensor | undefined {
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i]!;
      if (t.name === this.output) return !Array.isArray(t.data) && t.data.length >= rows * this.width ? t : undefined;
    }
    return undefined;
  }

  /** The prediction of each of the `rows` rows of `t` (from find), written into the ring `into` from `at`. */
  write(t: Tensor, rows: number, into: Float64Array, at: number): void {
    const data = t.data as NumericArray;
    const half = t.datatype === 'FP16';
    const n = into.length;
    const w = this.width;
    for (let r = 0, slot = at; r < rows; r++, slot = slot + 1 === n ? 0 : slot + 1) {
      if (this.reading === RowReading.Argmax) {
        let best = 0;
        let top = -Infinity;
        for (let k = 0; k < w; k++) {
          const raw = data[r * w + k]!;
          const v = half ? halfToFloat(raw as number) : Number(raw);
          if (v > top) {
            top = v;
            best = k;
          }
        }
        into[slot] = best;
      } else {
        const raw = data[r * w]!;
        into[slot] = half ? halfToFloat(raw as number) : Number(raw);
      }
    }
  }
}

const INTEGER: ReadonlySet<Datatype> = new Set(['INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);
const FLOAT: ReadonlySet<Datatype> = new Set(['FP16', 'FP32', 'FP64']);

/** A candidate reading of one output, or undefined when its type and shape fit none. */
function readingOf(version: PredictingVersion, o: TensorConfig): { reading: RowReading; width: number } | undefined {
  // Per-row dims: without the batch dimension (a model that does not batch has it in its dims).
  const row = version.batched ? o.dims : o.dims.slice(1);
  const scalar = row.length === 0 || (row.length === 1 && row[0] === 1);
  if (INTEGER.has(o.datatype) && scalar) return { reading: RowReading.Index, width: 1 };
  if (!FLOAT.has(o.datatype)) return undefined;
  if (scalar) return { reading: RowReading.Value, width: 1 };
  if (row.length === 1 && row[0]! > 1) return { reading: RowReading.Argmax, width: row[0]! };
  return undefined;
}

/**
 * The spec of a version, or the reason it takes no feedback (a string for the
 * SLUICE_E_FEEDBACK_UNSUPPORTED message).
 */
export function predictionSpec(version: PredictingVersion): PredictionSpec | string {
  const fb = version.config.feedback;
  const where = `model ${version.name} version ${version.version}`;
  if (fb === false) return `${where} takes no feedback (config feedback: false)`;
  const candidates = fb?.output === undefined ? version.outputs : version.outputs.filter((o) => o.name === fb.output);
  if (candidates.length === 0) return `${where} has no output ${fb?.output} (config feedback.output)`;
  const readings = candidates.map((o) => ({ o, r: readingOf(version, o) }));
  const wanted: RowReading[] = fb?.task === 'regression' ? [RowReading.Value]
    : fb?.task === 'classification' ? [RowReading.Index, RowReading.Argmax]
      : [RowReading.Index, RowReading.Argmax, RowReading.Value];
  for (const reading of wanted) {
    const hit = readings.find((x) => x.r?.reading === reading);
    if (hit !== undefined) {
      return new PredictionSpec(version, hit.o.name, reading === RowReading.Value ? 'regression' : 'classification', reading, hit.r!.width);
    }
  }
  const task = fb?.task === undefined ? '' : ` for ${fb.task}`;
  return `${where} has no output that reads as a prediction${task} (an integer [N], scores [N,K] or a value [N]); set config feedback.output`;
}

function labelsOf(version: PredictingVersion): string[] | undefined {
  const configured = version.config.parameters.labels;
  if (Array.isArray(configured) && configured.every((l) => typeof l === 'string')) return configured as string[];
  if (typeof configured === 'string' && configured !== '') return configured.split(',');
  return onnxMetadataLabels(join(version.dir, 'model.onnx'));
}

/** The `labels` entry of an ONNX model's metadata_props (comma-separated), if it has one. */
function onnxMetadataLabels(path: string): string[] | undefined {
  try {
    const model = onnxProto.onnx.ModelProto.decode(readFileSync(path));
    const entry = model.metadataProps.find((p) => p.key === 'labels');
    return typeof entry?.value === 'string' && entry.value !== '' ? entry.value.split(',') : undefined;
  } catch {
    return undefined;
  }
}
