// Slices of a declared column: the window arithmetic on plain rows, then a real gateway (ONNX
// Runtime on the weather model, HTTP on 127.0.0.1) whose calls name a region, with feedback that
// makes one region's answers wrong: the drift report, /metrics and the traffic window show it.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MISSING, OTHER, VersionSlices } from '../../../gateway/feedback/slices.js';
import { parseSlices } from '../../../gateway/models/slices-config.js';
import { copyModels, getJson, postJson, startTestGateway, weatherRows } from '../gateway-harness.js';

const config = (raw: Record<string, unknown>) => parseSlices('m', raw, 60, undefined)!;
const prepared = (data: Float32Array, rows: number) => ({ inputs: [{ name: 'x', datatype: 'FP32' as const, shape: [rows, data.length / rows], data }], rows });

t.test('a classifier\'s slices count answers, positive predictions, labelled rows and errors; disparity over judged slices', async (t) => {
  const s = new VersionSlices(config({ parameter: 'region', max_slices: 2, positive: 1, min_rows: 2 }), 'classification', undefined, 0);
  const predictions = Float64Array.from([1, 0, 1, 1, 0, 0, 0, 0]);
  const ring = new Uint8Array(8);
  const north = s.read({ region: 'north' }, prepared(new Float32Array(2), 1)) as number;
  const south = s.read({ region: 'south' }, prepared(new Float32Array(2), 1)) as number;
  t.equal(s.read({ region: 'east' }, prepared(new Float32Array(2), 1)), s.other, 'past max_slices: __other__');
  t.equal(s.read({}, prepared(new Float32Array(2), 1)), s.missing, 'no parameter: __missing__');
  t.equal(s.read({ region: { nested: 1 } }, prepared(new Float32Array(2), 1)), s.other, 'a value that is no scalar: __other__');
  s.answered(north, predictions, 0, 2, ring, 10);
  s.answered(south, predictions, 2, 2, ring, 10);
  t.same(Array.from(ring.subarray(0, 4)), [north, north, south, south], 'the ring keeps each row\'s slice');
  s.labelled(north, 0, 20);
  s.labelled(north, 0, 20);
  s.labelled(south, 1, 20);
  s.labelled(south, 0, 20);
  const r = s.report(30);
  const by = Object.fromEntries(r.current.slices.map((f) => [f.slice, f]));
  t.same(by.north, { slice: 'north', calls: 2, outcome_rate: 0.5, labelled: 2, error_rate: 0 });
  t.same(by.south, { slice: 'south', calls: 2, outcome_rate: 1, labelled: 2, error_rate: 0.5 });
  t.equal(r.current.error_disparity, 0.5);
  t.equal(r.current.worst_slice, 'south');
  const wire = s.take()!;
  t.same(wire.find((w) => w.slice === 'south'), { slice: 'south', calls: 2, outcome: 2, labelled: 2, errors: 1 }, 'counts since the last take, for the control plane');
  t.equal(s.take(), undefined, 'take drains');
  s.labelled(south, 1, 61_000);
  const later = s.report(61_000);
  t.equal(later.previous!.slices.length, 2, 'the first window closed after window_seconds');
  t.same(later.current.slices, [{ slice: 'south', calls: 0, outcome_rate: null, labelled: 1, error_rate: 1 }]);
  t.equal(later.current.error_disparity, null, 'one slice below min_rows: no disparity');
});

t.test('an input column cut at edges gives each row its range; a regressor reports mean prediction and MAE', async (t) => {
  const s = new VersionSlices(config({ input: 'x', index: 1, edges: [0, 10] }), 'regression', undefined, 0);
  const ids = s.read(undefined, prepared(Float32Array.from([9, -3, 9, 5, 9, 10, 9, NaN]), 4)) as Uint8Array;
  t.same([...ids].map((i) => s.nameOf(i)), ['< 0', '0 to < 10', '>= 10', MISSING]);
  s.answered(ids, Float64Array.from([1, 2, 3, 4]), 0, 4, undefined, 0);
  s.labelled(ids[1]!, 0.5, 0);
  const f = s.report(0).current.slices.find((x) => x.slice === '0 to < 10')!;
  t.same(f, { slice: '0 to < 10', calls: 1, mean_prediction: 2, labelled: 1, mae: 0.5 });
});

