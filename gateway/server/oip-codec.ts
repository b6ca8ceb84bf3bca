// Open Inference Protocol (KServe V2) request/response codec with the binary tensor data extension.
// Transport-free: HTTP calls it on a body split at Inference-Header-Content-Length, the WebSocket
// endpoint on a frame (JSON header + raw bytes). JSON `data` becomes typed arrays here; binary
// inputs become typed-array views over the received bytes (copied only when misaligned).
import { SluiceError } from '../../lib/errors.js';
import { DATATYPES, type Datatype, type TensorConfig } from '../models/config.js';
import { DATATYPE_INFO, elementCount, floatToHalf, halfToFloat, type NumericArray, type Tensor, type TensorData } from '../models/tensors.js';
import type { InferenceRequest, InferenceResponse, OutputTensor, RequestedOutput } from '../inference/inference-service.js';

/** What the body of an infer call says; the transport adds model, version, signal. */
export type DecodedInferenceRequest = Pick<InferenceRequest, 'id' | 'inputs' | 'outputs' | 'binaryOutput' | 'parameters'>;

const INT_RANGE: Partial<Record<Datatype, [number, number]>> = {
  INT8: [-128, 127], UINT8: [0, 255], INT16: [-32768, 32767], UINT16: [0, 65535],
  INT32: [-2147483648, 2147483647], UINT32: [0, 4294967295],
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(code: 'SLUICE_E_HTTP_BAD_JSON' | 'SLUICE_E_HTTP_BAD_REQUEST' | 'SLUICE_E_PROTOCOL_BAD_INPUT' | 'SLUICE_E_PROTOCOL_BAD_DATATYPE' | 'SLUICE_E_PROTOCOL_BAD_SHAPE' | 'SLUICE_E_PROTOCOL_BAD_DATA' | 'SLUICE_E_PROTOCOL_BAD_BINARY' | 'SLUICE_E_PROTOCOL_BAD_OUTPUT' | 'SLUICE_E_PROTOCOL_BAD_PARAMETER', message: string): never {
  throw new SluiceError(code, message);
}

/**
 * The raw binary request of the binary tensor data extension (`Inference-Header-Content-Length:
 * 0`, no JSON header): the whole body is the data of a single-input model's one input. Its
 * datatype comes from the signature and its shape too, the one variable dimension (the batch
 * dimension of a batching model, or a -1 dim) taking what the byte count gives. A model with more
 * inputs, more than one variable dimension or a BYTES input needs a JSON header.
 */
export function decodeRawBinaryRequest(signature: readonly TensorConfig[], batched: boolean, body: Uint8Array): DecodedInferenceRequest {
  if (signature.length !== 1) {
    bad('SLUICE_E_PROTOCOL_BAD_BINARY', `a raw binary request (Inference-Header-Content-Length: 0) needs a model with one input; this one has ${signature.length}`);
  }
  const input = signature[0]!;
  const info = DATATYPE_INFO[input.datatype];
  const dims = batched ? [-1, ...input.dims] : [...input.dims];
  const variable = dims.filter((d) => d === -1).length;
  if (info.array === undefined || variable > 1) {
    bad('SLUICE_E_PROTOCOL_BAD_BINARY', `input ${input.name} (${input.datatype} [${dims.join(',')}]) cannot take a raw binary request: its shape does not follow from the byte count; send a JSON header`);
  }
  let fixed = info.bytes;
  for (const d of dims) if (d !== -1) fixed *= d;
  if (fixed === 0 || body.byteLength % fixed !== 0 || (variable === 0 && body.byteLength !== fixed) || body.byteLength === 0) {
    bad('SLUICE_E_PROTOCOL_BAD_BINARY', `a raw binary body of ${body.byteLength} bytes is not a whole ${input.datatype} tensor of shape [${dims.join(',')}]`);
  }
  const shape = dims.map((d) => (d === -1 ? body.byteLength / fixed : d));
  const tensor: Tensor = { name: input.name, datatype: input.datatype, shape, data: [] };
  tensor.data = binaryData(tensor, body);
  return { inputs: [tensor] };
}

/** Parse a JSON header given as text or UTF-8 bytes. */
export function parseJsonHeader(header: string | Uint8Array): unknown {
  const text = typeof header === 'string' ? header
    : Buffer.isBuffer(header) ? header.toString('utf8') : Buffer.from(header.buffer, header.byteOffset, header.byteLength).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return bad('SLUICE_E_HTTP_BAD_JSON', 'request body is not valid JSON');
  }
}

