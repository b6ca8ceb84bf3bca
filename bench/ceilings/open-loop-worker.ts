// One single-threaded ORT session in a worker thread for the ideal open-loop server
// (open-loop-ideal.ts): inputs for every batch size up to the cap are built once, so a batch costs
// only its run. Each message is a batch size; the answer is that run's milliseconds.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { workloadBatch, WORKLOADS, type WorkloadName } from '../workloads.js';

const job = workerData as { modelPath: string; workload: WorkloadName; maxBatch: number };
const session = await ort.InferenceSession.create(job.modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const input = WORKLOADS[job.workload].input;
const feeds: Record<string, ort.Tensor>[] = [];
for (let b = 1; b <= job.maxBatch; b++) {
  const { data, dims } = workloadBatch(job.workload, b);
  feeds[b] = { [input]: new ort.Tensor('float32', data, dims) };
}
for (let b = 1; b <= job.maxBatch; b *= 2) await session.run(feeds[b]!);
await session.run(feeds[job.maxBatch]!);
parentPort!.postMessage('ready');
parentPort!.on('message', async (rows: number) => {
  const start = performance.now();
  await session.run(feeds[rows]!);
  parentPort!.postMessage(performance.now() - start);
});
