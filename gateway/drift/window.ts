// DriftWindow: the one class the gateway uses. It validates every argument (dtype, shape, strides,
// feature range, layout of merged windows and snapshots), owns the backend's lifetime (dispose), and
// picks the native addon when it loads in this thread, the TypeScript reference otherwise. Errors are
// SluiceErrors; the addon's own checks are a second line that should never fire from here.
//
// The state is a Float64Array over a SharedArrayBuffer that both implementations work on in place
// (the caller may pass its own, e.g. one the main thread reads). With backend 'auto', updates of at
// most SMALL_UPDATE_VALUES values take the TypeScript path even with the addon loaded: for a one-row
// weather batch the N-API call (seven arguments checked) costs more than binning five values in JS,
// and the two implementations produce the same state (test/native/drift.test.ts).
import { SluiceError } from '../../lib/errors.js';
import { native, nativeAvailable, type NativeDriftWindow } from '../../native/index.js';
import { blockOffsets, featureCount, SCORE_FIELDS, type ScoringReference, type WindowLayout } from './layout.js';
import { SCORE_STRIDE, scoreState } from './ts-scores.js';
import { TsDriftWindow, type NumericBuffer } from './ts-window.js';
import type { FeatureRows } from './derive.js';

export type DriftBackend = 'native' | 'typescript';

const SMALL_UPDATE_VALUES = 16;

function badArgument(why: string): never {
  throw new SluiceError('SLUICE_E_NATIVE_BAD_ARGUMENT', `drift window: ${why}`);
}

