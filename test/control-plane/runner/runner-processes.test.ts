import t from 'tap';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../../helpers/wait.js';
import { startTestControlPlane } from '../harness.js';
import { alive, job, jobReaches, runnerTokenFile, startRunner, submit, tempDir, weatherInProduction, writeDataset, writeTrainer } from './training-harness.js';

// Leases of 4 s so a killed runner's job comes back quickly (and a loaded machine still renews in time); two runners with two slots each.
const cp = await startTestControlPlane(t, 'sqlite', { trainingLeaseSeconds: 4 });
await weatherInProduction(cp);
const dir = tempDir(t);
const tokenFile = await runnerTokenFile(cp, dir);
const runners = {
  'runner-a': await startRunner(t, cp.url, tokenFile, ['--name', 'runner-a', '--concurrency', '2']),
  'runner-b': await startRunner(t, cp.url, tokenFile, ['--name', 'runner-b', '--concurrency', '2']),
};
const trainer = writeTrainer(dir);
const data = writeDataset(dir, 'rows.csv', 'a,b\n1,2\n');

interface LedgerEntry {
  job: string;
  attempt: string;
  event: 'start' | 'end';
  at: number;
}

function ledger(file: string): LedgerEntry[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as LedgerEntry) : [];
}

async function treeOf(pidFile: string): Promise<number[]> {
  return eventually('the trainer wrote its pids', async () => (existsSync(pidFile) ? (JSON.parse(readFileSync(pidFile, 'utf8')) as number[]) : undefined), 30_000);
}

t.test('cancel reaches a running trainer and kills its process tree', async (t) => {
  const pidFile = join(dir, 'cancel.pids');
  const id = await submit(cp, { model: 'weather', trainer: { command: trainer.command }, dataset: data, parameters: { mode: 'hang', pidFile } });
  const pids = await treeOf(pidFile);
  t.ok(pids.every(alive), 'the trainer and its child run');
  const asked = performance.now();
  const cancelled = await cp.gql('mutation($id: ID!) { cancelTrainingJob(id: $id) { status cancelRequested } }', { id });
  t.same(cancelled.data.cancelTrainingJob, { status: 'RUNNING', cancelRequested: true }, 'a running job ends when its runner has killed it');
  await eventually('the process tree is gone', async () => (pids.some(alive) ? undefined : true), 10_000);
  t.comment(`process tree gone ${((performance.now() - asked) / 1000).toFixed(2)} s after the cancel`);
  const j = await jobReaches(cp, id, ['CANCELLED', 'FAILED', 'SUCCEEDED']);
  t.equal(j.status, 'CANCELLED');
  t.equal(j.attempts[0].status, 'cancelled');
  const again = await cp.gql('mutation($id: ID!) { cancelTrainingJob(id: $id) { status } }', { id });
  t.equal(again.errors?.[0]?.extensions?.code, 'SLUICE_E_TRAINING_STATE', 'an ended job cannot be cancelled');
  rmSync(pidFile);
  const retried = await cp.gql('mutation($id: ID!) { retryTrainingJob(id: $id) { status } }', { id });
  t.equal(retried.data.retryTrainingJob.status, 'QUEUED', 'a cancelled job can be retried');
  const second = await treeOf(pidFile);
  await cp.gql('mutation($id: ID!) { cancelTrainingJob(id: $id) { status } }', { id });
  t.equal((await jobReaches(cp, id, ['CANCELLED'])).attemptCount, 2, 'the retry ran a second attempt');
  await eventually('the second tree is gone', async () => (second.some(alive) ? undefined : true), 10_000);
});

t.test('a job past its timeout is killed with its process tree and marked TIMED_OUT', async (t) => {
  const pidFile = join(dir, 'timeout.pids');
  const id = await submit(cp, { model: 'weather', trainer: { command: trainer.command }, dataset: data, parameters: { mode: 'hang', pidFile }, timeoutSeconds: 2, retries: 2 });
  const pids = await treeOf(pidFile);
  const j = await jobReaches(cp, id, ['TIMED_OUT', 'FAILED', 'SUCCEEDED']);
  t.equal(j.status, 'TIMED_OUT');
  t.equal(j.error.code, 'SLUICE_E_TRAINING_TIMED_OUT');
  t.equal(j.attemptCount, 1, 'a timeout is not retried');
  t.notOk(pids.some(alive), 'trainer and child are gone');
});

