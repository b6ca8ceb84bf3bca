// How a model tensor becomes drift feature rows. `columns` feeds the tensor itself as a strided
// [N, F] view (no copy); `image_channel_stats` reduces each image to per-channel mean and std (a few
// cheap numbers per image instead of 27,648 pixels); `argmax` turns class scores into the class
// distribution. The profile builder and the gateway's observers use the same functions, so the
// reference and the live windows see the same features.
import { SluiceError } from '../../lib/errors.js';
import type { NumericBuffer } from './ts-window.js';

export type Derive = 'columns' | 'image_channel_stats' | 'argmax';
export type ImageLayout = 'NCHW' | 'NHWC';

/** Rows x cols, element (r, c) at data[offset + r * rowStride + c * colStride]. */
export interface FeatureRows {
  data: NumericBuffer;
  offset: number;
  rows: number;
  cols: number;
  rowStride: number;
  colStride: number;
}

function bad(tensor: string, why: string): never {
  throw new SluiceError('SLUICE_E_NATIVE_BAD_ARGUMENT', `drift: tensor ${tensor} ${why}`, { details: { tensor } });
}

function product(dims: readonly number[], from: number): number {
  let p = 1;
  for (let i = from; i < dims.length; i++) p *= dims[i]!;
  return p;
}

/** How many features a tensor of these dims (batch first) derives to. */
export function derivedWidth(derive: Derive, dims: readonly number[], layout: ImageLayout = 'NCHW'): number {
  if (derive === 'columns') return dims.length <= 1 ? 1 : product(dims, 1);
  if (derive === 'argmax') return 1;
  return 2 * (layout === 'NCHW' ? dims[1]! : dims[dims.length - 1]!);
}

export function deriveRows(tensor: string, derive: Derive, data: NumericBuffer, dims: readonly number[], layout: ImageLayout = 'NCHW'): FeatureRows {
  if (dims.length === 0 || !dims.every((d) => Number.isInteger(d) && d >= 0)) bad(tensor, 'needs a batch dimension');
  const rows = dims[0]!;
  const width = product(dims, 1);
  if (data.length !== rows * width) bad(tensor, `has ${data.length} values for dims [${dims.join(', ')}]`);
  if (derive === 'columns') return { data, offset: 0, rows, cols: width, rowStride: width, colStride: 1 };
  if (derive === 'argmax') {
    if (dims.length !== 2) bad(tensor, 'must be [N, classes] for argmax');
    const out = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let best = NaN;
      let at = -1;
      for (let k = 0; k < width; k++) {
        const v = Number(data[r * width + k]!);
        if (v > best || (at < 0 && v === v)) {
          best = v;
          at = k;
        }
      }
      out[r] = at < 0 ? NaN : at;
    }
    return { data: out, offset: 0, rows, cols: 1, rowStride: 1, colStride: 1 };
  }
  if (dims.length !== 4) bad(tensor, 'must be a 4-d image batch for image_channel_stats');
  const channels = layout === 'NCHW' ? dims[1]! : dims[3]!;
  const plane = width / channels;
  const out = new Float64Array(rows * 2 * channels);
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    for (let c = 0; c < channels; c++) {
      // Two passes per channel: mean, then the sum of squared deviations (population std).
      const start = layout === 'NCHW' ? base + c * plane : base + c;
      const step = layout === 'NCHW' ? 1 : channels;
      let s = 0;
      for (let i = 0; i < plane; i++) s += Number(data[start + i * step]!);
      const mean = s / plane;
      let ss = 0;
      for (let i = 0; i < plane; i++) {
        const d = Number(data[start + i * step]!) - mean;
        ss += d * d;
      }
      out[r * 2 * channels + 2 * c] = mean;
      out[r * 2 * channels + 2 * c + 1] = Math.sqrt(ss / plane);
    }
  }
  return { data: out, offset: 0, rows, cols: 2 * channels, rowStride: 2 * channels, colStride: 1 };
}

/** Default feature names for a derived tensor. */
export function derivedNames(tensor: string, derive: Derive, width: number): string[] {
  if (derive === 'argmax') return [`${tensor}.class`];
  if (derive === 'image_channel_stats') {
    return Array.from({ length: width }, (_, i) => `${tensor}.${i % 2 === 0 ? 'mean' : 'std'}[${i >> 1}]`);
  }
  return width === 1 ? [tensor] : Array.from({ length: width }, (_, i) => `${tensor}[${i}]`);
}
