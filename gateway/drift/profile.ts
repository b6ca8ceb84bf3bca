// The reference profile: what a model version's inputs and outputs looked like on the data it was
// built from, stored as JSON beside the version (`<model>/<version>/profile.json`, named by the
// config's drift.profile). Built once from a dataset; the gateway compiles it into window layouts.
//
// Numeric feature: `edges` = the interior reference quantiles at i/bins (open-ended outer bins, the
// PSI bins), `proportions` per bin, count/mean/std (sample)/min/max, the quantile summary at every
// 1/(bins*fine_per_bin), and `grid`: the distinct values of that summary as finer edges with the
// reference proportion in each fine bin (KS and Wasserstein-1 use it) and the mean of the reference
// values in the two open outer bins. Because the PSI edges are quantiles at a subset of the same
// levels, every PSI edge is also a grid edge. Categorical feature: its category values and their
// proportions, plus a last "other" bin (0 in the reference). Reference values that are NaN or
// infinite are left out of the profile and counted in `ignored`.
import { SluiceError } from '../../lib/errors.js';
import { derivedNames, derivedWidth, deriveRows, type Derive, type ImageLayout } from './derive.js';
import { binOf, type NumericBuffer } from './ts-window.js';
import { PSI_EPSILON } from './statistics.js';

export const PROFILE_FORMAT = 'sluice-drift-profile/1';

interface FeatureBase {
  name: string;
  count: number;
  ignored: number;
  mean: number;
  std: number;
  min: number;
  max: number;
}

export interface NumericFeatureProfile extends FeatureBase {
  kind: 'numeric';
  edges: number[];
  proportions: number[];
  quantiles: { p: number[]; values: number[] };
  grid: { edges: number[]; proportions: number[]; low_mean: number | null; high_mean: number | null };
}

export interface CategoricalFeatureProfile extends FeatureBase {
  kind: 'categorical';
  categories: number[];
  /** One per category, then the "any other value" bin. */
  proportions: number[];
}

export type FeatureProfile = NumericFeatureProfile | CategoricalFeatureProfile;

export interface ProfileTensor {
  name: string;
  role: 'input' | 'output';
  derive: Derive;
  layout?: ImageLayout;
  features: FeatureProfile[];
}

export interface DriftProfile {
  format: typeof PROFILE_FORMAT;
  model: string;
  version: string;
  created: string;
  source: Record<string, unknown>;
  bins: number;
  fine_per_bin: number;
  psi_epsilon: number;
  tensors: ProfileTensor[];
}

export interface FeatureSpec {
  name?: string;
  kind?: 'numeric' | 'categorical';
  /** Known category values (categorical); defaults to the values seen in the data. */
  categories?: number[];
}

export interface ProfileTensorSpec {
  name: string;
  role: 'input' | 'output';
  derive?: Derive;
  layout?: ImageLayout;
  /** Per derived column; defaults: numeric, names from derivedNames (argmax: categorical). */
  features?: FeatureSpec[];
}

export interface TensorData {
  data: NumericBuffer;
  /** Batch dimension first. */
  dims: number[];
}

export interface BuildProfileOptions {
  model: string;
  version: string;
  tensors: ProfileTensorSpec[];
  /** PSI bins (default 10, the usual choice for PSI thresholds 0.1 / 0.2). */
  bins?: number;
  /** Grid steps per PSI bin for KS and Wasserstein-1 (default 10: percentiles). */
  finePerBin?: number;
  source?: Record<string, unknown>;
}

function bad(why: string): never {
  throw new SluiceError('SLUICE_E_VALIDATION', `drift profile: ${why}`);
}

/** Type-7 quantile of sorted values at level k/levels (integer arithmetic keeps levels exact). */
function quantile(sorted: Float64Array, k: number, levels: number): number {
  const h = ((sorted.length - 1) * k) / levels;
  const lo = Math.floor(h);
  const frac = h - lo;
  return lo + 1 < sorted.length ? sorted[lo]! + frac * (sorted[lo + 1]! - sorted[lo]!) : sorted[lo]!;
}

function distinct(values: number[]): number[] {
  return values.filter((v, i) => i === 0 || v !== values[i - 1]);
}

