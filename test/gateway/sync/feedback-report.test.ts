// A gateway synced from a real control plane serves a registry version with a drift profile; the
// traffic windows of its answers carry the feedback joined to them and the drift monitor's
// figures, and the control plane's reportTraffic mutation takes them as the gateway sends them.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { controlPlaneSync } from '../../../gateway/sync/control-plane-sync.js';
import { ControlPlaneClient } from '../../../gateway/sync/control-plane-client.js';
import { WEATHER_LABELS } from '../../../examples/weather-dataset.js';
import { exampleOnnx, startTestControlPlane } from '../../control-plane/harness.js';
import { getJson, postJson, startTestGateway, weatherRows } from '../gateway-harness.js';
import { eventually } from '../../helpers/wait.js';
import { exampleModels } from '../../helpers/paths.js';

t.test('traffic windows with feedback and drift snapshots are accepted by reportTraffic', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  const source = join(exampleModels(), 'weather');
  const up = await cp.upload('weather', exampleOnnx('weather'), undefined, {
    config: readFileSync(join(source, 'config.json')),
    profile: readFileSync(join(source, '1', 'profile.json')),
  });
  t.notOk(up.errors, 'the version goes up with its config and drift profile');
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  const token = await cp.token('gateway', 'edge-fb');
  const gw = await startTestGateway(t, join(t.testdir(), 'models'), {
    workerThreads: 1,
    drift: { mergeIntervalMs: 100 },
    extensions: [controlPlaneSync({ url: cp.url, token, name: 'edge-fb', pollIntervalMs: 300 })],
  });
  const infer = `${gw.url}/v2/models/weather/infer`;
  const call = { inputs: [{ name: 'features', datatype: 'FP32', shape: [120, 5], data: Array.from(weatherRows(120, 7)) }] };
  const answer = await eventually('the gateway serves weather v1 from the registry', async () => {
    const r = await postJson(infer, call);
    return r.status === 200 ? r.body : undefined;
  });
  const labels = (answer.outputs as { name: string; data: number[] }[]).find((o) => o.name === 'label')!.data;
  const given = await postJson(`${gw.url}/v2/models/weather/feedback`, { id: answer.id, labels: labels.map((l, i) => (i < 90 ? WEATHER_LABELS[l] : (l + 1) % 5)) });
  t.equal(given.status, 200);
  await eventually('the drift monitor has scored the window', async () => {
    const r = await getJson(`${gw.url}/v2/models/weather/drift`);
    return (r.body.current as { rows: number } | undefined)?.rows === 120 ? true : undefined;
  });

  // The windows the gateway's reporter would send next, sent the same way.
  const windows = gw.inference.traffic.take();
  const w = windows.find((x) => x.model === 'weather')!;
  t.match(w, { version: 1, calls: 1, feedback: { count: 120, correct: 90, absError: 0, squaredError: 0 } });
  t.ok(w.drift!.length > 0, 'one snapshot per monitored feature');
  for (const d of w.drift!) {
    t.equal(d.rows, 120, `${d.feature}: the current window's rows`);
    t.type(d.psi, 'number');
    t.ok(d.level === 'ok' || d.level === 'warn' || d.level === 'alert', `${d.feature}: judged at min_rows`);
  }
  const client = new ControlPlaneClient(cp.url, token, new AbortController().signal);
  t.equal(await client.reportTraffic('edge-fb', windows), windows.length, 'the control plane stores every window');

  // A window with feedback and no calls goes out too.
  const second = await postJson(infer, { ...call, id: 'late' });
  gw.inference.traffic.take();
  await postJson(`${gw.url}/v2/models/weather/feedback`, { id: 'late', labels: (second.body.outputs as { name: string; data: number[] }[]).find((o) => o.name === 'label')!.data });
  const onlyFeedback = gw.inference.traffic.take();
  t.match(onlyFeedback, [{ calls: 0, feedback: { count: 120, correct: 120 } }]);
  t.equal(await client.reportTraffic('edge-fb', onlyFeedback), 1);
});
