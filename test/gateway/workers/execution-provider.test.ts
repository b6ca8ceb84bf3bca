// What runs where, on a machine without CUDA: asking for the CUDA provider makes ONNX Runtime fail
// to create the session here (the package ships no CUDA provider library), which is exactly the
// failure a misconfigured GPU host has. Real ORT sessions, a real gateway on loopback, a real
// control plane for the heartbeat.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { controlPlaneSync } from '../../../gateway/sync/control-plane-sync.js';
import { exampleOnnx, startTestControlPlane } from '../../control-plane/harness.js';
import { copyModels, getJson, postJson, startTestGateway } from '../gateway-harness.js';
import { eventually } from '../../helpers/wait.js';
import { exampleModels } from '../../helpers/paths.js';

const WEATHER_CALL = { inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [0, 28.9, 14.4, 2.1, 200] }] };

function weatherConfig(extra: Record<string, unknown>): Record<string, unknown> {
  const config = JSON.parse(readFileSync(join(exampleModels(), 'weather', 'config.json'), 'utf8')) as Record<string, unknown>;
  delete config.drift;
  return { ...config, ...extra };
}

function weatherRepository(t: Parameters<typeof copyModels>[0], extra: Record<string, unknown>): string {
  const root = copyModels(t, ['weather']);
  writeFileSync(join(root, 'weather', 'config.json'), JSON.stringify(weatherConfig(extra)));
  return root;
}

t.test('require_provider with CUDA (simulated: no CUDA provider in this build, so the session fails to create) refuses the load with SLUICE_E_MODEL_PROVIDER', async (t) => {
  const gw = await startTestGateway(t, weatherRepository(t, { execution_providers: ['cuda', 'cpu'], require_provider: true, device_id: 1 }), { workerThreads: 1, drift: false });
  const load = await postJson(`${gw.url}/v2/repository/models/weather/load`, {});
  t.equal(load.status, 500);
  t.equal(load.body.code, 'SLUICE_E_MODEL_PROVIDER');
  t.match(load.body.error, /cuda/, 'the message names the provider');
  const index = await postJson(`${gw.url}/v2/repository/index`, {});
  t.notOk((index.body as unknown as { name: string; state: string }[]).some((e) => e.name === 'weather' && e.state === 'READY'), 'nothing half-loaded: the model is not READY');
  const call = await postJson(`${gw.url}/v2/models/weather/infer`, WEATHER_CALL);
  t.not(call.status, 200, 'no call is served on a CPU the config refused');
});

t.test('without require_provider, a CUDA session that fails to create here (no CUDA provider in this build) falls back to CPU and says so in metadata and /metrics', async (t) => {
  const gw = await startTestGateway(t, weatherRepository(t, { execution_providers: ['cuda', 'cpu'] }), { workerThreads: 1, drift: false });
  const call = await eventually('weather serves', async () => {
    const r = await postJson(`${gw.url}/v2/models/weather/infer`, WEATHER_CALL);
    return r.status === 200 ? r : undefined;
  });
  t.equal(call.status, 200);
  for (const path of ['/v2/models/weather', '/v2/models/weather/versions/1']) {
    const meta = await getJson(`${gw.url}${path}`);
    t.equal((meta.body.parameters as Record<string, unknown>).execution_provider, 'cpu', `${path} reports the provider in use`);
    t.equal((meta.body.parameters as Record<string, unknown>).device_id, undefined, 'no device on the CPU');
  }
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /sluice_model_execution_provider\{model="weather",version="1",provider="cpu"\} 1/);
  t.notMatch(metrics, /provider="cuda"/);
});

t.test('a CPU model reports cpu as its provider', async (t) => {
  const gw = await startTestGateway(t, weatherRepository(t, {}), { workerThreads: 1, drift: false });
  const meta = await eventually('weather is ready', async () => {
    const r = await getJson(`${gw.url}/v2/models/weather`);
    return r.status === 200 ? r : undefined;
  });
  t.equal((meta.body.parameters as Record<string, unknown>).execution_provider, 'cpu');
});

t.test('the heartbeat carries the provider in use to the control plane (CUDA asked for, CPU in use: simulated fallback on this machine without CUDA)', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  const up = await cp.upload('weather', exampleOnnx('weather'), undefined, { config: JSON.stringify(weatherConfig({ execution_providers: ['cuda', 'cpu'] })) });
  t.notOk(up.errors, 'the version with a CUDA config uploads');
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  const token = await cp.token('gateway', 'edge-gpu');
  await startTestGateway(t, join(t.testdir(), 'models'), {
    workerThreads: 1,
    drift: false,
    extensions: [controlPlaneSync({ url: cp.url, token, name: 'edge-gpu', pollIntervalMs: 500 })],
  });
  const loaded = await eventually('the heartbeat reports weather v1 ready', async () => {
    const r = await cp.gql('{ gateway(name: "edge-gpu") { loadedVersions { model version state executionProvider } } }');
    const v = r.data?.gateway?.loadedVersions?.find((x: { version: number; state: string }) => x.version === 1 && x.state === 'ready');
    return v as { executionProvider: string | null } | undefined;
  });
  t.equal(loaded.executionProvider, 'cpu');
});
