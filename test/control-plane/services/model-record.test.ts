// A model version's record from a real control plane (SQLite file, real GraphQL over HTTP): the
// version is uploaded, gated against the 2015 holdout, approved, rolled out as a canary whose
// analysis passes, and serves traffic with feedback and drift from a registered gateway; the record
// then holds each part. Run with SLUICE_WRITE_RECORD_EXAMPLE=1 to regenerate
// docs/model-record-example.md from this run.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LATENCY_BUCKETS_MS, REPORT_TRAFFIC_MUTATION } from '../../../lib/sync-wire.js';
import { startTestControlPlane, type TestControlPlane } from '../harness.js';
import { gateFixtures, uploadBytes, WEATHER_POLICY, weatherInProduction } from '../gate-fixtures.js';
import { ROOT } from '../../helpers/paths.js';

const RECORD = 'query($m: String!, $v: Int) { modelVersionRecord(model: $m, version: $v) { model version document markdown } }';

function latency(calls: number): number[] {
  const out = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  out[0] = calls;
  return out;
}

function window(version: number, calls: number, extra: Record<string, unknown> = {}) {
  const end = new Date();
  return {
    model: 'weather', version, rolloutId: null,
    start: new Date(end.getTime() - 200).toISOString(), end: end.toISOString(),
    calls, errors: 0, latency: latency(calls),
    mirrored: { calls: 0, errors: 0, compared: 0, agreed: 0, latency: latency(0) },
    outputs: [],
    ...extra,
  };
}

