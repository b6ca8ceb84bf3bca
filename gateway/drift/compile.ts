// A parsed profile.json, checked field by field, and compiled into the plain arrays the windows and
// scores take (WindowLayout + ScoringReference). Validation happens here, once per model load, so
// the window code on the hot path can trust its layout.
import { readFileSync } from 'node:fs';
import { SluiceError } from '../../lib/errors.js';
import { KIND_CATEGORICAL, KIND_NUMERIC, type ScoringReference, type WindowLayout } from './layout.js';
import { PROFILE_FORMAT, type DriftProfile, type FeatureProfile, type ProfileTensor } from './profile.js';
import { binOf } from './ts-window.js';
import type { Derive, ImageLayout } from './derive.js';

export interface CompiledTensor {
  name: string;
  role: 'input' | 'output';
  derive: Derive;
  layout: ImageLayout;
  /** Index of the tensor's first feature in the window. */
  featureBase: number;
  features: number;
}

export interface CompiledProfile {
  profile: DriftProfile;
  /** Feature names in window order. */
  features: string[];
  kinds: ('numeric' | 'categorical')[];
  tensors: CompiledTensor[];
  layout: WindowLayout;
  reference: ScoringReference;
}

function bad(where: string, why: string): never {
  throw new SluiceError('SLUICE_E_CONFIG_INVALID', `drift profile ${where}: ${why}`, { details: { file: where } });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const numbers = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
const increasing = (v: number[]): boolean => v.every((x, i) => i === 0 || v[i - 1]! < x);

function checkProportions(where: string, field: string, v: unknown, length: number): void {
  if (!numbers(v) || v.length !== length || v.some((x) => x < 0)) bad(where, `${field} must be ${length} non-negative numbers`);
  const sum = v.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > 1e-6) bad(where, `${field} must sum to 1 (sums to ${sum})`);
}

function checkFeature(where: string, f: unknown): FeatureProfile {
  if (!isObject(f) || typeof f.name !== 'string' || f.name === '') bad(where, 'every feature needs a name');
  const at = `feature ${f.name}`;
  if (typeof f.count !== 'number' || !(f.count > 0)) bad(where, `${at}: count must be positive`);
  for (const k of ['mean', 'std', 'min', 'max'] as const) if (typeof f[k] !== 'number') bad(where, `${at}: ${k} must be a number`);
  if (f.kind === 'numeric') {
    if (!numbers(f.edges) || !increasing(f.edges)) bad(where, `${at}: edges must be increasing numbers`);
    checkProportions(where, `${at}: proportions`, f.proportions, f.edges.length + 1);
    const grid = f.grid;
    if (!isObject(grid) || !numbers(grid.edges) || !increasing(grid.edges)) bad(where, `${at}: grid.edges must be increasing numbers`);
    checkProportions(where, `${at}: grid.proportions`, grid.proportions, grid.edges.length + 1);
    const gridEdges = new Set(grid.edges);
    if (!f.edges.every((e) => gridEdges.has(e))) bad(where, `${at}: every PSI edge must also be a grid edge`);
    for (const k of ['low_mean', 'high_mean'] as const) {
      if (grid[k] !== null && (typeof grid[k] !== 'number' || !Number.isFinite(grid[k]))) bad(where, `${at}: grid.${k} must be a number or null`);
    }
    return f as unknown as FeatureProfile;
  }
  if (f.kind === 'categorical') {
    if (!numbers(f.categories) || !increasing(f.categories)) bad(where, `${at}: categories must be increasing numbers`);
    checkProportions(where, `${at}: proportions`, f.proportions, f.categories.length + 1);
    return f as unknown as FeatureProfile;
  }
  bad(where, `${at}: kind must be numeric or categorical`);
}