/**
 * Decode an inference request. `header` is the JSON object (text, bytes, or already parsed);
 * `binary` the bytes that follow it under the binary extension (undefined or empty when none).
 */
export function decodeInferenceRequest(header: string | Uint8Array | Record<string, unknown>, binary?: Uint8Array): DecodedInferenceRequest {
  const body = typeof header === 'string' || header instanceof Uint8Array ? parseJsonHeader(header) : header;
  if (!isObject(body)) bad('SLUICE_E_HTTP_BAD_JSON', 'request body must be a JSON object');
  const out: DecodedInferenceRequest = { inputs: [] };
  if (body.id !== undefined) {
    if (typeof body.id !== 'string') bad('SLUICE_E_HTTP_BAD_REQUEST', 'id must be a string');
    out.id = body.id;
  }
  if (body.parameters !== undefined) {
    if (!isObject(body.parameters)) bad('SLUICE_E_PROTOCOL_BAD_PARAMETER', 'parameters must be an object');
    out.parameters = body.parameters;
    const bdo = body.parameters.binary_data_output;
    if (bdo !== undefined) {
      if (typeof bdo !== 'boolean') bad('SLUICE_E_PROTOCOL_BAD_PARAMETER', 'parameter binary_data_output must be a boolean');
      out.binaryOutput = bdo;
    }
  }
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) bad('SLUICE_E_PROTOCOL_BAD_INPUT', 'inputs must be a non-empty array');
  const bytes = binary ?? NO_BYTES;
  let offset = 0;
  // Sized up front: a push onto [] allocates room for 16.
  out.inputs = new Array(body.inputs.length);
  for (let i = 0; i < body.inputs.length; i++) {
    const raw: unknown = body.inputs[i];
    const tensor = decodeInputHeader(raw, i);
    const size = (raw as { parameters?: { binary_data_size?: unknown } }).parameters?.binary_data_size;
    if (size !== undefined) {
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) {
        bad('SLUICE_E_PROTOCOL_BAD_BINARY', `input ${tensor.name}: binary_data_size must be a non-negative integer`);
      }
      if (offset + size > bytes.byteLength) {
        bad('SLUICE_E_PROTOCOL_BAD_BINARY', `input ${tensor.name}: binary_data_size ${size} goes past the ${bytes.byteLength} bytes of binary data`);
      }
      tensor.data = binaryData(tensor, bytes.subarray(offset, offset + size));
      offset += size;
    } else {
      const data = (raw as Record<string, unknown>).data;
      if (data === undefined) bad('SLUICE_E_PROTOCOL_BAD_DATA', `input ${tensor.name} has neither data nor parameters.binary_data_size`);
      tensor.data = jsonData(tensor, data);
    }
    out.inputs[i] = tensor;
  }
  if (offset !== bytes.byteLength) {
    bad('SLUICE_E_PROTOCOL_BAD_BINARY', `binary data is ${bytes.byteLength} bytes but the inputs' binary_data_size add up to ${offset}`);
  }
  // An empty list asks for nothing in particular: all outputs, as Triton and KServe answer it.
  if (body.outputs !== undefined) {
    const outputs = decodeRequestedOutputs(body.outputs);
    if (outputs.length > 0) out.outputs = outputs;
  }
  return out;
}

/** A placeholder for data not decoded yet, and the binary part of a call without one (never written to). */
const NO_BYTES = new Uint8Array(0);

/** A coded 400 for one bad element (a function, not a closure made per decoded input). */
function wrongData(tensor: Tensor, i: number, what: string): never {
  return bad('SLUICE_E_PROTOCOL_BAD_DATA', `input ${tensor.name}: data[${i}] must be ${what} for datatype ${tensor.datatype}`);
}