t.test('a caller cannot name a value after a reserved slice', async (t) => {
  const s = new VersionSlices(config({ parameter: 'g' }), 'classification', undefined, 0);
  t.equal(s.read({ g: OTHER }, prepared(new Float32Array(1), 1)), s.other);
  t.equal(s.read({ g: MISSING }, prepared(new Float32Array(1), 1)), s.missing);
  t.equal(s.read({ g: 'x'.repeat(500) }, prepared(new Float32Array(1), 1)), 0);
  t.equal(s.nameOf(0).length, 64, 'values are cut to 64 characters');
});

t.test('weather with slices on region: one region\'s wrong answers show in the drift report, /metrics and the traffic window', async (t) => {
  const root = copyModels(t, ['weather']);
  const file = join(root, 'weather', 'config.json');
  const base = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify({ ...base, slices: { parameter: 'region', positive: 'rain', min_rows: 10 } }));
  const gw = await startTestGateway(t, root);
  const drift = async () => (await getJson(`${gw.url}/v2/models/weather/versions/1/drift`)).body.slices as {
    positive: string; current: { slices: { slice: string; calls: number; labelled: number; error_rate: number | null; outcome_rate: number | null }[]; error_disparity: number | null; worst_slice: string | null };
  } | null;
  t.equal(await drift(), null, 'nothing before the first answer');
  gw.inference.traffic.take();
  for (let i = 0; i < 24; i++) {
    const region = i % 2 === 0 ? 'north' : 'south';
    const r = await postJson(`${gw.url}/v2/models/weather/infer`, { parameters: { region }, inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 5], data: Array.from(weatherRows(2, 300 + i)) }] });
    t.equal(r.status, 200);
    const label = (r.body.outputs as { name: string; data: number[] }[]).find((o) => o.name === 'label')!.data;
    // North gets the model's own answers back as truth; south gets another class for every row.
    const truth = region === 'north' ? label : label.map((l) => (l + 1) % 5);
    t.equal((await postJson(`${gw.url}/v2/models/weather/feedback`, { id: r.body.id, labels: truth })).status, 200);
  }
  await postJson(`${gw.url}/v2/models/weather/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: Array.from(weatherRows(1, 1)) }] });
  const s = (await drift())!;
  t.equal(s.positive, 'rain');
  const by = Object.fromEntries(s.current.slices.map((f) => [f.slice, f]));
  t.same([by.north!.calls, by.north!.labelled, by.north!.error_rate], [24, 24, 0], 'north: 12 calls of 2 rows, all right');
  t.same([by.south!.calls, by.south!.labelled, by.south!.error_rate], [24, 24, 1], 'south: all wrong');
  t.same([by[MISSING]!.calls, by[MISSING]!.labelled], [1, 0], 'a call without the parameter');
  t.ok(by.north!.outcome_rate! >= 0 && by.north!.outcome_rate! <= 1, 'outcome rate: share predicted rain');
  t.equal(s.current.error_disparity, 1);
  t.equal(s.current.worst_slice, 'south');
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /sluice_slice_error_rate\{model="weather",version="1",slice="south"\} 1\n/);
  t.match(metrics, /sluice_slice_error_rate\{model="weather",version="1",slice="north"\} 0\n/);
  t.match(metrics, /sluice_slice_calls\{model="weather",version="1",slice="__missing__"\} 1\n/);
  t.match(metrics, /sluice_slice_error_disparity\{model="weather",version="1"\} 1\n/);
  const window = gw.inference.traffic.take().find((w) => w.model === 'weather')!;
  t.same(window.slices!.find((x) => x.slice === 'south'), { slice: 'south', calls: 24, outcome: by.south!.outcome_rate! * 24, labelled: 24, errors: 24 }, 'the traffic window carries the counts');
});
