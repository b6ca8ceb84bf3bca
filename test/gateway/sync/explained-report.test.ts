// Issue 22 end to end: a gateway synced from a real control plane serves weather with slices on a
// request parameter and explanation sampling on. One region gets wrong answers by its feedback, and
// later calls arrive with a broken upstream feature; the traffic windows carry the slice counts and
// the attribution snapshot through reportTraffic, and alert rules on slice_error_rate,
// slice_error_disparity and attribution_shift fire on the evaluator's pass (audited).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { controlPlaneSync } from '../../../gateway/sync/control-plane-sync.js';
import { ControlPlaneClient } from '../../../gateway/sync/control-plane-client.js';
import type { WireTrafficWindow } from '../../../lib/sync-wire.js';
import { exampleOnnx, startTestControlPlane } from '../../control-plane/harness.js';
import { alerts, createRule, tick } from '../../control-plane/alert-helpers.js';
import { getJson, postJson, startTestGateway, weatherRows } from '../gateway-harness.js';
import { eventually } from '../../helpers/wait.js';
import { exampleModels } from '../../helpers/paths.js';
import { loadWeather, weatherFeatures } from '../../../examples/weather-dataset.js';

interface Attributions { current: { rows: number; shift: number | null } }

t.test('slice errors and an attribution shift reach the control plane and fire alert rules', async (t) => {
  // A long heartbeat keeps the gateway's own reporter quiet: the test sends the windows itself.
  const cp = await startTestControlPlane(t, 'sqlite', { heartbeatIntervalSeconds: 600 });
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  const source = join(exampleModels(), 'weather');
  const config = JSON.parse(readFileSync(join(source, 'config.json'), 'utf8')) as Record<string, unknown>;
  const up = await cp.upload('weather', exampleOnnx('weather'), undefined, {
    config: Buffer.from(JSON.stringify({ ...config, slices: { parameter: 'region', min_rows: 10 }, explain: { sample_fraction: 1, window_seconds: 3600 } })),
    profile: readFileSync(join(source, '1', 'profile.json')),
  });
  t.notOk(up.errors, 'the version goes up with slices and explanation sampling in its config');
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  const token = await cp.token('gateway', 'edge-x');
  const gw = await startTestGateway(t, join(t.testdir(), 'models'), {
    workerThreads: 1,
    extensions: [controlPlaneSync({ url: cp.url, token, name: 'edge-x', pollIntervalMs: 300 })],
  });
  const infer = `${gw.url}/v2/models/weather/infer`;
  await eventually('the gateway serves weather v1 from the registry', async () => ((await postJson(infer, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: Array.from(weatherRows(1, 1)) }] })).status === 200 ? true : undefined));
  const report = async (): Promise<{ slices: unknown; attributions: Attributions | null }> => (await getJson(`${gw.url}/v2/models/weather/drift`)).body as never;
  // One call at a time, each explained before the next, so every call's row counts in the window.
  const call = async (region: string, rows: Float32Array, wrong: boolean): Promise<void> => {
    const before = (await report()).attributions?.current.rows ?? 0;
    const r = await postJson(infer, { parameters: { region }, inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: Array.from(rows) }] });
    t.equal(r.status, 200);
    const label = (r.body.outputs as { name: string; data: number[] }[]).find((o) => o.name === 'label')!.data;
    t.equal((await postJson(`${gw.url}/v2/models/weather/feedback`, { id: r.body.id, labels: wrong ? label.map((l) => (l + 1) % 5) : label })).status, 200);
    await eventually('the sampled row is explained', async () => (((await report()).attributions?.current.rows ?? 0) > before ? true : undefined));
  };
  const client = new ControlPlaneClient(cp.url, token, new AbortController().signal);
  const send = async (): Promise<WireTrafficWindow> => {
    const windows = gw.inference.traffic.take();
    t.equal(await client.reportTraffic('edge-x', windows), windows.length);
    return windows.find((w) => w.model === 'weather')!;
  };

  const rules = [
    { name: 'south-errors', metric: 'slice_error_rate', feature: 'south', threshold: 0.5, minCount: 10 },
    { name: 'any-slice-errors', metric: 'slice_error_rate', feature: '*', threshold: 0.5, minCount: 10 },
    { name: 'slice-disparity', metric: 'slice_error_disparity', threshold: 0.5, minCount: 10 },
    { name: 'attribution', metric: 'attribution_shift', threshold: 0.15, minCount: 5 },
    { name: 'attribution-per-feature', metric: 'attribution_shift', feature: '*', threshold: 0.12, minCount: 5 },
  ];
  for (const r of rules) await createRule(cp, { versions: '*', ...r });

  // Phase 1: real days of the training years; north right, south wrong.
  const days = loadWeather().days.filter((d) => d.year === 2014);
  const day = (i: number): Float32Array => Float32Array.from(weatherFeatures(days[(i * 37) % days.length]!));
  for (let i = 0; i < 12; i++) {
    await call('north', day(2 * i), false);
    await call('south', day(2 * i + 1), true);
  }
  const first = await send();
  t.ok(first.attribution !== undefined && first.attribution!.rows >= 24, `the window carries the attribution snapshot (${first.attribution?.rows} rows)`);
  t.match(first.slices!.filter((x) => x.slice !== '__missing__'), [{ slice: 'north', labelled: 12, errors: 0 }, { slice: 'south', labelled: 12, errors: 12 }]);
  const calm = first.attribution!.shift!;
  t.comment(`calm: ${JSON.stringify(first.attribution)}`);
  await tick(cp, Date.now());
  let open = await alerts(cp, 'FIRING');
  t.same(open.map((a) => `${a.rule}:${a.feature ?? ''}`).sort(), ['any-slice-errors:south', 'slice-disparity:', 'south-errors:south'], 'the slice rules fire on south; the attribution rules hold nothing while rows look like the reference');
  t.equal(open.find((a) => a.rule === 'slice-disparity').value, 1);
  const figures = (await cp.gql('query($f: DateTime!) { fleetFigures(model: "weather", from: $f) { version slices { slice calls labelled errorRate } attribution { rows shift features { feature shift } } } }', { f: new Date(Date.now() - 600_000).toISOString() })).data.fleetFigures;
  const bySlice = Object.fromEntries((figures[0].slices as { slice: string }[]).map((x) => [x.slice, x]));
  t.match(bySlice, { north: { calls: 12, labelled: 12, errorRate: 0 }, south: { calls: 12, labelled: 12, errorRate: 1 }, __missing__: { calls: 1, labelled: 0, errorRate: null } });
  t.ok(Math.abs(figures[0].attribution.shift - calm) < 1e-12, 'the fleet figure is the one gateway\'s shift');

  // Phase 2: an upstream breaks — temp_max arrives in Fahrenheit.
  for (let i = 0; i < 60; i++) {
    const rows = day(100 + i);
    rows[1] = rows[1]! * 1.8 + 32;
    await call('north', rows, false);
  }
  const second = await send();
  t.ok(second.attribution!.shift! > calm + 0.05, `the shift grows from ${calm} to ${second.attribution!.shift}`);
  t.comment(`attribution shift: ${calm} calm, ${second.attribution!.shift} broken; per feature ${JSON.stringify(second.attribution!.features)}`);
  await tick(cp, Date.now());
  open = await alerts(cp, 'FIRING');
  t.ok(open.some((a) => a.rule === 'attribution' && a.feature === null), 'attribution_shift fires on the whole shift');
  t.same(open.filter((a) => a.rule === 'attribution-per-feature').map((a) => a.feature), ['temp_max'], 'and per feature, on the broken one');
  const audit = await cp.gql('{ auditEvents(first: 100) { edges { node { action } } } }');
  t.notOk(audit.errors);
  t.equal(audit.data.auditEvents.edges.filter((e: { node: { action: string } }) => e.node.action === 'alert.fire').length, open.length, 'each firing is an audit event');
});
