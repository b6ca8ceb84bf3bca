// Client-side tensor encoding for /v2/ws: typed arrays to the binary data extension's bytes and
// back, JSON data arrays for text frames. Kept apart from the gateway's tensor table so the client
// imports nothing from the server side but the frame layout.

export type ClientDatatype =
  | 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64'
  | 'FP16' | 'FP32' | 'FP64' | 'BYTES';

export type TypedTensorData =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

/** BYTES tensors: one Uint8Array (or string) per element. Others: a typed array or plain numbers. */
export type ClientTensorData = TypedTensorData | number[] | boolean[] | (Uint8Array | string)[];

export interface ClientTensor {
  name: string;
  datatype: ClientDatatype;
  shape: number[];
  data: ClientTensorData;
  parameters?: Record<string, unknown>;
}

type Ctor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedTensorData; new (length: number): TypedTensorData; BYTES_PER_ELEMENT: number };

const ARRAYS: Record<Exclude<ClientDatatype, 'BYTES'>, Ctor> = {
  BOOL: Uint8Array, UINT8: Uint8Array, INT8: Int8Array, UINT16: Uint16Array, INT16: Int16Array, FP16: Uint16Array,
  UINT32: Uint32Array, INT32: Int32Array, FP32: Float32Array, FP64: Float64Array,
  INT64: BigInt64Array as unknown as Ctor, UINT64: BigUint64Array as unknown as Ctor,
};

function isTyped(data: ClientTensorData): data is TypedTensorData {
  return ArrayBuffer.isView(data);
}

function bytesOf(el: Uint8Array | string): Uint8Array {
  return typeof el === 'string' ? Buffer.from(el, 'utf8') : el;
}

/** The tensor's bytes as the binary data extension lays them out (BYTES: u32 LE length prefixes). */
export function tensorBytes(t: ClientTensor): Uint8Array {
  if (t.datatype === 'BYTES') {
    const els = (t.data as (Uint8Array | string)[]).map(bytesOf);
    const out = Buffer.allocUnsafe(els.reduce((n, e) => n + 4 + e.byteLength, 0));
    let at = 0;
    for (const e of els) {
      out.writeUInt32LE(e.byteLength, at);
      out.set(e, at + 4);
      at += 4 + e.byteLength;
    }
    return out;
  }
  const Array_ = ARRAYS[t.datatype];
  let typed: TypedTensorData;
  if (isTyped(t.data)) typed = t.data;
  else {
    typed = new Array_(t.data.length);
    const big = t.datatype === 'INT64' || t.datatype === 'UINT64';
    (t.data as (number | boolean)[]).forEach((v, i) => ((typed as unknown as unknown[])[i] = big ? BigInt(v as number) : Number(v)));
  }
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

/**
 * JSON-safe data for a text frame: numbers (bigints as numbers); BYTES strings as they are and
 * Uint8Array elements as base64 (JSON cannot carry raw bytes; image inputs accept base64).
 */
export function jsonData(t: ClientTensor): unknown[] {
  if (t.datatype === 'BYTES') return (t.data as (Uint8Array | string)[]).map((e) => (typeof e === 'string' ? e : Buffer.from(e).toString('base64')));
  if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array) return Array.from(t.data, Number);
  if (t.datatype === 'BOOL') return Array.from(t.data as ArrayLike<number | boolean>, (v) => Boolean(v));
  return isTyped(t.data) ? Array.from(t.data as ArrayLike<number>) : (t.data as unknown[]);
}

/** A typed array over `bytes` (copied when misaligned for the element size). */
export function typedFromBytes(datatype: ClientDatatype, bytes: Uint8Array): ClientTensorData {
  if (datatype === 'BYTES') {
    const out: Uint8Array[] = [];
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let at = 0; at + 4 <= bytes.byteLength;) {
      const len = view.getUint32(at, true);
      out.push(bytes.subarray(at + 4, at + 4 + len));
      at += 4 + len;
    }
    return out;
  }
  const Array_ = ARRAYS[datatype];
  const size = Array_.BYTES_PER_ELEMENT;
  // new Uint8Array(view) copies into a fresh buffer (Buffer#slice would not).
  const aligned = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes);
  return new Array_(aligned.buffer, aligned.byteOffset, aligned.byteLength / size);
}
