// Outcome and error rates per slice of a declared column (config `slices`, docs/slices.md): each
// answered row of a version that takes feedback is put in a slice — the value of a request
// parameter, or of an input column (numbers optionally cut into ranges) — kept beside its
// prediction in the AnswerStore; the slice counts its rows and predicted outcomes when answered,
// and its labelled rows and errors when ground truth joins them. Slices are named in the order
// values first arrive, at most max_slices of them; later values count under `__other__`, calls
// without the column under `__missing__`, so labels in /metrics and on the wire stay bounded.
// The disparity is the spread (max − min) of the error rate (or MAE) over the slices with at least
// min_rows labelled rows: how much worse the model does for its worst-served group.
import type { WireSliceStats } from '../../lib/sync-wire.js';
import type { PreparedRequest } from '../models/loaded-version.js';
import type { SlicesConfig } from '../models/slices-config.js';
import type { NumericArray } from '../models/tensors.js';
import type { FeedbackTask } from './prediction.js';

export const OTHER = '__other__';
export const MISSING = '__missing__';
/** A slice value is its first this many characters. */
export const MAX_VALUE_LENGTH = 64;

/** Numbers kept per slice: answered rows, outcome (positive predictions | sum of predictions), labelled rows, errors (wrong | Σ|error|). */
const STRIDE = 4;
const CALLS = 0;
const OUTCOME = 1;
const LABELLED = 2;
const ERRORS = 3;

export interface SliceFigures {
  slice: string;
  /** Rows answered in the window. */
  calls: number;
  /** Classifiers: the share of answered rows predicted as the positive class (null without one). */
  outcome_rate?: number | null;
  /** Regressors: the mean prediction. */
  mean_prediction?: number | null;
  /** Rows that got ground truth in the window. */
  labelled: number;
  /** Classifiers: wrong / labelled; regressors: mean absolute error (null without labelled rows). */
  error_rate?: number | null;
  mae?: number | null;
}

export interface SliceWindowReport {
  started: string;
  ended: string | null;
  slices: SliceFigures[];
  /** max − min of error_rate (or mae) over slices with at least min_rows labelled rows; null with fewer than two. */
  error_disparity: number | null;
  /** The slice with the highest error among those (null with none). */
  worst_slice: string | null;
}

export interface SliceReport {
  column: { parameter: string } | { input: string; index: number };
  edges: number[] | null;
  task: FeedbackTask;
  /** The positive class (classifiers), as configured; null when its name is not a class of the model. */
  positive: number | string | null;
  window_seconds: number;
  min_rows: number;
  max_slices: number;
  current: SliceWindowReport;
  previous: SliceWindowReport | null;
}

interface Window {
  start: number;
  counts: Float64Array;
}

/** One model version's slices. */
export class VersionSlices {
  readonly config: SlicesConfig;
  readonly task: FeedbackTask;
  /** The positive class index (classifiers), or -1 when the configured name is not a class. */
  readonly positive: number;
  readonly #names: string[] = [];
  readonly #index = new Map<string, number>();
  /** Index of `__other__` and `__missing__`: after every value slice. */
  readonly other: number;
  readonly missing: number;
  readonly #windowMs: number;
  #current: Window;
  #previous: Window | null = null;
  /** Counts since the last take() (the traffic window reported to the control plane). */
  readonly #unreported: Float64Array;

  constructor(config: SlicesConfig, task: FeedbackTask, labels: readonly string[] | undefined, now: number) {
    this.config = config;
    this.task = task;
    this.positive = typeof config.positive === 'number' ? config.positive : (labels?.indexOf(config.positive) ?? -1);
    this.other = config.max_slices;
    this.missing = config.max_slices + 1;
    this.#windowMs = config.window_seconds * 1000;
    const width = (config.max_slices + 2) * STRIDE;
    this.#current = { start: now, counts: new Float64Array(width) };
    this.#unreported = new Float64Array(width);
    // Ranges are slices from the start, in order, so their names do not depend on which comes first.
    const e = config.edges;
    if (e !== undefined) {
      this.#name(`< ${e[0]}`);
      for (let i = 1; i < e.length; i++) this.#name(`${e[i - 1]} to < ${e[i]}`);
      this.#name(`>= ${e[e.length - 1]}`);
    }
  }

