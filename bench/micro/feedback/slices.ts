// Micro-benchmark: what config `slices` adds to keeping an answer for feedback, on the gateway's
// main thread, in nanoseconds of process CPU time, median of rounds, on the weather version's
// outputs — baseline and candidates in the same run:
// - baseline: the answer kept with a generated id, slices off (record.ts's first figure);
// - slices on a request parameter (one Map lookup per call, the slice counted per row);
// - slices on an input column cut at edges (one slice read per row), 1 row and 8 rows.
//
//   node dist/bench/micro/feedback/slices.js [--ms 300] [--rounds 5]
import { microOptions, nsPerOp } from '../cpu-timer.js';
import { median } from '../../report/summary.js';
import { parseModelConfig } from '../../../gateway/models/config.js';
import { GatewayMetrics } from '../../../gateway/metrics/metrics.js';
import { TrafficWindows } from '../../../gateway/routing/traffic.js';
import { GroundTruth } from '../../../gateway/feedback/ground-truth.js';
import type { PredictingVersion } from '../../../gateway/feedback/prediction.js';
import type { PreparedRequest } from '../../../gateway/models/loaded-version.js';
import type { Tensor } from '../../../gateway/models/tensors.js';

const { ms: MS, rounds: ROUNDS } = microOptions();
const measure = (fn: (i: number) => void): number => nsPerOp(fn, MS);
const outputs = [{ name: 'probabilities', datatype: 'FP32' as const, dims: [5] }, { name: 'label', datatype: 'INT64' as const, dims: [] }];
const versionOf = (slices: unknown): PredictingVersion => ({
  name: 'weather', version: '1', dir: '/nonexistent', batched: true, outputs,
  config: parseModelConfig('weather', slices === undefined ? { max_batch_size: 256 } : { max_batch_size: 256, slices }),
});
const groundTruth = (v: PredictingVersion) => new GroundTruth({ repository: { model: () => ({ versions: new Map([['1', v]]) }) }, metrics: new GatewayMetrics(), traffic: new TrafficWindows() });
const answers = (rows: number): Tensor[][] => Array.from({ length: 64 }, (_, i) => [
  { name: 'probabilities', datatype: 'FP32', shape: [rows, 5], data: Float32Array.from({ length: 5 * rows }, (_, k) => ((i * 7 + k * 13) % 17) / 17) },
  { name: 'label', datatype: 'INT64', shape: [rows], data: BigInt64Array.from({ length: rows }, (_, r) => BigInt((i + r) % 5)) },
]);
const inputs = (rows: number): PreparedRequest[] => Array.from({ length: 64 }, (_, i) => ({
  rows,
  inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 5], data: Float32Array.from({ length: 5 * rows }, (_, k) => ((i * 11 + k * 5) % 23) - 3) }],
}));
const regions = Array.from({ length: 64 }, (_, i) => ({ region: `region-${i % 12}` }));

const plain = versionOf(undefined);
const byParameter = versionOf({ parameter: 'region' });
const byColumn = versionOf({ input: 'features', index: 0, edges: [0, 1, 5, 10] });
const gts = new Map([[plain, groundTruth(plain)], [byParameter, groundTruth(byParameter)], [byColumn, groundTruth(byColumn)]]);
const one = answers(1);
const eight = answers(8);
const in1 = inputs(1);
const in8 = inputs(8);
let sink = 0;

/** The call path's work: read the slices before the inputs move, keep the answer after. */
function keep(v: PredictingVersion, params: Record<string, unknown> | undefined, prepared: PreparedRequest, tensors: Tensor[], rows: number): void {
  const gt = gts.get(v)!;
  const vf = gt.of(v)!;
  const sliced = v.config.slices === undefined ? undefined : vf.slices?.read(params, prepared);
  sink += gt.record(vf, undefined, tensors, rows, sliced)!.length;
}

const figures: Record<string, number[]> = { 'baseline (slices off), 1 row': [], 'slices on a parameter, 1 row': [], 'slices on a column, 1 row': [], 'baseline (slices off), 8 rows': [], 'slices on a column, 8 rows': [] };
for (let r = 0; r < ROUNDS; r++) {
  figures['baseline (slices off), 1 row']!.push(measure((i) => keep(plain, regions[i & 63], in1[i & 63]!, one[i & 63]!, 1)));
  figures['slices on a parameter, 1 row']!.push(measure((i) => keep(byParameter, regions[i & 63], in1[i & 63]!, one[i & 63]!, 1)));
  figures['slices on a column, 1 row']!.push(measure((i) => keep(byColumn, undefined, in1[i & 63]!, one[i & 63]!, 1)));
  figures['baseline (slices off), 8 rows']!.push(measure((i) => keep(plain, undefined, in8[i & 63]!, eight[i & 63]!, 8)));
  figures['slices on a column, 8 rows']!.push(measure((i) => keep(byColumn, undefined, in8[i & 63]!, eight[i & 63]!, 8)));
}
const base1 = median(figures['baseline (slices off), 1 row']!);
const base8 = median(figures['baseline (slices off), 8 rows']!);
console.log(`median of ${ROUNDS} rounds of ${MS} ms CPU each, ns per answer kept:`);
for (const [name, xs] of Object.entries(figures)) {
  const base = name.endsWith('8 rows') ? base8 : base1;
  console.log(`${name.padEnd(32)} ${median(xs).toFixed(0).padStart(6)}  (+${(median(xs) - base).toFixed(0)} ns; rounds ${xs.map((x) => x.toFixed(0)).join(', ')})`);
}
if (sink === 0) console.log('');
