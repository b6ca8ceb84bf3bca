import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../../helpers/wait.js';
import { startTestControlPlane, stopPostgres } from '../harness.js';
import { runnerTokenFile, startRunner, submit, tempDir, weatherInProduction, writeDataset, writeTrainer } from './training-harness.js';

t.teardown(stopPostgres);

t.test('two runners racing over 50 queued jobs on PostgreSQL run each exactly once', async (t) => {
  const cp = await startTestControlPlane(t, 'postgres');
  await weatherInProduction(cp);
  const dir = tempDir(t);
  const trainer = writeTrainer(dir);
  const data = writeDataset(dir, 'rows.csv', 'a,b\n1,2\n');
  const ledgerFile = join(dir, 'race.ledger');
  // Queued before any runner starts, so both find a full queue and race for every job.
  const ids = new Set<string>();
  for (let i = 0; i < 50; i++) ids.add(await submit(cp, { model: 'weather', trainer: { command: trainer.command }, dataset: data, parameters: { mode: 'ok', x: i, ledger: ledgerFile } }));
  const tokenFile = await runnerTokenFile(cp, dir);
  const started = performance.now();
  await Promise.all([
    startRunner(t, cp.url, tokenFile, ['--name', 'runner-a', '--concurrency', '2']),
    startRunner(t, cp.url, tokenFile, ['--name', 'runner-b', '--concurrency', '2']),
  ]);
  const jobs = await eventually('all 50 jobs end', async () => {
    const r = await cp.gql('{ trainingJobs(model: "weather", first: 100) { edges { node { id status attemptCount attempts { runner status } version { number } } } } }');
    const nodes = r.data.trainingJobs.edges.map((e: any) => e.node);
    return nodes.every((n: any) => n.status !== 'QUEUED' && n.status !== 'RUNNING') ? nodes : undefined;
  }, 120_000);
  t.equal(jobs.length, 50);
  t.ok(jobs.every((j: any) => j.status === 'SUCCEEDED' && j.attemptCount === 1 && j.attempts.length === 1), 'each job succeeded on its one attempt');
  const starts = readFileSync(ledgerFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'start');
  t.equal(starts.length, 50, 'the trainer ran 50 times');
  t.same(new Set(starts.map((e) => e.job)), ids, 'once for each job');
  const a = jobs.filter((j: any) => j.attempts[0].runner === 'runner-a').length;
  const b = jobs.filter((j: any) => j.attempts[0].runner === 'runner-b').length;
  t.ok(a > 0 && b > 0 && a + b === 50, `both runners took jobs (a: ${a}, b: ${b})`);
  t.comment(`50 jobs run in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  t.same(new Set(jobs.map((j: any) => j.version.number)).size, 50, 'fifty distinct versions');
});