/** Validate a parsed profile.json (`where` names the file in errors). */
export function parseProfile(raw: unknown, where: string): DriftProfile {
  if (!isObject(raw) || raw.format !== PROFILE_FORMAT) bad(where, `format must be ${PROFILE_FORMAT}`);
  if (!Array.isArray(raw.tensors) || raw.tensors.length === 0) bad(where, 'tensors must be a non-empty array');
  const names = new Set<string>();
  for (const t of raw.tensors as unknown[]) {
    if (!isObject(t) || typeof t.name !== 'string') bad(where, 'every tensor needs a name');
    if (t.role !== 'input' && t.role !== 'output') bad(where, `tensor ${t.name}: role must be input or output`);
    if (!['columns', 'image_channel_stats', 'argmax'].includes(t.derive as string)) bad(where, `tensor ${t.name}: derive must be columns, image_channel_stats or argmax`);
    if (t.layout !== undefined && t.layout !== 'NCHW' && t.layout !== 'NHWC') bad(where, `tensor ${t.name}: layout must be NCHW or NHWC`);
    if (!Array.isArray(t.features) || t.features.length === 0) bad(where, `tensor ${t.name}: features must be a non-empty array`);
    for (const f of t.features as unknown[]) {
      const feature = checkFeature(where, f);
      if (names.has(feature.name)) bad(where, `feature ${feature.name} appears twice`);
      names.add(feature.name);
    }
  }
  return raw as unknown as DriftProfile;
}

export function readProfile(path: string): DriftProfile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new SluiceError(missing ? 'SLUICE_E_CONFIG_FILE_MISSING' : 'SLUICE_E_CONFIG_INVALID', `drift profile ${path} ${missing ? 'is missing' : `cannot be read: ${(err as Error).message}`}`, { cause: err, details: { file: path } });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `drift profile ${path} is not valid JSON: ${(err as Error).message}`, { cause: err, details: { file: path } });
  }
  return parseProfile(raw, path);
}

/** Flatten a (validated) profile into window layout and scoring arrays, features in tensor order. */
export function compileProfile(profile: DriftProfile): CompiledProfile {
  const features: string[] = [];
  const kinds: ('numeric' | 'categorical')[] = [];
  const edges: number[] = [];
  const edgeOffsets = [0];
  const refBins: number[] = [];
  const coarseMap: number[] = [];
  const coarseOffsets = [0];
  const refCoarse: number[] = [];
  const refInfo: number[] = [];
  const tensors: CompiledTensor[] = profile.tensors.map((t: ProfileTensor) => {
    const featureBase = features.length;
    for (const f of t.features) {
      features.push(f.name);
      kinds.push(f.kind);
      if (f.kind === 'numeric') {
        edges.push(...f.grid.edges);
        refBins.push(...f.grid.proportions);
        const coarse = Float64Array.from(f.edges);
        coarseMap.push(0);
        for (const lower of f.grid.edges) coarseMap.push(binOf(coarse, 0, coarse.length, lower, false));
        refCoarse.push(...f.proportions);
        refInfo.push(f.count, f.grid.low_mean ?? NaN, f.grid.high_mean ?? NaN);
      } else {
        edges.push(...f.categories);
        refBins.push(...f.proportions);
        for (let j = 0; j <= f.categories.length; j++) coarseMap.push(j);
        refCoarse.push(...f.proportions);
        refInfo.push(f.count, NaN, NaN);
      }
      edgeOffsets.push(edges.length);
      coarseOffsets.push(refCoarse.length);
    }
    return { name: t.name, role: t.role, derive: t.derive, layout: t.layout ?? 'NCHW', featureBase, features: t.features.length };
  });
  return {
    profile,
    features,
    kinds,
    tensors,
    layout: {
      kinds: Uint8Array.from(kinds.map((k) => (k === 'categorical' ? KIND_CATEGORICAL : KIND_NUMERIC))),
      edges: Float64Array.from(edges),
      edgeOffsets: Int32Array.from(edgeOffsets),
    },
    reference: {
      refBins: Float64Array.from(refBins),
      coarseMap: Int32Array.from(coarseMap),
      coarseOffsets: Int32Array.from(coarseOffsets),
      refCoarse: Float64Array.from(refCoarse),
      refInfo: Float64Array.from(refInfo),
    },
  };
}
