import t from 'tap';
import pg from 'pg';
import { LATENCY_BUCKETS_MS, REPORT_TRAFFIC_MUTATION } from '../../lib/sync-wire.js';
import { eventually } from '../helpers/wait.js';
import { ADMIN_TOKEN, dialects, exampleOnnx, modelWithVersion, startTestControlPlane, stopPostgres, type TestControlPlane } from './harness.js';
import { subscribe } from './sse.js';

t.teardown(stopPostgres);

const ROLLOUT = `id model stable candidate strategy phase currentStep weight weights { version weight } message abortReason finishedAt
  analysisRuns { status message candidate { calls errors errorRate p99Ms } stable { calls p99Ms } agreement p99Ratio conditions { metric value threshold passed } }`;
const START = `mutation($input: StartRolloutInput!) { startRollout(input: $input) { ${ROLLOUT} } }`;
const GET = `query($id: ID!) { rollout(id: $id) { ${ROLLOUT} } }`;
const DESIRED = '{ desiredState { trafficReportIntervalMs models { name routes { version weight } versions { version } aliases { name version } rollout { id strategy stable candidate sticky mirrorShare agreementTolerance } } } }';

/** weather with version 1 as production and version 2 (the same signature) as the candidate. */
async function weatherWithCandidate(cp: TestControlPlane): Promise<void> {
  await modelWithVersion(cp);
  const up = await cp.upload('weather', exampleOnnx('weather'), undefined, { allowDuplicate: true });
  if (up.errors) throw new Error(JSON.stringify(up.errors));
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
}

async function gatewayToken(cp: TestControlPlane, name: string): Promise<string> {
  const token = await cp.token('gateway', `${name}-token`);
  const r = await cp.gql('mutation($n: String!) { registerGateway(input: { name: $n }) { id } }', { n: name }, token);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return token;
}

async function start(cp: TestControlPlane, input: Record<string, unknown>): Promise<any> {
  const r = await cp.gql(START, { input: { model: 'weather', candidate: 2, ...input } });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data.startRollout;
}

async function rollout(cp: TestControlPlane, id: string): Promise<any> {
  return (await cp.gql(GET, { id })).data.rollout;
}

function phaseIs(cp: TestControlPlane, id: string, phase: string) {
  return eventually(`rollout ${id} ${phase}`, async () => {
    const r = await rollout(cp, id);
    return r.phase === phase ? r : undefined;
  }, 20_000);
}

/** A histogram with `calls` calls all in the bucket whose upper bound is `ms`. */
function latency(calls: number, ms: number): number[] {
  const out = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  out[LATENCY_BUCKETS_MS.findIndex((b) => b >= ms)] = calls;
  return out;
}

interface Figures {
  calls: number;
  errors?: number;
  ms?: number;
  compared?: number;
  agreed?: number;
  outputs?: { feature: string; counts: number[] }[];
}

function window(version: number, f: Figures, rolloutId: string | null = null) {
  const end = new Date();
  return {
    model: 'weather',
    version,
    rolloutId,
    start: new Date(end.getTime() - 200).toISOString(),
    end: end.toISOString(),
    calls: f.calls,
    errors: f.errors ?? 0,
    latency: latency(f.calls, f.ms ?? 1),
    mirrored: { calls: f.compared ?? 0, errors: 0, compared: f.compared ?? 0, agreed: f.agreed ?? f.compared ?? 0, latency: latency(f.compared ?? 0, f.ms ?? 1) },
    outputs: f.outputs ?? [],
  };
}

/** Report windows through the real API every 200 ms until `until` says stop. */
async function reportUntil(cp: TestControlPlane, token: string, gateway: string, windows: () => object[], until: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await cp.gql(REPORT_TRAFFIC_MUTATION, { gateway, windows: windows() }, token);
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    if (await until()) return;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error('reported for 40 s without reaching the state');
}

