// Gateways synced from a real control plane (SQLite) through a rollout, on loopback: the plan
// reaches the gateway by push, shadow copies run and their windows reach the control plane's
// comparison, an abort takes every call back to stable with none failing, and under an A/B rollout
// two gateways send each route key to the same version, split as configured (chi-squared); and a
// canary whose queue refuses calls is judged on the calls it answered, its refusals counted apart.
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
async function controlPlane(t: Test, candidateConfig?: object): Promise<TestControlPlane> {
  const cp = await startTestControlPlane(t, 'sqlite');
  await modelWithVersion(cp);
  const extra = candidateConfig === undefined ? {} : { config: JSON.stringify(candidateConfig) };
  const up = await cp.upload('weather', exampleOnnx('weather'), undefined, { allowDuplicate: true, ...extra });
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

t.test('a canary whose queue is full is judged on the calls it answered; its refusals are counted apart', async (t) => {
  // The candidate holds calls 1.5 s for a batch and queues at most 2: a third call at once is refused.
  const cp = await controlPlane(t, { max_batch_size: 256, dynamic_batching: { max_queue_delay_us: 1_500_000, max_queue_size: 2, adaptive_delay: false } });
  const gw = await syncedGateway(t, cp, 'edge-1', t.testdir());
  const infer = `${gw.url}/v2/models/weather/infer`;
  const id = await startRollout(cp, 'strategy: CANARY, mirrorShare: 0, steps: [{ setWeight: 100 }, { analysis: { count: 1 } }], analysis: { intervalSeconds: 1, minCalls: 2, maxErrorRate: 0.2 }');
  await eventually('every call goes to the loaded candidate', async () => {
    const m = gw.repository.model('weather');
    return m?.routing.rollout?.id === id && m.routing.weights['2'] === 100 && m.readyVersions.includes('2') ? true : undefined;
  });
  const queued = [postJson(infer, CALL), postJson(infer, CALL)];
  await eventually('two calls wait in the candidate\'s queue', async () => (gw.repository.model('weather')!.versions.get('2')!.batcher.queueDepth === 2 ? true : undefined));
  const refused: (string | undefined)[] = [];
  for (let i = 0; i < 10; i++) refused.push((await postJson(infer, CALL)).body.code);
  t.same(refused, new Array(10).fill('SLUICE_E_BATCH_QUEUE_FULL'), 'the candidate refuses 10 calls at admission');
  t.same((await Promise.all(queued)).map((r) => [r.status, r.body.model_version]), [[200, '2'], [200, '2']], 'and answers the 2 it queued');

  const done = await eventually('the analysis decides', async () => {
    const r = await cp.gql(`{ rollout(id: "${id}") { phase abortReason analysisRuns { status candidate { calls errors refused } } } }`);
    const x = r.data?.rollout;
    return x && (x.phase === 'PROMOTED' || x.phase === 'ABORTED') ? x : undefined;
  }, 30_000);
  // The windows may reach the analysis in more than one run: their sums are what was measured.
  const sum = (f: 'calls' | 'errors' | 'refused') => done.analysisRuns.reduce((n: number, a: any) => n + a.candidate[f], 0);
  t.same({ phase: done.phase, abortReason: done.abortReason, calls: sum('calls'), errors: sum('errors'), refused: sum('refused') }, { phase: 'PROMOTED', abortReason: null, calls: 2, errors: 0, refused: 10 }, 'the refusals are not the candidate\'s errors, and stay visible');
  t.ok(done.analysisRuns.some((a: any) => a.status === 'SUCCESSFUL'), 'a run judged the 2 answered calls and passed');
  const cmp = await cp.gql(`{ rolloutComparison(id: "${id}") { candidate { calls errors refused } } }`);
  t.same(cmp.data.rolloutComparison.candidate, { calls: 2, errors: 0, refused: 10 }, 'the comparison shows them too');
});
