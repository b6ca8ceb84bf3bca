// The native window's vector paths (native/drift_lane_loop.h: four features per lane group with AVX2,
// eight with AVX-512) against its scalar path and the TypeScript reference: the same state bit for
// bit, in every dtype and view, at every lane width this CPU runs.
import t from 'tap';
import { native, type NativeDriftWindow } from '../../native/index.js';
import { KIND_CATEGORICAL, KIND_NUMERIC, type WindowLayout } from '../../gateway/drift/layout.js';
import { buildBinTables, LINEAR_STEPS } from '../../gateway/drift/bins.js';
import { DriftWindow } from '../../gateway/drift/window.js';
import { seededRandom } from '../../lib/random.js';

type LaneWindow = NativeDriftWindow & { useLanes(on: boolean): boolean; laneWidth(width: number): number };

const linear = (n: number, lo: number, hi: number) => Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
const exponential = (n: number) => Array.from({ length: n }, (_, i) => -Math.log(1 - (i + 1) / (n + 1)));
const quarters = Array.from({ length: 41 }, (_, i) => i / 4);
const crowded = Array.from({ length: 60 }, (_, i) => (i < 50 ? 1e-9 * 2 ** (i / 4) : i - 49));
const huge = [-1.7e308, -1e300, -1, 0, 1e-300, 1, 1e300, 1.7e308];
const squares = Array.from({ length: 8 }, (_, i) => i * i);
const categories = [0, 1, 2, 5];
// Three and four edges closer together than the finest cell: tables of 3 and 4 steps.
const steps3 = [0, 1e-9, 2e-9, 1, 2, 3, 4, 5, 1000];
const steps4 = [0, 1e-9, 2e-9, 3e-9, 1, 2, 3, 4, 5, 1000];

// Lane groups form from four consecutive features with tables of at most LINEAR_STEPS steps; the
// categorical (5), crowded (7) and huge (11: no table) features break them, so a call mixes groups
// and scalar columns, and each featureBase below shifts where the groups fall. From featureBase 0
// the groups compare 2 (0-3, 12-15), 3 (16-19), 4 (20-23) and 1 (24-27) edges per value.
const FEATURES = [
  linear(101, -5, 5), exponential(99), quarters, squares, linear(101, 0, 1000), categories, linear(11, -1, 1), crowded,
  linear(101, -5, 5), exponential(99), quarters, huge, exponential(20), linear(101, -5, 5), quarters, exponential(99),
  steps3, linear(11, -1, 1), quarters, linear(101, -5, 5), steps4, quarters, linear(11, -1, 1), linear(101, -5, 5),
  quarters, linear(101, -5, 5), linear(11, -1, 1), quarters, exponential(20),
];
const F = FEATURES.length;
const layout: WindowLayout = {
  kinds: Uint8Array.from(FEATURES, (_, f) => (f === 5 ? KIND_CATEGORICAL : KIND_NUMERIC)),
  edges: Float64Array.from(FEATURES.flat()),
  edgeOffsets: Int32Array.from({ length: F + 1 }, (_, f) => FEATURES.slice(0, f).reduce((n, e) => n + e.length, 0)),
};

/** Values around a feature's edges: on them, an ulp off, between, outside; NaN and ±Infinity sprinkled. */
function values(rows: number, seed: number, nonFinite: boolean): Float64Array {
  const rnd = seededRandom(seed);
  const out = new Float64Array(rows * F);
  for (let r = 0; r < rows; r++) {
    for (let f = 0; f < F; f++) {
      const edges = FEATURES[f]!;
      const e = edges[Math.floor(rnd() * edges.length)]!;
      const u = rnd();
      let x: number;
      if (nonFinite && u < 0.04) x = NaN;
      else if (nonFinite && u < 0.06) x = Infinity;
      else if (nonFinite && u < 0.08) x = -Infinity;
      else if (u < 0.25) x = e;
      else if (u < 0.35) x = e + (rnd() < 0.5 ? -1 : 1) * (Math.abs(e) * Number.EPSILON || Number.MIN_VALUE);
      else x = Math.max(-1.7e308, Math.min(1.7e308, edges[0]! + (edges[edges.length - 1]! - edges[0]!) * (rnd() * 1.4 - 0.2)));
      out[r * F + f] = x;
    }
  }
  return out;
}

type Dtype = 'Float64Array' | 'Float32Array' | 'Int32Array' | 'BigInt64Array';
type Buffer = Float64Array | Float32Array | Int32Array | BigInt64Array;