  /** Slice names by index (value slices, then __other__ and __missing__). */
  nameOf(i: number): string {
    return i === this.other ? OTHER : i === this.missing ? MISSING : this.#names[i]!;
  }

  /**
   * On the call path, before the inputs move to a worker: the slice of every row — one index for
   * the whole call (a request parameter), or one per row (an input column).
   */
  read(parameters: Record<string, unknown> | undefined, prepared: PreparedRequest): number | Uint8Array {
    const c = this.config;
    if (c.parameter !== undefined) return this.#scalar(parameters?.[c.parameter]);
    const t = prepared.inputs.find((x) => x.name === c.input);
    if (t === undefined) return this.missing;
    const rows = prepared.rows;
    const out = new Uint8Array(rows);
    const data = t.data;
    const width = rows > 0 ? Math.max(1, Math.floor((Array.isArray(data) ? data.length : (data as NumericArray).length) / rows)) : 1;
    const at = c.index ?? 0;
    for (let r = 0; r < rows; r++) {
      const i = r * width + at;
      out[r] = Array.isArray(data) ? this.#text(data[i]) : this.#number(Number((data as NumericArray)[i]));
    }
    return out;
  }

  /** Rows of an answer: counted in their slice with their predicted outcome (predictions ring from `at`). */
  answered(ids: number | Uint8Array, predictions: Float64Array, at: number, rows: number, ring: Uint8Array | undefined, now: number): void {
    this.#roll(now);
    const n = predictions.length;
    const cur = this.#current.counts;
    const un = this.#unreported;
    for (let r = 0, p = at; r < rows; r++, p = p + 1 === n ? 0 : p + 1) {
      const s = typeof ids === 'number' ? ids : ids[r]!;
      if (ring !== undefined) ring[p] = s;
      const o = s * STRIDE;
      const outcome = this.task === 'classification' ? (predictions[p] === this.positive ? 1 : 0) : predictions[p]!;
      cur[o + CALLS]!++;
      un[o + CALLS]!++;
      cur[o + OUTCOME] = cur[o + OUTCOME]! + outcome;
      un[o + OUTCOME] = un[o + OUTCOME]! + outcome;
    }
  }

  /** Ground truth for one row of slice `s`: wrong (classifiers) or its absolute error (regressors). */
  labelled(s: number, error: number, now: number): void {
    this.#roll(now);
    const o = s * STRIDE;
    const cur = this.#current.counts;
    cur[o + LABELLED]!++;
    cur[o + ERRORS] = cur[o + ERRORS]! + error;
    this.#unreported[o + LABELLED]!++;
    this.#unreported[o + ERRORS] = this.#unreported[o + ERRORS]! + error;
  }

  /** The counts since the last take, per slice that has any (undefined when none), and a fresh start. */
  take(): WireSliceStats[] | undefined {
    const u = this.#unreported;
    const out: WireSliceStats[] = [];
    for (let s = 0; s * STRIDE < u.length; s++) {
      const o = s * STRIDE;
      if (u[o + CALLS] === 0 && u[o + LABELLED] === 0) continue;
      out.push({ slice: this.nameOf(s), calls: u[o + CALLS]!, outcome: u[o + OUTCOME]!, labelled: u[o + LABELLED]!, errors: u[o + ERRORS]! });
    }
    u.fill(0);
    return out.length === 0 ? undefined : out;
  }

