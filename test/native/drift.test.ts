import t, { type Test } from 'tap';
import v8 from 'node:v8';
import vm from 'node:vm';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { native } from '../../native/index.js';
import { buildProfile } from '../../gateway/drift/profile.js';
import { compileProfile, type CompiledProfile } from '../../gateway/drift/compile.js';
import { blockOffsets, emptyState, FEATURE_HEADER, KIND_CATEGORICAL, KIND_NUMERIC, type WindowLayout } from '../../gateway/drift/layout.js';
import { buildBinTables, LINEAR_STEPS, TABLE_MIN_EDGES } from '../../gateway/drift/bins.js';
import { binOf } from '../../gateway/drift/ts-window.js';
import { DriftWindow, scoreRows } from '../../gateway/drift/window.js';
import { kolmogorovQ, chiSquaredPValue } from '../../gateway/drift/statistics.js';
import { seededRandom, gaussian } from '../../lib/random.js';

const close = (a: number, b: number) => Object.is(a, b) || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

function agree(t: Test, a: Float64Array, b: Float64Array, what: string): void {
  t.equal(a.length, b.length, `${what}: same length`);
  const bad: string[] = [];
  for (let i = 0; i < a.length; i++) if (!close(a[i]!, b[i]!)) bad.push(`[${i}] ${a[i]} vs ${b[i]}`);
  t.same(bad, [], `${what}: native and TypeScript agree to 1e-9`);
}

/** A profile over three features: normal, skewed (exponential), categorical with 4 codes. */
function reference(seed = 1): CompiledProfile {
  const rnd = seededRandom(seed);
  const n = 3000;
  const data = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    data[i * 3] = gaussian(rnd) * 2 + 10;
    data[i * 3 + 1] = -Math.log(1 - rnd());
    data[i * 3 + 2] = Math.floor(rnd() * 4);
  }
  return compileProfile(buildProfile({
    model: 'm', version: '1',
    tensors: [{ name: 'x', role: 'input', features: [{ name: 'normal' }, { name: 'skewed' }, { name: 'code', kind: 'categorical', categories: [0, 1, 2, 3] }] }],
  }, { x: { data, dims: [n, 3] } }));
}

function liveRows(n: number, seed: number, shift: number): Float64Array {
  const rnd = seededRandom(seed);
  const out = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = gaussian(rnd) * 2 + 10 + shift;
    out[i * 3 + 1] = -Math.log(1 - rnd()) * (1 + shift);
    out[i * 3 + 2] = Math.floor(rnd() * (4 + shift));
  }
  return out;
}

function pair(layout: WindowLayout): [DriftWindow, DriftWindow] {
  return [new DriftWindow(layout, 'native'), new DriftWindow(layout, 'typescript')];
}

t.test('native and TypeScript windows agree on random data in every dtype', async (t) => {
  const c = reference();
  for (const shift of [0, 1.5]) {
    const rows = liveRows(700, 7, shift);
    const buffers = [Float64Array.from(rows), Float32Array.from(rows), Int32Array.from(rows, Math.round), BigInt64Array.from(rows, (v) => BigInt(Math.round(v)))];
    for (const data of buffers) {
      const [n, ts] = pair(c.layout);
      t.equal(n.backend, 'native');
      t.equal(ts.backend, 'typescript');
      // Three batches of different sizes, so the moments go through the batch merge too.
      for (const [from, to] of [[0, 1], [1, 300], [300, 700]] as const) {
        const view = { data, offset: from * 3, rows: to - from, cols: 3, rowStride: 3, colStride: 1 };
        n.update(view, 0);
        ts.update(view, 0);
      }
      agree(t, n.snapshot(), ts.snapshot(), `${data.constructor.name} shift ${shift} state`);
      agree(t, n.scores(c.reference), ts.scores(c.reference), `${data.constructor.name} shift ${shift} scores`);
      n.dispose();
      ts.dispose();
    }
  }
});

