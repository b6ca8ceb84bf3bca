// End to end on loopback: a control plane and a gateway that syncs from it. Upload a version through
// GraphQL, point production at it, and the gateway downloads, verifies and serves it; an artifact
// altered on the control plane's disk is refused with a logged reason while the old version keeps
// serving; stopping the control plane does not stop inference.
import t from 'tap';
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { controlPlaneSync } from '../../../gateway/sync/control-plane-sync.js';
import { exampleOnnx, modelWithVersion, startTestControlPlane } from '../../control-plane/harness.js';
import { postJson, startTestGateway } from '../gateway-harness.js';
import { eventually } from '../../helpers/wait.js';
import { exampleModels } from '../../helpers/paths.js';
import { trainWeatherModel } from '../../../examples/weather.js';


const WEATHER_CALL = { inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [0, 28.9, 14.4, 2.1, 200] }] };

t.test('a gateway serves what the registry says, refuses altered artifacts, and outlives the control plane', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await modelWithVersion(cp);
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  const token = await cp.token('gateway', 'edge-1');

  const lines: Record<string, unknown>[] = [];
  const logStream = new PassThrough();
  logStream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const repository = join(t.testdir(), 'models');
  const gw = await startTestGateway(t, repository, {
    workerThreads: 1,
    drift: false,
    logger: pino({ level: 'info' }, logStream),
    extensions: [controlPlaneSync({ url: cp.url, token, name: 'edge-1', pollIntervalMs: 500 })],
  });
  const infer = `${gw.url}/v2/models/weather/infer`;

  const first = await eventually('the gateway serves weather v1 from the registry', async () => {
    const r = await postJson(infer, WEATHER_CALL);
    return r.status === 200 ? r.body : undefined;
  });
  t.equal(first.model_version, '1');

  await cp.upload('weather', exampleOnnx('weather'), undefined, { description: 'retrained', allowDuplicate: true });
  const operator = await cp.token('operator');
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 2 }) { name } }', {}, operator);
  await eventually('production moves to v2 on the gateway', async () => ((await postJson(infer, WEATHER_CALL)).body.model_version === '2' ? true : undefined));
  t.pass('an alias move reaches the gateway');

  const gateways = await eventually('the heartbeat reports v2 loaded', async () => {
    const r = await cp.gql('{ gateway(name: "edge-1") { status health loadedVersions { model version sha256 state } } }');
    return r.data.gateway.loadedVersions.some((v: { version: number }) => v.version === 2) ? r.data.gateway : undefined;
  });
  t.equal(gateways.status, 'CONNECTED');
  t.equal(gateways.health, 'HEALTHY');

  // Version 3: different bytes, then altered on the control plane's disk after registration.
  const up = await cp.upload('weather', exampleOnnx('text-direction'));
  const sha = (up.data as { createModelVersion: { artifact: { sha256: string } } }).createModelVersion.artifact.sha256;
  appendFileSync(join(cp.dataDir, 'artifacts', 'sha256', sha.slice(0, 2), sha), Buffer.from('tampered'));
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 3 }) { name } }', {}, operator);

  const refusal = await eventually('the gateway refuses the altered artifact', async () => lines.find((l) => l.msg === 'model version refused; the versions already loaded keep serving'));
  t.equal(refusal.version, 3);
  t.match(String(refusal.reason), /sha256/, 'the log says why');
  const degraded = await eventually('the heartbeat reports the refusal', async () => {
    const r = await cp.gql('{ gateway(name: "edge-1") { health healthMessage } }');
    return r.data.gateway.health === 'DEGRADED' ? r.data.gateway : undefined;
  });
  t.match(degraded.healthMessage, /sha256/);
  const still = await postJson(infer, WEATHER_CALL);
  t.equal(still.status, 200);
  t.equal(still.body.model_version, '2', 'the old version keeps serving');

  await cp.close();
  const afterStop = await postJson(infer, WEATHER_CALL);
  t.equal(afterStop.status, 200, 'inference goes on without the control plane');
  t.equal(afterStop.body.model_version, '2');
});

