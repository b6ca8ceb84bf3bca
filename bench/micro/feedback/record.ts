// Micro-benchmark: what keeping an answer for feedback adds to a call on the gateway's main thread,
// in nanoseconds of process CPU time (other processes on the shared machine do not inflate it),
// median of rounds, on the weather version's outputs (5 probabilities + an INT64 label, 1 row):
// - a generated id (random check digits and the sequence number) and the answer written into a
//   100 000-row ring (the default);
// - the same with the caller's id, kept as its HMAC-SHA256 (what a caller id costs on top);
// - an 8-row answer with a generated id (rows are written one by one).
//
//   node dist/bench/micro/feedback/record.js [--ms 300] [--rounds 5]
import { microOptions, nsPerOp } from '../cpu-timer.js';
import { median } from '../../report/summary.js';
import { parseModelConfig } from '../../../gateway/models/config.js';
import { GatewayMetrics } from '../../../gateway/metrics/metrics.js';
import { TrafficWindows } from '../../../gateway/routing/traffic.js';
import { GroundTruth } from '../../../gateway/feedback/ground-truth.js';
import type { PredictingVersion } from '../../../gateway/feedback/prediction.js';
import type { Tensor } from '../../../gateway/models/tensors.js';

const { ms: MS, rounds: ROUNDS } = microOptions();
const measure = (fn: (i: number) => void): number => nsPerOp(fn, MS);

const version: PredictingVersion = {
  name: 'weather', version: '1', dir: '/nonexistent', batched: true,
  config: parseModelConfig('weather', { max_batch_size: 256 }),
  outputs: [{ name: 'probabilities', datatype: 'FP32', dims: [5] }, { name: 'label', datatype: 'INT64', dims: [] }],
};
const gt = new GroundTruth({ repository: { model: () => ({ versions: new Map([['1', version]]) }) }, metrics: new GatewayMetrics(), traffic: new TrafficWindows() });
const answers = (rows: number): Tensor[][] => Array.from({ length: 64 }, (_, i) => [
  { name: 'probabilities', datatype: 'FP32', shape: [rows, 5], data: Float32Array.from({ length: 5 * rows }, (_, k) => ((i * 7 + k * 13) % 17) / 17) },
  { name: 'label', datatype: 'INT64', shape: [rows], data: BigInt64Array.from({ length: rows }, (_, r) => BigInt((i + r) % 5)) },
]);
const one = answers(1);
const eight = answers(8);
const ids = Array.from({ length: 1024 }, (_, i) => `order-${i * 7919}`);
let sink = 0;

const generated: number[] = [];
const caller: number[] = [];
const rows8: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  generated.push(measure((i) => {
    const vf = gt.of(version)!;
    sink += gt.record(vf, undefined, one[i & 63]!, 1)!.length;
  }));
  caller.push(measure((i) => {
    const vf = gt.of(version)!;
    sink += gt.record(vf, ids[i & 1023], one[i & 63]!, 1)!.length;
  }));
  rows8.push(measure((i) => {
    const vf = gt.of(version)!;
    sink += gt.record(vf, undefined, eight[i & 63]!, 8)!.length;
  }));
}
const show = (xs: number[]): string => `${median(xs).toFixed(0)} (rounds ${xs.map((x) => x.toFixed(0)).join(', ')})`;
console.log(`median of ${ROUNDS} rounds of ${MS} ms CPU each, ns per answer kept:`);
console.log(`generated id, 1 row:  ${show(generated)}`);
console.log(`caller id (HMAC), 1 row: ${show(caller)}`);
console.log(`generated id, 8 rows: ${show(rows8)}`);
if (sink === 0) console.log('');