function buffer(dtype: Dtype, n: number): Buffer {
  return dtype === 'Float64Array' ? new Float64Array(n) : dtype === 'Float32Array' ? new Float32Array(n) : dtype === 'Int32Array' ? new Int32Array(n) : new BigInt64Array(n);
}

function put(b: Buffer, i: number, x: number): void {
  if (b instanceof BigInt64Array) b[i] = Number.isFinite(x) ? BigInt(Math.round(Math.max(-9e18, Math.min(9e18, x)))) : 0n;
  else if (b instanceof Int32Array) b[i] = Number.isFinite(x) ? Math.round(Math.max(-2e9, Math.min(2e9, x))) : 0;
  else b[i] = x;
}

interface View { name: string; offset: number; rowStride: (cols: number, rows: number) => number; colStride: (cols: number, rows: number) => number }
const VIEWS: View[] = [
  { name: 'row-major', offset: 0, rowStride: (c) => c, colStride: () => 1 },
  { name: 'column-major at an offset', offset: 3, rowStride: () => 1, colStride: (_, r) => r },
  { name: 'padded rows', offset: 2, rowStride: (c) => c + 5, colStride: () => 1 },
  { name: 'every other column', offset: 1, rowStride: (c) => 2 * c + 1, colStride: () => 2 },
];

/** The lane widths this CPU runs (4: AVX2, 8: AVX-512), each forced in turn below. */
const widths = (() => {
  const w = new (native().DriftWindow)(layout.kinds, layout.edges, layout.edgeOffsets) as LaneWindow;
  const out = [4, 8].filter((n) => w.laneWidth(n) === n);
  w.dispose();
  return out;
})();

const lanesOn = (() => {
  const w = new (native().DriftWindow)(layout.kinds, layout.edges, layout.edgeOffsets) as LaneWindow;
  const on = w.useLanes(true);
  w.dispose();
  return on;
})();

t.test('the layout mixes lane groups and scalar columns', async (t) => {
  const tables = buildBinTables(layout);
  t.ok(tables.steps[7]! > LINEAR_STEPS, 'the crowded feature is too crowded for a lane');
  t.equal(tables.steps[11], 0, 'the huge feature has no table');
  t.same([16, 20, 24, 25, 26, 27].map((f) => tables.steps[f]), [3, 4, 1, 1, 1, 1], '3, 4 and 1 steps');
  for (let f = 0; f < F; f++) if (f !== 5 && f !== 7 && f !== 11) t.ok(tables.steps[f]! >= 1 && tables.steps[f]! <= LINEAR_STEPS, `feature ${f} fits a lane`);
});

t.test('vector and scalar paths give the same state bit for bit, and TypeScript agrees', { skip: lanesOn ? false : 'no vector path on this CPU' }, async (t) => {
  let combos = 0;
  const mismatches: string[] = [];
  const tsMismatches: string[] = [];
  for (const dtype of ['Float64Array', 'Float32Array', 'Int32Array', 'BigInt64Array'] as Dtype[]) {
    for (const view of VIEWS) {
      for (const [base, cols] of [[0, F], [1, F - 1], [2, 7], [12, 4], [16, 13]] as const) {
        for (const rows of [1, 3, 5, 64, 67, 130]) {
          const lanes = new (native().DriftWindow)(layout.kinds, layout.edges, layout.edgeOffsets) as LaneWindow;
          const scalar = new (native().DriftWindow)(layout.kinds, layout.edges, layout.edgeOffsets) as LaneWindow;
          lanes.useLanes(true);
          t.equal(scalar.useLanes(false), false);
          const ts = new DriftWindow(layout, 'typescript');
          // Three batches: the first starts the moments, the others merge into them; the last is all finite.
          for (const [batch, nonFinite] of [[0, true], [1, true], [2, false]] as const) {
            const x = values(rows, 1000 * combos + batch, nonFinite);
            const rowStride = view.rowStride(cols, rows);
            const colStride = view.colStride(cols, rows);
            const data = buffer(dtype, view.offset + (rows - 1) * rowStride + (cols - 1) * colStride + 1 + 4);
            for (let i = 0; i < data.length; i++) put(data, i, 1e6 + i); // outside the view: never read
            for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) put(data, view.offset + r * rowStride + c * colStride, x[r * F + base + c]!);
            lanes.update(data, view.offset, rows, cols, rowStride, colStride, base);
            scalar.update(data, view.offset, rows, cols, rowStride, colStride, base);
            ts.update({ data, offset: view.offset, rows, cols, rowStride, colStride }, base);
          }
          const a = lanes.snapshot();
          const b = scalar.snapshot();
          const c = ts.snapshot();
          const what = `${dtype} ${view.name} features ${base}..${base + cols - 1} rows ${rows}`;
          for (let i = 0; i < a.length; i++) {
            if (!Object.is(a[i], b[i])) mismatches.push(`${what} [${i}] ${a[i]} vs ${b[i]}`);
            const tol = 1e-9 * Math.max(1, Math.abs(a[i]!), Math.abs(c[i]!));
            if (!(Object.is(a[i], c[i]) || Math.abs(a[i]! - c[i]!) <= tol)) tsMismatches.push(`${what} [${i}] ${a[i]} vs ${c[i]}`);
          }
          lanes.dispose();
          scalar.dispose();
          ts.dispose();
          combos++;
        }
      }
    }
  }
  t.same(mismatches.slice(0, 10), [], `vector path equals scalar path exactly (${combos} dtype/view/feature/row combinations)`);
  t.same(tsMismatches.slice(0, 10), [], 'and the TypeScript reference to 1e-9');
});

