// End to end on loopback: a control plane and a gateway that syncs from it. Upload a version through
// GraphQL, point production at it, and the gateway downloads, verifies and serves it; an artifact
// altered on the control plane's disk is refused with a logged reason while the old version keeps
// serving; stopping the control plane does not stop inference.
import t from 'tap';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { controlPlaneSync } from '../../../gateway/sync/control-plane-sync.js';
import { exampleOnnx, modelWithVersion, startTestControlPlane } from '../../control-plane/harness.js';
import { postJson, startTestGateway } from '../gateway-harness.js';
import { eventually } from '../../helpers/wait.js';


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