t.test('a strided (column-major, offset) view counts the same as the row-major copy', async (t) => {
  const c = reference();
  const rows = liveRows(200, 3, 0.5);
  const colMajor = new Float32Array(5 + rows.length);
  for (let r = 0; r < 200; r++) for (let k = 0; k < 3; k++) colMajor[5 + k * 200 + r] = rows[r * 3 + k]!;
  const [n, ts] = pair(c.layout);
  const plain = new DriftWindow(c.layout, 'native');
  plain.updateMatrix(Float32Array.from(rows), 200, 3);
  n.update({ data: colMajor, offset: 5, rows: 200, cols: 3, rowStride: 1, colStride: 200 });
  ts.update({ data: colMajor, offset: 5, rows: 200, cols: 3, rowStride: 1, colStride: 200 });
  agree(t, n.snapshot(), ts.snapshot(), 'strided');
  // Same values, different summation order inside a batch is not involved: the order is by row.
  agree(t, n.snapshot(), plain.snapshot(), 'strided vs row-major');
  // A single feature fed from its own tensor (featureBase).
  const one = new DriftWindow(c.layout, 'native');
  one.update({ data: colMajor, offset: 5 + 200, rows: 200, cols: 1, rowStride: 1, colStride: 1 }, 1);
  const s1 = scoreRows(c.features, one.scores(c.reference));
  const s3 = scoreRows(c.features, n.scores(c.reference));
  t.equal(s1.skewed!.psi, s3.skewed!.psi);
  t.equal(s1.normal!.count, 0, 'features not fed stay empty');
});

t.test('merging two windows equals one window over both halves', async (t) => {
  const c = reference();
  const rows = liveRows(1000, 11, 0.3);
  for (const backend of ['native', 'typescript'] as const) {
    const whole = new DriftWindow(c.layout, backend);
    const a = new DriftWindow(c.layout, backend);
    const b = new DriftWindow(c.layout, backend);
    whole.updateMatrix(rows, 1000, 3);
    a.updateMatrix(rows.subarray(0, 400 * 3), 400, 3);
    b.updateMatrix(rows.subarray(400 * 3), 600, 3);
    a.merge(b);
    const sw = whole.snapshot();
    const sm = a.snapshot();
    agree(t, sm, sw, `${backend} merge`);
    t.same(Array.from(sm.subarray(0, 3)), Array.from(sw.subarray(0, 3)));
  }
  // Across backends through a snapshot (a worker's window merged on the main thread).
  const main = new DriftWindow(c.layout, 'native');
  const w1 = new DriftWindow(c.layout, 'typescript');
  const w2 = new DriftWindow(c.layout, 'native');
  w1.updateMatrix(rows.subarray(0, 500 * 3), 500, 3);
  w2.updateMatrix(rows.subarray(500 * 3), 500, 3);
  main.mergeSnapshot(w1.rotate());
  main.mergeSnapshot(w2.rotate());
  const whole = new DriftWindow(c.layout, 'typescript');
  whole.updateMatrix(rows, 1000, 3);
  agree(t, main.snapshot(), whole.snapshot(), 'snapshot merge');
  t.equal(w1.snapshot()[3 + 0], 0, 'rotate leaves an empty window');
});