t.test('useLanes takes a boolean and a disposed window refuses it', async (t) => {
  const w = new (native().DriftWindow)(layout.kinds, layout.edges, layout.edgeOffsets) as LaneWindow;
  t.throws(() => w.useLanes(1 as unknown as boolean), TypeError);
  t.equal(w.useLanes(false), false);
  t.equal(w.useLanes(true), lanesOn);
  w.dispose();
  t.throws(() => w.useLanes(true), /disposed/);
});

t.test('finite values whose squares overflow take the careful pass and still agree bit for bit', { skip: lanesOn ? false : 'no vector path on this CPU' }, async (t) => {
  for (const width of widths) {
    await t.test(`${width} lanes`, async (t) => {
      // Eight lane features; the first four span ±1e200, so (x - shift)^2 overflows to Infinity while
      // every value is finite: the chunk is done again the careful way, and later chunks start there.
      const edges = [...Array.from({ length: 4 }, () => linear(11, -1e200, 1e200)), ...Array.from({ length: 4 }, () => linear(101, -5, 5))];
      const wide: WindowLayout = {
        kinds: new Uint8Array(edges.length),
        edges: Float64Array.from(edges.flat()),
        edgeOffsets: Int32Array.from({ length: edges.length + 1 }, (_, f) => edges.slice(0, f).reduce((n, e) => n + e.length, 0)),
      };
      const cols = edges.length;
      for (const rows of [3, 64, 130]) {
        for (const hugeAt of [0, rows - 1, 70]) {
          if (hugeAt >= rows) continue;
          const lanes = new (native().DriftWindow)(wide.kinds, wide.edges, wide.edgeOffsets) as LaneWindow;
          const scalar = new (native().DriftWindow)(wide.kinds, wide.edges, wide.edgeOffsets) as LaneWindow;
          t.equal(lanes.laneWidth(width), width);
          scalar.useLanes(false);
          const ts = new DriftWindow(wide, 'typescript');
          const rnd = seededRandom(rows * 1000 + hugeAt);
          for (let batch = 0; batch < 2; batch++) {
            const data = new Float64Array(rows * cols);
            for (let r = 0; r < rows; r++) {
              for (let c = 0; c < cols; c++) data[r * cols + c] = c < 4 && r === hugeAt ? (rnd() < 0.5 ? -1 : 1) * 1e200 * rnd() : rnd() * 12 - 6;
            }
            lanes.update(data, 0, rows, cols, cols, 1, 0);
            scalar.update(data, 0, rows, cols, cols, 1, 0);
            ts.update({ data, offset: 0, rows, cols, rowStride: cols, colStride: 1 });
          }
          const a = lanes.snapshot();
          const b = scalar.snapshot();
          const c = ts.snapshot();
          const bad: string[] = [];
          for (let i = 0; i < a.length; i++) {
            if (!Object.is(a[i], b[i])) bad.push(`[${i}] ${a[i]} vs scalar ${b[i]}`);
            const tol = 1e-9 * Math.max(1, Math.abs(a[i]!), Math.abs(c[i]!));
            if (!(Object.is(a[i], c[i]) || Math.abs(a[i]! - c[i]!) <= tol)) bad.push(`[${i}] ${a[i]} vs TypeScript ${c[i]}`);
          }
          t.same(bad.slice(0, 10), [], `rows ${rows}, huge values in row ${hugeAt}`);
          t.ok(a.some((v) => !Number.isFinite(v)), 'some M2 overflowed');
          lanes.dispose();
          scalar.dispose();
          ts.dispose();
        }
      }
    });
  }
});

