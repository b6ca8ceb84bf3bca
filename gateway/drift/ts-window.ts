// The TypeScript reference of native/drift_window.cc: the same state layout (layout.ts), the same
// one-pass update (bins from the same tables, bins.ts) and the same merge, operation for operation.
// It is what the tests compare the addon with, and the fallback when the addon is not built. It
// trusts its arguments: drift/window.ts validates them before either implementation sees them.
import {
  blockOffsets, clearState, emptyState, FEATURE_HEADER, F_FINITE_N, F_HIGH_SUM, F_LOW_SUM, F_M2, F_MAX,
  F_MEAN, F_MIN, F_N, F_NAN, F_NEG_INF, F_POS_INF, KIND_CATEGORICAL, type WindowLayout,
} from './layout.js';
import { buildBinTables, cellOf, LINEAR_STEPS, upperBound, type BinTables } from './bins.js';

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
  #tables: BinTables;

  /** `state`: where the state lives (shared with the addon or another thread), else a private array. */
  constructor(layout: WindowLayout, state?: Float64Array) {
    this.layout = layout;
    this.offsets = blockOffsets(layout);
    this.#tables = buildBinTables(layout);
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

  // Column by column, like drift_window.cc: per feature the values are taken in row order and every
  // sum is formed exactly as the addon forms it, so the two states agree. Bins come from the bin
  // tables (bins.ts) where a feature has one. Moments go through a per-batch (count, sum, sum of
  // squares) of x - k, shifted by the running mean (or the batch's first finite value) so
  // s2 - s1^2/n stays accurate, then Chan's merge.
  #update(data: Float32Array | Float64Array | Int32Array, offset: number, rows: number, cols: number, rowStride: number, colStride: number, featureBase: number): void {
    const state = this.#state;
    const { kinds, edges, edgeOffsets } = this.layout;
    const tables = this.#tables;
    for (let c = 0; c < cols; c++) {
      const f = featureBase + c;
      const at = this.offsets[f]!;
      const colAt = offset + c * colStride;
      let k = 0;
      if (state[at + F_FINITE_N]! > 0) {
        k = state[at + F_MEAN]!;
      } else {
        for (let r = 0; r < rows; r++) {
          const x = data[colAt + r * rowStride]!;
          if (x - x === 0) {
            k = x;
            break;
          }
        }
      }
      const lo = edgeOffsets[f]!;
      const last = edgeOffsets[f + 1]! - lo;
      const counts = at + FEATURE_HEADER;
      const categorical = kinds[f] === KIND_CATEGORICAL;
      const steps = tables.steps[f]!;
      const first = tables.first[f]!;
      const scale = tables.scale[f]!;
      const top = tables.top[f]!;
      const startAt = tables.startAt[f]!;
      const paddedAt = tables.paddedAt[f]!;
      const start = tables.start;
      const padded = tables.padded;
      let nan = 0, posInf = 0, negInf = 0, low = 0, high = 0;
      let n = 0, s1 = 0, s2 = 0, min = Infinity, max = -Infinity;
      for (let r = 0; r < rows; r++) {
        const x = data[colAt + r * rowStride]!;
        if (x !== x) {
          nan++;
          continue;
        }
        let bin: number;
        if (steps > 0) {
          bin = start[startAt + cellOf(x, first, scale, top)]!;
          const e = paddedAt + bin;
          if (steps <= LINEAR_STEPS) {
            for (let j = 0; j < steps; j++) bin += padded[e + j]! <= x ? 1 : 0;
          } else {
            bin += upperBound(padded, e, steps, x);
          }
        } else {
          bin = binOf(edges, lo, lo + last, x, categorical);
        }
        state[counts + bin]!++;
        if (bin === 0) low += x;
        if (bin === last) high += x;
        if (x === Infinity) {
          posInf++;
        } else if (x === -Infinity) {
          negInf++;
        } else {
          const d = x - k;
          n++;
          s1 += d;
          s2 += d * d;
          if (x < min) min = x;
          if (x > max) max = x;
        }
      }
      state[at + F_N] = state[at + F_N]! + (rows - nan);
      state[at + F_NAN] = state[at + F_NAN]! + nan;
      state[at + F_POS_INF] = state[at + F_POS_INF]! + posInf;
      state[at + F_NEG_INF] = state[at + F_NEG_INF]! + negInf;
      state[at + F_LOW_SUM] = state[at + F_LOW_SUM]! + low;
      state[at + F_HIGH_SUM] = state[at + F_HIGH_SUM]! + high;
      if (!(n > 0)) continue;
      const mean = k + s1 / n;
      let m2 = s2 - (s1 * s1) / n;
      if (m2 < 0) m2 = 0;
      mergeMoments(state, at, n, mean, m2);
      if (min < state[at + F_MIN]!) state[at + F_MIN] = min;
      if (max > state[at + F_MAX]!) state[at + F_MAX] = max;
    }
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