t.test('all-equal values: reference and window', async (t) => {
  const data = new Float64Array(500).fill(3.25);
  const c = compileProfile(buildProfile({ model: 'm', version: '1', tensors: [{ name: 'x', role: 'input' }] }, { x: { data, dims: [500] } }));
  const f = c.profile.tensors[0]!.features[0]!;
  t.equal(f.kind, 'numeric');
  if (f.kind !== 'numeric') return;
  t.same(f.edges, [3.25], 'one PSI edge: everything is in [3.25, inf)');
  t.same(f.grid.edges, [3.25]);
  t.same(f.proportions, [0, 1]);
  t.equal(f.std, 0);
  // 100 live rows all equal to `value`, scored by both backends (which must agree).
  const scoreConstant = (value: number, label: string) => {
    const [n, ts] = pair(c.layout);
    for (const w of [n, ts]) w.updateMatrix(new Float32Array(100).fill(value), 100, 1);
    agree(t, n.scores(c.reference), ts.scores(c.reference), label);
    return scoreRows(c.features, n.scores(c.reference)).x!;
  };
  const s = scoreConstant(3.25, 'all equal');
  t.equal(s.psi, 0);
  t.equal(s.js_distance, 0);
  t.equal(s.ks, 0);
  t.equal(s.wasserstein, 0);
  t.equal(s.std, 0);
  t.equal(s.ks_pvalue, 1);
  const moved = scoreConstant(2, 'all equal, moved');
  t.equal(moved.ks, 1);
  t.equal(moved.wasserstein, 1.25);
  // both proportions hit the epsilon once: (1 - e) ln(1/e) + (e - 1) ln(e/1)
  t.ok(Math.abs(moved.psi - 2 * (1 - 1e-4) * Math.log(1e4)) < 1e-12, `psi ${moved.psi}`);
});

t.test('NaN is counted apart, infinities land in the outer bins and make Wasserstein infinite', async (t) => {
  const c = reference();
  const rows = liveRows(50, 5, 0);
  rows[0] = NaN;
  rows[3] = Infinity;
  rows[6] = -Infinity;
  rows[4] = NaN;
  const [n, ts] = pair(c.layout);
  n.updateMatrix(rows, 50, 3);
  ts.updateMatrix(rows, 50, 3);
  agree(t, n.snapshot(), ts.snapshot(), 'NaN/Inf state');
  agree(t, n.scores(c.reference), ts.scores(c.reference), 'NaN/Inf scores');
  const s = scoreRows(c.features, n.scores(c.reference));
  t.equal(s.normal!.nan, 1);
  t.equal(s.normal!.count, 49, 'count is the non-NaN values, infinities included');
  t.equal(s.normal!.wasserstein, Infinity);
  t.ok(Number.isFinite(s.normal!.mean), 'mean and std stay finite: infinities are kept out of the moments');
  t.ok(Number.isFinite(s.normal!.psi));
  t.equal(s.skewed!.nan, 1);
  t.ok(Number.isFinite(s.skewed!.wasserstein));
  const snap = n.snapshot();
  t.equal(snap[3 + 2], 1, 'one +Inf');
  t.equal(snap[3 + 3], 1, 'one -Inf');
  t.equal(snap[3 + 4], 47, 'finite count');
  // An all-NaN batch leaves an empty window with NaN scores and no crash.
  const [en, ets] = pair(c.layout);
  en.updateMatrix(new Float64Array(9).fill(NaN), 3, 3);
  ets.updateMatrix(new Float64Array(9).fill(NaN), 3, 3);
  agree(t, en.scores(c.reference), ets.scores(c.reference), 'all NaN');
});

t.test('an empty window scores count 0 and NaN statistics in both implementations', async (t) => {
  const c = reference();
  const [n, ts] = pair(c.layout);
  n.updateMatrix(new Float64Array(0), 0, 3);
  const a = n.scores(c.reference);
  agree(t, a, ts.scores(c.reference), 'empty');
  const s = scoreRows(c.features, a);
  t.equal(s.normal!.count, 0);
  t.ok(Number.isNaN(s.normal!.psi) && Number.isNaN(s.normal!.ks) && Number.isNaN(s.code!.chi2));
});