  report(now: number): SliceReport {
    this.#roll(now);
    const c = this.config;
    const p = this.#previous;
    return {
      column: c.parameter !== undefined ? { parameter: c.parameter } : { input: c.input!, index: c.index ?? 0 },
      edges: c.edges ?? null,
      task: this.task,
      positive: this.task === 'classification' && this.positive >= 0 ? c.positive : null,
      window_seconds: c.window_seconds,
      min_rows: c.min_rows,
      max_slices: c.max_slices,
      current: this.#figures(this.#current, null),
      previous: p === null ? null : this.#figures(p, p.start + this.#windowMs),
    };
  }

  /** The current window's figures, for /metrics. */
  current(now: number): SliceWindowReport {
    this.#roll(now);
    return this.#figures(this.#current, null);
  }

  #figures(w: Window, ended: number | null): SliceWindowReport {
    const classifier = this.task === 'classification';
    const slices: SliceFigures[] = [];
    let worst: string | null = null;
    let hi = -Infinity;
    let lo = Infinity;
    let judged = 0;
    const k = w.counts;
    for (let s = 0; s * STRIDE < k.length; s++) {
      const o = s * STRIDE;
      const calls = k[o + CALLS]!;
      const labelled = k[o + LABELLED]!;
      if (calls === 0 && labelled === 0) continue;
      const name = this.nameOf(s);
      const error = labelled > 0 ? k[o + ERRORS]! / labelled : null;
      const outcome = calls > 0 && (!classifier || this.positive >= 0) ? k[o + OUTCOME]! / calls : null;
      slices.push(classifier
        ? { slice: name, calls, outcome_rate: outcome, labelled, error_rate: error }
        : { slice: name, calls, mean_prediction: outcome, labelled, mae: error });
      if (error !== null && labelled >= this.config.min_rows) {
        judged++;
        if (error > hi) {
          hi = error;
          worst = name;
        }
        if (error < lo) lo = error;
      }
    }
    return {
      started: new Date(w.start).toISOString(),
      ended: ended === null ? null : new Date(ended).toISOString(),
      slices,
      error_disparity: judged >= 2 ? hi - lo : null,
      worst_slice: worst,
    };
  }

  #roll(now: number): void {
    const elapsed = now - this.#current.start;
    if (elapsed < this.#windowMs) return;
    const windows = Math.floor(elapsed / this.#windowMs);
    const start = this.#current.start + windows * this.#windowMs;
    const width = this.#current.counts.length;
    this.#previous = windows === 1 ? this.#current : { start: start - this.#windowMs, counts: new Float64Array(width) };
    this.#current = { start, counts: new Float64Array(width) };
  }

  #scalar(v: unknown): number {
    if (v === undefined || v === null) return this.missing;
    if (typeof v === 'number') return this.#number(v);
    if (typeof v === 'string') return this.#name(v.slice(0, MAX_VALUE_LENGTH));
    if (typeof v === 'boolean') return this.#name(String(v));
    return this.other;
  }

  #text(bytes: Uint8Array | undefined): number {
    if (bytes === undefined) return this.missing;
    return this.#name(Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 4 * MAX_VALUE_LENGTH)).toString('utf8').slice(0, MAX_VALUE_LENGTH));
  }

  #number(x: number): number {
    if (Number.isNaN(x)) return this.missing;
    const e = this.config.edges;
    if (e === undefined) return this.#name(String(x));
    // The range x falls in: the first edge above it (edges are few; a linear scan is cheapest).
    let i = 0;
    while (i < e.length && x >= e[i]!) i++;
    return i;
  }

  /** The index of a value's slice: its own while fewer than max_slices exist, else __other__. */
  #name(value: string): number {
    if (value === OTHER) return this.other;
    if (value === MISSING) return this.missing;
    const i = this.#index.get(value);
    if (i !== undefined) return i;
    if (this.#names.length >= this.config.max_slices) return this.other;
    this.#names.push(value);
    this.#index.set(value, this.#names.length - 1);
    return this.#names.length - 1;
  }
}
