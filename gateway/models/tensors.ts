// Tensors as they travel between the protocol decoders, the batcher and the workers: a name, an
// Open Inference Protocol datatype, a shape and a typed array (or byte strings for BYTES).
// One table maps each datatype to its element size, typed array and ONNX Runtime type, so the
// decoders, the batch assembly and the workers agree.
import type { Datatype } from './config.js';

export type NumericArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

/** BYTES tensors hold one byte string per element; every other datatype a typed array. */
export type TensorData = NumericArray | Uint8Array[];

export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: TensorData;
}

/** ONNX Runtime's names for tensor element types (onnxruntime-common Tensor.Type). */
export type OrtType =
  | 'float32' | 'float64' | 'float16' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32'
  | 'int64' | 'uint64' | 'bool' | 'string';

type ArrayCtor = { new (length: number): NumericArray; new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericArray; BYTES_PER_ELEMENT: number };

export interface DatatypeInfo {
  /** Bytes per element; 0 for BYTES (variable). */
  bytes: number;
  ort: OrtType;
  /** Typed array class; FP16 travels as Uint16Array (Node 20 has no Float16Array, ORT takes float16 as Uint16Array). */
  array: ArrayCtor | undefined;
}

export const DATATYPE_INFO: Record<Datatype, DatatypeInfo> = {
  BOOL: { bytes: 1, ort: 'bool', array: Uint8Array },
  UINT8: { bytes: 1, ort: 'uint8', array: Uint8Array },
  UINT16: { bytes: 2, ort: 'uint16', array: Uint16Array },
  UINT32: { bytes: 4, ort: 'uint32', array: Uint32Array },
  UINT64: { bytes: 8, ort: 'uint64', array: BigUint64Array as unknown as ArrayCtor },
  INT8: { bytes: 1, ort: 'int8', array: Int8Array },
  INT16: { bytes: 2, ort: 'int16', array: Int16Array },
  INT32: { bytes: 4, ort: 'int32', array: Int32Array },
  INT64: { bytes: 8, ort: 'int64', array: BigInt64Array as unknown as ArrayCtor },
  FP16: { bytes: 2, ort: 'float16', array: Uint16Array },
  FP32: { bytes: 4, ort: 'float32', array: Float32Array },
  FP64: { bytes: 8, ort: 'float64', array: Float64Array },
  BYTES: { bytes: 0, ort: 'string', array: undefined },
};

const FROM_ORT: Record<string, Datatype> = Object.fromEntries(
  (Object.entries(DATATYPE_INFO) as [Datatype, DatatypeInfo][]).map(([dt, info]) => [info.ort, dt]),
);

/** The OIP datatype of an ONNX Runtime element type, or undefined when Sluice cannot serve it. */
export function datatypeFromOrt(type: string): Datatype | undefined {
  return FROM_ORT[type];
}

/** Number of elements of a shape (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

// IEEE 754 half <-> single conversion through a shared scratch word; round-to-nearest-even.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++; // a carry into the exponent is the right rounding
  return sign | half;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
