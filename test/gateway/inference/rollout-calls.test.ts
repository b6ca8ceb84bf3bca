// A real gateway (ONNX Runtime on the example weather model) under a rollout plan, on loopback:
// previews, sticky A/B picks over HTTP and WebSocket, shadow and canary copies with their
// agreement, traffic windows, and a version unloaded under load without failing a call.
import t, { type Test } from 'tap';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WireRolloutPlan, WireTrafficWindow } from '../../../lib/sync-wire.js';
import { SluiceWsClient } from '../../../gateway/client/index.js';
import type { Gateway } from '../../../gateway/index.js';
import { mlpToOnnx } from '../../../examples/onnx-export.js';
import { trainWeatherModel } from '../../../examples/weather.js';
import { WEATHER_FEATURES } from '../../../examples/weather-dataset.js';
import { copyModels, postJson, startTestGateway, weatherRows } from '../gateway-harness.js';
import { eventually } from '../../helpers/wait.js';

/** A candidate that answers fast and wrong: its output bias makes every answer "snow" (class 3). */
function alwaysSnow(): Uint8Array {
  const trained = trainWeatherModel();
  const b2 = Float64Array.from(trained.weights.b2);
  b2[3] = 1000;
  return mlpToOnnx({ ...trained.weights, b2 }, { inputName: 'features', rawInputs: WEATHER_FEATURES.length, seasonalColumn: 4, graphName: 'weather', metadata: { labels: 'drizzle,fog,rain,snow,sun' } });
}

function plan(over: Partial<WireRolloutPlan>): WireRolloutPlan {
  return { id: 'r1', strategy: 'CANARY', stable: 1, candidate: 2, sticky: false, mirrorShare: 0, agreementTolerance: 0, ...over };
}

function call(row: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: Array.from(weatherRows(1, row + 1)) }], ...extra };
}

async function setup(t: Test): Promise<{ gw: Gateway; infer: string }> {
  const root = copyModels(t, ['weather']);
  const candidates = join(root, '..', 'candidates');
  for (const v of ['2', '3']) {
    mkdirSync(join(candidates, v), { recursive: true });
    copyFileSync(join(root, 'weather', '1', 'profile.json'), join(candidates, v, 'profile.json'));
  }
  copyFileSync(join(root, 'weather', '1', 'model.onnx'), join(candidates, '2', 'model.onnx'));
  writeFileSync(join(candidates, '3', 'model.onnx'), alwaysSnow());
  const gw = await startTestGateway(t, root, { workerThreads: 1, drift: false });
  await gw.repository.loadVersion('weather', '2', { dir: join(candidates, '2') });
  await gw.repository.loadVersion('weather', '3', { dir: join(candidates, '3') });
  return { gw, infer: `${gw.url}/v2/models/weather/infer` };
}

/** Windows taken until `done` holds, merged per version (copies finish after the answers). */
async function windowsUntil(gw: Gateway, done: (w: Map<number, WireTrafficWindow>) => boolean): Promise<Map<number, WireTrafficWindow>> {
  const seen = new Map<number, WireTrafficWindow>();
  return eventually('the traffic windows show every call and copy', async () => {
    for (const w of gw.inference.traffic.take()) {
      const old = seen.get(w.version);
      if (old === undefined) seen.set(w.version, w);
      else {
        old.calls += w.calls;
        old.errors += w.errors;
        for (const k of ['calls', 'errors', 'compared', 'agreed'] as const) old.mirrored[k] += w.mirrored[k];
        w.outputs.forEach((h, i) => h.counts.forEach((c, j) => (old.outputs[i]!.counts[j]! += c)));
      }
    }
    return done(seen) ? seen : undefined;
  }, 20_000);
}

t.test('shadow: clients get stable\'s answers, every copy runs on the candidate and agreement is counted', async (t) => {
  const { gw, infer } = await setup(t);
  gw.repository.setRouting('weather', { default_version: '1', weights: { 1: 100 } }, plan({ id: 'shadow-same', strategy: 'SHADOW', mirrorShare: 1 }));
  const n = 30;
  for (let i = 0; i < n; i++) {
    const r = await postJson(infer, call(i));
    t.equal(r.body.model_version, '1');
  }
  const w = await windowsUntil(gw, (m) => (m.get(2)?.mirrored.calls ?? 0) >= n);
  t.match(w.get(1), { rolloutId: 'shadow-same', calls: n, errors: 0, mirrored: { calls: 0 } });
  t.match(w.get(2), { rolloutId: 'shadow-same', calls: 0, mirrored: { calls: n, errors: 0, compared: n, agreed: n } }, 'the same model agrees on every copy');
  t.equal(w.get(1)!.outputs.length, 6, 'binned on the stable version\'s profile: five probabilities and the label');
  for (const v of [1, 2]) {
    for (const h of w.get(v)!.outputs) t.equal(h.counts.reduce((a, b) => a + b, 0), n, `version ${v} ${h.feature}: one count per row`);
  }
  t.same(w.get(2)!.outputs, w.get(1)!.outputs, 'identical models give identical output histograms');

  gw.repository.setRouting('weather', { default_version: '1', weights: { 1: 100 } }, plan({ id: 'shadow-wrong', strategy: 'SHADOW', candidate: 3, mirrorShare: 1 }));
  for (let i = 0; i < n; i++) await postJson(infer, call(i));
  const wrong = await windowsUntil(gw, (m) => (m.get(3)?.mirrored.calls ?? 0) >= n);
  const m3 = wrong.get(3)!.mirrored;
  t.equal(m3.compared, n);
  t.ok(m3.agreed < n / 2, `a candidate answering "snow" to everything disagrees (${m3.agreed}/${n} agreed)`);
  t.equal(wrong.get(2), undefined, 'the old candidate runs no more copies');
});

