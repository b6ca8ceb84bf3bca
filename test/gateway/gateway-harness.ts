// Shared by the gateway tests: a real gateway on 127.0.0.1 over a private copy of the example
// models, small HTTP helpers, and a tiny FP16/INT64 ONNX model written with onnx-proto.
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { createLogger } from '../../lib/log.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../gateway/index.js';
import { exampleModels } from '../helpers/paths.js';
import { valueInfo } from '../../examples/onnx-export.js';

/** The parts of a tap test the harness uses. */
interface Teardown {
  testdir(): string;
  teardown(fn: () => unknown): void;
}

/** Copy example models (by name) into a fresh test folder and return the repository path. */
export function copyModels(t: Teardown, names: string[]): string {
  const root = join(t.testdir(), 'models');
  mkdirSync(root, { recursive: true });
  const source = exampleModels();
  for (const name of names) cpSync(join(source, name), join(root, name), { recursive: true });
  return root;
}

export async function startTestGateway(t: Teardown, modelRepository: string, options: Partial<GatewayOptions> = {}): Promise<Gateway> {
  const gw = await startGateway({
    host: '127.0.0.1',
    port: 0,
    modelRepository,
    maxBodyBytes: 8 * 1024 * 1024,
    drainTimeoutMs: 5_000,
    logger: createLogger('test', 'silent'),
    // SLUICE_TEST_IO_THREADS=2 runs a gateway test's requests through I/O threads (docs/io-threads.md).
    ...(process.env.SLUICE_TEST_IO_THREADS ? { ioThreads: Number(process.env.SLUICE_TEST_IO_THREADS) } : {}),
    ...options,
    // The test's own client runs on the gateway's event loop, so its bursts read as gateway lag:
    // no lag shedding unless a test asks for it (test/gateway/server/budgets.test.ts does).
    budgets: { maxEventLoopLagMs: 0, ...options.budgets },
  });
  t.teardown(() => gw.close());
  return gw;
}

export interface JsonReply {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: string; code?: string };
}

export async function postJson(url: string, body: unknown): Promise<JsonReply> {
  const res = await fetch(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as JsonReply['body'] };
}

export async function getJson(url: string): Promise<JsonReply> {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: (await res.json()) as JsonReply['body'] };
}

/** A request under the binary tensor data extension: JSON header, then the raw bytes. */
export function binaryRequest(header: unknown, parts: ArrayBufferView[]): { headers: Record<string, string>; body: Uint8Array<ArrayBuffer> } {
  const head = Buffer.from(JSON.stringify(header));
  const body = new Uint8Array(Buffer.concat([head, ...parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))]));
  return { headers: { 'Inference-Header-Content-Length': String(head.byteLength), 'Content-Type': 'application/octet-stream' }, body };
}

/** Split a binary-extension response into its JSON header and the raw bytes after it. */
export async function readBinaryResponse(res: Response): Promise<{ header: Record<string, unknown>; binary: Buffer }> {
  const buf = Buffer.from(await res.arrayBuffer());
  const length = Number(res.headers.get('inference-header-content-length') ?? buf.byteLength);
  return { header: JSON.parse(buf.subarray(0, length).toString('utf8')) as Record<string, unknown>, binary: buf.subarray(length) };
}

/** Deterministic pseudo-random floats in [0, 1). */
export function randomFloats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 2 ** 32;
  }
  return out;
}

const { onnx } = onnxProto;

/**
 * A model folder `types` (version 1) with a FP16 input `half` [N,3] and an INT64 input `long` [N,2]:
 * outputs `half_out` = half (FP16), `half_as_float` = float(half) (FP32), `long_plus_one` = long + 1 (INT64).
 * No outputs or inputs in config.json: the gateway reads them from the model.
 */
export function writeTypesModel(root: string, config: Record<string, unknown> = {}, name = 'types'): void {
  const T = onnx.TensorProto.DataType;
  const graph = onnx.GraphProto.create({
    name: 'types',
    node: [
      onnx.NodeProto.create({ opType: 'Identity', name: 'id', input: ['half'], output: ['half_out'] }),
      onnx.NodeProto.create({
        opType: 'Cast', name: 'cast', input: ['half'], output: ['half_as_float'],
        attribute: [onnx.AttributeProto.create({ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: T.FLOAT })],
      }),
      onnx.NodeProto.create({ opType: 'Add', name: 'add', input: ['long', 'one'], output: ['long_plus_one'] }),
    ],
    initializer: [onnx.TensorProto.create({ name: 'one', dims: [1], dataType: T.INT64, int64Data: [1] })],
    input: [valueInfo('half', T.FLOAT16, ['batch', 3]), valueInfo('long', T.INT64, ['batch', 2])],
    output: [valueInfo('half_out', T.FLOAT16, ['batch', 3]), valueInfo('half_as_float', T.FLOAT, ['batch', 3]), valueInfo('long_plus_one', T.INT64, ['batch', 2])],
  });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'sluice-test',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })],
    graph,
  });
  mkdirSync(join(root, name, '1'), { recursive: true });
  writeFileSync(join(root, name, '1', 'model.onnx'), onnx.ModelProto.encode(model).finish());
  writeFileSync(join(root, name, 'config.json'), JSON.stringify({ max_batch_size: 16, ...config }));
}

/** Run a model directly in ONNX Runtime (one single-threaded session): what the gateway's answers are checked against. */
export async function directRun(modelPath: string, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** `n` plausible weather rows (precipitation, temp_max, temp_min, wind, day_of_year), seeded. */
export function weatherRows(n: number, seed: number): Float32Array {
  const r = randomFloats(n * 5, seed);
  const rows = new Float32Array(n * 5);
  for (let i = 0; i < n; i++) {
    rows[i * 5] = r[i * 5]! * 20; // precipitation
    rows[i * 5 + 1] = r[i * 5 + 1]! * 30; // temp_max
    rows[i * 5 + 2] = r[i * 5 + 2]! * 15 - 5; // temp_min
    rows[i * 5 + 3] = r[i * 5 + 3]! * 8; // wind
    rows[i * 5 + 4] = 1 + Math.floor(r[i * 5 + 4]! * 365); // day_of_year
  }
  return rows;
}
