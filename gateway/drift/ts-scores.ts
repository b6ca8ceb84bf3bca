// Scores of a window state against a reference: the TypeScript reference of native/drift_scores.cc.
// Numeric features: PSI and JS distance over the coarse (PSI) bins, KS over the fine grid edges,
// Wasserstein-1 between the two distributions quantised to the fine grid. Categorical features: PSI,
// JS distance and the chi-squared test over the category bins (the last bin is "any other value").
//
// Wasserstein-1 on the grid: interior bins put their mass at their midpoint (same point for both
// sides); the open outer bins put it at the mean of the values that fell there (the window tracks
// lowSum/highSum, the profile stores its own tail means). With the profile's grid running from the
// reference min to max in percentiles, the error inside the reference range is at most half a grid
// step, and values beyond it count with their real distance. Any infinite value makes it +Infinity.
import { FEATURE_HEADER, F_FINITE_N, F_HIGH_SUM, F_LOW_SUM, F_M2, F_MEAN, F_N, F_NAN, F_NEG_INF, F_POS_INF,
  KIND_CATEGORICAL, SCORE_FIELDS, type ScoringReference, type WindowLayout } from './layout.js';
import { chiSquared, chiSquaredPValue, jsDistance, ksPValue, psi } from './statistics.js';

export const SCORE_STRIDE = SCORE_FIELDS.length;

function wasserstein(pos: number[], dr: number[], dw: number[]): number {
  const order = pos.map((_, i) => i).sort((a, b) => pos[a]! - pos[b]!);
  let fr = 0;
  let fw = 0;
  let w1 = 0;
  for (let i = 0; i + 1 < order.length; i++) {
    fr += dr[order[i]!]!;
    fw += dw[order[i]!]!;
    w1 += Math.abs(fr - fw) * (pos[order[i + 1]!]! - pos[order[i]!]!);
  }
  return w1;
}

/** Fill `out` (features * SCORE_STRIDE) with the scores of `state` against `ref`. */
export function scoreState(layout: WindowLayout, offsets: Int32Array, state: Float64Array, ref: ScoringReference, out: Float64Array): void {
  const features = layout.edgeOffsets.length - 1;
  let refAt = 0;
  for (let f = 0; f < features; f++) {
    const at = offsets[f]!;
    const o = f * SCORE_STRIDE;
    const eLo = layout.edgeOffsets[f]!;
    const bins = layout.edgeOffsets[f + 1]! - eLo + 1;
    const cLo = ref.coarseOffsets[f]!;
    const coarse = ref.coarseOffsets[f + 1]! - cLo;
    const n = state[at + F_N]!;
    const finiteN = state[at + F_FINITE_N]!;
    const m = ref.refInfo[f * 3]!;
    out[o] = n;
    for (let i = 1; i < 8; i++) out[o + i] = NaN;
    out[o + 8] = finiteN > 0 ? state[at + F_MEAN]! : NaN;
    out[o + 9] = finiteN > 1 ? Math.sqrt(state[at + F_M2]! / (finiteN - 1)) : NaN;
    out[o + 10] = state[at + F_NAN]!;
    const counts = at + FEATURE_HEADER;
    if (n > 0) {
      const w = new Float64Array(coarse);
      for (let j = 0; j < bins; j++) w[ref.coarseMap[refAt + j]!] = w[ref.coarseMap[refAt + j]!]! + state[counts + j]!;
      for (let k = 0; k < coarse; k++) w[k] = w[k]! / n;
      const r = ref.refCoarse.subarray(cLo, cLo + coarse);
      out[o + 1] = psi(w, r);
      out[o + 2] = jsDistance(w, r);
      if (layout.kinds[f] === KIND_CATEGORICAL) {
        const rc = new Float64Array(bins);
        for (let j = 0; j < bins; j++) rc[j] = ref.refBins[refAt + j]! * m;
        const [stat, df] = chiSquared(state.subarray(counts, counts + bins), rc);
        out[o + 6] = stat;
        out[o + 7] = chiSquaredPValue(stat, df);
      } else {
        let cw = 0;
        let cr = 0;
        let d = 0;
        for (let j = 0; j + 1 < bins; j++) {
          cw += state[counts + j]!;
          cr += ref.refBins[refAt + j]!;
          const diff = Math.abs(cr - cw / n);
          if (diff > d) d = diff;
        }
        out[o + 3] = d;
        out[o + 4] = ksPValue(d, n, m);
        if (state[at + F_POS_INF]! + state[at + F_NEG_INF]! > 0) {
          out[o + 5] = Infinity;
        } else {
          const pos: number[] = [];
          const dr: number[] = [];
          const dw: number[] = [];
          const push = (p: number, a: number, b: number) => {
            pos.push(p);
            dr.push(a);
            dw.push(b);
          };
          const last = bins - 1;
          if (ref.refBins[refAt]! > 0) push(ref.refInfo[f * 3 + 1]!, ref.refBins[refAt]!, 0);
          if (state[counts]! > 0) push(state[at + F_LOW_SUM]! / state[counts]!, 0, state[counts]! / n);
          for (let j = 1; j < last; j++) {
            const rj = ref.refBins[refAt + j]!;
            const wj = state[counts + j]! / n;
            if (rj > 0 || wj > 0) push((layout.edges[eLo + j - 1]! + layout.edges[eLo + j]!) * 0.5, rj, wj);
          }
          if (last > 0) {
            if (ref.refBins[refAt + last]! > 0) push(ref.refInfo[f * 3 + 2]!, ref.refBins[refAt + last]!, 0);
            if (state[counts + last]! > 0) push(state[at + F_HIGH_SUM]! / state[counts + last]!, 0, state[counts + last]! / n);
          }
          out[o + 5] = wasserstein(pos, dr, dw);
        }
      }
    }
    refAt += bins;
  }
}
