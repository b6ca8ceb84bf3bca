import t from 'tap';
import { join } from 'node:path';
import { LATENCY_BUCKETS_MS } from '../../../lib/sync-wire.js';
import { readProfile } from '../../../gateway/drift/compile.js';
import { OutputBinning } from '../../../gateway/routing/output-bins.js';
import { LATENCY_BUCKET_COUNT, TrafficWindows, latencyBucket } from '../../../gateway/routing/traffic.js';
import { exampleModels } from '../../helpers/paths.js';

const WEATHER_OUTPUTS = [
  { name: 'probabilities', datatype: 'FP32' as const, dims: [5] },
  { name: 'label', datatype: 'INT64' as const, dims: [] },
];

t.test('a latency falls in the first bucket whose bound it does not exceed, else the overflow bucket', async (t) => {
  t.equal(LATENCY_BUCKET_COUNT, LATENCY_BUCKETS_MS.length + 1);
  t.equal(latencyBucket(0), 0);
  t.equal(latencyBucket(0.05), 0, 'a bound is inclusive');
  t.equal(latencyBucket(0.050001), 1);
  t.equal(latencyBucket(1), LATENCY_BUCKETS_MS.indexOf(1));
  t.equal(latencyBucket(10_000), LATENCY_BUCKETS_MS.length - 1);
  t.equal(latencyBucket(10_001), LATENCY_BUCKETS_MS.length, 'past the last bound: overflow');
});

t.test('a window counts calls, failures and latency per version, and a version without calls sends nothing', async (t) => {
  const windows = new TrafficWindows();
  const v1 = windows.of('weather', '1');
  windows.of('weather', '2');
  t.equal(windows.of('weather', '1'), v1, 'one window per model version');
  v1.call(0.3, false);
  v1.call(0.3, false);
  v1.call(12, true);
  const [w, ...rest] = windows.take(Date.parse('2030-01-01T00:00:00Z'));
  t.equal(rest.length, 0, 'version 2 had no calls: no window');
  t.match(w, { model: 'weather', version: 1, rolloutId: null, calls: 3, errors: 1, end: '2030-01-01T00:00:00.000Z', outputs: [] });
  t.equal(w!.latency[latencyBucket(0.3)], 2);
  t.equal(w!.latency[latencyBucket(12)], 1);
  t.equal(w!.latency.reduce((a, b) => a + b, 0), 3);
  t.same(w!.mirrored, { calls: 0, errors: 0, compared: 0, agreed: 0, latency: new Array(LATENCY_BUCKET_COUNT).fill(0) });
  t.same(windows.take(), [], 'take starts every window over');
});

t.test('refusals at admission are counted apart from calls, failures and latency; a window of refusals alone is sent', async (t) => {
  const windows = new TrafficWindows();
  const v1 = windows.of('weather', '1');
  v1.call(2, false);
  v1.call(5, true);
  v1.refuse();
  v1.refuse();
  windows.of('weather', '2').refuse();
  const [w1, w2] = windows.take();
  t.match(w1, { version: 1, calls: 2, errors: 1, refused: 2 });
  t.equal(w1!.latency.reduce((a, b) => a + b, 0), 2, 'a refusal has no latency of the version');
  t.match(w2, { version: 2, calls: 0, errors: 0, refused: 1 }, 'a version that only refused still reports it');
  windows.of('weather', '1').call(1, false);
  t.notOk('refused' in windows.take()[0]!, 'no refusal in the window: no refused field (older control planes do not know it)');
});

t.test('a version that only ran copies still reports them', async (t) => {
  const windows = new TrafficWindows();
  const v2 = windows.of('weather', '2');
  v2.mirrored(2, false, true, true);
  v2.mirrored(3, false, true, false);
  v2.mirrored(700, true, false, false);
  const [w] = windows.take();
  t.match(w, { version: 2, calls: 0, errors: 0, mirrored: { calls: 3, errors: 1, compared: 2, agreed: 1 } });
  t.equal(w!.mirrored.latency[latencyBucket(700)], 1);
});

t.test('a rollout change closes the window under the old rollout and bins outputs under the new one', async (t) => {
  const windows = new TrafficWindows();
  const v = windows.of('weather', '1');
  v.call(1, false);
  const binning = OutputBinning.of(WEATHER_OUTPUTS, true, undefined);
  v.follow({ id: 'r1', binning });
  v.call(1, false);
  v.answered([
    { name: 'probabilities', datatype: 'FP32', shape: [2, 5], data: Float32Array.of(0.1, 0.1, 0.6, 0.1, 0.1, 0.9, 0, 0, 0, 0.1) },
    { name: 'label', datatype: 'INT64', shape: [2], data: BigInt64Array.of(2n, 0n) },
  ]);
  const [before, after] = windows.take();
  t.match(before, { rolloutId: null, calls: 1, outputs: [] });
  t.match(after, { rolloutId: 'r1', calls: 1 });
  t.same(after!.outputs, [{ feature: 'argmax:probabilities', counts: [1, 0, 1, 0, 0] }], 'without a profile: one bin per class of each classifier output');
});

t.test('with the stable version\'s drift profile, outputs are binned on its PSI edges and categories', async (t) => {
  const profile = readProfile(join(exampleModels(), 'weather', '1', 'profile.json'));
  const binning = OutputBinning.of(WEATHER_OUTPUTS, true, profile);
  t.same(binning.features.map((f) => f.feature), ['probabilities.drizzle', 'probabilities.fog', 'probabilities.rain', 'probabilities.snow', 'probabilities.sun', 'label']);
  const rain = profile.tensors.find((x) => x.name === 'probabilities')!.features[2]!;
  t.equal(rain.kind, 'numeric');
  const edges = (rain as { edges: number[] }).edges;
  const counts = new Float64Array(binning.size);
  // Rain probabilities just below the first edge, between the first two, and past the last.
  const p = Float32Array.of(0, 0, edges[0]! / 2, 0, 0, 0, 0, (edges[0]! + edges[1]!) / 2, 0, 0, 0, 0, 1, 0, 0);
  binning.observe([{ name: 'probabilities', datatype: 'FP32', shape: [3, 5], data: p }, { name: 'label', datatype: 'INT64', shape: [3], data: BigInt64Array.of(2n, 2n, 7n) }], counts);
  const rainAt = binning.offsets[2]!;
  t.same(Array.from(counts.subarray(rainAt, rainAt + edges.length + 1)), [1, 1, ...new Array(edges.length - 2).fill(0), 1]);
  const labelAt = binning.offsets[5]!;
  t.same(Array.from(counts.subarray(labelAt)), [0, 0, 2, 0, 0, 1], 'label: its five categories, then "other" for 7');
});