function decodeInputHeader(raw: unknown, index: number): Tensor {
  if (!isObject(raw)) bad('SLUICE_E_PROTOCOL_BAD_INPUT', `inputs[${index}] must be an object`);
  if (typeof raw.name !== 'string' || raw.name === '') bad('SLUICE_E_PROTOCOL_BAD_INPUT', `inputs[${index}].name must be a non-empty string`);
  const name = raw.name;
  if (typeof raw.datatype !== 'string' || !(DATATYPES as readonly string[]).includes(raw.datatype)) {
    bad('SLUICE_E_PROTOCOL_BAD_DATATYPE', `input ${name}: datatype must be one of ${DATATYPES.join(', ')}`);
  }
  const shape = raw.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    bad('SLUICE_E_PROTOCOL_BAD_SHAPE', `input ${name}: shape must be an array of non-negative integers`);
  }
  if (raw.parameters !== undefined && !isObject(raw.parameters)) bad('SLUICE_E_PROTOCOL_BAD_PARAMETER', `input ${name}: parameters must be an object`);
  return { name, datatype: raw.datatype as Datatype, shape: shape as number[], data: NO_BYTES };
}

function decodeRequestedOutputs(raw: unknown): RequestedOutput[] {
  if (!Array.isArray(raw)) bad('SLUICE_E_PROTOCOL_BAD_OUTPUT', 'outputs must be an array');
  return raw.map((o: unknown, i) => {
    if (!isObject(o) || typeof o.name !== 'string' || o.name === '') bad('SLUICE_E_PROTOCOL_BAD_OUTPUT', `outputs[${i}] must be an object with a name`);
    const out: RequestedOutput = { name: o.name };
    if (o.parameters !== undefined) {
      if (!isObject(o.parameters)) bad('SLUICE_E_PROTOCOL_BAD_PARAMETER', `output ${o.name}: parameters must be an object`);
      const b = o.parameters.binary_data;
      if (b !== undefined) {
        if (typeof b !== 'boolean') bad('SLUICE_E_PROTOCOL_BAD_PARAMETER', `output ${o.name}: parameters.binary_data must be a boolean`);
        out.binary = b;
      }
    }
    return out;
  });
}

/** Typed-array view over binary bytes (a copy only when the bytes are misaligned for the element size). */
function binaryData(tensor: Tensor, bytes: Uint8Array): TensorData {
  const info = DATATYPE_INFO[tensor.datatype];
  const count = elementCount(tensor.shape);
  if (info.array === undefined) return splitBytesElements(tensor.name, bytes, count);
  if (bytes.byteLength !== count * info.bytes) {
    bad('SLUICE_E_PROTOCOL_BAD_BINARY', `input ${tensor.name}: binary_data_size is ${bytes.byteLength} bytes, shape [${tensor.shape.join(',')}] of ${tensor.datatype} needs ${count * info.bytes}`);
  }
  // new Uint8Array(view) copies (Buffer#slice would not): the copy starts at offset 0, aligned.
  const aligned = bytes.byteOffset % info.bytes === 0 ? bytes : new Uint8Array(bytes);
  const view = new info.array(aligned.buffer, aligned.byteOffset, count);
  if (tensor.datatype === 'BOOL') for (let i = 0; i < view.length; i++) if ((view[i] as number) > 1) bad('SLUICE_E_PROTOCOL_BAD_DATA', `input ${tensor.name}: BOOL bytes must be 0 or 1`);
  return view;
}

/** BYTES elements in binary form: each a 4-byte little-endian length followed by the bytes. */
function splitBytesElements(name: string, bytes: Uint8Array, count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  while (p < bytes.byteLength) {
    if (p + 4 > bytes.byteLength) bad('SLUICE_E_PROTOCOL_BAD_BINARY', `input ${name}: BYTES element length prefix is cut off`);
    const len = view.getUint32(p, true);
    p += 4;
    if (p + len > bytes.byteLength) bad('SLUICE_E_PROTOCOL_BAD_BINARY', `input ${name}: BYTES element of ${len} bytes goes past the binary data`);
    out.push(bytes.subarray(p, p + len));
    p += len;
  }
  if (out.length !== count) bad('SLUICE_E_PROTOCOL_BAD_DATA', `input ${name} has ${out.length} BYTES elements, its shape needs ${count}`);
  return out;
}