function isIndex(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

function sameLayout(a: WindowLayout, b: WindowLayout): boolean {
  if (a === b) return true;
  const eq = (x: ArrayLike<number>, y: ArrayLike<number>) => x.length === y.length && Array.prototype.every.call(x, (v: number, i: number) => Object.is(v, y[i]));
  return eq(a.kinds, b.kinds) && eq(a.edgeOffsets, b.edgeOffsets) && eq(a.edges, b.edges);
}

/** An exception from the addon (its own argument checks) as a coded error. */
function nativeError(err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  return new SluiceError('SLUICE_E_NATIVE_BAD_ARGUMENT', `drift window: ${(err as Error).message}`, { cause: err });
}

export class DriftWindow {
  readonly backend: DriftBackend;
  readonly layout: WindowLayout;
  readonly features: number;
  readonly length: number;
  #native: NativeDriftWindow | undefined;
  #ts: TsDriftWindow | undefined;
  #offsets: Int32Array;
  /** The native update's view (offset, rows, cols, rowStride, colStride, featureBase), bound once: no per-call reads of six arguments. */
  #view: Float64Array | undefined;
  #smallInTs: boolean;
  #disposed = false;

  constructor(layout: WindowLayout, backend: DriftBackend | 'auto' = 'auto', state?: Float64Array) {
    const features = layout.kinds.length;
    if (layout.edgeOffsets.length !== features + 1 || layout.edgeOffsets[0] !== 0 || layout.edgeOffsets[features] !== layout.edges.length) {
      badArgument('edgeOffsets must have features + 1 entries from 0 to edges.length');
    }
    for (let f = 0; f < features; f++) {
      if (layout.kinds[f]! > 1) badArgument('kinds must be 0 (numeric) or 1 (categorical)');
      for (let i = layout.edgeOffsets[f]!; i < layout.edgeOffsets[f + 1]!; i++) {
        if (Number.isNaN(layout.edges[i]!) || (i > layout.edgeOffsets[f]! && !(layout.edges[i - 1]! < layout.edges[i]!))) {
          badArgument(`feature ${f}: edges must be strictly increasing numbers`);
        }
      }
    }
    this.layout = layout;
    this.features = featureCount(layout);
    this.#offsets = blockOffsets(layout);
    this.length = this.#offsets[this.features]!;
    if (state !== undefined && (!(state instanceof Float64Array) || !(state.buffer instanceof SharedArrayBuffer) || state.length !== this.length)) {
      badArgument(`state must be a Float64Array of ${this.length} values over a SharedArrayBuffer`);
    }
    const shared = state ?? new Float64Array(new SharedArrayBuffer(this.length * 8));
    const useNative = backend === 'native' || (backend === 'auto' && nativeAvailable());
    this.backend = useNative ? 'native' : 'typescript';
    this.#smallInTs = backend === 'auto';
    this.#ts = new TsDriftWindow(layout, shared);
    if (useNative) {
      this.#native = new (native().DriftWindow)(layout.kinds, layout.edges, layout.edgeOffsets, shared);
      this.#view = new Float64Array(new SharedArrayBuffer(6 * 8));
      this.#native.bindView(this.#view);
    }
  }

  #live(): void {
    if (this.#disposed) throw new SluiceError('SLUICE_E_INTERNAL', 'drift window: used after dispose()');
  }

  /**
   * Feed rows x cols values (see FeatureRows) to features featureBase .. featureBase + cols - 1.
   * Runs once per tensor per batch in the workers: checks without allocating, no closures.
   */
  update(rows: FeatureRows, featureBase = 0): void {
    this.#live();
    const { data, offset, cols, rowStride, colStride } = rows;
    const n = rows.rows;
    if (!(data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array || data instanceof BigInt64Array)) {
      badArgument('data must be a Float32Array, Float64Array, Int32Array or BigInt64Array');
    }
    if (!(isIndex(offset) && isIndex(n) && isIndex(cols) && isIndex(rowStride) && isIndex(colStride) && isIndex(featureBase))) {
      badArgument('offset, rows, cols, strides and featureBase must be non-negative integers');
    }
    if (featureBase + cols > this.features) badArgument(`features ${featureBase}..${featureBase + cols - 1} exceed the window's ${this.features}`);
    if (n > 0 && cols > 0 && offset + (n - 1) * rowStride + (cols - 1) * colStride >= data.length) {
      badArgument(`a [${n}, ${cols}] view with strides [${rowStride}, ${colStride}] at ${offset} reaches past ${data.length} values`);
    }
    if (this.#native && !(this.#smallInTs && n * cols <= SMALL_UPDATE_VALUES)) {
      const view = this.#view!;
      view[0] = offset;
      view[1] = n;
      view[2] = cols;
      view[3] = rowStride;
      view[4] = colStride;
      view[5] = featureBase;
      try {
        this.#native.update(data);
      } catch (err) {
        throw nativeError(err);
      }
    } else {
      this.#ts!.update(data, offset, n, cols, rowStride, colStride, featureBase);
    }
  }

  /** Convenience: a row-major [rows, cols] buffer. */
  updateMatrix(data: NumericBuffer, rows: number, cols: number, featureBase = 0): void {
    this.update({ data, offset: 0, rows, cols, rowStride: cols, colStride: 1 }, featureBase);
  }

  merge(other: DriftWindow): void {
    this.#live();
    other.#live();
    if (!sameLayout(this.layout, other.layout)) badArgument('merge needs a window with the same features and bins');
    if (this.#native && other.#native) this.#call(() => this.#native!.merge(other.#native!));
    else this.mergeSnapshot(other.snapshot());
  }

  mergeSnapshot(snapshot: Float64Array): void {
    this.#live();
    if (!(snapshot instanceof Float64Array) || snapshot.length !== this.length || snapshot[1] !== this.features || snapshot[2] !== this.length) {
      badArgument("snapshot does not match this window's layout");
    }
    this.#call(() => (this.#native ? this.#native.mergeSnapshot(snapshot) : this.#ts!.mergeSnapshot(snapshot)));
  }

  /** A copy of the state (transferable to another thread). */
  snapshot(): Float64Array {
    this.#live();
    return this.#native ? this.#native.snapshot() : this.#ts!.snapshot();
  }

  /** Copy the state into `out` (length `this.length`), e.g. a SharedArrayBuffer view. */
  snapshotInto(out: Float64Array): void {
    this.#live();
    if (!(out instanceof Float64Array) || out.length !== this.length) badArgument("out must be a Float64Array of the window's state length");
    if (this.#native) this.#native.snapshotInto(out);
    else this.#ts!.snapshotInto(out);
  }

  /** The state so far; the window starts over empty. */
  rotate(): Float64Array {
    this.#live();
    return this.#native ? this.#native.rotate() : this.#ts!.rotate();
  }

  reset(): void {
    this.#live();
    if (this.#native) this.#native.reset();
    else this.#ts!.reset();
  }

  /** Scores per feature against `ref`: features x SCORE_FIELDS, row-major. */
  scores(ref: ScoringReference): Float64Array {
    this.#live();
    const out = new Float64Array(this.features * SCORE_STRIDE);
    const bins = this.layout.edges.length + this.features;
    if (ref.refBins.length !== bins || ref.coarseMap.length !== bins || ref.refInfo.length !== this.features * 3 ||
      ref.coarseOffsets.length !== this.features + 1) {
      badArgument('the scoring reference does not match the window layout');
    }
    if (this.#native) {
      const n = this.#native;
      this.#call(() => n.scores(ref.refBins, ref.coarseMap, ref.coarseOffsets, ref.refCoarse, ref.refInfo, out));
    } else {
      scoreState(this.layout, this.#offsets, this.#ts!.state, ref, out);
    }
    return out;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#native?.dispose();
    this.#native = undefined;
    this.#ts = undefined;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      throw nativeError(err);
    }
  }
}

/** Scores as objects keyed by SCORE_FIELDS, one per feature name. */
export function scoreRows(names: readonly string[], scores: Float64Array): Record<string, Record<(typeof SCORE_FIELDS)[number], number>> {
  const out: Record<string, Record<(typeof SCORE_FIELDS)[number], number>> = {};
  names.forEach((name, f) => {
    const row = {} as Record<(typeof SCORE_FIELDS)[number], number>;
    SCORE_FIELDS.forEach((field, i) => (row[field] = scores[f * SCORE_STRIDE + i]!));
    out[name] = row;
  });
  return out;
}
