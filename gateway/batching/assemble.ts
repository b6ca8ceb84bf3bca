// Batch assembly and result splitting. A batch is assembled once: per input, one fresh buffer that
// holds every request's rows back to back, which is then transferred (not cloned) to the worker.
// The outputs come back as one buffer per output and each request gets a view of its own rows.
import type { Datatype } from '../models/config.js';
import { DATATYPE_INFO, datatypeFromOrt, type NumericArray, type Tensor } from '../models/tensors.js';
import type { WireTensor } from '../util/worker-messages.js';
import { bufferPool } from '../util/buffer-pool.js';

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

/**
 * Key under which requests may share a batch: their non-batch dimensions. Inputs are in the model's
 * input order. `batched` false: the whole shape is the key (those run alone anyway).
 */
export function shapeKey(inputs: readonly Tensor[], batched: boolean): string {
  let key = '';
  for (const t of inputs) key += `${(batched ? t.shape.slice(1) : t.shape).join(',')};`;
  return key;
}

/**
 * One wire tensor per input from the requests' tensors (each array in the model's input order).
 * `batched` false: a single request, its shape kept as is.
 */
export function assembleBatch(requests: readonly (readonly Tensor[])[], batched: boolean): WireTensor[] {
  const first = requests[0]!;
  const out: WireTensor[] = [];
  for (let i = 0; i < first.length; i++) {
    const proto = first[i]!;
    const info = DATATYPE_INFO[proto.datatype];
    let rows = 0;
    for (const r of requests) rows += batched ? r[i]!.shape[0]! : 1;
    const dims = batched ? [rows, ...proto.shape.slice(1)] : [...proto.shape];
    if (info.array === undefined) {
      const strings: string[] = [];
      for (const r of requests) for (const b of r[i]!.data as Uint8Array[]) strings.push(utf8.decode(b));
      out.push({ name: proto.name, type: info.ort, dims, data: strings });
      continue;
    }
    if (requests.length === 1 && ownsBuffer(proto.data as NumericArray)) {
      out.push({ name: proto.name, type: info.ort, dims, data: proto.data as NumericArray });
      continue;
    }
    let total = 0;
    for (const r of requests) total += (r[i]!.data as NumericArray).length;
    // From the pool: the worker hands the buffer back after the run (RunResult.recycled).
    const data = new info.array(bufferPool.take(total * info.array.BYTES_PER_ELEMENT), 0, total);
    let offset = 0;
    for (const r of requests) {
      const src = r[i]!.data as NumericArray;
      (data as Float32Array).set(src as Float32Array, offset);
      offset += src.length;
    }
    out.push({ name: proto.name, type: info.ort, dims, data });
  }
  return out;
}

/** A typed array that covers its whole ArrayBuffer can be moved to a worker without a copy. */
function ownsBuffer(a: NumericArray): boolean {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer;
}

/** Split batch outputs back into per-request tensors (views, no copies). `rows[j]` is request j's row count. */
export function splitOutputs(outputs: readonly WireTensor[], rows: readonly number[], batched: boolean): Tensor[][] {
  // Each request's list sized up front (a push onto [] allocates room for 16), and each shape made
  // without a slice and a spread: this runs for every call of every batch.
  const perRequest: Tensor[][] = new Array(rows.length);
  for (let j = 0; j < rows.length; j++) perRequest[j] = new Array(outputs.length);
  for (let k = 0; k < outputs.length; k++) {
    const o = outputs[k]!;
    const datatype: Datatype = datatypeFromOrt(o.type) ?? 'BYTES';
    if (!batched) {
      perRequest[0]![k] = { name: o.name, datatype, shape: o.dims, data: toTensorData(o.data, 0, Infinity) };
      continue;
    }
    const dims = o.dims;
    const total = dims[0] ?? 1;
    const length = Array.isArray(o.data) ? o.data.length : (o.data as NumericArray).length;
    const rowSize = total === 0 ? 0 : length / total;
    let offset = 0;
    for (let j = 0; j < rows.length; j++) {
      const r = rows[j]!;
      const shape = new Array<number>(Math.max(1, dims.length));
      shape[0] = r;
      for (let d = 1; d < dims.length; d++) shape[d] = dims[d]!;
      perRequest[j]![k] = { name: o.name, datatype, shape, data: toTensorData(o.data, offset * rowSize, (offset + r) * rowSize) };
      offset += r;
    }
  }
  return perRequest;
}

function toTensorData(data: ArrayBufferView | string[], start: number, end: number): Tensor['data'] {
  if (Array.isArray(data)) return data.slice(start, end).map((s) => utf8Encoder.encode(s));
  return (data as NumericArray).subarray(start, end);
}
