// The slice of the Open Inference Protocol the baselines need to answer the benchmark's calls: one
// FP32 input as JSON `data` or as binary tensor data (Inference-Header-Content-Length), outputs as
// JSON or binary as asked. What a team writing its own small server would write, no more.

export class BadInferRequest extends Error {
  override readonly name = 'BadInferRequest';
}

interface OipInput {
  name: string;
  shape: number[];
  datatype: string;
  data?: unknown;
  parameters?: { binary_data_size?: number };
}

interface OipRequest {
  inputs?: OipInput[];
  outputs?: { name: string; parameters?: { binary_data?: boolean } }[];
}

export interface DecodedInfer {
  /** Rows in this call (the batch dimension). */
  batch: number;
  data: Float32Array;
  /** Output names the client wants as binary data. */
  binaryOutputs: Set<string>;
}

/** `body` is a parsed JSON request, or the raw body of a binary-extension call with its header length. */
export function decodeInfer(body: unknown, headerLength: number | undefined, input: string, rowSize: number): DecodedInfer {
  let req: OipRequest;
  let binary: Buffer | null = null;
  if (headerLength !== undefined) {
    if (!Buffer.isBuffer(body) || headerLength > body.length) throw new BadInferRequest('inference header longer than the body');
    req = JSON.parse(body.toString('utf8', 0, headerLength)) as OipRequest;
    binary = body.subarray(headerLength);
  } else {
    req = (Buffer.isBuffer(body) ? JSON.parse(body.toString('utf8')) : body) as OipRequest;
  }
  const inp = req.inputs?.find((i) => i.name === input);
  if (!inp || inp.datatype !== 'FP32' || !Array.isArray(inp.shape)) throw new BadInferRequest(`expected an FP32 input named ${input}`);
  const batch = inp.shape[0] ?? 0;
  let data: Float32Array;
  if (binary !== null && inp.parameters?.binary_data_size !== undefined) {
    if (binary.length !== inp.parameters.binary_data_size || binary.length % 4 !== 0) throw new BadInferRequest('binary_data_size does not match the body');
    // Copy to an aligned buffer: a view would need the body's offset to be a multiple of 4.
    data = new Float32Array(binary.length / 4);
    new Uint8Array(data.buffer).set(binary);
  } else if (Array.isArray(inp.data)) {
    data = Float32Array.from((inp.data as unknown[]).flat(Infinity) as number[]);
  } else {
    throw new BadInferRequest(`input ${input} has no data`);
  }
  if (data.length !== batch * rowSize) throw new BadInferRequest(`input ${input} has ${data.length} values, shape says ${batch * rowSize}`);
  const binaryOutputs = new Set((req.outputs ?? []).filter((o) => o.parameters?.binary_data === true).map((o) => o.name));
  return { batch, data, binaryOutputs };
}

export interface OutputTensor {
  name: string;
  datatype: 'FP32' | 'INT64';
  shape: number[];
  data: Float32Array | BigInt64Array;
}

export interface EncodedInfer {
  body: Buffer | string;
  headers: Record<string, string>;
}

export function encodeInfer(model: string, outputs: OutputTensor[], binaryOutputs: Set<string>): EncodedInfer {
  if (binaryOutputs.size === 0) {
    const json = outputs.map((o) => ({
      name: o.name,
      datatype: o.datatype,
      shape: o.shape,
      data: o.data instanceof BigInt64Array ? Array.from(o.data, Number) : Array.from(o.data),
    }));
    return { body: JSON.stringify({ model_name: model, model_version: '1', outputs: json }), headers: { 'content-type': 'application/json' } };
  }
  const wanted = outputs.filter((o) => binaryOutputs.has(o.name));
  const header = Buffer.from(
    JSON.stringify({
      model_name: model,
      model_version: '1',
      outputs: wanted.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape, parameters: { binary_data_size: o.data.byteLength } })),
    }),
  );
  const parts = [header, ...wanted.map((o) => Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength))];
  return {
    body: Buffer.concat(parts),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
  };
}