async function ok(cp: TestControlPlane, query: string, variables?: Record<string, unknown>, token?: string): Promise<any> {
  const r = await cp.gql(query, variables, token);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

/** weather v2: gated, approved, promoted through a canary, served on edge-1 (region eu-west). */
async function weatherRecordScenario(t: Parameters<typeof startTestControlPlane>[0]): Promise<{ cp: TestControlPlane; rolloutId: string }> {
  const cp = await startTestControlPlane(t, 'sqlite');
  await weatherInProduction(cp);
  await ok(cp, 'mutation($p: JSON!) { setPromotionPolicy(input: { model: "weather", policy: $p }) { revision } }', { p: WEATHER_POLICY });
  const v = await uploadBytes(cp, 'weather', gateFixtures().healthy);
  if (v !== 2) throw new Error(`uploaded as version ${v}`);
  await ok(cp, 'mutation { evaluateGates(model: "weather", version: 2) { passed } }');
  const operator = await cp.token('operator', 'release-manager');
  await ok(cp, 'mutation { approvePromotion(input: { model: "weather", version: 2, comment: "holdout and slices reviewed" }) { id } }', undefined, operator);
  const token = await cp.token('gateway', 'edge-1-token');
  await ok(cp, 'mutation { registerGateway(input: { name: "edge-1", region: "eu-west" }) { id } }', undefined, token);
  const started = await ok(cp, 'mutation($i: StartRolloutInput!) { startRollout(input: $i) { id } }', {
    i: { model: 'weather', candidate: 2, strategy: 'CANARY', steps: [{ setWeight: 30 }, { analysis: { count: 1 } }], analysis: { intervalSeconds: 1, minCalls: 10, maxErrorRate: 0.1 } },
  });
  const rolloutId = started.startRollout.id as string;
  const drift = [{ feature: 'temp_max', rows: 20, psi: 0.04, level: 'ok' }, { feature: 'wind', rows: 20, psi: 0.12, level: 'warn' }];
  for (let i = 0; ; i++) {
    if (i > 150) throw new Error('the canary never promoted');
    await ok(cp, REPORT_TRAFFIC_MUTATION, { gateway: 'edge-1', windows: [window(1, 10), window(2, 20, { feedback: { count: 10, correct: 8, absError: 0, squaredError: 0 }, drift })] }, token);
    const r = await ok(cp, 'query($id: ID!) { rollout(id: $id) { phase } }', { id: rolloutId });
    if (r.rollout.phase === 'PROMOTED') break;
    await new Promise((res) => setTimeout(res, 200));
  }
  return { cp, rolloutId };
}

t.test('the record of a gated, approved, rolled-out version that served traffic holds every part', async (t) => {
  const { cp, rolloutId } = await weatherRecordScenario(t);
  const got = (await ok(cp, RECORD, { m: 'weather', v: 2 })).modelVersionRecord;
  t.equal(got.version, 2);
  const d = got.document;
  t.same(d.version.signature.inputs.map((i: { name: string }) => i.name), ['features'], 'what it is: the signature');
  t.same(d.version.aliases, ['production'], 'the promotion moved production to it');
  t.equal(d.lineage.trainingJob, null, 'uploaded, not trained here: no training job to name');
  t.equal(d.gates.length, 1);
  t.equal(d.gates[0].passed, true);
  t.ok(d.gates[0].checks.some((c: { kind: string }) => c.kind === 'slice_floor'), 'slices checked');
  t.ok(d.gates[0].checks.some((c: { kind: string }) => c.kind === 'robustness'), 'robustness checked');
  t.same(d.approvals.map((a: { approver: string; comment: string }) => [a.approver, a.comment]), [['release-manager', 'holdout and slices reviewed']]);
  t.equal(d.rollouts.length, 1);
  t.match(d.rollouts[0], { id: rolloutId, role: 'candidate', phase: 'PROMOTED', strategy: 'CANARY' });
  t.ok(d.rollouts[0].analysis.some((a: { status: string }) => a.status === 'SUCCESSFUL'), 'the analysis that promoted it');
  t.equal(d.served.length, 1);
  t.match(d.served[0], { gateway: 'edge-1', region: 'eu-west' });
  t.ok(d.served[0].calls >= 20 && d.served[0].calls % 20 === 0, 'calls summed over its windows, none of version 1');
  t.ok(d.history.length >= 1);
  t.match(d.history[0], { gateway: 'edge-1', calls: 20, feedbackCount: 10, accuracy: 0.8, maxPsi: 0.12, driftLevel: 'warn' });
  const actions = d.audit.events.map((e: { action: string }) => e.action);
  for (const a of ['gate.evaluate', 'promotion.approve', 'rollout.start']) t.ok(actions.includes(a), `audit names ${a} (${actions.join(', ')})`);
  t.notOk(d.audit.events.some((e: { resource: string }) => e.resource === 'model/weather/version/1'), 'version 1 events are not in version 2\'s record');
  t.equal(d.audit.chain.ok, true, 'the chain verifies');
  for (const heading of ['## What it is', '## Where it came from', '## What it was checked against', '## Who approved it', '## Where it has run', '## Drift and accuracy history', '## Audit events']) {
    t.ok(got.markdown.includes(heading), `markdown has ${heading}`);
  }
  t.match(got.markdown, /Audit chain: \*\*verified\*\*/);
  const latest = (await ok(cp, RECORD, { m: 'weather' })).modelVersionRecord;
  t.equal(latest.version, 2, 'without a version: the newest');
  if (process.env.SLUICE_WRITE_RECORD_EXAMPLE === '1') {
    writeFileSync(join(ROOT, 'docs', 'model-record-example.md'), `<!-- Generated by test/control-plane/services/model-record.test.ts (SLUICE_WRITE_RECORD_EXAMPLE=1): a real control plane, the example weather model. Do not edit by hand. -->\n\n${got.markdown}\n`);
  }
});

t.test('a viewer reads the record without the audit events; a gateway may not; unknown model or version are coded', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await weatherInProduction(cp);
  const viewer = await cp.token('viewer', 'officer');
  const seen = (await ok(cp, RECORD, { m: 'weather', v: 1 }, viewer)).modelVersionRecord;
  t.equal(seen.document.audit, null, 'the audit log needs audit:read');
  t.match(seen.markdown, /needs the audit:read permission/);
  const gw = await cp.token('gateway', 'edge-x');
  t.equal((await cp.gql(RECORD, { m: 'weather', v: 1 }, gw)).errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_FORBIDDEN');
  t.equal((await cp.gql(RECORD, { m: 'ghost', v: 1 })).errors?.[0]?.extensions?.code, 'SLUICE_E_MODEL_NOT_FOUND');
  t.equal((await cp.gql(RECORD, { m: 'weather', v: 9 })).errors?.[0]?.extensions?.code, 'SLUICE_E_MODEL_VERSION_NOT_FOUND');
  t.equal((await cp.gql(RECORD, { m: 'weather', v: 0 })).errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION');
});
