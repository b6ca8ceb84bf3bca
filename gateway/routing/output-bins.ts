// How a rollout bins the outputs of its two versions so the control plane can compare their
// distributions (PSI): on the stable version's drift profile when it describes an output (its PSI
// edges, or its categories plus "other"), else one bin per class of every classifier output
// (`argmax:<tensor>`). Built once per rollout; observe() only walks the answer's typed arrays and
// adds into counts preallocated by the caller.
import type { TensorConfig } from '../models/config.js';
import type { Tensor } from '../models/tensors.js';
import type { DriftProfile } from '../drift/profile.js';
import { binOf } from '../drift/ts-window.js';

const COLUMN = 0;
const ARGMAX = 1;

export interface BinnedFeature {
  /** The feature's name on the wire (the profile's, or `argmax:<tensor>`). */
  feature: string;
  tensor: string;
  /** COLUMN: the value at `column` of each row; ARGMAX: the index of the row's largest value. */
  mode: number;
  column: number;
  /** Numeric: PSI edges (bins = edges + 1); categorical: the category values (bins = categories + 1, last "other"). */
  edges: Float64Array;
  categorical: boolean;
  /** One bin per class, indexed directly (argmax without a profile). */
  direct: boolean;
  bins: number;
}

export class OutputBinning {
  readonly features: readonly BinnedFeature[];
  /** Where each feature's bins start in a flat count array; the last entry is its length. */
  readonly offsets: Int32Array;

  constructor(features: BinnedFeature[]) {
    this.features = features;
    this.offsets = new Int32Array(features.length + 1);
    for (let i = 0; i < features.length; i++) this.offsets[i + 1] = this.offsets[i]! + features[i]!.bins;
  }

  get size(): number {
    return this.offsets[this.features.length]!;
  }

  /**
   * The binning of a rollout whose stable version has these outputs (dims without the batch
   * dimension when `batched`) and, maybe, this drift profile.
   */
  static of(outputs: readonly TensorConfig[], batched: boolean, profile: DriftProfile | undefined): OutputBinning {
    const features: BinnedFeature[] = [];
    const profiled = new Set<string>();
    for (const t of profile?.tensors ?? []) {
      if (t.role !== 'output' || (t.derive !== 'columns' && t.derive !== 'argmax')) continue;
      if (!outputs.some((o) => o.name === t.name)) continue;
      profiled.add(t.name);
      t.features.forEach((f, c) => {
        const categorical = f.kind === 'categorical';
        const edges = Float64Array.from(categorical ? f.categories : f.edges);
        features.push({ feature: f.name, tensor: t.name, mode: t.derive === 'argmax' ? ARGMAX : COLUMN, column: c, edges, categorical, direct: false, bins: edges.length + 1 });
      });
    }
    for (const o of outputs) {
      if (profiled.has(o.name)) continue;
      const dims = batched ? o.dims : o.dims.slice(1);
      const classes = dims.length === 1 ? dims[0]! : -1;
      if (!(classes > 1)) continue;
      features.push({ feature: `argmax:${o.name}`, tensor: o.name, mode: ARGMAX, column: 0, edges: new Float64Array(0), categorical: true, direct: true, bins: classes });
    }
    return new OutputBinning(features);
  }

  /** Add one answer's rows into `counts` (length `size`). Outputs the answer lacks are skipped. */
  observe(tensors: readonly Tensor[], counts: Float64Array): void {
    const features = this.features;
    for (let i = 0; i < features.length; i++) {
      const f = features[i]!;
      let t: Tensor | undefined;
      for (let k = 0; k < tensors.length; k++) if (tensors[k]!.name === f.tensor) t = tensors[k];
      if (t === undefined || Array.isArray(t.data)) continue;
      const data = t.data as ArrayLike<number | bigint>;
      const shape = t.shape;
      const rows = shape.length === 0 ? 1 : shape[0]!;
      if (rows === 0) continue;
      const width = data.length / rows;
      const at = this.offsets[i]!;
      for (let r = 0; r < rows; r++) {
        let v: number;
        if (f.mode === COLUMN) {
          if (f.column >= width) break;
          v = Number(data[r * width + f.column]!);
        } else {
          v = argmaxOf(data, r * width, width);
        }
        if (v !== v) continue; // NaN: no bin, as the drift windows count it apart
        const bin = f.direct ? (v >= 0 && v < f.bins ? v : -1) : binOf(f.edges, 0, f.edges.length, v, f.categorical);
        if (bin >= 0) counts[at + bin]!++;
      }
    }
  }
}

/** Index of the largest value of data[from .. from + width) (the first on ties; NaN when all are NaN). */
export function argmaxOf(data: ArrayLike<number | bigint>, from: number, width: number): number {
  let best = NaN;
  let at = NaN;
  for (let k = 0; k < width; k++) {
    const v = Number(data[from + k]!);
    if (v > best || (at !== at && v === v)) {
      best = v;
      at = k;
    }
  }
  return at;
}
