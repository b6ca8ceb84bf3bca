import t from 'tap';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readProfile } from '../../../gateway/drift/compile.js';
import { join } from 'node:path';
import { copyModels, getJson, postJson, startTestGateway } from '../gateway-harness.js';

const WEATHER_CALL = { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [0, 12, 4, 3, 40] }] };

function editConfig(models: string, name: string, edit: (c: Record<string, unknown>) => void): void {
  const path = join(models, name, 'config.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(config);
  writeFileSync(path, JSON.stringify(config));
}

/** weather with versions 1..n (copies of the same model.onnx). */
function weatherVersions(t: Parameters<typeof copyModels>[0], n: number): string {
  const models = copyModels(t, ['weather']);
  for (let v = 2; v <= n; v++) cpSync(join(models, 'weather', '1'), join(models, 'weather', String(v)), { recursive: true });
  return models;
}

async function versionsServed(url: string, calls: number, path = 'weather/infer'): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < calls; i++) {
    const res = await postJson(`${url}/v2/models/${path}`, WEATHER_CALL);
    const v = res.status === 200 ? String(res.body.model_version) : `status ${res.status}`;
    seen[v] = (seen[v] ?? 0) + 1;
  }
  return seen;
}

t.test('a version policy serves several versions side by side; versions/{v} overrides the routing', async (t) => {
  const models = weatherVersions(t, 3);
  editConfig(models, 'weather', (c) => (c.version_policy = { latest: { num_versions: 2 } }));
  const gw = await startTestGateway(t, models);
  t.same((await getJson(`${gw.url}/v2/models/weather`)).body.versions, ['2', '3']);
  t.same(await versionsServed(gw.url, 5), { 3: 5 }, 'without weights the newest version answers');
  t.same(await versionsServed(gw.url, 3, 'weather/versions/2/infer'), { 2: 3 });
  const old = await postJson(`${gw.url}/v2/models/weather/versions/1/infer`, WEATHER_CALL);
  t.equal(old.status, 404, 'version 1 is outside the policy');
  const index = await postJson(`${gw.url}/v2/repository/index`, {});
  t.same(index.body, [{ name: 'weather', version: '2', state: 'READY' }, { name: 'weather', version: '3', state: 'READY' }]);
});

t.test('specific versions and routing weights from config; the routing table is replaced at run time', async (t) => {
  const models = weatherVersions(t, 3);
  editConfig(models, 'weather', (c) => {
    c.version_policy = { specific: { versions: ['1', '3'] } };
    c.routing = { default_version: '3', weights: { 1: 1, 3: 0 } };
  });
  const gw = await startTestGateway(t, models);
  t.same((await getJson(`${gw.url}/v2/models/weather`)).body.versions, ['1', '3']);
  t.same(await versionsServed(gw.url, 6), { 1: 6 }, 'all weight on version 1');
  gw.repository.setRouting('weather', { weights: { 1: 0, 3: 5 } });
  t.same(await versionsServed(gw.url, 6), { 3: 6 }, 'the new table applies to the next call');
  gw.repository.setRouting('weather', { default_version: '1' });
  t.same(await versionsServed(gw.url, 3), { 1: 3 });
  t.throws(() => gw.repository.setRouting('weather', { weights: { 2: 1 } }), { code: 'SLUICE_E_MODEL_VERSION_NOT_FOUND' });
  t.throws(() => gw.repository.setRouting('nope', {}), { code: 'SLUICE_E_MODEL_NOT_FOUND' });
});

t.test('the repository extension unloads and loads a model without a restart', async (t) => {
  const models = copyModels(t, ['weather']);
  const gw = await startTestGateway(t, models);
  const unload = await postJson(`${gw.url}/v2/repository/models/weather/unload`, {});
  t.equal(unload.status, 200);
  const gone = await postJson(`${gw.url}/v2/models/weather/infer`, WEATHER_CALL);
  t.equal(gone.status, 404);
  t.equal(gone.body.code, 'SLUICE_E_MODEL_NOT_FOUND');
  t.same((await postJson(`${gw.url}/v2/repository/index`, {})).body, [{ name: 'weather', state: 'UNAVAILABLE', reason: 'unloaded' }]);
  t.same((await postJson(`${gw.url}/v2/repository/index`, { ready: true })).body, []);
  const load = await fetch(`${gw.url}/v2/repository/models/weather/load`, { method: 'POST' });
  t.equal(load.status, 200, 'an empty body is fine');
  t.equal((await postJson(`${gw.url}/v2/models/weather/infer`, WEATHER_CALL)).status, 200);
  const again = await postJson(`${gw.url}/v2/repository/models/weather/unload`, {});
  t.equal(again.status, 200);
  const twice = await postJson(`${gw.url}/v2/repository/models/weather/unload`, {});
  t.equal(twice.status, 404, 'unloading what is not loaded');
  const unknown = await postJson(`${gw.url}/v2/repository/models/nope/load`, {});
  t.equal(unknown.status, 404);
  t.equal(unknown.body.code, 'SLUICE_E_MODEL_NOT_FOUND');
  const traversal = await postJson(`${gw.url}/v2/repository/models/..%2F..%2Fetc/load`, {});
  t.equal(traversal.status, 404, 'names cannot leave the repository');
  const badBody = await postJson(`${gw.url}/v2/repository/index`, '[1]');
  t.equal(badBody.status, 400);
});

