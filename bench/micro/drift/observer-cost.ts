// Micro-benchmark: what drift adds to one weather batch in a worker — DriftObserver.observe() on
// the batch's input and outputs (11 features) — in microseconds, at 1, 8, 64 and 256 rows, next to
// an ONNX Runtime session.run of the same batch in the same run (the cost drift is added to).
//
//   node dist/bench/micro/drift/observer-cost.js [--ms 300] [--rounds 5]
import { BroadcastChannel } from 'node:worker_threads';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { compileProfile, readProfile } from '../../../gateway/drift/compile.js';
import { DRIFT_CHANNEL, type AttachMessage } from '../../../gateway/drift/channel.js';
import { DriftObserver } from '../../../gateway/drift/observer.js';
import { SharedStateReader } from '../../../gateway/drift/shared-state.js';
import { parseModelConfig } from '../../../gateway/models/config.js';
import { workloadRows } from '../../workloads.js';
import { exampleModelsDir } from './example-models.js';

const { values: args } = parseArgs({ options: { ms: { type: 'string', default: '300' }, rounds: { type: 'string', default: '5' } } });
const MS = Number(args.ms);

const dir = join(exampleModelsDir(), 'weather');
const config = parseModelConfig('weather', (await import(join(dir, 'config.json'), { with: { type: 'json' } })).default);
const compiled = compileProfile(readProfile(join(dir, '1', config.drift!.profile)));
const session = await ort.InferenceSession.create(join(dir, '1', 'model.onnx'), { intraOpNumThreads: 1, interOpNumThreads: 1 });

// Adopt the observer the way a gateway's hub does, so it counts.
const channel = new BroadcastChannel(DRIFT_CHANNEL);
const adopted = new Promise<void>((resolve) => {
  channel.onmessage = (e: unknown) => {
    new SharedStateReader((e as { data: AttachMessage }).data.buffer).requestEpoch(1);
    resolve();
  };
});
const observer = new DriftObserver({ model: 'weather', version: '1', versionDir: join(dir, '1') }, config.drift!, compiled);
await adopted;
channel.close();

// Both timed in process CPU time (session.run computes on the calling thread with one intra-op
// thread), so other processes on the shared machine do not inflate either figure.
function timeIt(fn: () => unknown): number {
  let n = 0;
  const deadline = performance.now() + MS;
  const cpu = process.cpuUsage();
  while (performance.now() < deadline) {
    for (let i = 0; i < 32; i++) fn();
    n += 32;
  }
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / n;
}

async function timeRun(feeds: Record<string, ort.Tensor>): Promise<number> {
  let n = 0;
  const deadline = performance.now() + MS;
  const cpu = process.cpuUsage();
  while (performance.now() < deadline) {
    await session.run(feeds);
    n++;
  }
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`weather batch: drift observe() vs ORT session.run, CPU microseconds per batch, median of ${args.rounds} x ${MS} ms`);
console.log('rows | observe us | session.run us | observe / run');
for (const rows of [1, 8, 64, 256]) {
  const input = new Float32Array(rows * 5);
  workloadRows('weather-json', rows).forEach((r, i) => input.set(r, i * 5));
  const feeds = { features: new ort.Tensor('float32', input, [rows, 5]) };
  const out = await session.run(feeds);
  const batch = {
    rows,
    inputs: [{ name: 'features', dims: [rows, 5], data: input }],
    outputs: [
      { name: 'probabilities', dims: [rows, 5], data: out.probabilities!.data as Float32Array },
      { name: 'label', dims: [rows], data: out.label!.data as BigInt64Array },
    ],
  };
  const obs: number[] = [];
  const run: number[] = [];
  for (let r = 0; r < Number(args.rounds); r++) {
    obs.push(timeIt(() => observer.observe(batch)));
    run.push(await timeRun(feeds));
  }
  const o = median(obs);
  const s = median(run);
  console.log(`${String(rows).padStart(4)} | ${o.toFixed(2).padStart(10)} | ${s.toFixed(2).padStart(14)} | ${((o / s) * 100).toFixed(1).padStart(5)}%`);
}
observer.close();