t.test('a sweep of 6 trials with parallelism 2 records every trial and registers only the best', async (t) => {
  const ledgerFile = join(dir, 'sweep.ledger');
  const versions = async () => (await cp.gql('{ model(name: "weather") { versions(first: 100) { edges { node { number } } } } }')).data.model.versions.edges.length;
  const before = await versions();
  const id = await submit(cp, {
    model: 'weather',
    trainer: { command: trainer.command },
    dataset: data,
    parameters: { mode: 'ok', sleepMs: 300, ledger: ledgerFile },
    sweep: { method: 'GRID', space: { x: [0, 1, 2, 3, 4, 5] }, parallelism: 2, metric: 'score', goal: 'MIN' },
  });
  const parent = await jobReaches(cp, id, ['SUCCEEDED', 'FAILED']);
  t.equal(parent.status, 'SUCCEEDED', JSON.stringify(parent.error));
  const sweep = (await cp.gql('query($id: ID!) { trainingJob(id: $id) { bestTrial { id parameters } trials { id trial status parameters metrics { name value } version { number } } } }', { id })).data.trainingJob;
  t.equal(sweep.trials.length, 6);
  t.ok(sweep.trials.every((c: any) => c.status === 'SUCCEEDED' && c.metrics.some((m: any) => m.name === 'score') && c.version === null), 'every trial ran, with its metric, and registered nothing itself');
  t.same(sweep.trials.map((c: any) => c.parameters.x), [0, 1, 2, 3, 4, 5]);
  t.equal(sweep.bestTrial.parameters.x, 3, 'the best by score, minimised');
  t.equal(await versions(), before + 1, 'one version registered');
  t.equal(parent.version.lineage.trainingJob, sweep.bestTrial.id);
  t.equal(parent.version.lineage.parameters.x, 3);
  t.same(parent.version.metrics, [{ name: 'score', value: 0 }]);
  // At most `parallelism` trials ran at once, though four runner slots were free.
  const events = ledger(ledgerFile).sort((a, b) => a.at - b.at || (a.event === 'end' ? -1 : 1));
  let running = 0;
  let most = 0;
  for (const e of events) most = Math.max(most, (running += e.event === 'start' ? 1 : -1));
  t.equal(events.filter((e) => e.event === 'start').length, 6);
  t.ok(most <= 2, `at most 2 trials at once (${most})`);
});

t.test('kill -9 of a runner mid-job: the lease runs out and the job runs again on another runner and completes', async (t) => {
  const ledgerFile = join(dir, 'killed.ledger');
  const id = await submit(cp, { model: 'weather', trainer: { command: trainer.command }, dataset: data, parameters: { mode: 'ok', x: 3, sleepMs: 3000, ledger: ledgerFile }, retries: 1 });
  await eventually('attempt 1 started', async () => (ledger(ledgerFile).some((e) => e.event === 'start') ? true : undefined), 30_000);
  const first = (await job(cp, id)).attempts[0].runner as keyof typeof runners;
  const survivor = first === 'runner-a' ? 'runner-b' : 'runner-a';
  await runners[first].stop('SIGKILL');
  const j = await jobReaches(cp, id, ['SUCCEEDED', 'FAILED']);
  t.equal(j.status, 'SUCCEEDED', JSON.stringify(j.error));
  t.same(j.attempts.map((a: any) => [a.number, a.runner, a.status]), [[1, first, 'lost'], [2, survivor, 'succeeded']]);
  t.equal(j.attempts[0].error.code, 'SLUICE_E_TRAINING_LEASE_LOST');
  t.ok(j.version?.number > 1, 'the second attempt registered the version');
  const audit = await cp.gql(`{ auditEvents(filter: { resource: "training-job/${id}" }) { edges { node { action actorName } } } }`);
  t.ok(audit.data.auditEvents.edges.some((e: any) => e.node.action === 'training_job.lease_expired' && e.node.actorName === 'system'), 'the lost lease is audited');
});
