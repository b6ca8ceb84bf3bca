// Gateways synced from a real control plane (SQLite) through a rollout, on loopback: the plan
// reaches the gateway by push, shadow copies run and their windows reach the control plane's
// comparison, an abort takes every call back to stable with none failing, and under an A/B rollout
// two gateways send each route key to the same version, split as configured (chi-squared).
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { pino } from 'pino';
import { controlPlaneSync } from '../../../gateway/sync/control-plane-sync.js';
import type { Gateway } from '../../../gateway/index.js';
import { exampleOnnx, modelWithVersion, startTestControlPlane, type TestControlPlane } from '../../control-plane/harness.js';
import { postJson, startTestGateway } from '../gateway-harness.js';
import { eventually } from '../../helpers/wait.js';

const CALL = { inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [0, 28.9, 14.4, 2.1, 200] }] };

/** weather version 1 as production, version 2 (the same signature) ready as a candidate. */
async function controlPlane(t: Test): Promise<TestControlPlane> {
  const cp = await startTestControlPlane(t, 'sqlite');
  await modelWithVersion(cp);
  const up = await cp.upload('weather', exampleOnnx('weather'), undefined, { allowDuplicate: true });
  if (up.errors) throw new Error(JSON.stringify(up.errors));
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  return cp;
}

async function syncedGateway(t: Test, cp: TestControlPlane, name: string, dir: string): Promise<Gateway> {
  const token = await cp.token('gateway', name);
  const gw = await startTestGateway(t, join(dir, name), {
    workerThreads: 1,
    drift: false,
    logger: pino({ level: 'silent' }),
    extensions: [controlPlaneSync({ url: cp.url, token, name, pollIntervalMs: 500 })],
  });
  await eventually(`${name} serves weather`, async () => ((await postJson(`${gw.url}/v2/models/weather/infer`, CALL)).status === 200 ? true : undefined));
  return gw;
}

async function startRollout(cp: TestControlPlane, input: string): Promise<string> {
  const r = await cp.gql(`mutation { startRollout(input: { model: "weather", candidate: 2, ${input} }) { id } }`, {}, await cp.token('operator'));
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data.startRollout.id as string;
}

t.test('shadow copies reach the control plane\'s comparison; an abort returns every call to stable, none failing', async (t) => {
  const cp = await controlPlane(t);
  const gw = await syncedGateway(t, cp, 'edge-1', t.testdir());
  const infer = `${gw.url}/v2/models/weather/infer`;
  const id = await startRollout(cp, 'strategy: SHADOW, mirrorShare: 1');
  await eventually('the gateway applies the shadow plan', async () => (gw.repository.model('weather')?.routing.rollout?.id === id ? true : undefined));
  t.ok(gw.repository.model('weather')!.readyVersions.includes('2'), 'the candidate is loaded');
  for (let i = 0; i < 40; i++) t.equal((await postJson(infer, CALL)).body.model_version, '1');
  const comparison = await eventually('the windows reach the control plane', async () => {
    const r = await cp.gql(`{ rolloutComparison(id: "${id}") { agreement stable { version calls errors } candidate { version calls mirroredCalls } } }`);
    const c = r.data?.rolloutComparison;
    return c && c.stable.calls >= 41 && c.candidate.mirroredCalls >= 40 ? c : undefined;
  }, 20_000);
  t.match(comparison, { agreement: 1, stable: { version: 1, errors: 0 }, candidate: { version: 2 } }, 'the same model agrees on every copy');

  // Constant load while the rollout is aborted: nothing fails, and the plan leaves the gateway.
  let stop = false;
  const statuses: number[] = [];
  const load = (async () => {
    while (!stop) statuses.push((await postJson(infer, CALL)).status);
  })();
  const abort = await cp.gql(`mutation { abortRollout(id: "${id}", reason: "test") { phase } }`, {}, await cp.token('operator'));
  t.equal(abort.data?.abortRollout.phase, 'ABORTED');
  await eventually('the gateway drops the plan', async () => (gw.repository.model('weather')?.routing.rollout === undefined ? true : undefined), 10_000);
  stop = true;
  await load;
  t.ok(statuses.length > 0);
  t.same(statuses.filter((s) => s !== 200), [], `all ${statuses.length} calls during the abort answered 200`);
});

t.test('A/B over two gateways: each key reaches the same version on both, split within sampling error', async (t) => {
  const cp = await controlPlane(t);
  const dir = t.testdir();
  const a = await syncedGateway(t, cp, 'edge-a', dir);
  const b = await syncedGateway(t, cp, 'edge-b', dir);
  const id = await startRollout(cp, 'strategy: AB, weight: 30');
  for (const gw of [a, b]) {
    await eventually('the gateway applies the A/B plan', async () => (gw.repository.model('weather')?.routing.rollout?.id === id && gw.repository.model('weather')!.readyVersions.includes('2') ? true : undefined));
  }
  const keys = 400;
  let toCandidate = 0;
  for (let k = 0; k < keys; k++) {
    const headers = { 'sluice-route-key': `user-${k}` };
    const [va, vb] = await Promise.all([a, b].map(async (gw) => {
      const r = await fetch(`${gw.url}/v2/models/weather/infer`, { method: 'POST', headers, body: JSON.stringify(CALL) });
      return ((await r.json()) as { model_version: string }).model_version;
    }));
    if (va !== vb) t.fail(`user-${k}: ${va} on one gateway, ${vb} on the other`);
    if (va === '2') toCandidate++;
  }
  // Chi-squared, 1 degree of freedom, p = 0.001: 10.828.
  const expected = keys * 0.3;
  const chi2 = (toCandidate - expected) ** 2 / expected + (toCandidate - expected) ** 2 / (keys - expected);
  t.ok(chi2 < 10.828, `${toCandidate}/${keys} keys on the candidate, 30% configured (chi2 ${chi2.toFixed(2)})`);
});
