// Micro-benchmark: ns per value of the native drift window update at each lane width this CPU runs
// (8: AVX-512, 4: AVX2, 0: the scalar path; `laneWidth` forces one), in the same run, on
// window-update.ts's data: 64-row Float32 batches at 8, 64 and 512 features, each feature binned
// into up to 101 percentile edges, 2^19 distinct values replayed. Rounds interleave the widths so
// machine noise hits all of them; timed in process CPU time; medians. The AVX-512 path is a second
// compilation of the same loop (native/drift_lane_loop.h), kept while it measures faster than AVX2.
//
//   node dist/bench/micro/drift/lane-width.js [--rounds 9] [--ms 250] [--json out.json]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { native, type NativeDriftWindow } from '../../../native/index.js';
import { seededRandom } from '../../../lib/random.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '9' },
    ms: { type: 'string', default: '250' },
    json: { type: 'string' },
  },
});
const ROWS = 64;
const ROUNDS = Number(args.rounds);
const MS = Number(args.ms);

type LaneWindow = NativeDriftWindow & { laneWidth(width: number): number };

/** Rows of `features` columns: normal, skewed, a coarse code, normal (window-update.ts's mix). */
function table(rows: number, features: number, seed: number, shift: number): Float32Array {
  const rnd = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const out = new Float32Array(rows * features);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < features; j++) {
      const k = j % 4;
      out[i * features + j] = k === 0 ? normal() * 3 + shift : k === 1 ? -Math.log(1 - rnd()) : k === 2 ? Math.round(rnd() * 40) / 4 : normal();
    }
  }
  return out;
}

/** Each feature's distinct percentiles (0, 1, ..., 100) of the reference as its edges. */
function layout(reference: Float32Array, features: number): { kinds: Uint8Array; edges: Float64Array; edgeOffsets: Int32Array } {
  const rows = reference.length / features;
  const edges: number[] = [];
  const offsets = [0];
  for (let f = 0; f < features; f++) {
    const col = Float64Array.from({ length: rows }, (_, i) => reference[i * features + f]!).sort();
    let last = -Infinity;
    for (let p = 0; p <= 100; p++) {
      const e = col[Math.min(rows - 1, Math.floor((p / 100) * rows))]!;
      if (e > last) edges.push((last = e));
    }
    offsets.push(edges.length);
  }
  return { kinds: new Uint8Array(features), edges: Float64Array.from(edges), edgeOffsets: Int32Array.from(offsets) };
}

let next = 0;
function measure(window: LaneWindow, batches: Float32Array[], features: number): number {
  let calls = 0;
  const deadline = performance.now() + MS;
  const cpu = process.cpuUsage();
  while (performance.now() < deadline) {
    for (let k = 0; k < 16; k++) window.update(batches[next++ % batches.length]!, 0, ROWS, features, features, 1, 0);
    calls += 16;
  }
  const used = process.cpuUsage(cpu);
  window.reset();
  return ((used.user + used.system) * 1000) / (calls * ROWS * features);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const results: { features: number; ns_per_value: Record<string, number>; runs: Record<string, number[]> }[] = [];
for (const features of [8, 64, 512]) {
  const l = layout(table(2000, features, 1, 0), features);
  const count = Math.max(16, Math.ceil((1 << 19) / (ROWS * features)));
  const live = table(ROWS * count, features, 2, 0.5);
  const batches = Array.from({ length: count }, (_, i) => live.subarray(i * ROWS * features, (i + 1) * ROWS * features));
  const windows = new Map<number, LaneWindow>();
  for (const width of [8, 4, 0]) {
    const w = new (native().DriftWindow)(l.kinds, l.edges, l.edgeOffsets) as LaneWindow;
    if (w.laneWidth(width) === width) windows.set(width, w);
    else w.dispose();
  }
  const runs = new Map<number, number[]>([...windows.keys()].map((w) => [w, []]));
  for (const [width, w] of windows) measure(w, batches, features);
  const order = [...windows.keys()];
  for (let r = 0; r < ROUNDS; r++) {
    for (const width of r % 2 === 0 ? order : [...order].reverse()) runs.get(width)!.push(measure(windows.get(width)!, batches, features));
  }
  results.push({
    features,
    ns_per_value: Object.fromEntries([...runs].map(([w, xs]) => [w, median(xs)])),
    runs: Object.fromEntries(runs),
  });
  for (const w of windows.values()) w.dispose();
}

console.log(`native drift window update by lane width, batches of ${ROWS} rows, Float32, CPU time, median of ${ROUNDS} rounds x ${MS} ms`);
console.log('features | width 8 (AVX-512) | width 4 (AVX2) | width 0 (scalar) | 4 / 8');
for (const r of results) {
  const ns = (w: number) => (r.ns_per_value[w] === undefined ? '-' : r.ns_per_value[w]!.toFixed(2));
  const ratio = r.ns_per_value[8] && r.ns_per_value[4] ? `${(r.ns_per_value[4]! / r.ns_per_value[8]!).toFixed(2)}x` : '-';
  console.log(`${String(r.features).padStart(8)} | ${ns(8).padStart(17)} | ${ns(4).padStart(14)} | ${ns(0).padStart(16)} | ${ratio.padStart(5)}`);
}
if (args.json) writeFileSync(args.json, `${JSON.stringify({ bench: 'drift-lane-width', rows: ROWS, rounds: ROUNDS, ms: MS, results }, null, 2)}\n`);
