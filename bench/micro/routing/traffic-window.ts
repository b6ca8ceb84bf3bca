// Micro-benchmark: what rollouts add to a call on the gateway's main thread, in nanoseconds, timed
// in process CPU time (other processes on the shared machine do not inflate it), median of rounds:
// - a call counted into its traffic window (the window looked up per loaded version, the rollout
//   followed, one latency bucket found and counted): every call pays this;
// - one answer's outputs binned on the weather profile (5 probabilities + label, 1 row): every
//   call under a rollout pays this;
// - a route key hashed (sticky A/B calls with a key).
//
//   node dist/bench/micro/routing/traffic-window.js [--ms 300] [--rounds 5]
import { join } from 'node:path';
import { microOptions, nsPerOp } from '../cpu-timer.js';
import { median } from '../../report/summary.js';
import { readProfile } from '../../../gateway/drift/compile.js';
import { OutputBinning } from '../../../gateway/routing/output-bins.js';
import { routeKeyUnit } from '../../../gateway/routing/rollout-route.js';
import { TrafficWindows, type VersionTraffic } from '../../../gateway/routing/traffic.js';
import type { Tensor } from '../../../gateway/models/tensors.js';
import { exampleModelsDir } from '../drift/example-models.js';

const { ms: MS, rounds: ROUNDS } = microOptions();
const measure = (fn: (i: number) => void): number => nsPerOp(fn, MS);

const dir = join(exampleModelsDir(), 'weather');
const profile = readProfile(join(dir, '1', 'profile.json'));
const binning = OutputBinning.of([{ name: 'probabilities', datatype: 'FP32', dims: [5] }, { name: 'label', datatype: 'INT64', dims: [] }], true, profile);
const windows = new TrafficWindows();
// The version objects the inference service keys its cache on.
const versions = [{}, {}];
const cache = new WeakMap<object, VersionTraffic>();
cache.set(versions[0]!, windows.of('weather', '1'));
cache.set(versions[1]!, windows.of('weather', '2'));
const rollout = { id: 'r', binning };
const latencies = Float64Array.from({ length: 1024 }, (_, i) => 0.05 + (i % 97) * 0.4);
const answers: Tensor[][] = Array.from({ length: 64 }, (_, i) => [
  { name: 'probabilities', datatype: 'FP32', shape: [1, 5], data: Float32Array.from({ length: 5 }, (_, k) => ((i * 7 + k * 13) % 17) / 17) },
  { name: 'label', datatype: 'INT64', shape: [1], data: BigInt64Array.of(BigInt(i % 5)) },
]);
const keys = Array.from({ length: 1024 }, (_, i) => `customer-${i * 7919}`);
let sink = 0;

const counted: number[] = [];
const binned: number[] = [];
const hashed: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  counted.push(measure((i) => {
    const w = cache.get(versions[i & 1]!)!;
    w.follow(undefined);
    w.call(latencies[i & 1023]!, (i & 255) === 0);
  }));
  const w = windows.of('weather', '1');
  w.follow(rollout);
  binned.push(measure((i) => w.answered(answers[i & 63]!)));
  w.follow(undefined);
  hashed.push(measure((i) => {
    sink += routeKeyUnit(keys[i & 1023]!);
  }));
  windows.take();
}
console.log(`median of ${ROUNDS} rounds of ${MS} ms CPU each, ns per operation:`);
console.log(`call counted into its traffic window: ${median(counted).toFixed(1)} (rounds ${counted.map((x) => x.toFixed(1)).join(', ')})`);
console.log(`outputs binned, weather profile, 1 row x 6 features: ${median(binned).toFixed(1)} (rounds ${binned.map((x) => x.toFixed(1)).join(', ')})`);
console.log(`route key hashed (customer-N): ${median(hashed).toFixed(1)} (rounds ${hashed.map((x) => x.toFixed(1)).join(', ')})`);
if (sink === -1) console.log(sink);