t.test('a failed load leaves the old version serving', async (t) => {
  const models = copyModels(t, ['weather']);
  const gw = await startTestGateway(t, models);
  cpSync(join(models, 'weather', '1'), join(models, 'weather', '2'), { recursive: true });
  writeFileSync(join(models, 'weather', '2', 'model.onnx'), 'not an onnx model');
  const broken = await postJson(`${gw.url}/v2/repository/models/weather/load`, {});
  t.equal(broken.status, 500);
  t.equal(broken.body.code, 'SLUICE_E_MODEL_LOAD_FAILED');
  t.same(await versionsServed(gw.url, 3), { 1: 3 }, 'version 1 still answers');
  editConfig(models, 'weather', (c) => (c.max_batch_size = 'lots'));
  const badConfig = await postJson(`${gw.url}/v2/repository/models/weather/load`, {});
  t.equal(badConfig.status, 500);
  t.equal(badConfig.body.code, 'SLUICE_E_MODEL_LOAD_FAILED');
  t.same(await versionsServed(gw.url, 2), { 1: 2 });
  const index = (await postJson(`${gw.url}/v2/repository/index`, {})).body;
  t.same(index, [{ name: 'weather', version: '1', state: 'READY' }]);
});

t.test('a model reloaded under load answers every call, and switches to the new version', async (t) => {
  const models = copyModels(t, ['weather']);
  const gw = await startTestGateway(t, models);
  let stop = false;
  const statuses: Record<string, number> = {};
  const versions = new Set<string>();
  const client = async () => {
    while (!stop) {
      const res = await postJson(`${gw.url}/v2/models/weather/infer`, WEATHER_CALL);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status === 200) versions.add(String(res.body.model_version));
    }
  };
  const clients = Array.from({ length: 16 }, client);
  for (let i = 0; i < 3; i++) {
    const reload = await postJson(`${gw.url}/v2/repository/models/weather/load`, {});
    t.equal(reload.status, 200, `reload ${i + 1}`);
  }
  cpSync(join(models, 'weather', '1'), join(models, 'weather', '2'), { recursive: true });
  t.equal((await postJson(`${gw.url}/v2/repository/models/weather/load`, {})).status, 200, 'load with a new version 2');
  await new Promise((r) => setTimeout(r, 200));
  stop = true;
  await Promise.all(clients);
  t.same(Object.keys(statuses), ['200'], `every call succeeded (${JSON.stringify(statuses)})`);
  t.ok(statuses['200']! > 16, 'the clients kept calling during the reloads');
  t.same([...versions].sort(), ['1', '2'], 'calls moved to version 2 after the last load');
  t.same(await versionsServed(gw.url, 2), { 2: 2 });
});

t.test('the control-plane API loads a version from files, routes to it and unloads it', async (t) => {
  const models = copyModels(t, ['weather']);
  const gw = await startTestGateway(t, models);
  const onnx = readFileSync(join(models, 'weather', '1', 'model.onnx'));
  // Every file of version 1 (the model, and whatever its config refers to, e.g. a drift profile).
  const files = Object.fromEntries(readdirSync(join(models, 'weather', '1')).map((f) => [f, readFileSync(join(models, 'weather', '1', f))]));
  await gw.repository.loadVersion('weather', '5', { files });
  t.same((await getJson(`${gw.url}/v2/models/weather`)).body.versions, ['1', '5']);
  t.same(await versionsServed(gw.url, 2, 'weather/versions/5/infer'), { 5: 2 });
  gw.repository.setRouting('weather', { weights: { 5: 1 } });
  t.same(await versionsServed(gw.url, 3), { 5: 3 });
  await gw.repository.unloadVersion('weather', '5');
  t.same(await versionsServed(gw.url, 2), { 1: 2 }, 'the routing falls back to a loaded version');
  await t.rejects(gw.repository.loadVersion('weather', '6', { files: { ...files, 'model.onnx': Buffer.from('junk') } }), { code: 'SLUICE_E_MODEL_LOAD_FAILED' });
  await t.rejects(gw.repository.loadVersion('weather', 'x', { files: {} }), { code: 'SLUICE_E_VALIDATION' });
  await t.rejects(gw.repository.loadVersion('weather', '7', { files: { 'model.onnx': onnx, '../evil': 'x' } }), { code: 'SLUICE_E_VALIDATION' });
  await t.rejects(gw.repository.unloadVersion('weather', '9'), { code: 'SLUICE_E_MODEL_VERSION_NOT_FOUND' });
  t.same(await versionsServed(gw.url, 2), { 1: 2 }, 'failed loads changed nothing');
});

t.test('a config that contradicts the model fails to load with a message', async (t) => {
  const models = copyModels(t, ['weather']);
  editConfig(models, 'weather', (c) => (c.input = [{ name: 'features', datatype: 'FP32', dims: [6] }]));
  const gw = await startTestGateway(t, models);
  const index = (await postJson(`${gw.url}/v2/repository/index`, {})).body as unknown as { reason: string }[];
  t.match(index[0]!.reason, /config input features dims \[6\] do not fit the model's \[5\]/);
  t.equal((await getJson(`${gw.url}/v2/health/ready`)).status, 200, 'the gateway serves the rest');
});

t.test('a version whose drift profile is missing serves with drift off; a missing profile is reported as missing', async (t) => {
  const models = copyModels(t, ['weather']);
  const profile = join(models, 'weather', '1', 'profile.json');
  rmSync(profile);
  t.throws(() => readProfile(profile), { code: 'SLUICE_E_CONFIG_FILE_MISSING' });
  writeFileSync(profile, '{ not json');
  t.throws(() => readProfile(profile), { code: 'SLUICE_E_CONFIG_INVALID' });
  rmSync(profile);
  const gw = await startTestGateway(t, models);
  const call = { inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [0, 28.9, 14.4, 2.1, 200] }] };
  t.equal((await postJson(`${gw.url}/v2/models/weather/infer`, call)).status, 200);
  t.equal((await getJson(`${gw.url}/v2/models/weather/drift`)).status, 404, 'drift is off for the version');
});