t.test('a single-bin feature (no edges) still scores: everything is in one bin', async (t) => {
  const layout: WindowLayout = { kinds: Uint8Array.of(KIND_NUMERIC, KIND_CATEGORICAL), edges: new Float64Array(0), edgeOffsets: Int32Array.of(0, 0, 0) };
  const reference = {
    refBins: Float64Array.of(1, 1), coarseMap: Int32Array.of(0, 0), coarseOffsets: Int32Array.of(0, 1, 2),
    refCoarse: Float64Array.of(1, 1), refInfo: Float64Array.of(100, 5, 5, 100, NaN, NaN),
  };
  const [n, ts] = pair(layout);
  const data = Float64Array.of(1, 7, 2, 7, 3, 8, 9, 9);
  n.updateMatrix(data, 4, 2);
  ts.updateMatrix(data, 4, 2);
  agree(t, n.snapshot(), ts.snapshot(), 'single bin state');
  const a = n.scores(reference);
  agree(t, a, ts.scores(reference), 'single bin scores');
  t.equal(a[1], 0, 'psi 0');
  t.equal(a[3], 0, 'ks 0');
  t.equal(a[5], 5 - (1 + 2 + 3 + 9) / 4, 'W1 = distance between the two bin means');
});

t.test('argument errors throw coded errors and never crash', async (t) => {
  const c = reference();
  const w = new DriftWindow(c.layout, 'native');
  t.throws(() => w.updateMatrix(new Uint8Array(6) as unknown as Float32Array, 2, 3), { code: 'SLUICE_E_NATIVE_BAD_ARGUMENT' }, 'wrong dtype');
  t.throws(() => w.updateMatrix(new Float32Array(5), 2, 3), { code: 'SLUICE_E_NATIVE_BAD_ARGUMENT' }, 'shape larger than the data');
  t.throws(() => w.updateMatrix(new Float32Array(8), 2, 4), { code: 'SLUICE_E_NATIVE_BAD_ARGUMENT' }, 'more features than the window');
  t.throws(() => w.update({ data: new Float32Array(6), offset: -1, rows: 2, cols: 3, rowStride: 3, colStride: 1 }), { code: 'SLUICE_E_NATIVE_BAD_ARGUMENT' });
  t.throws(() => w.mergeSnapshot(new Float64Array(4)), { code: 'SLUICE_E_NATIVE_BAD_ARGUMENT' }, 'foreign snapshot');
  const other = new DriftWindow(reference(2).layout, 'native');
  t.throws(() => w.merge(other), { code: 'SLUICE_E_NATIVE_BAD_ARGUMENT' }, 'different layout');
  t.throws(() => new DriftWindow({ kinds: Uint8Array.of(0), edges: Float64Array.of(2, 1), edgeOffsets: Int32Array.of(0, 2) }), { code: 'SLUICE_E_NATIVE_BAD_ARGUMENT' }, 'unsorted edges');
  w.dispose();
  t.throws(() => w.updateMatrix(new Float32Array(6), 2, 3), { code: 'SLUICE_E_INTERNAL' }, 'disposed window');
  t.throws(() => other.merge(w), { code: 'SLUICE_E_INTERNAL' }, 'merging a disposed window');

  // The addon's own checks, reached without the wrapper, are JS exceptions too.
  const raw = new (native().DriftWindow)(c.layout.kinds, c.layout.edges, c.layout.edgeOffsets);
  t.throws(() => raw.update(new Float32Array(5), 0, 2, 3, 3, 1, 0), RangeError);
  t.throws(() => raw.update(new Uint16Array(6) as unknown as Float32Array, 0, 2, 3, 3, 1, 0), TypeError);
  t.throws(() => raw.update(new Float32Array(6), 0, 2, 3, 3, 1, 1), RangeError);
  t.throws(() => raw.update(new Float32Array(6), 0, 2, 3, 2 ** 52, 2 ** 52, 0), RangeError, 'huge strides');
  t.throws(() => raw.merge({} as never), TypeError);
  // An object that only looks like a window (its prototype is one) carries no window tag.
  const lookalike = Object.create(Object.getPrototypeOf(raw)) as typeof raw;
  // (Without the tag check napi_unwrap fails on it with a plain Error, or unwraps another addon's object.)
  t.throws(() => raw.merge(lookalike), TypeError, 'a fake prototype is not a window');
  const prototypeUpdate = (Object.getPrototypeOf(raw) as { update: (...args: unknown[]) => void }).update;
  t.throws(() => prototypeUpdate.call(lookalike, new Float32Array(6), 0, 2, 3, 3, 1, 0), TypeError, 'nor can it borrow update');
  t.throws(() => raw.mergeSnapshot(new Float64Array(raw.length)), RangeError, 'snapshot without the header');
  t.throws(() => raw.scores(new Float64Array(1), new Int32Array(1), new Int32Array(1), new Float64Array(1), new Float64Array(1), new Float64Array(1)), RangeError);
  t.throws(() => new (native().DriftWindow)(Uint8Array.of(0), new Float64Array(0), Int32Array.of(0, 3)), RangeError);
  // Offsets that reach past the edges before a later one decreases: all are checked before an edge is read.
  const fiveEdges = Float64Array.of(1, 2, 3, 4, 5);
  for (const offsets of [[0, 1000, 5], [0, 6, 5], [0, -1, 5], [0, 2, 1, 5]]) {
    const kinds = new Uint8Array(offsets.length - 1);
    t.throws(() => new (native().DriftWindow)(kinds, fiveEdges, Int32Array.from(offsets)), RangeError, `edgeOffsets [${offsets}]`);
  }
  t.throws(() => new (native().DriftWindow)(Uint8Array.of(0), fiveEdges, Int32Array.of(0, -5)), RangeError, 'a negative end');
  raw.dispose();
  t.equal(raw.disposed, true);
  t.throws(() => raw.snapshot(), /disposed/);
  t.throws(() => raw.update(new Float32Array(6), 0, 2, 3, 3, 1, 0), /disposed/);
});

