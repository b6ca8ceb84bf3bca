// The TypeScript reference of native/drift_window.cc: the same state layout (layout.ts), the same
// one-pass update and the same merge, operation for operation. It is what the tests compare the addon
// with, and the fallback when the addon is not built. It trusts its arguments: drift/window.ts
// validates them before either implementation sees them.
import {
  blockOffsets, clearState, emptyState, FEATURE_HEADER, F_FINITE_N, F_HIGH_SUM, F_LOW_SUM, F_M2, F_MAX,
  F_MEAN, F_MIN, F_N, F_NAN, F_NEG_INF, F_POS_INF, KIND_CATEGORICAL, type WindowLayout,
} from './layout.js';

// Per-column batch accumulators, ACC doubles per column.
const ACC = 11;
const A_SHIFT = 0, A_N = 1, A_S1 = 2, A_S2 = 3, A_MIN = 4, A_MAX = 5, A_NAN = 6, A_POS_INF = 7, A_NEG_INF = 8, A_LOW = 9, A_HIGH = 10;

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
  #acc = new Float64Array(0);

  /** `state`: where the state lives (shared with the addon or another thread), else a private array. */
  constructor(layout: WindowLayout, state?: Float64Array) {
    this.layout = layout;
    this.offsets = blockOffsets(layout);
    this.#state = state ? clearState(layout, state) : emptyState(layout);
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

  // Row by row (JavaScript reads the row-major batch faster that way), with per-column accumulators
  // that are added to the state once per batch: per feature the values are taken in row order and
  // every sum is formed exactly as the addon forms it (it goes column by column, see
  // drift_window.cc), so the two states agree. Moments go through a per-batch (count, sum, sum of
  // squares) of x - shift, shifted by the running mean (or the batch's first finite value) so
  // s2 - s1^2/n stays accurate, then Chan's merge.
  #update(data: Float32Array | Float64Array | Int32Array, offset: number, rows: number, cols: number, rowStride: number, colStride: number, featureBase: number): void {
    const state = this.#state;
    const { kinds, edges, edgeOffsets } = this.layout;
    const offsets = this.offsets;
    const acc = this.#scratch(cols);
    for (let c = 0; c < cols; c++) {
      const at = offsets[featureBase + c]!;
      let k = 0;
      if (state[at + F_FINITE_N]! > 0) {
        k = state[at + F_MEAN]!;
      } else {
        for (let r = 0; r < rows; r++) {
          const x = data[offset + c * colStride + r * rowStride]!;
          if (x - x === 0) {
            k = x;
            break;
          }
        }
      }
      const a = c * ACC;
      acc.fill(0, a, a + ACC);
      acc[a + A_SHIFT] = k;
      acc[a + A_MIN] = Infinity;
      acc[a + A_MAX] = -Infinity;
    }
    for (let r = 0; r < rows; r++) {
      const rowAt = offset + r * rowStride;
      for (let c = 0; c < cols; c++) {
        const x = data[rowAt + c * colStride]!;
        const a = c * ACC;
        if (x !== x) {
          acc[a + A_NAN]!++;
          continue;
        }
        const f = featureBase + c;
        const lo = edgeOffsets[f]!;
        const last = edgeOffsets[f + 1]! - lo;
        const bin = binOf(edges, lo, lo + last, x, kinds[f] === KIND_CATEGORICAL);
        state[offsets[f]! + FEATURE_HEADER + bin]!++;
        if (bin === 0) acc[a + A_LOW] = acc[a + A_LOW]! + x;
        if (bin === last) acc[a + A_HIGH] = acc[a + A_HIGH]! + x;
        if (x === Infinity) {
          acc[a + A_POS_INF]!++;
        } else if (x === -Infinity) {
          acc[a + A_NEG_INF]!++;
        } else {
          const d = x - acc[a + A_SHIFT]!;
          acc[a + A_N]!++;
          acc[a + A_S1] = acc[a + A_S1]! + d;
          acc[a + A_S2] = acc[a + A_S2]! + d * d;
          if (x < acc[a + A_MIN]!) acc[a + A_MIN] = x;
          if (x > acc[a + A_MAX]!) acc[a + A_MAX] = x;
        }
      }
    }
    for (let c = 0; c < cols; c++) {
      const at = offsets[featureBase + c]!;
      const a = c * ACC;
      const nan = acc[a + A_NAN]!;
      state[at + F_N] = state[at + F_N]! + (rows - nan);
      state[at + F_NAN] = state[at + F_NAN]! + nan;
      state[at + F_POS_INF] = state[at + F_POS_INF]! + acc[a + A_POS_INF]!;
      state[at + F_NEG_INF] = state[at + F_NEG_INF]! + acc[a + A_NEG_INF]!;
      state[at + F_LOW_SUM] = state[at + F_LOW_SUM]! + acc[a + A_LOW]!;
      state[at + F_HIGH_SUM] = state[at + F_HIGH_SUM]! + acc[a + A_HIGH]!;
      const bn = acc[a + A_N]!;
      if (!(bn > 0)) continue;
      const s1 = acc[a + A_S1]!;
      const mean = acc[a + A_SHIFT]! + s1 / bn;
      let m2 = acc[a + A_S2]! - (s1 * s1) / bn;
      if (m2 < 0) m2 = 0;
      mergeMoments(state, at, bn, mean, m2);
      if (acc[a + A_MIN]! < state[at + F_MIN]!) state[at + F_MIN] = acc[a + A_MIN]!;
      if (acc[a + A_MAX]! > state[at + F_MAX]!) state[at + F_MAX] = acc[a + A_MAX]!;
    }
  }

  #scratch(cols: number): Float64Array {
    if (this.#acc.length < cols * ACC) this.#acc = new Float64Array(cols * ACC);
    return this.#acc;
  }

  mergeSnapshot(snapshot: Float64Array): void {
    mergeStates(this.#state, snapshot, this.offsets);
  }

  snapshot(): Float64Array {
    return this.#state.slice();
  }

  snapshotInto(out: Float64Array): void {
    out.set(this.#state);
  }

  /** A copy of the current state, and a fresh window from now on (in place). */
  rotate(): Float64Array {
    const out = this.#state.slice();
    this.reset();
    return out;
  }

  reset(): void {
    clearState(this.layout, this.#state);
  }

  /** Read-only view of the live state (scores read it without a copy). */
  get state(): Float64Array {
    return this.#state;
  }
}