for (const dialect of dialects()) {
  t.test(`rollouts on ${dialect}`, async (t) => {
    t.test('startRollout refuses bad starts with their codes, and audits each refusal', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await modelWithVersion(cp);
      await cp.upload('weather', exampleOnnx('weather'), undefined, { allowDuplicate: true });
      const code = async (input: Record<string, unknown>, token?: string) => (await cp.gql(START, { input: { model: 'weather', candidate: 2, strategy: 'CANARY', steps: [{ setWeight: 50 }], ...input } }, token)).errors?.[0]?.extensions?.code;
      t.equal(await code({}), 'SLUICE_E_ROLLOUT_INVALID', 'no production alias to take as stable');
      await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
      t.equal(await code({ model: 'nope' }), 'SLUICE_E_MODEL_NOT_FOUND');
      t.equal(await code({ candidate: 9 }), 'SLUICE_E_MODEL_VERSION_NOT_FOUND');
      t.equal(await code({ candidate: 1 }), 'SLUICE_E_ROLLOUT_INVALID', 'the candidate is already production');
      t.equal(await code({ steps: [{ setWeight: 150 }] }), 'SLUICE_E_ROLLOUT_INVALID', 'weight above 100');
      t.equal(await code({ steps: [{ setWeight: -1 }] }), 'SLUICE_E_ROLLOUT_INVALID', 'weight below 0');
      t.equal(await code({ steps: [{ setWeight: 50 }, { setWeight: 20 }] }), 'SLUICE_E_ROLLOUT_INVALID', 'weights that go back down');
      t.equal(await code({ steps: [] }), 'SLUICE_E_ROLLOUT_INVALID', 'a canary without steps');
      t.equal(await code({ steps: [{ setWeight: 10, pause: {} }] }), 'SLUICE_E_ROLLOUT_INVALID', 'two actions in one step');
      t.equal(await code({ steps: [{ analysis: {} }] }), 'SLUICE_E_ROLLOUT_INVALID', 'an analysis step without thresholds');
      t.equal(await code({ strategy: 'AB', steps: null }), 'SLUICE_E_ROLLOUT_INVALID', 'an A/B split without its weight');
      t.equal(await code({ strategy: 'AB', steps: null, weight: 100 }), 'SLUICE_E_ROLLOUT_INVALID', 'an A/B weight outside 1-99');
      t.equal(await code({ strategy: 'AB', steps: null, weight: 50, mirrorShare: 0.2 }), 'SLUICE_E_ROLLOUT_INVALID', 'an A/B split mirrors nothing');
      t.equal(await code({ strategy: 'BLUE_GREEN', steps: null, mirrorShare: 1.5 }), 'SLUICE_E_ROLLOUT_INVALID', 'a blue-green mirror share above 1');
      t.equal(await code({}, await cp.token('viewer')), 'SLUICE_E_AUTH_FORBIDDEN', 'viewers read rollouts but do not start them');
      t.equal(await code({}, await cp.token('developer')), 'SLUICE_E_AUTH_FORBIDDEN');

      await cp.upload('weather', exampleOnnx('text-direction'));
      t.equal(await code({ candidate: 3 }), 'SLUICE_E_ROLLOUT_INCOMPATIBLE', 'a candidate with another signature');
      await cp.gql('mutation { setModelVersionStatus(input: { model: "weather", version: 3, status: ARCHIVED }) { number } }');
      t.equal(await code({ candidate: 3 }), 'SLUICE_E_ROLLOUT_NOT_READY', 'an archived candidate');

      const first = await cp.gql(START, { input: { model: 'weather', candidate: 2, strategy: 'CANARY', steps: [{ setWeight: 10 }, { pause: {} }] } }, await cp.token('operator'));
      t.equal(first.data.startRollout.phase, 'PROGRESSING', 'operators start rollouts');
      t.equal(await code({}), 'SLUICE_E_ROLLOUT_ACTIVE', 'a second active rollout on the model');
      const failed = await cp.gql('{ auditEvents(filter: { action: "rollout.start", outcome: FAILED }) { edges { node { reason } } } }');
      t.ok(failed.data.auditEvents.edges.some((e: any) => e.node.reason === 'SLUICE_E_ROLLOUT_ACTIVE'), 'refusals are audited with their code');
      const viewer = await cp.gql('{ rollouts(model: "weather") { edges { node { id phase } } } }', {}, await cp.token('viewer', 'viewer-2'));
      t.equal(viewer.data.rollouts.edges.length, 1, 'viewers list rollouts');
    });

    t.test('a canary steps through weights and pauses to PROMOTED; gateways see each weight; every transition is audited', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await weatherWithCandidate(cp);
      const gw = await gatewayToken(cp, 'edge-1');
      const r = await start(cp, { strategy: 'CANARY', steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 50 }, { pause: { seconds: 1 } }] });
      const paused = await phaseIs(cp, r.id, 'PAUSED');
      t.same({ step: paused.currentStep, weight: paused.weight, weights: paused.weights }, { step: 1, weight: 20, weights: [{ version: 1, weight: 80 }, { version: 2, weight: 20 }] });
      const state = (await cp.gql(DESIRED, {}, gw)).data.desiredState;
      t.same(state.models[0].routes, [{ version: 1, weight: 80 }, { version: 2, weight: 20 }]);
      t.same(state.models[0].versions.map((v: any) => v.version), [1, 2], 'stable and candidate are both loaded');
      t.same(state.models[0].rollout, { id: r.id, strategy: 'CANARY', stable: 1, candidate: 2, sticky: false, mirrorShare: 0.1, agreementTolerance: 0.001 });
      t.equal(state.trafficReportIntervalMs, 1000, 'gateways report every second during a rollout');

      t.equal((await cp.gql('mutation($id: ID!) { pauseRollout(id: $id) { id } }', { id: r.id })).errors?.[0]?.extensions?.code, 'SLUICE_E_ROLLOUT_STATE', 'a paused rollout cannot be paused again');
      await cp.gql('mutation($id: ID!) { resumeRollout(id: $id) { phase } }', { id: r.id });
      const promoted = await phaseIs(cp, r.id, 'PROMOTED');
      t.equal(promoted.weight, 100);
      const after = (await cp.gql(DESIRED, {}, gw)).data.desiredState.models[0];
      t.same({ routes: after.routes, versions: after.versions.map((v: any) => v.version), rollout: after.rollout }, { routes: [{ version: 2, weight: 100 }], versions: [2], rollout: null }, 'promotion moved production and unloads the old version');
      t.same(after.aliases, [{ name: 'production', version: 2 }]);
      const promote = await cp.gql('mutation($id: ID!) { promoteRollout(id: $id) { id } }', { id: r.id });
      t.equal(promote.errors?.[0]?.extensions?.code, 'SLUICE_E_ROLLOUT_STATE', 'a promoted rollout cannot be promoted again');
      const events = await cp.gql('query($r: String) { auditEvents(filter: { resource: $r }) { edges { node { action actorName outcome after } } } }', { r: `rollout/${r.id}` });
      const actions = events.data.auditEvents.edges.map((e: any) => `${e.node.action}:${e.node.outcome}`).reverse();
      t.same(actions, ['rollout.start:SUCCESS', 'rollout.step:SUCCESS', 'rollout.pause:FAILED', 'rollout.resume:SUCCESS', 'rollout.step:SUCCESS', 'rollout.promote:SUCCESS', 'rollout.promote:FAILED']);
      t.equal(events.data.auditEvents.edges[1].node.after.alias, 'production', 'the promotion event records the alias move');
      t.equal((await cp.gql('{ verifyAudit { ok } }')).data.verifyAudit.ok, true, 'the audit chain still verifies');
    });

    t.test('reportTraffic takes only well-formed windows from the gateway itself', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await weatherWithCandidate(cp);
      const gw = await gatewayToken(cp, 'edge-1');
      const other = await gatewayToken(cp, 'edge-2');
      const send = (windows: object[], token = gw, gateway = 'edge-1') => cp.gql(REPORT_TRAFFIC_MUTATION, { gateway, windows }, token);
      t.equal((await send([window(1, { calls: 10 })])).data.reportTraffic, 1);
      const short = { ...window(1, { calls: 10 }), latency: [1, 2, 3] };
      t.equal((await send([short])).errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION', 'a latency histogram of the wrong length');
      t.equal((await send([{ ...window(1, { calls: 10 }), errors: -1 }])).errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION', 'a negative count');
      t.equal((await send([{ ...window(1, { calls: 10 }), errors: 11 }])).errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION', 'more errors than calls');
      t.equal((await send([window(1, { calls: 10, compared: 5, agreed: 6 })])).errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION', 'more agreements than comparisons');
      t.equal((await send([window(1, { calls: 1 })], other)).errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_FORBIDDEN', "another gateway's name");
      t.equal((await send([window(1, { calls: 1 })], await cp.token('operator'))).errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_FORBIDDEN', 'people do not report traffic');
      t.equal((await send([window(1, { calls: 10 }), short])).errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION');
      const r = await start(cp, { strategy: 'AB', weight: 30 });
      const cmp = await cp.gql('query($id: ID!) { rolloutComparison(id: $id) { stable { calls } } }', { id: r.id });
      t.equal(cmp.data.rolloutComparison.stable.calls, 0, 'nothing of a refused report was stored, and windows before the rollout are not its own');
    });

    t.test('an analysis with failing agreement aborts the canary and returns every gateway to stable', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await weatherWithCandidate(cp);
      const gw = await gatewayToken(cp, 'edge-1');
      const r = await start(cp, {
        strategy: 'CANARY',
        steps: [{ setWeight: 50 }, { analysis: { count: 2 } }],
        analysis: { intervalSeconds: 1, minCalls: 50, minAgreement: 0.9, maxErrorRate: 0.05 },
      });
      const desired = await subscribe(cp.url, gw, `subscription { desiredStateChanged { models { routes { version weight } rollout { id } } } }`);
      t.teardown(() => desired.close());
      // First too few calls: inconclusive, the rollout holds.
      await reportUntil(cp, gw, 'edge-1', () => [window(1, { calls: 1 }), window(2, { calls: 1, compared: 1, agreed: 0 })], async () => (await rollout(cp, r.id)).analysisRuns.length > 0);
      let now = await rollout(cp, r.id);
      t.equal(now.analysisRuns[0].status, 'INCONCLUSIVE', 'a run with too few calls is inconclusive, not failed');
      t.equal(now.phase, 'PROGRESSING');
      await reportUntil(cp, gw, 'edge-1', () => [window(1, { calls: 50 }), window(2, { calls: 50, compared: 10, agreed: 3 })], async () => (await rollout(cp, r.id)).phase === 'ABORTED');
      now = await rollout(cp, r.id);
      const failed = now.analysisRuns.find((a: any) => a.status === 'FAILED');
      t.match(failed.conditions.find((c: any) => c.metric === 'agreement'), { threshold: 0.9, passed: false });
      t.ok(failed.conditions.find((c: any) => c.metric === 'agreement').value < 0.9, 'the measured agreement is recorded');
      t.match(now.abortReason, /agreement/);
      t.same(now.weights, [{ version: 1, weight: 100 }, { version: 2, weight: 0 }]);
      let pushed: any;
      do pushed = (await desired.next()).data.desiredStateChanged.models[0];
      while (pushed.rollout !== null);
      t.same(pushed.routes, [{ version: 1, weight: 100 }], 'the abort is pushed to subscribed gateways');
      const abort = await cp.gql('{ auditEvents(filter: { action: "rollout.abort" }) { edges { node { actorName after } } } }');
      t.equal(abort.data.auditEvents.edges[0].node.actorName, 'system', 'the controller aborted it, audited');
      t.equal((await cp.gql('mutation($id: ID!) { promoteRollout(id: $id) { id } }', { id: r.id })).errors?.[0]?.extensions?.code, 'SLUICE_E_ROLLOUT_STATE', 'an aborted rollout cannot be promoted');
    });

    t.test('a canary whose analysis passes promotes; p99 ratio and error rate are measured across gateways', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await weatherWithCandidate(cp);
      const a = await gatewayToken(cp, 'edge-1');
      const b = await gatewayToken(cp, 'edge-2');
      const r = await start(cp, { strategy: 'CANARY', steps: [{ setWeight: 30 }, { analysis: { count: 1 } }], analysis: { intervalSeconds: 1, minCalls: 10, maxErrorRate: 0.1, maxP99Ratio: 2 } });
      await reportUntil(cp, a, 'edge-1', () => [window(1, { calls: 10, ms: 2 }), window(2, { calls: 5, ms: 2 })], async () => {
        await cp.gql(REPORT_TRAFFIC_MUTATION, { gateway: 'edge-2', windows: [window(1, { calls: 10, ms: 2 }), window(2, { calls: 5, ms: 3, errors: 0 })] }, b);
        return (await rollout(cp, r.id)).phase === 'PROMOTED';
      });
      const done = await rollout(cp, r.id);
      const ok = done.analysisRuns.find((x: any) => x.status === 'SUCCESSFUL');
      t.ok(ok.candidate.calls >= 10, 'candidate calls summed over both gateways');
      t.ok(ok.p99Ratio > 1 && ok.p99Ratio <= 2, `p99 ratio ${ok.p99Ratio} from the merged histograms`);
    });

    t.test('refusals at admission are shown beside the candidate\'s calls, never judged; an older gateway\'s window without them counts none', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await weatherWithCandidate(cp);
      const a = await gatewayToken(cp, 'edge-1');
      const b = await gatewayToken(cp, 'edge-2');
      t.equal((await cp.gql(REPORT_TRAFFIC_MUTATION, { gateway: 'edge-1', windows: [{ ...window(2, { calls: 1 }), refused: -1 }] }, a)).errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION', 'a negative refused count');
      const r = await start(cp, { strategy: 'CANARY', steps: [{ setWeight: 50 }, { analysis: { count: 1 } }], analysis: { intervalSeconds: 1, minCalls: 10, maxErrorRate: 0.1 } });
      // edge-1 refused 30 candidate calls per window; edge-2 runs the previous gateway version, which has no refused field.
      await reportUntil(cp, a, 'edge-1', () => [window(1, { calls: 10 }), { ...window(2, { calls: 10, errors: 1 }), refused: 30 }], async () => {
        await cp.gql(REPORT_TRAFFIC_MUTATION, { gateway: 'edge-2', windows: [window(2, { calls: 10 })] }, b);
        const x = await rollout(cp, r.id);
        return x.phase === 'PROMOTED' || x.phase === 'ABORTED';
      });
      const runs = (await cp.gql('query($id: ID!) { rollout(id: $id) { phase analysisRuns { status candidate { calls errors errorRate refused } stable { refused } } } }', { id: r.id })).data.rollout;
      t.equal(runs.phase, 'PROMOTED', 'refusals do not fail the analysis');
      const judged = runs.analysisRuns.filter((x: any) => x.candidate.refused > 0);
      t.ok(judged.length > 0, 'the runs carry the refusals');
      for (const x of judged) {
        t.equal(x.candidate.refused % 30, 0, `${x.candidate.refused} refused: 30 per window of edge-1, none from edge-2`);
        t.ok(x.candidate.errorRate <= 0.1 && x.candidate.errorRate === x.candidate.errors / x.candidate.calls, `errorRate ${x.candidate.errorRate} is errors / calls, refusals apart`);
        t.equal(x.stable.refused, 0, 'stable refused nothing');
      }
    });

    t.test('a slow or erroring candidate fails its analysis', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await weatherWithCandidate(cp);
      const gw = await gatewayToken(cp, 'edge-1');
      const r = await start(cp, { strategy: 'SHADOW', mirrorShare: 1, analysis: { intervalSeconds: 1, minCalls: 10, maxP99Ratio: 3 } });
      t.same((await cp.gql(DESIRED, {}, gw)).data.desiredState.models[0].routes, [{ version: 1, weight: 100 }, { version: 2, weight: 0 }], 'shadow: every client call on stable');
      await reportUntil(cp, gw, 'edge-1', () => [window(1, { calls: 20, ms: 1 }), window(2, { calls: 0, compared: 20, ms: 50 })], async () => (await rollout(cp, r.id)).phase === 'ABORTED');
      t.match((await rollout(cp, r.id)).abortReason, /p99Ratio/);

      const e = await start(cp, { strategy: 'CANARY', steps: [{ setWeight: 50 }, { pause: {} }], analysis: { intervalSeconds: 1, minCalls: 10, maxErrorRate: 0.05 } });
      await reportUntil(cp, gw, 'edge-1', () => [window(1, { calls: 20 }), window(2, { calls: 20, errors: 10 })], async () => (await rollout(cp, e.id)).phase === 'ABORTED');
      t.match((await rollout(cp, e.id)).abortReason, /errorRate 0\.5/);
    });

    t.test('blue-green: preview, switch, abort within the scale-down delay, and promotion after it', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await weatherWithCandidate(cp);
      const gw = await gatewayToken(cp, 'edge-1');
      const r = await start(cp, { strategy: 'BLUE_GREEN', scaleDownDelaySeconds: 60 });
      await phaseIs(cp, r.id, 'PAUSED');
      let m = (await cp.gql(DESIRED, {}, gw)).data.desiredState.models[0];
      t.same({ routes: m.routes, versions: m.versions.map((v: any) => v.version) }, { routes: [{ version: 1, weight: 100 }, { version: 2, weight: 0 }], versions: [1, 2] }, 'the candidate is loaded for preview, stable takes all calls');
      const switched = (await cp.gql('mutation($id: ID!) { promoteRollout(id: $id) { phase weight } }', { id: r.id })).data.promoteRollout;
      t.same(switched, { phase: 'SWITCHED', weight: 100 });
      m = (await cp.gql(DESIRED, {}, gw)).data.desiredState.models[0];
      t.same({ routes: m.routes, versions: m.versions.map((v: any) => v.version) }, { routes: [{ version: 1, weight: 0 }, { version: 2, weight: 100 }], versions: [1, 2] }, 'after the switch the old version stays loaded');
      const aborted = (await cp.gql('mutation($id: ID!) { abortRollout(id: $id, reason: "latency") { phase abortReason } }', { id: r.id })).data.abortRollout;
      t.same(aborted, { phase: 'ABORTED', abortReason: 'latency' });
      m = (await cp.gql(DESIRED, {}, gw)).data.desiredState.models[0];
      t.same({ routes: m.routes, aliases: m.aliases }, { routes: [{ version: 1, weight: 100 }], aliases: [{ name: 'production', version: 1 }] }, 'abort switches back to the version still loaded');

      const auto = await start(cp, { strategy: 'BLUE_GREEN', autoPromotionSeconds: 0, scaleDownDelaySeconds: 1 });
      await phaseIs(cp, auto.id, 'PROMOTED');
      m = (await cp.gql(DESIRED, {}, gw)).data.desiredState.models[0];
      t.same({ routes: m.routes, aliases: m.aliases }, { routes: [{ version: 2, weight: 100 }], aliases: [{ name: 'production', version: 2 }] }, 'auto-promotion switched, and the scale-down delay ended in promotion');
    });

    t.test('blue-green pre-promotion analysis: preview calls and mirrored stable calls pass it, then auto-promotion switches', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await weatherWithCandidate(cp);
      const gw = await gatewayToken(cp, 'edge-1');
      const analysis = { intervalSeconds: 1, minCalls: 10, minAgreement: 0.9, maxErrorRate: 0.05 };
      const r = await start(cp, { strategy: 'BLUE_GREEN', mirrorShare: 0.5, autoPromotionSeconds: 0, scaleDownDelaySeconds: 60, analysis });
      let m = (await cp.gql(DESIRED, {}, gw)).data.desiredState.models[0];
      t.same({ routes: m.routes, mirrorShare: m.rollout.mirrorShare }, { routes: [{ version: 1, weight: 100 }, { version: 2, weight: 0 }], mirrorShare: 0.5 }, 'before the switch stable takes every call and a share is mirrored on the candidate');
      // The candidate answers only preview calls (4 per window) and mirrored copies of stable's calls (10).
      await reportUntil(cp, gw, 'edge-1', () => [window(1, { calls: 20 }), window(2, { calls: 4, compared: 10, agreed: 10 })], async () => (await rollout(cp, r.id)).phase === 'SWITCHED');
      const now = await rollout(cp, r.id);
      const ok = now.analysisRuns.find((a: any) => a.status === 'SUCCESSFUL');
      t.ok(ok, 'a pre-promotion analysis run passed');
      t.ok(ok.candidate.calls >= 14, `candidate calls ${ok.candidate.calls} are preview and mirrored calls together`);
      t.equal(ok.agreement, 1);
      m = (await cp.gql(DESIRED, {}, gw)).data.desiredState.models[0];
      t.same({ routes: m.routes, mirrorShare: m.rollout.mirrorShare }, { routes: [{ version: 1, weight: 0 }, { version: 2, weight: 100 }], mirrorShare: 0 }, 'after the switch nothing is mirrored');
    });

    t.test('blue-green whose candidate disagrees fails pre-promotion analysis and aborts without switching', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await weatherWithCandidate(cp);
      const gw = await gatewayToken(cp, 'edge-1');
      const r = await start(cp, { strategy: 'BLUE_GREEN', mirrorShare: 1, autoPromotionSeconds: 0, analysis: { intervalSeconds: 1, minCalls: 10, minAgreement: 0.9 } });
      await reportUntil(cp, gw, 'edge-1', () => [window(1, { calls: 20 }), window(2, { calls: 2, compared: 20, agreed: 4 })], async () => (await rollout(cp, r.id)).phase === 'ABORTED');
      const now = await rollout(cp, r.id);
      t.match(now.abortReason, /agreement/);
      t.same(now.weights, [{ version: 1, weight: 100 }, { version: 2, weight: 0 }]);
      const switches = await cp.gql('{ auditEvents(filter: { action: "rollout.switch" }) { edges { node { actorName } } } }');
      t.equal(switches.data.auditEvents.edges.length, 0, 'the candidate never took client calls');
      const m = (await cp.gql(DESIRED, {}, gw)).data.desiredState.models[0];
      t.same({ routes: m.routes, aliases: m.aliases }, { routes: [{ version: 1, weight: 100 }], aliases: [{ name: 'production', version: 1 }] });
    });

    t.test('A/B holds a sticky split and compares the arms', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await weatherWithCandidate(cp);
      const gw = await gatewayToken(cp, 'edge-1');
      const r = await start(cp, { strategy: 'AB', weight: 30 });
      const m = (await cp.gql(DESIRED, {}, gw)).data.desiredState.models[0];
      t.same({ routes: m.routes, sticky: m.rollout.sticky, mirror: m.rollout.mirrorShare }, { routes: [{ version: 1, weight: 70 }, { version: 2, weight: 30 }], sticky: true, mirror: 0 });
      const outputs = (a: number, b: number) => [{ feature: 'argmax:weather', counts: [a, b] }];
      await cp.gql(REPORT_TRAFFIC_MUTATION, { gateway: 'edge-1', windows: [window(1, { calls: 70, ms: 1, outputs: outputs(60, 10) }), window(2, { calls: 30, errors: 3, ms: 2, outputs: outputs(15, 15) })] }, gw);
      const cmp = (await cp.gql('query($id: ID!) { rolloutComparison(id: $id) { stable { version calls errors p50Ms p99Ms outputs { feature counts } } candidate { version calls errors errorRate p99Ms outputs { counts } } outputPsi outputPsiFeature } }', { id: r.id })).data.rolloutComparison;
      t.match(cmp.stable, { version: 1, calls: 70, errors: 0, outputs: [{ feature: 'argmax:weather', counts: [60, 10] }] });
      t.match(cmp.candidate, { version: 2, calls: 30, errors: 3, errorRate: 0.1, outputs: [{ counts: [15, 15] }] });
      t.ok(cmp.stable.p99Ms <= 1 && cmp.candidate.p99Ms > 1, 'latency quantiles per arm');
      t.ok(cmp.outputPsi > 0.2, `output PSI ${cmp.outputPsi} between the arms' distributions`);
      t.equal(cmp.outputPsiFeature, 'argmax:weather');
      const promoted = (await cp.gql('mutation($id: ID!) { promoteRollout(id: $id) { phase } }', { id: r.id })).data.promoteRollout;
      t.equal(promoted.phase, 'PROMOTED');
    });

    t.test('rolloutChanged pushes each transition', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await weatherWithCandidate(cp);
      const r = await start(cp, { strategy: 'CANARY', steps: [{ setWeight: 10 }, { pause: {} }] });
      const sub = await subscribe(cp.url, await cp.token('viewer'), 'subscription($id: ID!) { rolloutChanged(id: $id) { phase weight } }', { id: r.id });
      t.teardown(() => sub.close());
      const seen: string[] = [];
      const reader = (async () => {
        for (;;) {
          const x = (await sub.next()).data.rolloutChanged;
          seen.push(`${x.phase}/${x.weight}`);
          if (x.phase === 'ABORTED') return;
        }
      })();
      await phaseIs(cp, r.id, 'PAUSED');
      await cp.gql('mutation($id: ID!) { abortRollout(id: $id) { phase } }', { id: r.id });
      await reader;
      t.equal(seen.at(-1), 'ABORTED/0');
      t.ok(seen.includes('PAUSED/10'), `saw ${seen.join(', ')}`);
    });

    t.test('a control plane restarted mid-rollout resumes it from the database', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await weatherWithCandidate(cp);
      const r = await start(cp, { strategy: 'CANARY', steps: [{ setWeight: 25 }, { pause: { seconds: 2 } }, { setWeight: 60 }, { pause: { seconds: 1 } }] });
      await eventually('weight 25', async () => ((await rollout(cp, r.id)).weight === 25 ? true : undefined));
      await cp.close();
      const again = await startTestControlPlane(t, dialect, { dataDir: cp.dataDir, ...(cp.db ? { db: cp.db } : {}) });
      const done = await phaseIs(again, r.id, 'PROMOTED');
      t.equal(done.weight, 100);
      const steps = await again.gql('query($r: String) { auditEvents(filter: { resource: $r, action: "rollout.step" }) { edges { node { after } } } }', { r: `rollout/${r.id}` });
      t.same(steps.data.auditEvents.edges.map((e: any) => e.node.after.weight).reverse(), [25, 60], 'each step ran once across the restart');
    });
  });
}

