// The TypeScript reference of native/drift_window.cc: the same state layout (layout.ts), the same
// one-pass update and the same merge, operation for operation. It is what the tests compare the addon
// with, and the fallback when the addon is not built. It trusts its arguments: drift/window.ts
// validates them before either implementation sees them.
import {
  blockOffsets, emptyState, featureCount, FEATURE_HEADER, F_FINITE_N, F_HIGH_SUM, F_LOW_SUM, F_M2, F_MAX,
  F_MEAN, F_MIN, F_N, F_NAN, F_NEG_INF, F_POS_INF, KIND_CATEGORICAL, SNAPSHOT_HEADER, type WindowLayout,
} from './layout.js';

export type NumericBuffer = Float32Array | Float64Array | Int32Array | BigInt64Array;

/** Index of the bin `x` (not NaN) falls in; see WindowLayout. */
export function binOf(edges: Float64Array, lo: number, hi: number, x: number, categorical: boolean): number {
  const start = lo;
  const end = hi;
  if (categorical) {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (edges[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo < end && edges[lo] === x ? lo - start : end - start;
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo - start;
}

/** Chan et al.'s pairwise merge of (count, mean, M2) into the block at `at`. */
export function mergeMoments(state: Float64Array, at: number, bn: number, bmean: number, bm2: number): void {
  if (!(bn > 0)) return;
  const an = state[at + F_FINITE_N]!;
  if (!(an > 0)) {
    state[at + F_FINITE_N] = bn;
    state[at + F_MEAN] = bmean;
    state[at + F_M2] = bm2;
    return;
  }
  const n = an + bn;
  const d = bmean - state[at + F_MEAN]!;
  state[at + F_MEAN] = state[at + F_MEAN]! + (d * bn) / n;
  state[at + F_M2] = state[at + F_M2]! + bm2 + (d * d * an * bn) / n;
  state[at + F_FINITE_N] = n;
}

/** Merge state `src` into `dst` (same layout). */
export function mergeStates(dst: Float64Array, src: Float64Array, offsets: Int32Array): void {
  const features = offsets.length - 1;
  for (let f = 0; f < features; f++) {
    const at = offsets[f]!;
    const end = offsets[f + 1]!;
    dst[at + F_N] = dst[at + F_N]! + src[at + F_N]!;
    dst[at + F_NAN] = dst[at + F_NAN]! + src[at + F_NAN]!;
    dst[at + F_POS_INF] = dst[at + F_POS_INF]! + src[at + F_POS_INF]!;
    dst[at + F_NEG_INF] = dst[at + F_NEG_INF]! + src[at + F_NEG_INF]!;
    mergeMoments(dst, at, src[at + F_FINITE_N]!, src[at + F_MEAN]!, src[at + F_M2]!);
    if (src[at + F_MIN]! < dst[at + F_MIN]!) dst[at + F_MIN] = src[at + F_MIN]!;
    if (src[at + F_MAX]! > dst[at + F_MAX]!) dst[at + F_MAX] = src[at + F_MAX]!;
    dst[at + F_LOW_SUM] = dst[at + F_LOW_SUM]! + src[at + F_LOW_SUM]!;
    dst[at + F_HIGH_SUM] = dst[at + F_HIGH_SUM]! + src[at + F_HIGH_SUM]!;
    for (let i = at + FEATURE_HEADER; i < end; i++) dst[i] = dst[i]! + src[i]!;
  }
}

export class TsDriftWindow {
  readonly layout: WindowLayout;
  readonly offsets: Int32Array;
  #state: Float64Array;
  // Per-batch accumulators, one slot per column: shift, count, sum and sum of squares of (x - shift),
  // min, max. Shifting by the running mean (or the batch's first value) keeps s2 - s1^2/n accurate.
  #shift: Float64Array;
  #bn: Float64Array;
  #s1: Float64Array;
  #s2: Float64Array;
  #mn: Float64Array;
  #mx: Float64Array;

  constructor(layout: WindowLayout) {
    this.layout = layout;
    this.offsets = blockOffsets(layout);
    this.#state = emptyState(layout);
    const features = featureCount(layout);
    this.#shift = new Float64Array(features);
    this.#bn = new Float64Array(features);
    this.#s1 = new Float64Array(features);
    this.#s2 = new Float64Array(features);
    this.#mn = new Float64Array(features);
    this.#mx = new Float64Array(features);
  }

  /** Element (r, c) is data[offset + r * rowStride + c * colStride] and feeds feature featureBase + c. */
  update(data: NumericBuffer, offset: number, rows: number, cols: number, rowStride: number, colStride: number, featureBase: number): void {
    if (data instanceof BigInt64Array) {
      // Number(bigint) rounds to nearest like the C++ int64 -> double conversion.
      const span = rows === 0 || cols === 0 ? 0 : (rows - 1) * rowStride + (cols - 1) * colStride + 1;
      const copy = new Float64Array(span);
      for (let i = 0; i < span; i++) copy[i] = Number(data[offset + i]!);
      this.#update(copy, 0, rows, cols, rowStride, colStride, featureBase);
      return;
    }
    this.#update(data, offset, rows, cols, rowStride, colStride, featureBase);
  }

  #update(data: Float32Array | Float64Array | Int32Array, offset: number, rows: number, cols: number, rowStride: number, colStride: number, featureBase: number): void {
    const state = this.#state;
    const { kinds, edges, edgeOffsets } = this.layout;
    const offsets = this.offsets;
    const shift = this.#shift, bn = this.#bn, s1 = this.#s1, s2 = this.#s2, mn = this.#mn, mx = this.#mx;
    for (let c = 0; c < cols; c++) {
      const at = offsets[featureBase + c]!;
      let k = 0;
      if (state[at + F_FINITE_N]! > 0) {
        k = state[at + F_MEAN]!;
      } else {
        for (let r = 0; r < rows; r++) {
          const x = data[offset + r * rowStride + c * colStride]!;
          if (x - x === 0) {
            k = x;
            break;
          }
        }
      }
      shift[c] = k;
      bn[c] = 0;
      s1[c] = 0;
      s2[c] = 0;
      mn[c] = Infinity;
      mx[c] = -Infinity;
    }
    for (let r = 0; r < rows; r++) {
      const rowAt = offset + r * rowStride;
      for (let c = 0; c < cols; c++) {
        const x = data[rowAt + c * colStride]!;
        const f = featureBase + c;
        const at = offsets[f]!;
        if (x !== x) {
          state[at + F_NAN]!++;
          continue;
        }
        const lo = edgeOffsets[f]!;
        const hi = edgeOffsets[f + 1]!;
        const bin = binOf(edges, lo, hi, x, kinds[f] === KIND_CATEGORICAL);
        state[at + FEATURE_HEADER + bin]!++;
        state[at + F_N]!++;
        if (bin === 0) state[at + F_LOW_SUM] = state[at + F_LOW_SUM]! + x;
        if (bin === hi - lo) state[at + F_HIGH_SUM] = state[at + F_HIGH_SUM]! + x;
        if (x === Infinity) {
          state[at + F_POS_INF]!++;
        } else if (x === -Infinity) {
          state[at + F_NEG_INF]!++;
        } else {
          const d = x - shift[c]!;
          bn[c]!++;
          s1[c] = s1[c]! + d;
          s2[c] = s2[c]! + d * d;
          if (x < mn[c]!) mn[c] = x;
          if (x > mx[c]!) mx[c] = x;
        }
      }
    }
    for (let c = 0; c < cols; c++) {
      const n = bn[c]!;
      if (!(n > 0)) continue;
      const at = offsets[featureBase + c]!;
      const mean = shift[c]! + s1[c]! / n;
      let m2 = s2[c]! - (s1[c]! * s1[c]!) / n;
      if (m2 < 0) m2 = 0;
      mergeMoments(state, at, n, mean, m2);
      if (mn[c]! < state[at + F_MIN]!) state[at + F_MIN] = mn[c]!;
      if (mx[c]! > state[at + F_MAX]!) state[at + F_MAX] = mx[c]!;
    }
  }

  merge(other: TsDriftWindow): void {
    mergeStates(this.#state, other.#state, this.offsets);
  }

  mergeSnapshot(snapshot: Float64Array): void {
    mergeStates(this.#state, snapshot, this.offsets);
  }

  snapshot(): Float64Array {
    return this.#state.slice();
  }

  /** The current state, and a fresh window from now on. */
  rotate(): Float64Array {
    const out = this.#state;
    this.#state = emptyState(this.layout);
    return out;
  }

  reset(): void {
    this.#state = emptyState(this.layout);
  }

  /** Read-only view of the live state (scores read it without a copy). */
  get state(): Float64Array {
    return this.#state;
  }

  get rows(): number {
    return featureCount(this.layout) === 0 ? 0 : this.#state[SNAPSHOT_HEADER + F_N]! + this.#state[SNAPSHOT_HEADER + F_NAN]!;
  }
}
