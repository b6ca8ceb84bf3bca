// The retraining loop on a real control plane (SQLite files), driven by tick(): alerts from reported
// windows start a run; a person stops it (its queued job is cancelled); a dataset the control plane
// cannot read ends a run as training_failed; alerts on another version start nothing; bad input is
// refused with its code. The whole loop with a runner, gates and a canary is test/cli/lifecycle-e2e.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestControlPlane, type TestControlPlane } from './harness.js';
import { createRule, gateway, weatherInProduction, window } from './alert-helpers.js';

const RUN = 'id state active jobId version message triggers { ruleName metric version }';

async function setup(t: Parameters<typeof startTestControlPlane>[0]): Promise<{ cp: TestControlPlane; dataset: string }> {
  const cp = await startTestControlPlane(t, 'sqlite', { alertIntervalMs: 0, retrainingIntervalMs: 0 });
  await weatherInProduction(cp);
  await createRule(cp, { name: 'acc', metric: 'accuracy', comparison: '<', threshold: 0.8, minCount: 10, versions: 'production' });
  const dataset = join(cp.dataDir, 'train.csv');
  writeFileSync(dataset, 'date,precipitation,temp_max,temp_min,wind,weather\n2012-01-01,0,12.8,5,4.7,drizzle\n');
  return { cp, dataset };
}

async function fire(cp: TestControlPlane, version = 1): Promise<void> {
  const gw = await gateway(cp, `gw-${version}-${Date.now()}`);
  await gw.report([window({ version, calls: 50, feedback: { count: 50, correct: 20 } })]);
  await cp.server.alertEvaluator.tick(new Date(Date.now() + 1000));
}

async function policy(cp: TestControlPlane, dataset: string, extra: Record<string, unknown> = {}) {
  const r = await cp.gql('mutation($p: JSON!) { setRetrainingPolicy(model: "weather", policy: $p) { revision policy } }', { p: { training: { trainer: { builtin: 'weather-mlp' }, dataset: { url: dataset } }, cooldownSeconds: 0, ...extra } });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data!.setRetrainingPolicy;
}

const runs = async (cp: TestControlPlane) => (await cp.gql(`{ retrainingRuns(model: "weather") { ${RUN} } }`)).data!.retrainingRuns;

