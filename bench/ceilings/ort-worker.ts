// One ORT session in a worker thread for the ORT-alone ceiling: runs batches back to back for the
// given time and reports how many it ran. Several of these side by side = "one single-threaded
// session per core", the layout DESIGN.md measured fastest for text-direction on this CPU.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { workloadBatch, WORKLOADS, type WorkloadName } from '../workloads.js';

interface Job {
  modelPath: string;
  workload: WorkloadName;
  intraOpThreads: number;
}

const job = workerData as Job;
const session = await ort.InferenceSession.create(job.modelPath, { intraOpNumThreads: job.intraOpThreads, interOpNumThreads: 1 });
const input = WORKLOADS[job.workload].input;

parentPort!.on('message', async (m: { batch: number; durationMs: number }) => {
  const { data, dims } = workloadBatch(job.workload, m.batch);
  const feeds = { [input]: new ort.Tensor('float32', data, dims) };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const end = performance.now() + m.durationMs;
  let runs = 0;
  const start = performance.now();
  while (performance.now() < end) {
    await session.run(feeds);
    runs++;
  }
  parentPort!.postMessage({ runs, ms: performance.now() - start });
});
parentPort!.postMessage('ready');
