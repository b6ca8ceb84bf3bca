// The background sample an explanation measures against: rows drawn from the version's reference
// profile (gateway/drift/profile.ts), which keeps per feature its quantile summary (numeric) or its
// category proportions (categorical), not the rows themselves. Each feature is drawn on its own
// (the profile holds marginals only: interventional SHAP with independent features, the setting
// where a linear model's Shapley values are w_i · (x_i − E[x_i])). The draw is stratified — one
// value from each of `size` equal-probability strata, in a seeded order — so the sample's mean is
// close to the reference mean at small sizes and the same seed gives the same rows.
import { SluiceError } from '../../lib/errors.js';
import { shuffledIndices } from '../../lib/random.js';
import type { DriftProfile, FeatureProfile } from '../drift/profile.js';

/** The reference features of a tabular input `[N, width]`, or undefined when the profile has none that fit. */
export function inputFeatures(profile: DriftProfile, input: string, width: number): FeatureProfile[] | undefined {
  const tensor = profile.tensors.find((t) => t.role === 'input' && t.name === input && t.derive === 'columns');
  return tensor !== undefined && tensor.features.length === width ? tensor.features : undefined;
}

/** Output column names from the profile (`probabilities.sun`), else `name[k]`. */
export function outputColumns(profile: DriftProfile, output: string, width: number): string[] {
  const tensor = profile.tensors.find((t) => t.role === 'output' && t.name === output && t.derive === 'columns');
  if (tensor !== undefined && tensor.features.length === width) return tensor.features.map((f) => f.name);
  return Array.from({ length: width }, (_, k) => `${output}[${k}]`);
}

/** `size` rows × features.length columns, row-major, drawn with `random` (seeded by the caller). */
export function drawBackground(features: readonly FeatureProfile[], size: number, random: () => number): Float32Array {
  const width = features.length;
  const out = new Float32Array(size * width);
  for (let j = 0; j < width; j++) {
    const f = features[j]!;
    const order = shuffledIndices(size, random);
    for (let r = 0; r < size; r++) out[r * width + j] = valueAt(f, (order[r]! + random()) / size);
  }
  return out;
}

/** The reference distribution's inverse CDF at u ∈ [0, 1). */
function valueAt(f: FeatureProfile, u: number): number {
  if (f.kind === 'categorical') {
    let cumulative = 0;
    for (let c = 0; c < f.categories.length; c++) {
      cumulative += f.proportions[c]!;
      if (u < cumulative) return f.categories[c]!;
    }
    return f.categories[f.categories.length - 1]!;
  }
  const { p, values } = f.quantiles;
  if (p.length < 2 || p.length !== values.length) {
    throw new SluiceError('SLUICE_E_EXPLAIN_NO_BACKGROUND', `reference feature ${f.name} has no quantile summary to draw from`);
  }
  // p is ascending from 0 to 1 (levels k/L): find the segment holding u and interpolate linearly.
  let lo = 0;
  let hi = p.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (p[mid]! <= u) lo = mid;
    else hi = mid;
  }
  const span = p[hi]! - p[lo]!;
  const frac = span > 0 ? (u - p[lo]!) / span : 0;
  return values[lo]! + frac * (values[hi]! - values[lo]!);
}
