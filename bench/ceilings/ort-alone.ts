// The compute ceiling: ONNX Runtime alone, in-process, no HTTP, no copies, batches back to back,
// swept over batch sizes in two layouts — one session using ORT's default threads, and one
// single-threaded session per core in worker threads. The best point is what Sluice is measured
// against. Prints one JSON line (OrtCeiling) on stdout.
// Started by the runner: node ort-alone.js --models DIR --workload NAME --batches 1,2,4 --duration-ms 1000 [--layouts per-core]
// [--cuda-device N]: one session on that GPU alone (bench/gpu), no per-core layout.
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { WORKLOADS, isWorkloadName, workloadBatch, type WorkloadName } from '../workloads.js';
import { childArgs, required } from '../targets/args.js';
import type { OrtCeiling, OrtPoint } from '../report/types.js';

const WORKER = fileURLToPath(new URL('./ort-worker.js', import.meta.url));

async function oneSession(modelPath: string, workload: WorkloadName, batch: number, durationMs: number, options: ort.InferenceSession.SessionOptions = {}): Promise<number> {
  const session = await ort.InferenceSession.create(modelPath, options);
  const { data, dims } = workloadBatch(workload, batch);
  const feeds = { [WORKLOADS[workload].input]: new ort.Tensor('float32', data, dims) };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const start = performance.now();
  let runs = 0;
  while (performance.now() - start < durationMs) {
    await session.run(feeds);
    runs++;
  }
  const ms = performance.now() - start;
  await session.release();
  return (runs * batch) / (ms / 1000);
}

async function sessionPerCore(workers: Worker[], batch: number, durationMs: number): Promise<number> {
  const done = workers.map((w) => new Promise<{ runs: number; ms: number }>((resolve) => w.once('message', resolve)));
  for (const w of workers) w.postMessage({ batch, durationMs });
  const results = await Promise.all(done);
  return results.reduce((a, r) => a + (r.runs * batch) / (r.ms / 1000), 0);
}

async function startWorkers(n: number, modelPath: string, workload: WorkloadName): Promise<Worker[]> {
  return Promise.all(
    Array.from({ length: n }, () => {
      const w = new Worker(WORKER, { workerData: { modelPath, workload, intraOpThreads: 1 } });
      return new Promise<Worker>((resolve, reject) => {
        w.once('message', () => resolve(w));
        w.once('error', reject);
      });
    }),
  );
}

const args = childArgs(process.argv.slice(2));
const workload = required(args, 'workload');
if (!isWorkloadName(workload)) throw new Error(`unknown workload ${workload}`);
const modelPath = join(required(args, 'models'), WORKLOADS[workload].model, '1', 'model.onnx');
const batches = required(args, 'batches').split(',').map(Number);
const durationMs = Number(args.get('duration-ms') ?? 1000);
const cores = availableParallelism();

// --layouts per-core: only the single-threaded sessions (transport-bound.ts times that layout alone).
const layouts = args.get('layouts') ?? 'both';
const points: OrtPoint[] = [];
const cudaDevice = args.get('cuda-device');
if (cudaDevice !== undefined) {
  // CUDA alone: a CPU fallback would measure the wrong thing, so a session that fails to create fails the run.
  const options: ort.InferenceSession.SessionOptions = { executionProviders: [{ name: 'cuda', deviceId: Number(cudaDevice) }] };
  for (const batch of batches) points.push({ layout: `one CUDA session (device ${cudaDevice})`, batch, inferencesPerSec: await oneSession(modelPath, workload, batch, durationMs, options) });
} else {
  if (layouts !== 'per-core') {
    for (const batch of batches) points.push({ layout: 'one session, default threads', batch, inferencesPerSec: await oneSession(modelPath, workload, batch, durationMs) });
  }
  const workers = await startWorkers(cores, modelPath, workload);
  for (const batch of batches) {
    points.push({ layout: `${cores} sessions x 1 thread`, batch, inferencesPerSec: await sessionPerCore(workers, batch, durationMs) });
  }
  await Promise.all(workers.map((w) => w.terminate()));
}
const best = points.reduce((a, b) => (b.inferencesPerSec > a.inferencesPerSec ? b : a));
const ceiling: OrtCeiling = { workload, cores, points, best };
process.stdout.write(`${JSON.stringify(ceiling)}\n`);
