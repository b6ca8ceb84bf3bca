// Peer baselines: what a team would run instead of Sluice. A Fastify server that calls ORT's
// session.run for each request on its main thread (`--batching none`), or the same server with a
// hand-written micro-batcher in front of the session (`--batching micro`). One model per process.
// For the image workload it takes a raw `image/png` body and does what such a server would: sharp
// decodes and resizes it (on libuv's pool), a JavaScript loop fills PaddleOCR's normalised BGR tensor.
// Started by the runner: node naive-server.js --models DIR --workload NAME --batching none|micro
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import * as ort from 'onnxruntime-node';
import { WORKLOADS, isWorkloadName } from '../workloads.js';
import { BadInferRequest, decodeInfer, encodeInfer, type OutputTensor } from './oip-lite.js';
import { MicroBatcher } from './micro-batcher.js';
import { pngToRow } from './naive-image.js';
import { childArgs, required } from './args.js';

const args = childArgs(process.argv.slice(2));
const workload = required(args, 'workload');
if (!isWorkloadName(workload)) throw new Error(`unknown workload ${workload}`);
const spec = WORKLOADS[workload];
const modelDir = join(required(args, 'models'), spec.model);
const batching = args.get('batching') ?? 'none';
const rowSize = spec.rowShape.reduce((a, b) => a * b, 1);

interface ModelFile {
  max_batch_size?: number;
  dynamic_batching?: { max_queue_delay_us?: number; preferred_batch_sizes?: number[] };
}
const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as ModelFile;
// ORT's default session options (what `InferenceSession.create(path)` gives a new user) unless
// --intra-op-threads says otherwise.
const intraOp = args.get('intra-op-threads');
const session = await ort.InferenceSession.create(join(modelDir, '1', 'model.onnx'), intraOp === undefined ? {} : { intraOpNumThreads: Number(intraOp) });

async function runRows(data: Float32Array, batch: number): Promise<OutputTensor[]> {
  const out = await session.run({ [spec.input]: new ort.Tensor('float32', data, [batch, ...spec.rowShape]) });
  return session.outputNames.map((name) => {
    const t = out[name]!;
    return { name, datatype: t.type === 'int64' ? 'INT64' : 'FP32', shape: [...t.dims], data: t.data as Float32Array | BigInt64Array } as OutputTensor;
  });
}

/** Row `i` of every output of a batch, as a batch-of-one tensor. */
function sliceRow(outputs: OutputTensor[], i: number): OutputTensor[] {
  return outputs.map((o) => {
    const per = o.data.length / (o.shape[0] ?? 1);
    return { ...o, shape: [1, ...o.shape.slice(1)], data: o.data.slice(i * per, (i + 1) * per) } as OutputTensor;
  });
}

const maxBatch = Math.max(...(config.dynamic_batching?.preferred_batch_sizes ?? [config.max_batch_size ?? 1]));
const batcher = new MicroBatcher<Float32Array, OutputTensor[]>(maxBatch, (config.dynamic_batching?.max_queue_delay_us ?? 1000) / 1000, async (rows) => {
  const data = new Float32Array(rows.length * rowSize);
  rows.forEach((r, i) => data.set(r, i * rowSize));
  const outputs = await runRows(data, rows.length);
  return rows.map((_, i) => sliceRow(outputs, i));
});

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
app.addContentTypeParser(['application/octet-stream', 'image/png'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.post('/v2/models/:model/infer', async (req, reply) => {
  const h = req.headers['inference-header-content-length'];
  try {
    const image = spec.encoding === 'png' && (req.headers['content-type'] ?? '').startsWith('image/');
    const call = image
      ? { batch: 1, data: await pngToRow(req.body as Buffer, spec.rowShape), binaryOutputs: new Set<string>() }
      : decodeInfer(req.body, h === undefined ? undefined : Number(h), spec.input, rowSize);
    const outputs = batching === 'micro' && call.batch === 1 ? await batcher.submit(call.data) : await runRows(call.data, call.batch);
    const encoded = encodeInfer(spec.model, outputs, call.binaryOutputs);
    return reply.headers(encoded.headers).send(encoded.body);
  } catch (err) {
    if (err instanceof BadInferRequest || err instanceof SyntaxError) return reply.code(400).send({ error: err.message });
    throw err;
  }
});

const address = await app.listen({ host: '127.0.0.1', port: Number(args.get('port') ?? 0) });
process.stdout.write(`naive-${batching} ${workload} listening on ${address.replace('localhost', '127.0.0.1')}\n`);
const stop = () => void app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
