// The whole loop of issue 16 on real processes: `sluice serve` (control plane, gateway, local
// runner) with the example weather model trained on 2012–2014; 2015 replayed through the gateway
// with its labels as feedback raises the accuracy and drift alerts; the retraining loop first runs a
// deliberately bad trainer setting, which stops at the gate; a person pauses the loop, sets the
// good policy, resumes; the loop retrains on 2012–2015, the gates pass, the canary promotes the new
// version, and the new version scores better on the held-out 2015 days than the old one.
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HOLDOUT_NAME, replay2015, writeLifecycleFiles } from '../../examples/weather-2015.js';
import { loadWeather, weatherFeatures, WEATHER_LABELS } from '../../examples/weather-dataset.js';
import { splitYear } from '../../examples/weather-lifecycle.js';
import { startSluice } from '../helpers/cli.js';
import { CLI } from '../helpers/paths.js';
import { eventually, graphqlAs } from '../helpers/wait.js';

const run = promisify(execFile);
const ADMIN = 'sluice_test_admin_token_for_the_lifecycle_0123';

async function sluice(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI, ...args], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** Accuracy of one version on the held-out 2015 days, asked through the gateway one day per call. */
async function heldOutAccuracy(gateway: string, version: number): Promise<number> {
  const { heldOut } = splitYear(loadWeather().days);
  let right = 0;
  for (const day of heldOut) {
    const res = await fetch(`${gateway}/v2/models/weather/versions/${version}/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: weatherFeatures(day) }], outputs: [{ name: 'label' }] }),
    });
    const body = (await res.json()) as { outputs?: { name: string; data: number[] }[]; code?: string };
    const label = body.outputs?.find((o) => o.name === 'label')?.data[0];
    if (label === undefined) throw new Error(`version ${version} did not answer: ${res.status} ${body.code}`);
    if (WEATHER_LABELS[label] === day.weather) right++;
  }
  return right / heldOut.length;
}

t.test('drift and accuracy alerts retrain weather on 2015, a bad setting stops at the gate, the good one is promoted by canary', async (t) => {
  const dir = t.testdir();
  const files = writeLifecycleFiles(join(dir, 'demo'));
  const serve = await startSluice(['serve', '--gateway-port', '0', '--control-plane-port', '0', '--data', join(dir, 'data'), '--log-level', 'info'], {
    env: { SLUICE_ADMIN_TOKEN: ADMIN },
    expectListening: 2,
    timeoutMs: 180_000,
  });
  t.teardown(() => (serve.proc.exitCode === null ? serve.stop('SIGKILL') : undefined));
  const [cp, gw] = serve.urls as [string, string];
  const base = ['--control-plane', cp, '--token', ADMIN, '--log-level', 'warn'];
  const gql = (query: string) => graphqlAs(cp, ADMIN, query);

  // What a platform team sets up once: the holdout, the gate, the alert rules, the retraining policy.
  await sluice(['dataset', 'upload', ...base, '--model', 'weather', '--name', HOLDOUT_NAME, '--file', files.holdout]);
  await sluice(['gate', 'policy', ...base, '--model', 'weather', '--file', files.gatePolicy]);
  await sluice(['alert', 'add-rule', ...base, '--name', 'weather-accuracy', '--model', 'weather', '--metric', 'accuracy', '--comparison', '<', '--threshold', '0.82', '--min-count', '100', '--window', '900', '--for', '5', '--severity', 'warning']);
  await sluice(['alert', 'add-rule', ...base, '--name', 'weather-temp-drift', '--model', 'weather', '--metric', 'drift_psi', '--feature', 'temp_max', '--comparison', '>', '--threshold', '0.05', '--window', '900', '--for', '5', '--severity', 'warning']);
  await sluice(['retrain', 'policy', 'set', ...base, '--model', 'weather', '--file', files.badRetrainPolicy]);

  const oldAccuracy = await heldOutAccuracy(gw, 1); // version 1 is unloaded once version 3 is promoted
  const replay = new AbortController();
  const replaying = replay2015({ gateway: gw, rate: 60, rounds: Number.MAX_SAFE_INTEGER, signal: replay.signal });
  t.teardown(() => replay.abort());

  // 1. The alerts fire on version 1 and start the first run, whose model fails the gate.
  const firstRun = await eventually(
    'the first retraining run ends',
    async () => {
      const runs = (await gql('{ retrainingRuns(model: "weather") { id state active version message triggers { ruleName metric value } } }')).retrainingRuns;
      return runs.find((r: { active: boolean }) => !r.active);
    },
    240_000,
  );
  t.equal(firstRun.state, 'gate_failed', `the bad setting stops at the gate: ${firstRun.message}`);
  t.equal(firstRun.version, 2);
  // Either alert may start the run (the policy needs any); both fire while the replay goes on.
  const firing = await eventually(
    'both alerts fire',
    async () => {
      const alerts = (await gql('{ alerts(model: "weather", state: FIRING) { edges { node { rule metric feature version value } } } }')).alerts.edges.map((e: any) => e.node);
      return alerts.length >= 2 ? alerts : undefined;
    },
    60_000,
  );
  t.comment(`firing: ${JSON.stringify(firing)}`);
  t.ok(firing.some((a: any) => a.metric === 'accuracy' && a.version === 1), 'the accuracy alert fires on version 1');
  t.ok(firing.some((a: any) => a.metric === 'drift_psi' && a.version === 1), 'the drift alert fires on version 1');
  const refused = await gql('{ gateReports(model: "weather", version: 2) { passed checks { name passed measured limit } } }');
  t.notOk(refused.gateReports.at(-1).passed, 'version 2 has a failed gate report');
  const production = await gql('{ model(name: "weather") { aliases { name version { number } } } }');
  t.equal(production.model.aliases.find((a: any) => a.name === 'production').version.number, 1, 'production stays on version 1');

  // 2. A person pauses the loop, sets the good policy, resumes it.
  await sluice(['retrain', 'pause', ...base, '--model', 'weather', '--reason', 'fixing the trainer settings']);
  const good = JSON.parse(readFileSync(files.retrainPolicy, 'utf8')) as Record<string, unknown>;
  const goodFile = join(dir, 'retrain-policy-now.json');
  writeFileSync(goodFile, JSON.stringify({ ...good, cooldownSeconds: 0 }));
  await sluice(['retrain', 'policy', 'set', ...base, '--model', 'weather', '--file', goodFile]);
  await new Promise((r) => setTimeout(r, 3000));
  const whilePaused = (await gql('{ retrainingRuns(model: "weather") { id } }')).retrainingRuns;
  t.equal(whilePaused.length, 1, 'no run starts while the loop is paused');
  await sluice(['retrain', 'resume', ...base, '--model', 'weather']);

  // 3. The second run retrains on 2012–2015, passes the gate and is promoted by its canary.
  const secondRun = await eventually(
    'the second retraining run ends',
    async () => {
      const runs = (await gql('{ retrainingRuns(model: "weather") { id state active version rolloutId gateReportId message } }')).retrainingRuns;
      return runs.length === 2 && !runs[0].active ? runs[0] : undefined;
    },
    300_000,
  );
  replay.abort();
  const figures = await replaying;
  t.comment(`replay: ${JSON.stringify(figures)}`);
  t.equal(secondRun.state, 'promoted', secondRun.message);
  t.equal(secondRun.version, 3);
  const after = await gql('{ model(name: "weather") { aliases { name version { number } } } }');
  t.equal(after.model.aliases.find((a: any) => a.name === 'production').version.number, 3, 'production is version 3');
  t.equal(figures.failed, 0, 'no call failed during the whole loop');

  const newAccuracy = await heldOutAccuracy(gw, 3);
  t.comment(`held-out 2015 accuracy through the gateway: version 1 ${oldAccuracy.toFixed(3)}, version 3 ${newAccuracy.toFixed(3)}`);
  t.ok(newAccuracy > oldAccuracy, 'the retrained version scores better on the held-out 2015 days');

  // 4. One timeline shows both runs; every step is audited and the chain verifies.
  const timeline = (await gql('{ modelTimeline(model: "weather", last: 500) { at kind summary actor runId } }')).modelTimeline as { kind: string; runId: string | null; summary: string; at: string; actor: string | null }[];
  t.comment(`timeline:\n${timeline.map((e) => `${e.at} ${e.kind} ${e.summary}${e.actor ? ` (${e.actor})` : ''}${e.runId ? ` [${e.runId}]` : ''}`).join('\n')}`);
  const kindsOf = (id: string) => timeline.filter((e) => e.runId === id).map((e) => e.kind);
  t.same(
    kindsOf(firstRun.id).filter((k) => !k.startsWith('alert.')),
    ['retraining.triggered', 'job.submitted', 'version.registered', 'job.succeeded', 'gate.failed', 'retraining.gate_failed'].filter((k) => kindsOf(firstRun.id).includes(k)),
  );
  for (const k of ['retraining.triggered', 'job.submitted', 'job.succeeded', 'gate.failed', 'retraining.gate_failed']) t.ok(kindsOf(firstRun.id).includes(k), `run 1 has ${k}`);
  for (const k of ['retraining.triggered', 'job.submitted', 'job.succeeded', 'version.registered', 'gate.passed', 'rollout.started', 'rollout.promoted', 'retraining.promoted']) t.ok(kindsOf(secondRun.id).includes(k), `run 2 has ${k}`);
  t.ok(timeline.some((e) => e.kind === 'alert.fired'), 'the alerts are on the timeline');
  t.ok(timeline.some((e) => e.kind === 'retraining.pause' && e.actor === 'admin'), "the person's pause is on the timeline");
  const order = ['retraining.triggered', 'job.succeeded', 'gate.passed', 'rollout.started', 'rollout.promoted'].map((k) => timeline.findIndex((e) => e.runId === secondRun.id && e.kind === k));
  t.same(order, [...order].sort((a, b) => a - b), 'run 2 goes trigger → job → gate → rollout → promotion');

  for (const action of ['retraining.trigger', 'retraining.train', 'retraining.gate', 'retraining.rollout', 'retraining.promoted', 'retraining.pause', 'gate.evaluate', 'rollout.start', 'alert.fire']) {
    const events = await gql(`{ auditEvents(first: 10, filter: { action: "${action}" }) { edges { node { actorName outcome } } } }`);
    t.ok(events.auditEvents.edges.length > 0, `audited: ${action}`);
  }
  const verify = await gql('{ verifyAudit { ok } }');
  t.ok(verify.verifyAudit.ok, 'the audit chain verifies');
  t.equal(await serve.stop('SIGTERM'), 0);
});