t.test('update(data) reads its view from the bound Float64Array, checked like the arguments', async (t) => {
  const c = reference();
  const args = new (native().DriftWindow)(c.layout.kinds, c.layout.edges, c.layout.edgeOffsets);
  const bound = new (native().DriftWindow)(c.layout.kinds, c.layout.edges, c.layout.edgeOffsets);
  const data = Float32Array.from({ length: 40 }, (_, i) => (i * 0.37) % 3 - 1);
  t.throws(() => bound.update(data), TypeError, 'no view bound yet');
  t.throws(() => bound.bindView(new Float64Array(6)), TypeError, 'a detachable buffer');
  t.throws(() => bound.bindView(new Float64Array(new SharedArrayBuffer(40))), RangeError, 'five numbers');
  t.throws(() => bound.bindView(new Float32Array(new SharedArrayBuffer(24)) as unknown as Float64Array), TypeError);
  const view = new Float64Array(new SharedArrayBuffer(48));
  bound.bindView(view);
  // Column-major at offset 1 and row-major, both forms.
  view.set([1, 6, 3, 1, 6, 0]);
  bound.update(data);
  args.update(data, 1, 6, 3, 1, 6, 0);
  view.set([20, 4, 3, 3, 1, 0]);
  bound.update(data);
  args.update(data, 20, 4, 3, 3, 1, 0);
  t.same(bound.snapshot(), args.snapshot());
  for (const [i, bad, error] of [[0, -1, RangeError], [1, 1.5, RangeError], [2, NaN, RangeError], [3, 2 ** 53, RangeError], [5, 1, RangeError], [1, 100, RangeError]] as const) {
    view.set([0, 2, 3, 3, 1, 0]);
    view[i] = bad;
    t.throws(() => bound.update(data), error, `view[${i}] = ${bad}`);
  }
  t.same(bound.snapshot(), args.snapshot(), 'a refused update changes nothing');
  t.throws(() => (bound.update as (...a: unknown[]) => void)(data, 0), TypeError, 'two arguments');
  // Each window's update is its own, bound to it (no lookup of the window per call).
  t.ok(Object.prototype.hasOwnProperty.call(bound, 'update'));
  const detached = bound.update;
  view.set([0, 2, 3, 3, 1, 0]);
  detached.call({} as never, data);
  args.update(data, 0, 2, 3, 3, 1, 0);
  t.same(bound.snapshot(), args.snapshot(), 'a detached update still updates its window');
  const proto = Object.getPrototypeOf(bound) as { update: (...a: unknown[]) => void };
  t.throws(() => proto.update.call({}, data, 0, 2, 3, 3, 1, 0), TypeError, 'the prototype\'s update on a non-window');
  proto.update.call(bound, data, 0, 2, 3, 3, 1, 0);
  args.update(data, 0, 2, 3, 3, 1, 0);
  t.same(bound.snapshot(), args.snapshot(), 'and on a window');
  bound.dispose();
  t.throws(() => bound.update(data), /disposed/);
  t.throws(() => detached(data), /disposed/);
  t.throws(() => bound.bindView(view), /disposed/);
  args.dispose();
});