// The lane features with at most two steps (one and two), so lane groups of 8 run those loops too.
const TWO_STEP = [0, 1, 2, 3, 4, 6, 8, 9, 10, 12, 13, 14, 15, 17, 18, 19, 21, 22, 23, 24, 25, 26, 27, 28];

t.test('every lane width gives the scalar path\'s state bit for bit, in every dtype and view', { skip: widths.length > 0 ? false : 'no vector path on this CPU' }, async (t) => {
  t.ok(widths.includes(4), 'AVX2 lanes');
  const layouts = [
    { name: 'all features', layout, pick: Array.from({ length: F }, (_, f) => f) },
    { name: 'steps <= 2', layout: pickLayout(TWO_STEP), pick: TWO_STEP },
  ];
  for (const width of widths) {
    for (const { name, layout: l, pick } of layouts) {
      const n = pick.length;
      const mismatches: string[] = [];
      let combos = 0;
      for (const dtype of ['Float64Array', 'Float32Array', 'Int32Array', 'BigInt64Array'] as Dtype[]) {
        for (const view of VIEWS) {
          for (const [base, cols] of [[0, n], [1, n - 1], [12, n - 12], [13, 11], [16, 8]] as const) {
            for (const rows of [1, 5, 64, 67, 130]) {
              const lanes = new (native().DriftWindow)(l.kinds, l.edges, l.edgeOffsets) as LaneWindow;
              const scalar = new (native().DriftWindow)(l.kinds, l.edges, l.edgeOffsets) as LaneWindow;
              lanes.laneWidth(width);
              scalar.laneWidth(0);
              for (const [batch, nonFinite] of [[0, true], [1, false], [2, true]] as const) {
                const x = values(rows, 7000 * combos + batch, nonFinite);
                const rowStride = view.rowStride(cols, rows);
                const colStride = view.colStride(cols, rows);
                const data = buffer(dtype, view.offset + (rows - 1) * rowStride + (cols - 1) * colStride + 1 + 8);
                for (let i = 0; i < data.length; i++) put(data, i, 1e6 + i);
                for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) put(data, view.offset + r * rowStride + c * colStride, x[r * F + pick[base + c]!]!);
                lanes.update(data, view.offset, rows, cols, rowStride, colStride, base);
                scalar.update(data, view.offset, rows, cols, rowStride, colStride, base);
              }
              const a = lanes.snapshot();
              const b = scalar.snapshot();
              for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) mismatches.push(`${dtype} ${view.name} features ${base}..${base + cols - 1} rows ${rows} [${i}] ${a[i]} vs ${b[i]}`);
              lanes.dispose();
              scalar.dispose();
              combos++;
            }
          }
        }
      }
      t.same(mismatches.slice(0, 10), [], `${width} lanes equal the scalar path exactly, ${name} (${combos} combinations)`);
    }
  }
});

function pickLayout(pick: number[]): WindowLayout {
  const edges = pick.map((f) => FEATURES[f]!);
  return {
    kinds: new Uint8Array(pick.length),
    edges: Float64Array.from(edges.flat()),
    edgeOffsets: Int32Array.from({ length: pick.length + 1 }, (_, f) => edges.slice(0, f).reduce((n, e) => n + e.length, 0)),
  };
}

t.test('laneWidth takes 0, 4 or 8, answers the width in effect, and a disposed window refuses it', async (t) => {
  const w = new (native().DriftWindow)(layout.kinds, layout.edges, layout.edgeOffsets) as LaneWindow;
  t.throws(() => w.laneWidth(2), RangeError);
  t.throws(() => w.laneWidth('8' as unknown as number), TypeError);
  t.equal(w.laneWidth(0), 0);
  t.equal(w.useLanes(true), lanesOn);
  t.equal(w.laneWidth(8), widths.includes(8) ? 8 : widths.includes(4) ? 4 : 0, 'capped at what the CPU runs');
  t.equal(w.laneWidth(4), widths.includes(4) ? 4 : 0);
  w.dispose();
  t.throws(() => w.laneWidth(4), /disposed/);
});
