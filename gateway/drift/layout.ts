// The plain data both window implementations (native/drift_window.cc and ts-window.ts) work from,
// and the one state/snapshot format they share. A window's whole state is one Float64Array laid out
// as below, so a snapshot is a copy, a merge is element-wise, and a snapshot crosses threads as a
// transferable buffer.
//
// state = [SNAPSHOT_MAGIC, features, length, block(0), block(1), ...]
// block(f) = [n, nan, posInf, negInf, finiteN, mean, m2, min, max, lowSum, highSum, counts(bins_f)...]
//   n        non-NaN values seen (the sum of counts)
//   nan      NaN values: counted, never binned, never in the moments
//   posInf / negInf  infinities: binned into the outer bins, kept out of the moments and min/max
//   finiteN, mean, m2   Welford moments of the finite values; min/max of the finite values
//   lowSum / highSum    sum of the values that fell into the first / last bin (for Wasserstein-1)

export const SNAPSHOT_MAGIC = 0x51d1;
export const SNAPSHOT_HEADER = 3;
export const FEATURE_HEADER = 11;

export const F_N = 0;
export const F_NAN = 1;
export const F_POS_INF = 2;
export const F_NEG_INF = 3;
export const F_FINITE_N = 4;
export const F_MEAN = 5;
export const F_M2 = 6;
export const F_MIN = 7;
export const F_MAX = 8;
export const F_LOW_SUM = 9;
export const F_HIGH_SUM = 10;

export const KIND_NUMERIC = 0;
export const KIND_CATEGORICAL = 1;

/**
 * What a window bins: per feature a kind and sorted, distinct edges. A numeric feature with E edges
 * has E + 1 bins: (-inf, e0), [e0, e1), ..., [e(E-1), +inf). A categorical feature's edges are its
 * known category values; bin i holds value edges[i] exactly and bin E holds every other value.
 */
export interface WindowLayout {
  kinds: Uint8Array;
  edges: Float64Array;
  /** features + 1 offsets into `edges`. */
  edgeOffsets: Int32Array;
}

/**
 * What the scores need from a reference profile, flattened per feature in layout order.
 * refBins: the reference proportion of each window bin (sum over features of bins_f entries).
 * coarseMap: for each window bin, the PSI bin it belongs to (numeric features bin finely for KS and
 *   Wasserstein and group those bins for PSI/JS); coarseOffsets: features + 1 offsets into refCoarse.
 * refInfo: per feature [reference count, mean of reference values in the first bin, in the last bin].
 */
export interface ScoringReference {
  refBins: Float64Array;
  coarseMap: Int32Array;
  coarseOffsets: Int32Array;
  refCoarse: Float64Array;
  refInfo: Float64Array;
}

/** Scores per feature, SCORE_FIELDS.length doubles each, in this order. NaN = not applicable. */
export const SCORE_FIELDS = ['count', 'psi', 'js_distance', 'ks', 'ks_pvalue', 'wasserstein', 'chi2', 'chi2_pvalue', 'mean', 'std', 'nan'] as const;
export type ScoreField = (typeof SCORE_FIELDS)[number];

export function featureCount(layout: WindowLayout): number {
  return layout.edgeOffsets.length - 1;
}

export function binsOf(layout: WindowLayout, f: number): number {
  return layout.edgeOffsets[f + 1]! - layout.edgeOffsets[f]! + 1;
}

/** Offsets of each feature's block in the state, plus the total length as the last entry. */
export function blockOffsets(layout: WindowLayout): Int32Array {
  const features = featureCount(layout);
  const out = new Int32Array(features + 1);
  let at = SNAPSHOT_HEADER;
  for (let f = 0; f < features; f++) {
    out[f] = at;
    at += FEATURE_HEADER + binsOf(layout, f);
  }
  out[features] = at;
  return out;
}

/** A fresh (empty) state for `layout`. */
export function emptyState(layout: WindowLayout): Float64Array {
  const offsets = blockOffsets(layout);
  return clearState(layout, new Float64Array(offsets[featureCount(layout)]!));
}

/** Empty `state` in place (it may be shared with the addon or another thread). */
export function clearState(layout: WindowLayout, state: Float64Array): Float64Array {
  const offsets = blockOffsets(layout);
  const features = featureCount(layout);
  state.fill(0);
  state[0] = SNAPSHOT_MAGIC;
  state[1] = features;
  state[2] = state.length;
  for (let f = 0; f < features; f++) {
    state[offsets[f]! + F_MIN] = Infinity;
    state[offsets[f]! + F_MAX] = -Infinity;
  }
  return state;
}
