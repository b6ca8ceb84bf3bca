// Attribution windows of sampled calls: the window arithmetic on plain explanations, then a real
// gateway (ONNX Runtime, HTTP on 127.0.0.1) whose weather model samples every call.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VersionAttributions } from '../../../gateway/explain/attribution-windows.js';
import type { Explanation } from '../../../gateway/explain/explainer.js';
import { copyModels, getJson, postJson, startTestGateway, weatherRows } from '../gateway-harness.js';

function explanation(phis: number[][]): Explanation {
  return {
    model_name: 'm', model_version: '1', method: 'exact', seed: 1, features: ['a', 'b'],
    background: { size: 1, source: 'test', mean: [0, 0] }, coalitions: 4, evaluated_rows: 1,
    outputs: [{ name: 'y', columns: ['y'], expected_value: [0], predictions: phis.map(() => [0]), attributions: phis.map((p) => [p]) }],
  };
}

t.test('a window keeps mean |φ| per feature and its shift from the reference shares', async (t) => {
  const w = new VersionAttributions(['a', 'b'], 60, 0.5, 0);
  w.reference = { rows: 1, meanAbs: Float64Array.from([3, 1]), shares: [0.75, 0.25] };
  w.add(explanation([[2, -2], [-4, 0]]), 1000);
  const r = w.report(2000);
  t.equal(r.current.rows, 2);
  t.same(r.current.features.map((f) => f.mean_abs), [3, 1], 'mean of |φ| over the rows');
  t.equal(r.current.shift, 0, 'same shares as the reference: no shift');
  w.add(explanation([[0, 4]]), 61_000);
  const later = w.report(61_000);
  t.equal(later.previous!.rows, 2, 'the first window closed after window_seconds');
  t.equal(later.current.rows, 1);
  t.equal(later.current.shift, 0.75, 'all weight moved to b: |0 − 0.75|/2 + |1 − 0.25|/2');
  t.equal(w.shift(61_000), 0.75);
  t.equal(w.shift(200_000), 0.75, 'an empty current window reports the previous one');
});

t.test('weather with explain.sample_fraction 1: sampled calls feed the drift report and /metrics', async (t) => {
  const root = copyModels(t, ['weather']);
  const file = join(root, 'weather', 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify({ ...config, explain: { sample_fraction: 1, window_seconds: 600 } }));
  const gw = await startTestGateway(t, root);
  const report = async () => (await getJson(`${gw.url}/v2/models/weather/versions/1/drift`)).body.attributions as {
    method: string; reference: { rows: number } | null; current: { rows: number; shift: number | null; features: { feature: string; share: number }[] };
  } | null;
  t.equal(await report(), null, 'no window before the first sampled call');
  for (let i = 0; i < 40; i++) {
    const r = await postJson(`${gw.url}/v2/models/weather/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 5], data: Array.from(weatherRows(2, 100 + i)) }] });
    t.equal(r.status, 200);
    if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  let a = await report();
  for (let i = 0; i < 100 && (a?.current.rows ?? 0) < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    a = await report();
  }
  t.ok(a !== null && a.current.rows >= 2, `sampled rows were explained (${a?.current.rows})`);
  t.equal(a!.method, 'exact');
  t.equal(a!.reference!.rows, 16, 'the reference run explained rows drawn from the profile');
  const shares = a!.current.features.reduce((s, f) => s + f.share, 0);
  t.ok(Math.abs(shares - 1) < 1e-9, 'shares sum to 1');
  t.ok(a!.current.shift !== null && a!.current.shift >= 0 && a!.current.shift <= 1, `shift ${a!.current.shift} in [0, 1]`);
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /sluice_attribution_mean_abs\{model="weather",version="1",feature="temp_max"\} [0-9.e-]+/);
  t.match(metrics, /sluice_attribution_shift\{model="weather",version="1"\} [0-9.e-]+/);
});
