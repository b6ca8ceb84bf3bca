// Config `slices` (gateway/feedback/slices.ts, docs/slices.md): which column of a call splits a
// model version's answers into slices, each with its own outcome and error rates from ground truth.
// Kept apart from config.ts (already past 400 lines); config.ts calls parseSlices once.
import { SluiceError } from '../../lib/errors.js';

export interface SlicesConfig {
  /** The column: a request parameter (one value per call) … */
  parameter?: string;
  /** … or a model input: one value per row ([N] or [N,1]), or column `index` of a tabular [N,F] input. */
  input?: string;
  index?: number;
  /** Numeric values fall into ranges cut at these ascending edges (absent: each value is a slice). */
  edges?: number[];
  /** Distinct values kept as slices; later ones are counted under `__other__`. */
  max_slices: number;
  /** The class whose predicted share is a slice's outcome rate (classifiers): an index or a class name. */
  positive: number | string;
  /** Length of a slice window (default: the feedback window). */
  window_seconds: number;
  /** Labelled rows a slice needs before it counts in the disparity. */
  min_rows: number;
}

export const SLICES_DEFAULTS = { max_slices: 16, positive: 1, min_rows: 20 } as const;
/** Labels (metrics, the wire) stay bounded whatever a caller sends. */
export const MAX_SLICES = 64;

function bad(model: string, field: string, why: string): never {
  throw new SluiceError('SLUICE_E_CONFIG_INVALID', `model ${model}: config field ${field} ${why}`, { details: { model, field } });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function positiveInt(model: string, field: string, v: unknown, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(model, field, `must be an integer from ${min} to ${max}`);
  return v;
}

/** Validate `slices` (absent: off). `windowSeconds` is the feedback window it defaults to. */
export function parseSlices(model: string, v: unknown, windowSeconds: number, labels: unknown): SlicesConfig | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) bad(model, 'slices', 'must be an object');
  const known = new Set(['parameter', 'input', 'index', 'edges', 'max_slices', 'positive', 'window_seconds', 'min_rows']);
  for (const k of Object.keys(v)) if (!known.has(k)) bad(model, `slices.${k}`, `is not a slices field (${[...known].join(', ')})`);
  const name = (field: 'parameter' | 'input'): string | undefined => {
    const x = v[field];
    if (x === undefined) return undefined;
    if (typeof x !== 'string' || x === '' || x.length > 128) bad(model, `slices.${field}`, 'must be a name of 1 to 128 characters');
    return x;
  };
  const parameter = name('parameter');
  const input = name('input');
  if ((parameter === undefined) === (input === undefined)) bad(model, 'slices', 'must name its column with exactly one of parameter (a request parameter) or input (a model input)');
  const out: SlicesConfig = {
    max_slices: positiveInt(model, 'slices.max_slices', v.max_slices, SLICES_DEFAULTS.max_slices, 1, MAX_SLICES),
    positive: SLICES_DEFAULTS.positive,
    window_seconds: windowSeconds,
    min_rows: positiveInt(model, 'slices.min_rows', v.min_rows, SLICES_DEFAULTS.min_rows, 1, 1_000_000_000),
  };
  if (parameter !== undefined) out.parameter = parameter;
  if (input !== undefined) out.input = input;
  if (v.index !== undefined) {
    if (input === undefined) bad(model, 'slices.index', 'is the column of an input: set slices.input too');
    out.index = positiveInt(model, 'slices.index', v.index, 0, 0, 1_000_000);
  }
  if (v.edges !== undefined) {
    const e = v.edges;
    if (!Array.isArray(e) || e.length === 0 || e.length >= out.max_slices || !e.every((x) => typeof x === 'number' && Number.isFinite(x)) || e.some((x, i) => i > 0 && x <= e[i - 1])) {
      bad(model, 'slices.edges', `must be 1 to ${out.max_slices - 1} ascending finite numbers (fewer ranges than max_slices)`);
    }
    out.edges = e as number[];
  }
  if (v.positive !== undefined) {
    const p = v.positive;
    if (!((typeof p === 'number' && Number.isInteger(p) && p >= 0) || (typeof p === 'string' && p !== ''))) bad(model, 'slices.positive', 'must be a class index (an integer from 0) or a class name');
    const names = Array.isArray(labels) ? labels : typeof labels === 'string' && labels !== '' ? labels.split(',') : undefined;
    if (typeof p === 'string' && names !== undefined && !names.includes(p)) bad(model, 'slices.positive', `must be one of the classes in parameters.labels (${names.join(', ')})`);
    out.positive = p;
  }
  if (v.window_seconds !== undefined) {
    if (typeof v.window_seconds !== 'number' || !Number.isFinite(v.window_seconds) || v.window_seconds < 1) bad(model, 'slices.window_seconds', 'must be a number of seconds, at least 1');
    out.window_seconds = v.window_seconds;
  }
  return out;
}

/** What checkSlicesInput reads of an input (config.ts's TensorConfig; named here, as config.ts imports this module). */
export interface SliceableInput {
  name: string;
  dims: number[];
}

/**
 * At load, once the signature is known: the input a `slices.input` names must be there with one
 * value per row, or at least index + 1 columns (a config for another model would otherwise count
 * every row as missing).
 */
export function checkSlicesInput(model: string, version: string, slices: SlicesConfig, inputs: readonly SliceableInput[], batched: boolean): void {
  if (slices.input === undefined) return;
  const where = `config slices of model ${model} version ${version}`;
  const t = inputs.find((x) => x.name === slices.input);
  if (t === undefined) throw new SluiceError('SLUICE_E_MODEL_LOAD_FAILED', `${where} names input ${slices.input}; the model's inputs are ${inputs.map((x) => x.name).join(', ')}`);
  const row = batched ? t.dims : t.dims.slice(1);
  const width = row.length === 0 ? 1 : row.length === 1 ? row[0]! : -2;
  if (width === -2) throw new SluiceError('SLUICE_E_MODEL_LOAD_FAILED', `${where}: input ${t.name} must have one value or one row of columns per row (dims ${JSON.stringify(t.dims)})`);
  const index = slices.index ?? 0;
  if (width === 1 && index > 0) throw new SluiceError('SLUICE_E_MODEL_LOAD_FAILED', `${where}: input ${t.name} has one value per row; slices.index must be 0 or absent`);
  if (width > 1 && slices.index === undefined) throw new SluiceError('SLUICE_E_MODEL_LOAD_FAILED', `${where}: input ${t.name} has ${width} columns; set slices.index`);
  if (width > 0 && index >= width) throw new SluiceError('SLUICE_E_MODEL_LOAD_FAILED', `${where}: slices.index ${index} is past input ${t.name}'s ${width} columns`);
}