t.test('on PostgreSQL one control plane runs the controller; when its lock session dies another takes over', async (t) => {
  const first = await startTestControlPlane(t, 'postgres', { leaderRetryMs: 300 });
  const second = await startTestControlPlane(t, 'postgres', { db: first.db!, leaderRetryMs: 300 });
  const admin = new pg.Client({ connectionString: first.db });
  await admin.connect();
  t.teardown(() => admin.end());
  const holder = async () => {
    const r = await admin.query<{ application_name: string; pid: number }>(
      `SELECT a.application_name, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted`,
    );
    return r.rows;
  };
  const leaders = await eventually('a leader', async () => ((await holder()).length > 0 ? holder() : undefined));
  t.equal(leaders.length, 1, 'exactly one replica holds the lock');
  const name = leaders[0]!.application_name;
  t.ok([`sluice-cp:${first.server.port}`, `sluice-cp:${second.server.port}`].includes(name), `held by ${name}`);

  await weatherWithCandidate(first);
  await admin.query('SELECT pg_terminate_backend($1)', [leaders[0]!.pid]);
  const next = await eventually('another leader', async () => {
    const rows = await holder();
    return rows.length === 1 && rows[0]!.pid !== leaders[0]!.pid ? rows[0] : undefined;
  }, 10_000);
  t.ok(next, `lock now held by ${next.application_name}`);
  t.equal((await holder()).length, 1, 'still exactly one holder');
  const r = await start(second, { strategy: 'CANARY', steps: [{ setWeight: 40 }, { pause: { seconds: 1 } }] });
  // Subscribers on both replicas hear every step, whichever replica made it (gateways may talk to either).
  const subs = await Promise.all([first, second].map((cp) => subscribe(cp.url, ADMIN_TOKEN, 'subscription($id: ID!) { rolloutChanged(id: $id) { phase } }', { id: r.id })));
  t.teardown(() => subs.forEach((s) => s.close()));
  const heard = subs.map(async (s) => {
    for (;;) if ((await s.next()).data.rolloutChanged.phase === 'PROMOTED') return true;
  });
  const done = await phaseIs(first, r.id, 'PROMOTED');
  t.equal(done.weight, 100, 'the rollout ran to the end under the new leader');
  t.same(await Promise.all(heard), [true, true], 'both replicas pushed the promotion to their subscribers');
});