t.test('a refused version is retried until it loads; a version without a profile serves with drift off; files the statement does not name are refused', async (t) => {
  // Trained first: training blocks the event loop for seconds, long enough for the control plane to
  // close an idle keep-alive connection that fetch would then reuse (ECONNRESET on a loaded machine).
  const trained = new Map([11, 12, 13, 14].map((seed) => [seed, trainWeatherModel({ seed }).onnx]));
  const cp = await startTestControlPlane(t, 'sqlite');
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  const config = readFileSync(join(exampleModels(), 'weather', 'config.json'));
  const profile = readFileSync(join(exampleModels(), 'weather', '1', 'profile.json'));
  const upload = async (seed: number, extra: Record<string, unknown> = {}) => {
    const r = await cp.upload('weather', trained.get(seed)!, undefined, extra);
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    return r.data.createModelVersion as { number: number; artifact: { sha256: string } };
  };
  const production = (v: number) => cp.gql(`mutation { setAlias(input: { model: "weather", alias: "production", version: ${v} }) { name } }`);
  await upload(11, { config, profile });
  await production(1);

  const lines: Record<string, unknown>[] = [];
  const logStream = new PassThrough();
  logStream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const gw = await startTestGateway(t, join(t.testdir(), 'models'), {
    workerThreads: 1,
    logger: pino({ level: 'info' }, logStream),
    extensions: [controlPlaneSync({ url: cp.url, token: await cp.token('gateway', 'edge-1'), name: 'edge-1', pollIntervalMs: 500 })],
  });
  const served = async () => (await postJson(`${gw.url}/v2/models/weather/infer`, WEATHER_CALL)).body.model_version as string | undefined;
  await eventually('v1 serves', async () => ((await served()) === '1' ? true : undefined));
  t.equal((await fetch(`${gw.url}/v2/models/weather/versions/1/drift`)).status, 200, 'v1 came with its profile: drift is on');

  await upload(12); // the config (with its drift section) is inherited, the profile is not
  await production(2);
  await eventually('v2 serves', async () => ((await served()) === '2' ? true : undefined));
  t.equal((await fetch(`${gw.url}/v2/models/weather/versions/2/drift`)).status, 404, 'v2 has no profile: drift is off');
  const missing = lines.filter((l) => l.msg === 'drift reference profile is missing; this version serves with drift monitoring off');
  t.equal(missing.length, 1, 'said once');
  t.match(missing[0], { version: '2', code: 'SLUICE_E_CONFIG_FILE_MISSING' });

  // v3's bytes are altered on the control plane's disk: refused, reported whole, retried with backoff.
  const v3 = await upload(13);
  const file = join(cp.dataDir, 'artifacts', 'sha256', v3.artifact.sha256.slice(0, 2), v3.artifact.sha256);
  const original = readFileSync(file);
  appendFileSync(file, Buffer.from('tampered'));
  await production(3);
  const failed = await eventually('the heartbeat reports v3 failed', async () => {
    const r = await cp.gql('{ gateway(name: "edge-1") { loadedVersions { version state reason } } }');
    return r.data.gateway.loadedVersions.find((v: { version: number; state: string }) => v.version === 3 && v.state === 'failed');
  });
  t.match(failed.reason, /downloaded model\.onnx has sha256 [0-9a-f]{64}, the registry signed [0-9a-f]{64} \(SLUICE_E_ARTIFACT_SIGNATURE\)/);
  t.equal(await served(), '2', 'v2 keeps serving');
  writeFileSync(file, original);
  await eventually('v3 loads on a retry, with nothing changed on the control plane', async () => ((await served()) === '3' ? true : undefined));
  t.ok(lines.filter((l) => l.msg === 'model version refused; the versions already loaded keep serving' && l.version === 3).length >= 1);

  // v4's row is pointed at another config than the one its statement names: refused.
  const v4 = await upload(14, { config: '{"max_batch_size": 4}' });
  const other = createHash('sha256').update(config).digest('hex');
  await cp.sql(`UPDATE model_versions SET config_sha256 = '${other}' WHERE number = ${v4.number}`);
  await production(4);
  const swapped = await eventually('the heartbeat reports v4 failed', async () => {
    const r = await cp.gql('{ gateway(name: "edge-1") { loadedVersions { version state reason } } }');
    return r.data.gateway.loadedVersions.find((v: { version: number; state: string }) => v.version === 4 && v.state === 'failed');
  });
  t.match(swapped.reason, /not the ones its signed statement names \(SLUICE_E_ARTIFACT_SIGNATURE\)/);
  t.equal(await served(), '3', 'v3 keeps serving');
});