function moments(sorted: Float64Array): Pick<FeatureBase, 'mean' | 'std' | 'min' | 'max'> {
  let s = 0;
  for (const v of sorted) s += v;
  const mean = s / sorted.length;
  let ss = 0;
  for (const v of sorted) ss += (v - mean) * (v - mean);
  return { mean, std: sorted.length > 1 ? Math.sqrt(ss / (sorted.length - 1)) : 0, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

function proportions(sorted: Float64Array, edges: number[], categorical: boolean): number[] {
  const e = Float64Array.from(edges);
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of sorted) counts[binOf(e, 0, e.length, v, categorical)]!++;
  return counts.map((c) => c / sorted.length);
}

function numericFeature(name: string, sorted: Float64Array, ignored: number, bins: number, finePerBin: number): NumericFeatureProfile {
  const levels = bins * finePerBin;
  const p: number[] = [];
  const values: number[] = [];
  for (let k = 0; k <= levels; k++) {
    p.push(k / levels);
    values.push(quantile(sorted, k, levels));
  }
  const edges = distinct(Array.from({ length: bins - 1 }, (_, i) => values[(i + 1) * finePerBin]!));
  const gridEdges = distinct(values);
  const grid = Float64Array.from(gridEdges);
  let lowSum = 0, lowN = 0, highSum = 0, highN = 0;
  for (const v of sorted) {
    const bin = binOf(grid, 0, grid.length, v, false);
    if (bin === 0) { lowSum += v; lowN++; }
    if (bin === grid.length) { highSum += v; highN++; }
  }
  return {
    name,
    kind: 'numeric',
    count: sorted.length,
    ignored,
    ...moments(sorted),
    edges,
    proportions: proportions(sorted, edges, false),
    quantiles: { p, values },
    grid: {
      edges: gridEdges,
      proportions: proportions(sorted, gridEdges, false),
      low_mean: lowN > 0 ? lowSum / lowN : null,
      high_mean: highN > 0 ? highSum / highN : null,
    },
  };
}

function categoricalFeature(name: string, sorted: Float64Array, ignored: number, known?: number[]): CategoricalFeatureProfile {
  const categories = known ? [...known].sort((a, b) => a - b) : distinct(Array.from(sorted));
  if (categories.some((c, i) => !Number.isFinite(c) || (i > 0 && c === categories[i - 1]))) bad(`${name}: categories must be distinct finite numbers`);
  return { name, kind: 'categorical', count: sorted.length, ignored, ...moments(sorted), categories, proportions: proportions(sorted, categories, true) };
}

/** Build a reference profile from a dataset: one TensorData per tensor named in `options.tensors`. */
export function buildProfile(options: BuildProfileOptions, data: Record<string, TensorData>): DriftProfile {
  const bins = options.bins ?? 10;
  const finePerBin = options.finePerBin ?? 10;
  if (!Number.isInteger(bins) || bins < 1 || bins > 1000) bad('bins must be an integer from 1 to 1000');
  if (!Number.isInteger(finePerBin) || finePerBin < 1 || finePerBin > 1000) bad('finePerBin must be an integer from 1 to 1000');
  const tensors = options.tensors.map((spec): ProfileTensor => {
    const tensor = data[spec.name];
    if (!tensor) bad(`no data for tensor ${spec.name}`);
    const derive = spec.derive ?? 'columns';
    const layout = spec.layout ?? 'NCHW';
    const rows = deriveRows(spec.name, derive, tensor.data, tensor.dims, layout);
    const width = derivedWidth(derive, tensor.dims, layout);
    if (spec.features && spec.features.length !== width) bad(`tensor ${spec.name} derives ${width} features, ${spec.features.length} specified`);
    const names = derivedNames(spec.name, derive, width);
    const features = names.map((fallback, c): FeatureProfile => {
      const fs = spec.features?.[c] ?? {};
      const name = fs.name ?? fallback;
      const values: number[] = [];
      let ignored = 0;
      for (let r = 0; r < rows.rows; r++) {
        const v = Number(rows.data[rows.offset + r * rows.rowStride + c * rows.colStride]!);
        if (Number.isFinite(v)) values.push(v);
        else ignored++;
      }
      if (values.length === 0) bad(`feature ${name} has no finite reference values`);
      const sorted = Float64Array.from(values).sort();
      const kind = fs.kind ?? (derive === 'argmax' ? 'categorical' : 'numeric');
      return kind === 'categorical' ? categoricalFeature(name, sorted, ignored, fs.categories) : numericFeature(name, sorted, ignored, bins, finePerBin);
    });
    const out: ProfileTensor = { name: spec.name, role: spec.role, derive, features };
    if (derive === 'image_channel_stats') out.layout = layout;
    return out;
  });
  const names = tensors.flatMap((t) => t.features.map((f) => f.name));
  if (new Set(names).size !== names.length) bad('feature names must be unique');
  return {
    format: PROFILE_FORMAT,
    model: options.model,
    version: options.version,
    created: new Date().toISOString(),
    source: options.source ?? {},
    bins,
    fine_per_bin: finePerBin,
    psi_epsilon: PSI_EPSILON,
    tensors,
  };
}