t.test('a window\'s update kept after the window is collected throws instead of touching freed memory', async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const c = reference();
  let collected = false;
  const registry = new FinalizationRegistry(() => (collected = true));
  const update = ((): ((...a: unknown[]) => void) => {
    const w = new (native().DriftWindow)(c.layout.kinds, c.layout.edges, c.layout.edgeOffsets);
    registry.register(w, 'window');
    return w.update as (...a: unknown[]) => void;
  })();
  // A full gc() collects it at the first try here; a window still alive after 50 means the test
  // checks nothing, so it fails rather than passing empty.
  for (let i = 0; i < 50 && !collected; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (!collected) {
    t.fail('the window was not collected after 50 full collections: the freed-window path went unchecked');
    return;
  }
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.throws(() => update(new Float32Array(6), 0, 2, 3, 3, 1, 0), /disposed/);
});

// ASan's operator new reports out-of-memory and exits instead of throwing std::bad_alloc (native/asan.sh).
const underAsan = process.env.LD_PRELOAD?.includes('libasan') === true;

t.test('a window too big for memory throws a JS error instead of ending the process', {
  skip: underAsan ? 'ASan never throws std::bad_alloc' : process.platform !== 'linux' ? 'needs /proc and prlimit' : false,
}, async (t) => {
  // 16M features without edges: 80 MB of arguments, but 80 bytes a feature of bin tables and 96 of
  // state in C++. The child allocates the arguments, then limits its own address space to what it
  // holds plus 512 MB (prlimit), so the C++ vectors fail with std::bad_alloc. (A limit set before
  // node starts must guess node's own reservations, which differ under the test runner.)
  const url = new URL('../../native/index.js', import.meta.url).href;
  const code = `
    const { native } = await import(${JSON.stringify(url)});
    const { execFileSync } = await import('node:child_process');
    const { readFileSync } = await import('node:fs');
    const n = 16 << 20;
    const args = [new Uint8Array(n), new Float64Array(0), new Int32Array(n + 1)];
    const kb = Number(/VmSize:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
    execFileSync('prlimit', ['--pid', String(process.pid), '--as=' + (kb + 512 * 1024) * 1024]);
    try {
      new (native().DriftWindow)(...args);
      console.log('constructed');
    } catch (e) {
      console.log(e.constructor.name);
    }`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
  t.equal(child.status, 0, `the child exits normally (stderr: ${child.stderr.slice(0, 300)})`);
  t.equal(child.stdout.trim(), 'Error', 'the allocation failure arrives as a JS Error');
});