/** Nested `data` flattened; nesting so deep it overflows the stack is the client's error, not a 500. */
function flatten(name: string, raw: unknown[]): unknown[] {
  try {
    return raw.flat(Infinity);
  } catch (err) {
    if (err instanceof RangeError) bad('SLUICE_E_PROTOCOL_BAD_DATA', `input ${name}: data is nested too deeply`);
    throw err;
  }
}

function jsonData(tensor: Tensor, raw: unknown): TensorData {
  if (!Array.isArray(raw)) bad('SLUICE_E_PROTOCOL_BAD_DATA', `input ${tensor.name}: data must be an array`);
  const flat: unknown[] = raw.some(Array.isArray) ? flatten(tensor.name, raw) : raw;
  const count = elementCount(tensor.shape);
  if (flat.length !== count) {
    bad('SLUICE_E_PROTOCOL_BAD_DATA', `input ${tensor.name} has ${flat.length} values, its shape [${tensor.shape.join(',')}] needs ${count}`);
  }
  const dt = tensor.datatype;
  switch (dt) {
    case 'BYTES':
      return flat.map((v, i) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : wrongData(tensor, i, 'a string')));
    case 'BOOL': {
      const a = new Uint8Array(count);
      for (let i = 0; i < count; i++) {
        const v = flat[i];
        if (typeof v !== 'boolean') wrongData(tensor, i, 'true or false');
        a[i] = v ? 1 : 0;
      }
      return a;
    }
    case 'INT64':
    case 'UINT64': {
      const a = dt === 'INT64' ? new BigInt64Array(count) : new BigUint64Array(count);
      const [min, max] = dt === 'INT64' ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
      for (let i = 0; i < count; i++) {
        const v = flat[i];
        let b: bigint;
        if (typeof v === 'number' && Number.isInteger(v)) b = BigInt(v);
        else if (typeof v === 'string' && /^-?[0-9]{1,20}$/.test(v)) b = BigInt(v);
        else return wrongData(tensor, i, 'an integer');
        if (b < min || b > max) wrongData(tensor, i, 'an integer in range');
        a[i] = b;
      }
      return a;
    }
    case 'FP16': {
      const a = new Uint16Array(count);
      for (let i = 0; i < count; i++) {
        const v = flat[i];
        if (typeof v === 'number') a[i] = floatToHalf(v);
        else if (typeof v === 'string' && NON_FINITE.has(v)) a[i] = floatToHalf(NON_FINITE.get(v)!);
        else wrongData(tensor, i, 'a number (or "NaN", "Infinity", "-Infinity")');
      }
      return a;
    }
    case 'FP32':
    case 'FP64': {
      const a = dt === 'FP32' ? new Float32Array(count) : new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const v = flat[i];
        if (typeof v === 'number') a[i] = v;
        else if (typeof v === 'string' && NON_FINITE.has(v)) a[i] = NON_FINITE.get(v)!;
        else wrongData(tensor, i, 'a number (or "NaN", "Infinity", "-Infinity")');
      }
      return a;
    }
    default: {
      const info = DATATYPE_INFO[dt];
      const [min, max] = INT_RANGE[dt]!;
      const a = new info.array!(count) as Int32Array;
      for (let i = 0; i < count; i++) {
        const v = flat[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) wrongData(tensor, i, `an integer from ${min} to ${max}`);
        a[i] = v as number;
      }
      return a;
    }
  }
}

export interface EncodedResponse {
  /** The JSON object (the whole body when `binary` is empty). */
  header: string;
  /** Raw output bytes, in output order, after the header (binary extension); a shared empty array when none. */
  binary: readonly Uint8Array[];
  binaryLength: number;
}

/** Encode an inference response as OIP JSON, with binary outputs appended when asked for. */
export function encodeInferenceResponse(response: InferenceResponse): EncodedResponse {
  let json = responseHead(response.model, response.version);
  if (response.id !== undefined) json += `,"id":${JSON.stringify(response.id)}`;
  json += ',"outputs":[';
  let binary: Uint8Array[] = NO_BINARY;
  let binaryLength = 0;
  for (let i = 0; i < response.outputs.length; i++) {
    const o = response.outputs[i]!;
    if (i > 0) json += ',';
    json += outputHead(o.name, o.datatype) + shapeJson(o.shape);
    if (o.binary) {
      const bytes = outputBytes(o);
      if (binary === NO_BINARY) binary = [];
      binary.push(bytes);
      binaryLength += bytes.byteLength;
      json += `],"parameters":{"binary_data_size":${bytes.byteLength}}}`;
    } else {
      json += `],"data":${jsonArray(o)}}`;
    }
  }
  json += ']}';
  return { header: json, binary, binaryLength };
}

