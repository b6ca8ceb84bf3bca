// Micro-benchmark: nanoseconds per value for a drift window update, native addon vs the TypeScript
// reference, at 8, 64 and 512 features, in the same run (rounds interleave the two so machine noise
// hits both). Each feature bins into its profile's percentile grid (up to 101 edges) and updates
// Welford moments, exactly what a gateway worker does per batch.
//
// Every width replays the same number of distinct values (--values, 2^19: 16 batches at 512
// features, 128 at 64, 1024 at 8). With a few batches replayed over and over, the branch
// predictor learns the TypeScript update's data-dependent branches (`bin === 0`, the crowded cells'
// binary search, the old binary search over every edge) and the smallest width measured that, not
// the update: with 16 replayed batches TypeScript at 8 features took 28-43 ns/value against 69-77
// with fresh data, while 64 and 512 features were unchanged. `--batches 16` replays the old setup.
//
//   node dist/bench/micro/drift/window-update.js [--rows 64] [--rounds 7] [--ms 250] [--values 524288] [--batches n] [--json out.json]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildProfile } from '../../../gateway/drift/profile.js';
import { compileProfile } from '../../../gateway/drift/compile.js';
import { DriftWindow, type DriftBackend } from '../../../gateway/drift/window.js';
import { gaussian, seededRandom } from '../../../lib/random.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '7' },
    ms: { type: 'string', default: '250' },
    features: { type: 'string', default: '8,64,512' },
    values: { type: 'string', default: String(1 << 19) },
    batches: { type: 'string' },
    json: { type: 'string' },
  },
});
const ROWS = Number(args.rows);
const ROUNDS = Number(args.rounds);
const MS = Number(args.ms);

function table(n: number, f: number, seed: number, drift: number): Float32Array {
  const rnd = seededRandom(seed);
  const out = new Float32Array(n * f);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < f; j++) {
      // A mix of shapes: normal, skewed, and a coarse integer code every fourth column.
      const k = j % 4;
      out[i * f + j] = k === 0 ? gaussian(rnd) * 3 + drift : k === 1 ? -Math.log(1 - rnd()) : k === 2 ? Math.round(rnd() * 40) / 4 : gaussian(rnd);
    }
  }
  return out;
}

/**
 * ns per value of `window.update` over batches of ROWS rows for about MS milliseconds. Timed in
 * process CPU time, not wall time: on a shared 2-core machine the wall clock also counts the time
 * other processes held the core.
 */
let next = 0;
function measure(window: DriftWindow, batches: Float32Array[], features: number): number {
  let calls = 0;
  const deadline = performance.now() + MS;
  const cpu = process.cpuUsage();
  while (performance.now() < deadline) {
    for (let k = 0; k < 16; k++) window.updateMatrix(batches[next++ % batches.length]!, ROWS, features);
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

interface Row {
  features: number;
  rows: number;
  batches: number;
  native_ns_per_value: number;
  typescript_ns_per_value: number;
  ratio: number;
  native_runs: number[];
  typescript_runs: number[];
}

const results: Row[] = [];
for (const features of args.features!.split(',').map(Number)) {
  const reference = table(2000, features, 1, 0);
  const compiled = compileProfile(buildProfile({ model: 'bench', version: '1', tensors: [{ name: 'x', role: 'input' }] },
    { x: { data: reference, dims: [2000, features] } }));
  const count = args.batches ? Number(args.batches) : Math.max(16, Math.ceil(Number(args.values) / (ROWS * features)));
  const live = table(ROWS * count, features, 2, 0.5);
  const batches = Array.from({ length: count }, (_, i) => live.subarray(i * ROWS * features, (i + 1) * ROWS * features));
  const windows: Record<DriftBackend, DriftWindow> = {
    native: new DriftWindow(compiled.layout, 'native'),
    typescript: new DriftWindow(compiled.layout, 'typescript'),
  };
  const runs: Record<DriftBackend, number[]> = { native: [], typescript: [] };
  // One warm-up round each (JIT, caches), then interleaved measured rounds.
  measure(windows.typescript, batches, features);
  measure(windows.native, batches, features);
  for (let r = 0; r < ROUNDS; r++) {
    for (const b of (r % 2 === 0 ? ['native', 'typescript'] : ['typescript', 'native']) as DriftBackend[]) {
      runs[b].push(measure(windows[b], batches, features));
    }
  }
  const n = median(runs.native);
  const ts = median(runs.typescript);
  results.push({ features, rows: ROWS, batches: count, native_ns_per_value: n, typescript_ns_per_value: ts, ratio: ts / n, native_runs: runs.native, typescript_runs: runs.typescript });
  windows.native.dispose();
  windows.typescript.dispose();
}

console.log(`drift window update, batches of ${ROWS} rows, Float32 [rows, features], CPU time, median of ${ROUNDS} rounds x ${MS} ms`);
console.log('features | batches | native ns/value | TypeScript ns/value | TS / native');
for (const r of results) {
  console.log(`${String(r.features).padStart(8)} | ${String(r.batches).padStart(7)} | ${r.native_ns_per_value.toFixed(2).padStart(15)} | ${r.typescript_ns_per_value.toFixed(2).padStart(19)} | ${r.ratio.toFixed(1).padStart(6)}x`);
}
if (args.json) writeFileSync(args.json, `${JSON.stringify({ bench: 'drift-window-update', rows: ROWS, rounds: ROUNDS, ms: MS, results }, null, 2)}\n`);