t.test('canary: a share of each version\'s calls is copied to the other version', async (t) => {
  const { gw, infer } = await setup(t);
  gw.repository.setRouting('weather', { default_version: '1', weights: { 1: 50, 2: 50 } }, plan({ mirrorShare: 1 }));
  const n = 40;
  const answeredBy = { '1': 0, '2': 0 } as Record<string, number>;
  for (let i = 0; i < n; i++) answeredBy[(await postJson(infer, call(i))).body.model_version as string]!++;
  t.ok(answeredBy['1']! > 0 && answeredBy['2']! > 0, `both versions answer (${answeredBy['1']}/${answeredBy['2']})`);
  const w = await windowsUntil(gw, (m) => (m.get(1)?.mirrored.calls ?? 0) + (m.get(2)?.mirrored.calls ?? 0) >= n);
  t.equal(w.get(1)!.calls, answeredBy['1']);
  t.equal(w.get(2)!.calls, answeredBy['2']);
  t.equal(w.get(2)!.mirrored.calls, answeredBy['1'], 'version 1\'s calls copied to 2');
  t.equal(w.get(1)!.mirrored.calls, answeredBy['2'], 'version 2\'s calls copied to 1');
  t.equal(w.get(1)!.mirrored.agreed + w.get(2)!.mirrored.agreed, n);
});

t.test('a preview reaches the blue-green candidate over HTTP and WebSocket; other calls stay on stable', async (t) => {
  const { gw, infer } = await setup(t);
  gw.repository.setRouting('weather', { default_version: '1', weights: { 1: 100 } }, null);
  const r0 = await fetch(infer, { method: 'POST', headers: { 'sluice-preview': '1' }, body: JSON.stringify(call(0)) });
  t.equal(((await r0.json()) as { model_version: string }).model_version, '1', 'no rollout: the header changes nothing');
  gw.repository.setRouting('weather', { default_version: '1', weights: { 1: 100 } }, plan({ strategy: 'BLUE_GREEN' }));
  for (let i = 0; i < 10; i++) t.equal((await postJson(infer, call(i))).body.model_version, '1');
  const r = await fetch(infer, { method: 'POST', headers: { 'sluice-preview': 'yes' }, body: JSON.stringify(call(1)) });
  t.equal(((await r.json()) as { model_version: string }).model_version, '2', 'header');
  t.equal((await postJson(infer, call(2, { parameters: { 'sluice-preview': true } }))).body.model_version, '2', 'request parameter');
  t.equal((await postJson(`${gw.url}/v2/models/weather/versions/2/infer`, call(3))).body.model_version, '2', 'the version URL');
  const ws = await SluiceWsClient.connect(gw.url);
  t.teardown(() => ws.close());
  const features = { name: 'features', datatype: 'FP32' as const, shape: [1, 5], data: weatherRows(1, 9) };
  t.equal((await ws.infer('weather', { inputs: [features], parameters: { 'sluice-preview': true } })).model_version, '2', 'WebSocket parameter');
  t.equal((await ws.infer('weather', { inputs: [features] })).model_version, '1');
  const w = gw.inference.traffic.take();
  t.equal(w.find((x) => x.version === 2)?.mirrored.calls, 0, 'blue-green copies nothing');
});

