// The two workloads of issue 3's benchmark, shared by the load generator (as HTTP calls), the
// baselines (which decode them) and the ORT-alone ceiling (as tensors):
//   weather-json           one day of seattle-weather.csv per call, Open Inference Protocol JSON
//   text-direction-binary  one 3x48x192 text-line tensor per call, OIP binary tensor data extension
//   text-direction-image   one PNG of a text line (352x64, made with sharp) per call, as a raw
//                          `image/png` body; the server decodes and preprocesses it to the same tensor
import sharp from 'sharp';
import { loadWeather, weatherFeatures } from '../examples/weather-dataset.js';
import { seededRandom } from '../lib/random.js';

export const WORKLOAD_NAMES = ['weather-json', 'text-direction-binary', 'text-direction-image'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

export interface WorkloadSpec {
  name: WorkloadName;
  model: string;
  input: string;
  output: string;
  /** Shape of one row (without the batch dimension): the model input the ORT-alone ceiling feeds. */
  rowShape: number[];
  /** png: the call is a raw image body, not a tensor (see prepareWorkload). */
  encoding: 'json' | 'binary' | 'png';
}

export const WORKLOADS: Record<WorkloadName, WorkloadSpec> = {
  'weather-json': { name: 'weather-json', model: 'weather', input: 'features', output: 'probabilities', rowShape: [5], encoding: 'json' },
  'text-direction-binary': {
    name: 'text-direction-binary',
    model: 'text-direction',
    input: 'x',
    output: 'softmax_0.tmp_0',
    rowShape: [3, 48, 192],
    encoding: 'binary',
  },
  'text-direction-image': {
    name: 'text-direction-image',
    model: 'text-direction',
    input: 'x',
    output: 'softmax_0.tmp_0',
    rowShape: [3, 48, 192],
    encoding: 'png',
  },
};

/** Whether a target can be driven with a workload (image bodies are HTTP only: no sluice-ws). */
export function workloadSupports(name: WorkloadName, target: string): boolean {
  return !(WORKLOADS[name].encoding === 'png' && target === 'sluice-ws');
}

/** Distinct text lines of the image workload (cycled through by the generator's variants). */
export const IMAGE_LINES = 8;

/** A 352x64 white text line with black text, rendered from SVG to PNG with sharp. */
export function textLinePng(text: string, width = 352, height = 64): Promise<Buffer> {
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="white"/>` +
    `<text x="${Math.round(height * 0.15)}" y="${Math.round(height * 0.72)}" font-family="sans-serif" font-size="${Math.round(height * 0.6)}" fill="black">${text}</text></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

const images = new Map<WorkloadName, Buffer[]>();

/**
 * Whatever a workload needs before its calls can be built (sync): the image workload renders its
 * PNGs once per process. Call it (and await it) before inferCall on an image workload.
 */
export async function prepareWorkload(name: WorkloadName): Promise<void> {
  if (WORKLOADS[name].encoding !== 'png' || images.has(name)) return;
  const lines = await Promise.all(Array.from({ length: IMAGE_LINES }, (_, i) => textLinePng(`Sluice bench line ${String(i).padStart(2, '0')}`)));
  images.set(name, lines);
}

export function isWorkloadName(s: string): s is WorkloadName {
  return (WORKLOAD_NAMES as readonly string[]).includes(s);
}

function rowSize(spec: WorkloadSpec): number {
  return spec.rowShape.reduce((a, b) => a * b, 1);
}

/**
 * `count` distinct input rows. Weather rows are real days from the dataset; text-direction rows are
 * seeded noise in the model's normalised range [-1, 1] (its cost does not depend on the pixels).
 */
export function workloadRows(name: WorkloadName, count: number): Float32Array[] {
  const spec = WORKLOADS[name];
  if (spec.model === 'weather') {
    const days = loadWeather().days;
    return Array.from({ length: count }, (_, i) => Float32Array.from(weatherFeatures(days[(i * 37) % days.length]!)));
  }
  const random = seededRandom(7);
  const size = rowSize(spec);
  return Array.from({ length: count }, () => {
    const row = new Float32Array(size);
    for (let j = 0; j < size; j++) row[j] = random() * 2 - 1;
    return row;
  });
}

/** One batch of `batch` rows as one contiguous tensor (for ORT alone). */
export function workloadBatch(name: WorkloadName, batch: number): { data: Float32Array; dims: number[] } {
  const spec = WORKLOADS[name];
  const rows = workloadRows(name, batch);
  const size = rowSize(spec);
  const data = new Float32Array(size * batch);
  rows.forEach((r, i) => data.set(r, i * size));
  return { data, dims: [batch, ...spec.rowShape] };
}

export interface InferCall {
  path: string;
  contentType: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** The OIP call for one row, as a client of Triton or KServe would send it; `timeoutUs` = its deadline. */
export function inferCall(name: WorkloadName, row: Float32Array, timeoutUs?: number, variant = 0): InferCall {
  const spec = WORKLOADS[name];
  const path = `/v2/models/${spec.model}/infer`;
  if (spec.encoding === 'png') {
    const lines = images.get(name);
    if (!lines) throw new Error(`${name}: prepareWorkload was not awaited`);
    // A raw image body has no `parameters`, so it carries no deadline (`timeoutUs` is not sent).
    return { path, contentType: 'image/png', headers: {}, body: lines[variant % lines.length]! };
  }
  const shape = [1, ...spec.rowShape];
  const parameters = timeoutUs === undefined ? {} : { parameters: { timeout_us: timeoutUs } };
  if (spec.encoding === 'json') {
    const body = JSON.stringify({ ...parameters, inputs: [{ name: spec.input, shape, datatype: 'FP32', data: Array.from(row) }] });
    return { path, contentType: 'application/json', headers: {}, body: Buffer.from(body) };
  }
  const header = Buffer.from(
    JSON.stringify({
      ...parameters,
      inputs: [{ name: spec.input, shape, datatype: 'FP32', parameters: { binary_data_size: row.byteLength } }],
      outputs: [{ name: spec.output, parameters: { binary_data: true } }],
    }),
  );
  const body = Buffer.concat([header, Buffer.from(row.buffer, row.byteOffset, row.byteLength)]);
  return { path, contentType: 'application/octet-stream', headers: { 'inference-header-content-length': String(header.length) }, body };
}

/**
 * The same call as a /v2/ws frame: a text frame (JSON) or a binary frame (u32 LE header length,
 * JSON header, raw tensor bytes). The header starts with a fixed-width `"id":"00000000"` that the
 * generator overwrites per call.
 */
export function wsFrame(name: WorkloadName, row: Float32Array): { frame: Buffer; idOffset: number; binary: boolean } {
  const spec = WORKLOADS[name];
  if (spec.encoding === 'png') throw new Error(`${name} is not driven over /v2/ws`);
  const shape = [1, ...spec.rowShape];
  const id = '{"id":"00000000",';
  const idOffset = 7;
  if (spec.encoding === 'json') {
    const rest = JSON.stringify({ model_name: spec.model, inputs: [{ name: spec.input, shape, datatype: 'FP32', data: Array.from(row) }] });
    return { frame: Buffer.from(id + rest.slice(1)), idOffset, binary: false };
  }
  const rest = JSON.stringify({
    model_name: spec.model,
    inputs: [{ name: spec.input, shape, datatype: 'FP32', parameters: { binary_data_size: row.byteLength } }],
    outputs: [{ name: spec.output, parameters: { binary_data: true } }],
  });
  const header = Buffer.from(id + rest.slice(1));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length, 0);
  return { frame: Buffer.concat([length, header, Buffer.from(row.buffer, row.byteOffset, row.byteLength)]), idOffset: 4 + idOffset, binary: true };
}

/** A complete HTTP/1.1 request (head and body in one buffer): one socket write per call. */
export function rawHttpRequest(call: InferCall, host: string): Buffer {
  const lines = [`POST ${call.path} HTTP/1.1`, `host: ${host}`, `content-type: ${call.contentType}`, `content-length: ${call.body.length}`];
  for (const [k, v] of Object.entries(call.headers)) lines.push(`${k}: ${v}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), call.body]);
}
