// `sluice runner --executor slurm` against a real one-node Slurm cluster (test/helpers/slurm.ts):
// the runner hands each attempt to sbatch, follows its output files and reports like any runner.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { slurmUnavailable, startSlurm } from '../../helpers/slurm.js';
import { startSluice } from '../../helpers/cli.js';
import { eventually } from '../../helpers/wait.js';
import { startTestControlPlane } from '../harness.js';
import { alive, jobReaches, runnerTokenFile, submit, tempDir, weatherInProduction, writeDataset, writeTrainer } from './training-harness.js';

const unavailable = slurmUnavailable();
if (unavailable) t.comment(`Slurm runner tests skipped: ${unavailable}`);

t.test('a runner with the Slurm executor trains weather and cancels through scancel', { skip: unavailable }, async (t) => {
  const cluster = await startSlurm();
  t.teardown(() => cluster.stop());
  const cp = await startTestControlPlane(t, 'sqlite');
  await weatherInProduction(cp);
  const dir = tempDir(t);
  const tokenFile = await runnerTokenFile(cp, dir);
  const runner = await startSluice(['runner', '--control-plane', cp.url, '--token-file', tokenFile, '--executor', 'slurm', '--name', 'slurm-runner', '--work-dir', join(dir, 'work'), '--poll-ms', '200', '--log-format', 'json'], {
    expectListening: 0,
    env: { SLURM_CONF: cluster.conf },
  });
  t.teardown(() => runner.stop('SIGKILL'));

  const id = await submit(cp, { model: 'weather', trainer: { builtin: 'weather-mlp' }, parameters: { epochs: 10 } });
  const j = await jobReaches(cp, id, ['SUCCEEDED', 'FAILED'], 90_000);
  t.equal(j.status, 'SUCCEEDED', JSON.stringify(j.error));
  t.equal(j.attempts[0].runner, 'slurm-runner');
  t.ok(j.logs.some((l: any) => l.line.startsWith('{"epoch":10,')), 'the trainer\'s lines came back from the Slurm job\'s output file');
  t.ok(j.logs.some((l: any) => /with slurm executor/.test(l.line)), 'it ran through Slurm');
  t.same(j.version.lineage.trainerDigest, 'builtin:weather-mlp@1');
  t.ok(j.version.profile, 'with its drift profile');

  const trainer = writeTrainer(dir);
  const pidFile = join(dir, 'slurm.pids');
  const hung = await submit(cp, { model: 'weather', trainer: { command: trainer.command }, dataset: writeDataset(dir, 'rows.csv', 'a\n1\n'), parameters: { mode: 'hang', pidFile } });
  const pids = await eventually('the trainer runs under Slurm', async () => (existsSync(pidFile) ? (JSON.parse(readFileSync(pidFile, 'utf8')) as number[]) : undefined), 60_000);
  await cp.gql('mutation($id: ID!) { cancelTrainingJob(id: $id) { status } }', { id: hung });
  const c = await jobReaches(cp, hung, ['CANCELLED', 'FAILED', 'SUCCEEDED'], 60_000);
  t.equal(c.status, 'CANCELLED');
  await eventually('scancel ended the trainer and its child', async () => (pids.some(alive) ? undefined : true), 30_000);
});
