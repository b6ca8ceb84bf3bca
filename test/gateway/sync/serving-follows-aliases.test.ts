// Separation of duties on a real gateway synced to a real control plane: a developer's upload
// deploys nothing. Calls by name reach only the `production` alias (or a rollout); a version an
// operator named with another alias is reachable by number; a version no alias names is loaded nowhere.
import t from 'tap';
import { controlPlaneSync } from '../../../gateway/sync/control-plane-sync.js';
import { exampleOnnx, startTestControlPlane } from '../../control-plane/harness.js';
import { postJson, startTestGateway } from '../gateway-harness.js';
import { eventually } from '../../helpers/wait.js';

const CALL = { inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [0, 28.9, 14.4, 2.1, 200] }] };

t.test('an upload deploys nothing: calls by name follow the production alias only', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  const developer = await cp.token('developer');
  const operator = await cp.token('operator');
  const alias = (name: string, version: number, token: string) =>
    cp.gql('mutation($a: String!, $v: Int!) { setAlias(input: { model: "weather", alias: $a, version: $v }) { name } }', { a: name, v: version }, token);
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }', {}, developer);
  const up = await cp.upload('weather', exampleOnnx('weather'), developer);
  t.equal(up.errors, undefined, 'a developer may upload');

  const gw = await startTestGateway(t, `${t.testdir()}/models`, {
    workerThreads: 1,
    drift: false,
    extensions: [controlPlaneSync({ url: cp.url, token: await cp.token('gateway', 'edge-1'), name: 'edge-1', pollIntervalMs: 200 })],
  });
  const byName = `${gw.url}/v2/models/weather/infer`;
  const byNumber = (v: number) => `${gw.url}/v2/models/weather/versions/${v}/infer`;
  const code = async (url: string) => (await postJson(url, CALL)).body.code ?? 'ok';

  await eventually('the gateway to know weather is not routed', async () => ((await code(byName)) === 'SLUICE_E_MODEL_NOT_ROUTED' ? true : undefined));
  const refused = await postJson(byName, CALL);
  t.equal(refused.status, 404, 'the developer\'s upload is not served by name (before: it served all traffic)');
  t.equal(await code(byNumber(1)), 'SLUICE_E_MODEL_NOT_FOUND', 'nor loaded at all: no alias names it');

  t.equal((await alias('production', 1, developer)).errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_FORBIDDEN', 'a developer may not deploy it');
  t.equal((await alias('staging', 1, operator)).errors, undefined);
  await eventually('staging is loaded and callable by number', async () => ((await code(byNumber(1))) === 'ok' ? true : undefined));
  t.equal(await code(byName), 'SLUICE_E_MODEL_NOT_ROUTED', 'staging is not reached by name');

  t.equal((await alias('production', 1, operator)).errors, undefined, 'an operator deploys it');
  await eventually('production serves by name', async () => ((await code(byName)) === 'ok' ? true : undefined));

  await cp.upload('weather', exampleOnnx('weather'), developer, { allowDuplicate: true });
  t.equal((await alias('staging', 2, operator)).errors, undefined);
  await eventually('the new upload is loaded for staging', async () => ((await code(byNumber(2))) === 'ok' ? true : undefined));
  const versions = new Set<string>();
  for (let i = 0; i < 20; i++) versions.add(String((await postJson(byName, CALL)).body.model_version));
  t.same([...versions], ['1'], 'calls by name stay on production, not on the newest version');

  const deleted = await cp.gql('mutation { deleteAlias(input: { model: "weather", alias: "production" }) { deleted } }', {}, operator);
  t.equal(deleted.errors, undefined);
  await eventually('removing production closes the model to calls by name', async () => ((await code(byName)) === 'SLUICE_E_MODEL_NOT_ROUTED' ? true : undefined));
  t.equal(await code(byNumber(2)), 'ok', 'staging still answers by number');
});