const NO_BINARY: Uint8Array[] = [];

// The fixed parts of an answer, made once per model version and output rather than per call: the
// strings a response is built from are most of what encoding allocates (issue 20). Names come from
// model configs, so the caches hold what the gateway serves; the bound is for safety only.
const FRAGMENTS_MAX = 4096;
const heads = new Map<string, Map<string, string>>();
const outputHeads = new Map<string, Map<string, string>>();
let fragments = 0;

function cached(cache: Map<string, Map<string, string>>, a: string, b: string): string | undefined {
  return cache.get(a)?.get(b);
}

function remember(cache: Map<string, Map<string, string>>, a: string, b: string, text: string): string {
  if (fragments >= FRAGMENTS_MAX) {
    heads.clear();
    outputHeads.clear();
    fragments = 0;
  }
  let inner = cache.get(a);
  if (inner === undefined) cache.set(a, (inner = new Map()));
  inner.set(b, text);
  fragments++;
  return text;
}

function responseHead(model: string, version: string): string {
  return cached(heads, model, version) ?? remember(heads, model, version, `{"model_name":${JSON.stringify(model)},"model_version":${JSON.stringify(version)}`);
}

function outputHead(name: string, datatype: string): string {
  return cached(outputHeads, name, datatype) ?? remember(outputHeads, name, datatype, `{"name":${JSON.stringify(name)},"datatype":"${datatype}","shape":[`);
}

/** A shape's numbers without brackets; the common short ones without an array join. */
function shapeJson(shape: readonly number[]): string {
  switch (shape.length) {
    case 0:
      return '';
    case 1:
      return String(shape[0]);
    case 2:
      return `${shape[0]},${shape[1]}`;
    default:
      return shape.join(',');
  }
}

function outputBytes(o: OutputTensor): Uint8Array {
  if (Array.isArray(o.data)) {
    const total = o.data.reduce((n, b) => n + 4 + b.byteLength, 0);
    const out = Buffer.allocUnsafe(total);
    let p = 0;
    for (const b of o.data) {
      out.writeUInt32LE(b.byteLength, p);
      out.set(b, p + 4);
      p += 4 + b.byteLength;
    }
    return out;
  }
  const a = o.data as NumericArray;
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function jsonArray(o: OutputTensor): string {
  const data = o.data;
  if (Array.isArray(data)) return JSON.stringify(data.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')));
  switch (o.datatype) {
    case 'BOOL':
      return `[${Array.from(data as Uint8Array, (v) => (v ? 'true' : 'false')).join(',')}]`;
    case 'FP16':
      return finiteJson(Array.from(data as Uint16Array, halfToFloat).join(','));
    case 'FP32':
    case 'FP64':
      return finiteJson((data as Float32Array).join(','));
    default:
      // Integers, including 64-bit ones: BigInt64Array#join prints plain digits, valid JSON numbers.
      return `[${(data as Int32Array).join(',')}]`;
  }
}

/**
 * JSON has no NaN or Infinity, and the protocol's tensor data holds numbers, strings and booleans
 * only (null is not among them). Triton writes them as the bare tokens NaN, Infinity, -Infinity,
 * which strict JSON parsers refuse; Sluice writes the same spellings as strings, which every
 * parser reads, Number() and Python's float() turn back into the value, and decode accepts for
 * FP inputs. Binary outputs carry them as they are.
 */
function finiteJson(joined: string): string {
  if (!/[NI]/.test(joined)) return `[${joined}]`;
  return `[${joined.split(',').map((s) => (s === 'NaN' || s.endsWith('Infinity') ? `"${s}"` : s)).join(',')}]`;
}

/** The strings that stand for non-finite floats in JSON tensor data (see finiteJson). */
const NON_FINITE = new Map<string, number>([['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]]);