t.test('native and TypeScript p-value functions agree', async (t) => {
  for (const l of [0.1, 0.5, 1, 1.17, 1.18, 1.36, 2, 3]) t.ok(close(native().driftKolmogorovQ(l), kolmogorovQ(l)), `Q(${l})`);
  for (const [x, df] of [[0.5, 1], [3.841, 1], [11.07, 5], [31.41, 20], [100, 3]] as const) {
    t.ok(close(native().driftChiSquaredPValue(x, df), chiSquaredPValue(x, df)), `chi2 ${x} df ${df}`);
  }
});

t.test('windows live in worker threads and their snapshots merge on the main thread', async (t) => {
  const c = reference();
  const rows = liveRows(400, 13, 0.2);
  const url = new URL('../../gateway/drift/window.js', import.meta.url).href;
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(${JSON.stringify(url)}).then(({ DriftWindow }) => {
      const w = new DriftWindow(workerData.layout);
      w.updateMatrix(workerData.rows, workerData.rows.length / 3, 3);
      parentPort.postMessage({ backend: w.backend, snapshot: w.rotate() });
      w.dispose();
    }).catch((e) => parentPort.postMessage({ error: String(e) }));`;
  const run = (part: Float64Array) => new Promise<{ backend: string; snapshot: Float64Array; error?: string }>((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { layout: c.layout, rows: part } });
    worker.once('message', (m) => void worker.terminate().then(() => resolve(m)));
    worker.once('error', reject);
  });
  const [a, b] = await Promise.all([run(rows.slice(0, 600)), run(rows.slice(600))]);
  t.equal(a.error, undefined);
  t.equal(a.backend, 'native');
  const main = new DriftWindow(c.layout, 'native');
  main.mergeSnapshot(a.snapshot);
  main.mergeSnapshot(b.snapshot);
  const whole = new DriftWindow(c.layout, 'native');
  whole.updateMatrix(rows, 400, 3);
  agree(t, main.snapshot(), whole.snapshot(), 'two workers merged');
});

t.test('values exactly on, just below and just above every edge bin the same in both implementations', async (t) => {
  const c = reference(3);
  const values: number[][] = [[], [], []];
  for (let f = 0; f < 3; f++) {
    for (let i = c.layout.edgeOffsets[f]!; i < c.layout.edgeOffsets[f + 1]!; i++) {
      const e = c.layout.edges[i]!;
      const ulp = Math.abs(e) * Number.EPSILON || Number.MIN_VALUE;
      values[f]!.push(e, e - ulp, e + ulp, e - 1e-9, e + 1e-9);
    }
  }
  const rows = Math.max(...values.map((v) => v.length));
  const data = new Float64Array(rows * 3);
  for (let r = 0; r < rows; r++) for (let f = 0; f < 3; f++) data[r * 3 + f] = values[f]![r % values[f]!.length]!;
  const [n, ts] = pair(c.layout);
  n.updateMatrix(data, rows, 3);
  ts.updateMatrix(data, rows, 3);
  agree(t, n.snapshot(), ts.snapshot(), 'edge values');
});

t.test('bin tables give the binary search\'s bin for every value, crowded and huge edges included', async (t) => {
  // Features: evenly spaced (few steps), crowded near zero (cells with many edges: the binary-search
  // steps), huge magnitudes (the cell arithmetic overflows to ±Infinity), exactly the table minimum of
  // edges, one fewer (no table), and a categorical feature.
  const features = [
    Array.from({ length: 101 }, (_, i) => -5 + i / 10),
    Array.from({ length: 60 }, (_, i) => (i < 50 ? 1e-9 * 2 ** (i / 4) : i - 49)),
    [-1.7e308, -1e300, -1, 0, 1e-300, 1, 1e300, 1.7e308],
    Array.from({ length: TABLE_MIN_EDGES }, (_, i) => i * i),
    Array.from({ length: TABLE_MIN_EDGES - 1 }, (_, i) => i * 3),
    [0, 1, 2, 5],
  ];
  const kinds = Uint8Array.from(features, (_, f) => (f === features.length - 1 ? KIND_CATEGORICAL : KIND_NUMERIC));
  const edgeOffsets = Int32Array.from({ length: features.length + 1 }, (_, f) => features.slice(0, f).reduce((n, e) => n + e.length, 0));
  const layout: WindowLayout = { kinds, edges: Float64Array.from(features.flat()), edgeOffsets };
  t.ok(buildBinTables(layout).steps[1]! > LINEAR_STEPS, 'the crowded feature takes the binary-search steps');
  t.equal(buildBinTables(layout).steps[4], 0, 'too few edges: no table');
  const columns = features.map((edges) => {
    const v = [0, -0, Infinity, -Infinity, NaN, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 0.5, 1e-12];
    edges.forEach((e, i) => {
      const ulp = Math.abs(e) * Number.EPSILON || Number.MIN_VALUE;
      v.push(e, e - ulp, e + ulp, e - 1e-9, e + 1e-9, i + 1 < edges.length ? (e + edges[i + 1]!) / 2 : e * 2);
    });
    return v;
  });
  const rows = Math.max(...columns.map((v) => v.length));
  const cols = features.length;
  const data = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let f = 0; f < cols; f++) data[r * cols + f] = columns[f]![r % columns[f]!.length]!;
  const expected = emptyState(layout);
  const offsets = blockOffsets(layout);
  for (let f = 0; f < cols; f++) {
    for (let r = 0; r < rows; r++) {
      const x = data[r * cols + f]!;
      if (Number.isNaN(x)) continue;
      expected[offsets[f]! + FEATURE_HEADER + binOf(layout.edges, edgeOffsets[f]!, edgeOffsets[f + 1]!, x, kinds[f] === KIND_CATEGORICAL)]!++;
    }
  }
  for (const w of pair(layout)) {
    w.updateMatrix(data, rows, cols);
    const snap = w.snapshot();
    for (let f = 0; f < cols; f++) {
      const from = offsets[f]! + FEATURE_HEADER;
      t.same(Array.from(snap.subarray(from, offsets[f + 1]!)), Array.from(expected.subarray(from, offsets[f + 1]!)), `${w.backend} feature ${f}: counts`);
    }
  }
});

t.test('the state can live in a SharedArrayBuffer both implementations update in place', async (t) => {
  const c = reference(4);
  const rows = liveRows(300, 17, 0.4);
  const length = new DriftWindow(c.layout, 'typescript').length;
  const shared = new Float64Array(new SharedArrayBuffer(length * 8));
  // 'auto' sends tiny updates through TypeScript and the rest through the addon, on the same memory.
  const mixed = new DriftWindow(c.layout, 'auto', shared);
  const plain = new DriftWindow(c.layout, 'typescript');
  for (let r = 0; r < 300; r += r < 20 ? 1 : 40) {
    const n = Math.min(r < 20 ? 1 : 40, 300 - r);
    mixed.updateMatrix(rows.subarray(r * 3, (r + n) * 3), n, 3);
    plain.updateMatrix(rows.subarray(r * 3, (r + n) * 3), n, 3);
  }
  agree(t, Float64Array.from(shared), plain.snapshot(), 'shared state, mixed paths');
  agree(t, mixed.snapshot(), shared.slice(), 'snapshot is the shared memory');
  mixed.reset();
  t.equal(shared[3], 0, 'reset clears the shared memory in place');
  t.throws(() => new DriftWindow(c.layout, 'native', new Float64Array(length)), { code: 'SLUICE_E_NATIVE_BAD_ARGUMENT' }, 'a detachable buffer is refused');
  t.throws(() => new (native().DriftWindow)(c.layout.kinds, c.layout.edges, c.layout.edgeOffsets, new Float64Array(length)), TypeError);
  t.throws(() => new (native().DriftWindow)(c.layout.kinds, c.layout.edges, c.layout.edgeOffsets, new Float64Array(new SharedArrayBuffer(16))), RangeError);
});
