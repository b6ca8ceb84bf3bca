// The training protocol through GraphQL on both dialects, with the runner's side played by the test
// (a runner token calling claim/renew/report/finish): leases, lost attempts, retries, the log
// bound, sweeps' release of trials, and what submit and setDataSchema refuse.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { dialects, exampleOnnx, startTestControlPlane, stopPostgres, type TestControlPlane } from './harness.js';
import { weatherInProduction } from './runner/training-harness.js';
import { ControlPlaneClient } from '../../control-plane/runner/client.js';


t.teardown(stopPostgres);

const DATASET = { url: '/nowhere/rows.csv', sha256: 'a'.repeat(64) };
const TRAINER = { command: ['/bin/true'] };

async function ok(cp: TestControlPlane, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<any> {
  const r = await cp.gql(query, variables, token);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

async function code(cp: TestControlPlane, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<string | undefined> {
  return (await cp.gql(query, variables, token)).errors?.[0]?.extensions?.code;
}

const CLAIM = 'mutation { claimTrainingJob(input: { runner: "r1" }) { attempt leaseSeconds job { id status } } }';
const RENEW = 'mutation($id: ID!, $a: Int!) { renewTrainingLease(input: { jobId: $id, attempt: $a }) { cancelRequested } }';
const FINISH = 'mutation($input: FinishTrainingAttemptInput!) { finishTrainingAttempt(input: $input) { status attemptCount error { code message } } }';
const STATE = 'query($id: ID!) { trainingJob(id: $id) { status attemptCount error { code } attempts { number status runner error { code } } } }';

async function runnerToken(cp: TestControlPlane, name: string): Promise<string> {
  return (await ok(cp, 'mutation($n: String!) { createToken(input: { name: $n, role: RUNNER }) { secret } }', { n: name })).createToken.secret;
}

async function submitJob(cp: TestControlPlane, extra: Record<string, unknown> = {}): Promise<string> {
  return (await ok(cp, 'mutation($input: SubmitTrainingJobInput!) { submitTrainingJob(input: $input) { id } }', { input: { model: 'weather', trainer: TRAINER, dataset: DATASET, ...extra } })).submitTrainingJob.id;
}

for (const dialect of dialects()) {
  t.test(`training protocol on ${dialect}`, async (t) => {
    const cp = await startTestControlPlane(t, dialect, { trainingLeaseSeconds: 3 });
    await weatherInProduction(cp);
    const r1 = await runnerToken(cp, 'r1');
    const r2 = await runnerToken(cp, 'r2');

    t.test('a lost lease re-queues the job; the old holder is refused; retries run out into FAILED; retry queues it again', async (t) => {
      const id = await submitJob(cp, { retries: 1 });
      const claimed = (await ok(cp, CLAIM, {}, r1)).claimTrainingJob;
      t.same({ attempt: claimed.attempt, id: claimed.job.id, status: claimed.job.status, lease: claimed.leaseSeconds }, { attempt: 1, id, status: 'RUNNING', lease: 3 });
      t.equal((await ok(cp, CLAIM, {}, r2)).claimTrainingJob, null, 'nothing else is queued');
      t.equal(await code(cp, RENEW, { id, a: 1 }, r2), 'SLUICE_E_TRAINING_LEASE_LOST', 'another runner cannot renew it');
      await ok(cp, 'mutation($id: ID!) { reportTrainingProgress(input: { jobId: $id, attempt: 1, lines: [{ stream: "stdout", line: "{\\"epoch\\":1,\\"loss\\":0.9}" }], metrics: [{ name: "loss", value: 0.9 }] }) { cancelRequested } }', { id }, r1);
      // r1 stops renewing: the sweeper (every 0.6 s here) finds the lease past its end.
      const requeued = await waitFor(cp, id, 'QUEUED');
      t.same(requeued.attempts.map((a: any) => [a.number, a.status, a.error?.code]), [[1, 'lost', 'SLUICE_E_TRAINING_LEASE_LOST']]);
      t.equal(await code(cp, RENEW, { id, a: 1 }, r1), 'SLUICE_E_TRAINING_LEASE_LOST', 'the old holder is refused');
      t.equal(await code(cp, FINISH, { input: { jobId: id, attempt: 1, outcome: 'SUCCEEDED' } }, r1), 'SLUICE_E_TRAINING_LEASE_LOST', 'and cannot report an end');
      t.equal((await ok(cp, CLAIM, {}, r2)).claimTrainingJob.attempt, 2, 'another runner gets attempt 2');
      const failed = (await ok(cp, FINISH, { input: { jobId: id, attempt: 2, outcome: 'FAILED', error: { code: 'SLUICE_E_TRAINING_TRAINER_EXIT', message: 'exit 1' } } }, r2)).finishTrainingAttempt;
      t.same(failed, { status: 'FAILED', attemptCount: 2, error: { code: 'SLUICE_E_TRAINING_TRAINER_EXIT', message: 'exit 1' } }, 'no attempts left');
      t.equal((await ok(cp, 'mutation($id: ID!) { retryTrainingJob(id: $id) { status } }', { id })).retryTrainingJob.status, 'QUEUED');
      t.equal((await ok(cp, CLAIM, {}, r1)).claimTrainingJob.attempt, 3);
      const odd = (await ok(cp, FINISH, { input: { jobId: id, attempt: 3, outcome: 'FAILED', error: { code: 'SLUICE_E_AUTH_FORBIDDEN', message: 'made up' } } }, r1)).finishTrainingAttempt;
      t.equal(odd.error.code, 'SLUICE_E_TRAINING_FAILED', 'a runner reports only training codes');
      t.equal(odd.status, 'QUEUED', 'a crash is retried while attempts remain');
      await ok(cp, 'mutation($id: ID!) { cancelTrainingJob(id: $id) { status } }', { id });
      t.equal((await ok(cp, STATE, { id })).trainingJob.status, 'CANCELLED');
      t.equal(await code(cp, 'mutation($id: ID!) { retryTrainingJob(id: $id) { status } }', { id: 'job_nope' }), 'SLUICE_E_TRAINING_JOB_NOT_FOUND');
    });

    t.test('a cancel asked while running reaches the runner on its next renewal', async (t) => {
      const id = await submitJob(cp);
      await ok(cp, CLAIM, {}, r1);
      t.equal((await ok(cp, RENEW, { id, a: 1 }, r1)).renewTrainingLease.cancelRequested, false);
      t.equal((await ok(cp, 'mutation($id: ID!) { cancelTrainingJob(id: $id) { status } }', { id })).cancelTrainingJob.status, 'RUNNING');
      t.equal((await ok(cp, RENEW, { id, a: 1 }, r1)).renewTrainingLease.cancelRequested, true);
      t.equal((await ok(cp, FINISH, { input: { jobId: id, attempt: 1, outcome: 'CANCELLED' } }, r1)).finishTrainingAttempt.status, 'CANCELLED');
    });

    t.test('a job keeps its newest 10,000 log lines', async (t) => {
      const id = await submitJob(cp);
      await ok(cp, CLAIM, {}, r1);
      const lines = (from: number) => Array.from({ length: 2000 }, (_, i) => ({ stream: 'stdout', line: `line ${from + i}` }));
      for (let k = 0; k < 6; k++) {
        await ok(cp, 'mutation($input: ReportTrainingProgressInput!) { reportTrainingProgress(input: $input) { cancelRequested } }', { input: { jobId: id, attempt: 1, lines: lines(k * 2000 + 1) } }, r1);
        await ok(cp, RENEW, { id, a: 1 }, r1);
      }
      const first = (await ok(cp, 'query($id: ID!) { trainingJob(id: $id) { logs(first: 1) { seq line } } }', { id })).trainingJob.logs;
      t.same(first, [{ seq: 2001, line: 'line 2001' }], 'the oldest 2,000 of 12,000 were dropped');
      const last = (await ok(cp, 'query($id: ID!) { trainingJob(id: $id) { logs(after: 11999) { seq line } } }', { id })).trainingJob.logs;
      t.same(last, [{ seq: 12000, line: 'line 12000' }]);
      await ok(cp, FINISH, { input: { jobId: id, attempt: 1, outcome: 'CANCELLED' } }, r1);
    });

    t.test('a sweep releases trials up to its parallelism; the next is released when one ends', async (t) => {
      const id = (await ok(cp, 'mutation($input: SubmitTrainingJobInput!) { submitTrainingJob(input: $input) { id status sweep { trials parallelism } } }', {
        input: { model: 'weather', trainer: TRAINER, dataset: DATASET, parameters: { base: 1 }, sweep: { method: 'RANDOM', space: { lr: { min: 0.001, max: 0.1, log: true }, hidden: [8, 16] }, trials: 5, parallelism: 2, metric: 'loss', goal: 'MIN', seed: 3 } },
      })).submitTrainingJob;
      t.same(id.sweep, { trials: 5, parallelism: 2 });
      const trials = async () => (await ok(cp, 'query($id: ID!) { trainingJob(id: $id) { trials { id trial status parameters } } }', { id: id.id })).trainingJob.trials;
      const released = await trials();
      t.equal(released.length, 2);
      t.ok(released.every((c: any) => c.parameters.base === 1 && c.parameters.lr >= 0.001 && c.parameters.lr <= 0.1 && [8, 16].includes(c.parameters.hidden)), 'trial parameters drawn from the space over the job parameters');
      const claimed = (await ok(cp, CLAIM, {}, r1)).claimTrainingJob;
      await ok(cp, FINISH, { input: { jobId: claimed.job.id, attempt: 1, outcome: 'FAILED', error: { code: 'SLUICE_E_TRAINING_DATA_INVALID', message: 'no' } } }, r1);
      t.equal((await trials()).length, 3, 'one ended, one more released');
      await ok(cp, 'mutation($id: ID!) { cancelTrainingJob(id: $id) { status } }', { id: id.id });
      t.ok((await trials()).every((c: any) => ['CANCELLED', 'FAILED'].includes(c.status)), 'cancelling the sweep cancels its queued trials');
    });

    t.test('submit and setDataSchema refuse bad values naming the field', async (t) => {
      const submitCode = async (input: Record<string, unknown>) => (await cp.gql('mutation($input: SubmitTrainingJobInput!) { submitTrainingJob(input: $input) { id } }', { input: { model: 'weather', trainer: TRAINER, dataset: DATASET, ...input } })).errors?.[0]?.extensions;
      t.match(await submitCode({ dataset: { url: 'relative.csv', sha256: DATASET.sha256 } }), { code: 'SLUICE_E_VALIDATION', details: { field: 'dataset.url' } });
      t.match(await submitCode({ dataset: { url: DATASET.url, sha256: 'xyz' } }), { details: { field: 'dataset.sha256' } });
      t.match(await submitCode({ timeoutSeconds: 0 }), { details: { field: 'timeoutSeconds' } });
      t.match(await submitCode({ labels: ['has space'] }), { details: { field: 'labels' } });
      t.match(await submitCode({ parameters: { '9lives': 1 } }), { details: { field: 'parameters' } });
      t.match(await submitCode({ sweep: { method: 'RANDOM', space: { x: [1] }, metric: 'loss', goal: 'MIN' } }), { details: { field: 'sweep.trials' } });
      t.match(await submitCode({ sweep: { method: 'GRID', space: { x: [1, 2] }, trials: 3, metric: 'loss', goal: 'MIN' } }), { details: { field: 'sweep.trials' } });
      t.match(await submitCode({ trainer: { command: ['/bin/true'], builtin: 'weather-mlp' } }), { details: { field: 'trainer' } });
      const schemaCode = (await cp.gql('mutation { setDataSchema(model: "weather", schema: { columns: [{ name: "w", type: STRING, min: 1 }] }) { driftPsi } }')).errors?.[0]?.extensions;
      t.match(schemaCode, { code: 'SLUICE_E_VALIDATION', details: { field: 'schema.columns[0].min' } });
      const viewer = await cp.token('viewer');
      t.equal(await code(cp, 'mutation { setDataSchema(model: "weather", schema: { columns: [{ name: "w", type: STRING }] }) { driftPsi } }', {}, viewer), 'SLUICE_E_AUTH_FORBIDDEN');
      t.equal(await code(cp, 'mutation { setDataSchema(model: "nope", schema: { columns: [{ name: "w", type: STRING }] }) { driftPsi } }'), 'SLUICE_E_MODEL_NOT_FOUND');
    });

    t.test('an attempt whose version was registered but not recorded (a crash between) gets that version again, not a second one', async (t) => {
      const id = await submitJob(cp, { retries: 2 });
      const runner = new ControlPlaneClient(cp.url, r1);
      const model = new Blob([readFileSync(exampleOnnx('weather'))]);
      const finish = (attempt: number) => runner.upload(FINISH, { jobId: id, attempt, outcome: 'SUCCEEDED', trainerDigest: 'c'.repeat(64) }, { model });
      const versions = async () => (await ok(cp, '{ model(name: "weather") { versions { edges { node { number } } } } }')).model.versions.edges.length;
      t.equal((await ok(cp, CLAIM, {}, r1)).claimTrainingJob.job.id, id);
      t.equal((await finish(1)).finishTrainingAttempt.status, 'SUCCEEDED');
      const registered = (await ok(cp, 'query($id: ID!) { trainingJob(id: $id) { version { number } } }', { id })).trainingJob.version.number;
      const count = await versions();
      // What the control plane leaves when it dies after registering, before the job row's update: the lease runs out.
      await cp.sql(`UPDATE training_jobs SET status = 'queued', version_number = NULL, artifacts = NULL, finished_at = NULL WHERE id = '${id}'`);
      await cp.sql(`UPDATE training_attempts SET status = 'lost' WHERE job_id = '${id}'`);
      t.equal((await ok(cp, CLAIM, {}, r1)).claimTrainingJob.attempt, 2);
      t.equal((await finish(2)).finishTrainingAttempt.status, 'SUCCEEDED');
      t.equal((await ok(cp, 'query($id: ID!) { trainingJob(id: $id) { version { number } } }', { id })).trainingJob.version.number, registered, 'the job names the version it registered');
      t.equal(await versions(), count, 'and no second version was registered');
      const forged = await cp.upload('weather', exampleOnnx('weather'), undefined, { allowDuplicate: true, lineage: { trainingJob: id } });
      t.equal(forged.errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION', 'an upload cannot claim a training job');
      t.equal(await versions(), count, 'nor register a version so');
    });

    t.test('the audit chain verifies after all of it', async (t) => {
      t.same((await ok(cp, '{ verifyAudit { ok } }')).verifyAudit, { ok: true });
      const actions = new Set((await ok(cp, '{ auditEvents(first: 100) { edges { node { action } } } }')).auditEvents.edges.map((e: any) => e.node.action));
      for (const a of ['training_job.submit', 'training_job.claim', 'training_job.finish', 'training_job.lease_expired', 'training_job.cancel', 'training_job.retry', 'training_sweep.advance']) t.ok(actions.has(a), a);
    });
  });
}

async function waitFor(cp: TestControlPlane, id: string, status: string): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const j = (await ok(cp, STATE, { id })).trainingJob;
    if (j.status === status) return j;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} never reached ${status}`);
}