t.test('sticky A/B: a key reaches the same version by header, request parameter and WebSocket', async (t) => {
  const { gw, infer } = await setup(t);
  gw.repository.setRouting('weather', { default_version: '1', weights: { 1: 50, 2: 50 } }, plan({ strategy: 'AB', sticky: true }));
  const ws = await SluiceWsClient.connect(gw.url);
  t.teardown(() => ws.close());
  const features = { name: 'features', datatype: 'FP32' as const, shape: [1, 5], data: weatherRows(1, 3) };
  const arms = new Set<string>();
  for (let k = 0; k < 24; k++) {
    const key = `customer-${k}`;
    const byHeader = await fetch(infer, { method: 'POST', headers: { 'sluice-route-key': key }, body: JSON.stringify(call(k)) });
    const v = ((await byHeader.json()) as { model_version: string }).model_version;
    arms.add(v);
    for (let again = 0; again < 3; again++) {
      t.equal((await postJson(infer, call(k + again, { parameters: { 'sluice-route-key': key } }))).body.model_version, v, `${key} by parameter`);
    }
    t.equal((await ws.infer('weather', { inputs: [features], parameters: { 'sluice-route-key': key } }, { binary: true })).model_version, v, `${key} over WebSocket`);
  }
  t.same([...arms].sort(), ['1', '2'], 'keys spread over both arms');
  const bad = await postJson(infer, call(0, { parameters: { 'sluice-route-key': { nested: true } } }));
  t.equal(bad.status, 400);
  t.equal(bad.body.code, 'SLUICE_E_PROTOCOL_BAD_PARAMETER');
});

t.test('windows count server failures of a version, not the caller\'s mistakes', async (t) => {
  const { gw, infer } = await setup(t);
  gw.inference.traffic.take();
  const timedOut = await postJson(infer, call(0, { parameters: { timeout_us: 1 } }));
  t.equal(timedOut.body.code, 'SLUICE_E_BATCH_TIMEOUT');
  const badShape = await postJson(infer, { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
  t.equal(badShape.status, 400);
  t.equal((await postJson(infer, call(1))).status, 200);
  const [w, ...rest] = gw.inference.traffic.take();
  t.equal(rest.length, 0);
  t.match(w, { version: 3, calls: 2, errors: 1, rolloutId: null }, 'the newest version serves without routing; the 400 is not counted');
});

t.test('a version taken out of routing and unloaded under load finishes every call it accepted', async (t) => {
  const { gw, infer } = await setup(t);
  gw.repository.setRouting('weather', { default_version: '2', weights: { 2: 100 } }, null);
  const inFlight = Array.from({ length: 96 }, (_, i) => postJson(infer, call(i)));
  while (gw.inference.inFlight === 0) await new Promise((r) => setTimeout(r, 1));
  const running = gw.inference.inFlight;
  gw.repository.setRouting('weather', { default_version: '1', weights: { 1: 100 } }, null);
  const unloaded = gw.repository.unloadVersion('weather', '2');
  const after = Array.from({ length: 16 }, (_, i) => postJson(infer, call(i)));
  const answers = await Promise.all([...inFlight, ...after]);
  await unloaded;
  t.same(answers.filter((a) => a.status !== 200).map((a) => a.body.code), [], 'no call failed');
  t.ok(answers.slice(96).every((a) => a.body.model_version === '1'), 'calls after the switch reach version 1');
  t.ok(running > 0 && answers.some((a) => a.body.model_version === '2'), `version 2 had calls in flight when it left routing (${running})`);
  t.notOk(gw.repository.model('weather')!.versions.has('2'));
});

t.test('copies for a candidate that is not loaded are dropped and counted, the clients unaffected', async (t) => {
  const { gw, infer } = await setup(t);
  gw.repository.setRouting('weather', { default_version: '1', weights: { 1: 100 } }, plan({ strategy: 'SHADOW', candidate: 9, mirrorShare: 1 }));
  for (let i = 0; i < 5; i++) t.equal((await postJson(infer, call(i))).status, 200);
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /sluice_mirror_dropped_total\{model="weather",version="9"\} 5\n/);
  const preview = await fetch(infer, { method: 'POST', headers: { 'sluice-preview': '1' }, body: JSON.stringify(call(0)) });
  t.equal(preview.status, 503);
  t.equal(((await preview.json()) as { code: string }).code, 'SLUICE_E_MODEL_NOT_READY', 'a preview of a candidate that is not loaded is refused, not answered by stable');
});

t.test('a raw-body call, decoded for the version routing picked, is part of the shadow sample', async (t) => {
  const { gw, infer } = await setup(t);
  gw.repository.setRouting('weather', { default_version: '1', weights: { 1: 100 } }, plan({ strategy: 'SHADOW', mirrorShare: 1 }));
  const rows = weatherRows(2, 5);
  const res = await fetch(infer, { method: 'POST', headers: { 'Inference-Header-Content-Length': '0', 'Content-Type': 'application/octet-stream' }, body: new Uint8Array(rows.buffer as ArrayBuffer) });
  t.equal(res.status, 200);
  const w = await windowsUntil(gw, (m) => (m.get(2)?.mirrored.calls ?? 0) >= 1);
  t.match(w.get(2), { mirrored: { calls: 1, compared: 1, agreed: 1 } });
  t.equal(w.get(2)!.outputs.find((h) => h.feature === 'label')!.counts.reduce((a, b) => a + b, 0), 2, 'both rows of the copy binned');
});