t.test('a firing alert starts a run that submits the job; a person stops it and the job is cancelled', async (t) => {
  const { cp, dataset } = await setup(t);
  await policy(cp, dataset);
  await cp.server.retrainingLoop.tick();
  t.same(await runs(cp), [], 'nothing fires yet: no run');
  await fire(cp);
  await cp.server.retrainingLoop.tick();
  const [run] = await runs(cp);
  t.equal(run.state, 'training');
  t.same(run.triggers, [{ ruleName: 'acc', metric: 'accuracy', version: 1 }]);
  const job = (await cp.gql(`{ trainingJob(id: "${run.jobId}") { status dataset { sha256 } createdBy } }`)).data!.trainingJob;
  t.equal(job.status, 'QUEUED');
  t.match(job.dataset.sha256, /^[0-9a-f]{64}$/, 'the control plane took the dataset file digest');
  await cp.server.retrainingLoop.tick();
  t.equal((await runs(cp)).length, 1, 'one active run per model: the next pass starts no other');

  const viewer = await cp.token('viewer');
  const denied = await cp.gql(`mutation { stopRetrainingRun(id: "${run.id}") { id } }`, {}, viewer);
  t.equal(denied.errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_FORBIDDEN');
  const stopped = await cp.gql(`mutation { stopRetrainingRun(id: "${run.id}", reason: "wrong data") { ${RUN} } }`);
  t.equal(stopped.data!.stopRetrainingRun.state, 'stopped');
  t.match(stopped.data!.stopRetrainingRun.message, /wrong data/);
  t.equal((await cp.gql(`{ trainingJob(id: "${run.jobId}") { status } }`)).data!.trainingJob.status, 'CANCELLED', 'its job is cancelled');
  const again = await cp.gql(`mutation { stopRetrainingRun(id: "${run.id}") { id } }`);
  t.equal(again.errors?.[0]?.extensions?.code, 'SLUICE_E_RETRAIN_STATE', 'an ended run cannot be stopped again');
  const events = await cp.gql('{ auditEvents(first: 20, filter: { action: "retraining.stop" }) { edges { node { actorName outcome } } } }');
  t.equal(events.data!.auditEvents.edges[0].node.outcome, 'SUCCESS');
});

t.test('a dataset the control plane cannot read ends the run as training_failed, with the reason', async (t) => {
  const { cp } = await setup(t);
  await policy(cp, join(cp.dataDir, 'missing.csv'));
  await fire(cp);
  await cp.server.retrainingLoop.tick();
  const [run] = await runs(cp);
  t.equal(run.state, 'training_failed');
  t.match(run.message, /SLUICE_E_TRAINING_DATASET_UNREADABLE/);
  t.equal(run.jobId, null);
});

t.test('alerts on a version that is not production, a paused loop, a disabled policy: no run', async (t) => {
  const { cp, dataset } = await setup(t);
  await createRule(cp, { name: 'acc-any', metric: 'accuracy', comparison: '<', threshold: 0.8, minCount: 10, versions: '*' });
  await policy(cp, dataset, { triggers: { rules: ['acc-any'], metrics: [] } });
  await fire(cp, 7);
  await cp.server.retrainingLoop.tick();
  t.same(await runs(cp), [], 'the alert is on version 7, production is 1');

  await policy(cp, dataset);
  await cp.gql('mutation { pauseRetraining(model: "weather", reason: "audit week") { paused } }');
  await fire(cp);
  await cp.server.retrainingLoop.tick();
  t.same(await runs(cp), [], 'paused');
  const state = (await cp.gql('{ retrainingState(model: "weather") { paused reason updatedBy } }')).data!.retrainingState;
  t.same(state, { paused: true, reason: 'audit week', updatedBy: 'admin' });

  await cp.gql('mutation { resumeRetraining(model: "weather") { paused } }');
  await policy(cp, dataset, { enabled: false });
  await cp.server.retrainingLoop.tick();
  t.same(await runs(cp), [], 'disabled');
  await policy(cp, dataset);
  await cp.server.retrainingLoop.tick();
  t.equal((await runs(cp)).length, 1, 'enabled again: the firing alert starts a run');
});

t.test('bad input: a bad policy, an unknown model or run', async (t) => {
  const { cp } = await setup(t);
  const bad = await cp.gql('mutation { setRetrainingPolicy(model: "weather", policy: { training: { trainer: { builtin: "nope" }, dataset: { url: "/x.csv" } } }) { revision } }');
  t.equal(bad.errors?.[0]?.extensions?.code, 'SLUICE_E_RETRAIN_POLICY_INVALID');
  t.equal((await cp.gql('{ retrainingPolicies(model: "weather") { revision } }')).data!.retrainingPolicies.length, 0, 'nothing stored');
  const unknown = await cp.gql('mutation { setRetrainingPolicy(model: "ghost", policy: { training: { trainer: { builtin: "weather-mlp" }, dataset: { url: "/x.csv" } } }) { revision } }');
  t.equal(unknown.errors?.[0]?.extensions?.code, 'SLUICE_E_MODEL_NOT_FOUND');
  t.equal((await cp.gql('mutation { stopRetrainingRun(id: "rt_none") { id } }')).errors?.[0]?.extensions?.code, 'SLUICE_E_STORE_NOT_FOUND');
  t.equal((await cp.gql('{ modelTimeline(model: "ghost") { kind } }')).errors?.[0]?.extensions?.code, 'SLUICE_E_MODEL_NOT_FOUND');
  t.equal((await cp.gql('{ retrainingRuns(last: 0) { id } }')).errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION');
});
