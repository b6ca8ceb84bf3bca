// `sluice rollout ...` as a user runs it: the real CLI process against a control plane on loopback.
import t from 'tap';
import { parseSteps, renderRollout } from '../../cli/rollout-commands.js';
import { runSluice } from '../helpers/cli.js';
import { ADMIN_TOKEN, exampleOnnx, modelWithVersion, startTestControlPlane, stopPostgres } from '../control-plane/harness.js';

t.teardown(stopPostgres);
const sluice = runSluice;

t.test('--steps turns weight=N, pause=S, pause, analysis[=N] into canary steps and refuses anything else', async (t) => {
  t.same(parseSteps(['weight=10', 'pause=30', 'pause', 'analysis', 'analysis=3']), [
    { setWeight: 10 },
    { pause: { seconds: 30 } },
    { pause: {} },
    { analysis: {} },
    { analysis: { count: 3 } },
  ]);
  t.throws(() => parseSteps(['weight']), { code: 'SLUICE_E_CONFIG_INVALID' });
  t.throws(() => parseSteps(['weight=ten']), { code: 'SLUICE_E_CONFIG_INVALID' });
  t.throws(() => parseSteps(['jump=1']), { code: 'SLUICE_E_CONFIG_INVALID' });
});

t.test('an analysis run shows the candidate\'s refusals beside its calls, and nothing when there were none', async (t) => {
  const run = (refused: number) => ({ status: 'INCONCLUSIVE', windowEnd: '2030-01-01T00:00:05.000Z', candidate: { calls: 2, errors: 0, refused }, stable: { calls: 8 }, conditions: [] });
  const rollout = { id: 'ro_1', model: 'weather', strategy: 'CANARY', stable: 1, candidate: 2, phase: 'PROGRESSING', currentStep: 1, weight: 20, message: '', abortReason: null, steps: [{ setWeight: 20 }, { analysis: { count: 1 } }], analysis: { intervalSeconds: 1, minCalls: 10, failureLimit: 0 }, analysisRuns: [run(40), run(0)] };
  const [withRefusals, without] = renderRollout(rollout).split('\n').filter((l) => l.includes('INCONCLUSIVE'));
  t.match(withRefusals, /calls 2\/8 \(40 refused\)/);
  t.notMatch(without, /refused/);
});

t.test('start, pause, resume, watch to PROMOTED, list; a refusal exits 1 naming its code', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await modelWithVersion(cp);
  await cp.upload('weather', exampleOnnx('weather'), undefined, { allowDuplicate: true });
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  const base = ['--control-plane', cp.url, '--token', ADMIN_TOKEN];

  const start = await sluice(['rollout', 'start', ...base, '--model', 'weather', '--candidate', '2', '--steps', 'weight=30,pause,weight=70,pause=1']);
  t.equal(start.code, 0, start.stderr);
  const { id, phase } = JSON.parse(start.stdout) as { id: string; phase: string };
  t.equal(phase, 'PROGRESSING');

  const again = await sluice(['rollout', 'start', ...base, '--model', 'weather', '--candidate', '2', '--steps', 'weight=10']);
  t.equal(again.code, 1);
  t.match(again.stderr, /SLUICE_E_ROLLOUT_ACTIVE/, 'the refusal names its code');
  const bad = await sluice(['rollout', 'start', ...base, '--model', 'weather', '--candidate', '2', '--max-error-rate', 'lots']);
  t.match(bad.stderr, /SLUICE_E_CONFIG_INVALID/);

  const status = await sluice(['rollout', 'status', ...base, '--id', id, '--json']);
  t.equal(JSON.parse(status.stdout).id, id);
  // The indefinite pause is reached by the controller; resume ends it and the watch follows to the end.
  for (let i = 0; i < 50 && JSON.parse((await sluice(['rollout', 'status', ...base, '--id', id, '--json'])).stdout).phase !== 'PAUSED'; i++) await new Promise((r) => setTimeout(r, 200));
  t.equal(JSON.parse((await sluice(['rollout', 'resume', ...base, '--id', id])).stdout).phase, 'PROGRESSING');
  const watch = await sluice(['rollout', 'watch', ...base, '--id', id]);
  t.equal(watch.code, 0, 'watch exits 0 on PROMOTED');
  t.match(watch.stdout, /PROMOTED step 4\/4 v1 0% v2 100%/, 'one line per change, the last one promoted');
  const list = await sluice(['rollout', 'list', ...base, '--model', 'weather']);
  t.same(list.stdout.trim().split('\n').map((l) => JSON.parse(l).phase), ['PROMOTED']);
  const promoteAgain = await sluice(['rollout', 'promote', ...base, '--id', id]);
  t.match(promoteAgain.stderr, /SLUICE_E_ROLLOUT_STATE/);
});
