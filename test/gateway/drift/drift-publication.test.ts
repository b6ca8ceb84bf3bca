// The drift report publishes a window's aggregates only once it holds drift.report_min_rows rows,
// and then in steps of as many rows (issue 18): two polls around one call do not reveal its input.
import t from 'tap';
import { copyModels, getJson, postJson, startTestGateway } from '../gateway-harness.js';
import type { DriftHub } from '../../../gateway/drift/hub.js';
import type { DriftReport } from '../../../gateway/drift/monitor.js';
import { eventually } from '../../helpers/wait.js';

const row = (temp: number) => [1.5, temp, 4.2, 3.3, 120];

t.test('two polls around one call do not reveal it; figures appear at 20 rows and move in steps of 20', async (t) => {
  const root = copyModels(t, ['weather']);
  let hub: DriftHub | undefined;
  const gw = await startTestGateway(t, root, { workerThreads: 1, drift: { mergeIntervalMs: 20, onHub: (h) => (hub = h) } });
  const report = async () => (await getJson(`${gw.url}/v2/models/weather/versions/1/drift`)).body as unknown as DriftReport;
  const call = (temp: number) => postJson(`${gw.url}/v2/models/weather/versions/1/infer`, { inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: row(temp) }] });
  // The live window (what the monitor holds, not what it publishes) has counted `n` rows.
  const counted = (n: number) => eventually(`the window counts ${n} rows`, async () => ((hub!.monitor('weather', '1')?.snapshot()[0]?.rows ?? 0) >= n ? true : undefined));

  const before = await report();
  t.equal((await call(33.3)).status, 200);
  await counted(1);
  const after = await report();
  t.equal(after.current.rows, 0, 'one call: no rows published');
  t.equal(after.current.features.temp_max!.mean, null, 'and no mean (it would be the caller\'s temp_max)');
  t.equal(after.current.features.temp_max!.count, null);
  t.same(after.current.features, before.current.features, 'the two polls see the same figures');

  for (let i = 1; i < 20; i++) t.equal((await call(10 + i)).status, 200);
  await counted(20);
  const twenty = await eventually('20 rows are published', async () => {
    const r = await report();
    return r.current.rows === 20 ? r : undefined;
  });
  const expected = (33.3 + [...Array(19).keys()].reduce((a, i) => a + 11 + i, 0)) / 20;
  t.ok(Math.abs(twenty.current.features.temp_max!.mean! - expected) < 1e-3, 'past the minimum the aggregates are published');

  t.equal((await call(-40)).status, 200);
  await counted(21);
  const next = await report();
  t.same(next.current, twenty.current, 'the 21st call leaves the published window as it was');
});
