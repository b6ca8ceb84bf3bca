// The only module that loads the compiled addon. Callers get a typed binding; argument
// validation and lifetimes live with the callers (gateway/), the C++ side re-checks cheaply.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { SluiceError } from '../lib/errors.js';

export interface NativeBinding {
  readonly abiVersion: number;
  /** Writes one decoded image into its slot of a model input (see ImageTensorOptions). */
  imageToTensor(options: ImageTensorOptions): void;
  /** Drift histograms and moments; see gateway/drift/window.ts, which validates and owns them. */
  /** `state`: a Float64Array over a SharedArrayBuffer to keep the state in (else the addon's own memory). */
  DriftWindow: new (kinds: Uint8Array, edges: Float64Array, edgeOffsets: Int32Array, state?: Float64Array) => NativeDriftWindow;
  /** Kolmogorov's limiting survival function Q(lambda) = P(K > lambda). */
  driftKolmogorovQ(lambda: number): number;
  /** P(X > x) for X ~ chi-squared(df). */
  driftChiSquaredPValue(x: number, df: number): number;
  /**
   * listen() again, with `backlog`, on every listening TCP socket of this process bound to `port`
   * (Linux changes the accept-queue bound in place); returns how many it changed.
   */
  raiseListenBacklog(port: number, backlog: number): number;
}

/**
 * One image for imageToTensor: interleaved HWC pixels in, (x * scale - mean[c]) / std[c] out at
 * dst[dstOffset..], CHW or HWC, padded right and bottom to dstWidth x dstHeight with padValue.
 */
export interface ImageTensorOptions {
  src: Uint8Array;
  srcWidth: number;
  srcHeight: number;
  /** 1 to 4 */
  srcChannels: number;
  dst: Float32Array;
  dstOffset: number;
  dstWidth: number;
  dstHeight: number;
  chw: boolean;
  /** The source channel of each output channel (1 to 4 entries). */
  channelMap: Int32Array;
  scale: number;
  mean: Float32Array;
  std: Float32Array;
  padValue: number;
}

export interface NativeDriftWindow {
  readonly disposed: boolean;
  /** Length of the state (and of every snapshot) in doubles. */
  readonly length: number;
  update(
    data: Float32Array | Float64Array | Int32Array | BigInt64Array,
    offset: number,
    rows: number,
    cols: number,
    rowStride: number,
    colStride: number,
    featureBase: number,
  ): void;
  /**
   * The same, with offset, rows, cols, rowStride, colStride and featureBase read from the view bound by bindView.
   * Each window's `update` is its own property, bound to that window (the call skips napi_unwrap).
   */
  update(data: Float32Array | Float64Array | Int32Array | BigInt64Array): void;
  /** `view`: 6 numbers over a SharedArrayBuffer, kept for update(data). */
  bindView(view: Float64Array): void;
  merge(other: NativeDriftWindow): void;
  mergeSnapshot(snapshot: Float64Array): void;
  snapshot(): Float64Array;
  snapshotInto(out: Float64Array): void;
  rotate(): Float64Array;
  reset(): void;
  scores(refBins: Float64Array, coarseMap: Int32Array, coarseOffsets: Int32Array, refCoarse: Float64Array,
    refInfo: Float64Array, out: Float64Array): void;
  dispose(): void;
}

// dist/native/index.js -> the package root, where node-gyp put build/.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CANDIDATES = ['build/Release/sluice_native.node', 'build/Debug/sluice_native.node'];

let binding: NativeBinding | undefined;
let loadError: unknown;

function load(): NativeBinding {
  const require = createRequire(import.meta.url);
  // Another build of the same addon, e.g. native/asan.sh's AddressSanitizer build.
  const override = process.env.SLUICE_NATIVE_ADDON;
  if (override) return require(override) as NativeBinding;
  for (const rel of CANDIDATES) {
    const path = join(ROOT, rel);
    if (existsSync(path)) return require(path) as NativeBinding;
  }
  throw new Error(`sluice_native.node not found under ${join(ROOT, 'build')} (run npm ci or npx node-gyp rebuild)`);
}

/** The addon, loaded once per thread. Throws SLUICE_E_NATIVE_UNAVAILABLE when it was not built. */
export function native(): NativeBinding {
  if (binding) return binding;
  if (loadError === undefined) {
    try {
      binding = load();
      return binding;
    } catch (err) {
      loadError = err;
    }
  }
  throw new SluiceError('SLUICE_E_NATIVE_UNAVAILABLE', 'the native addon could not be loaded', { cause: loadError });
}

/** True when the addon loads in this thread; the TypeScript fallbacks are used otherwise. */
export function nativeAvailable(): boolean {
  try {
    native();
    return true;
  } catch {
    return false;
  }
}
