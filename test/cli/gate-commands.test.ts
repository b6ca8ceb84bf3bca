// `sluice dataset ...` and `sluice gate ...` as a user runs them: the real CLI process against a control plane on loopback.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSluice } from '../helpers/cli.js';
import { ADMIN_TOKEN, startTestControlPlane } from '../control-plane/harness.js';
import { gateFixtures, uploadBytes, WEATHER_POLICY } from '../control-plane/gate-fixtures.js';

const sluice = runSluice;

/** A control plane with weather version 1 (the fixtures' baseline) in production, a scratch folder, and the CLI's common flags. */
async function weatherWithBaseline(t: Test) {
  const cp = await startTestControlPlane(t, 'sqlite');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-gate-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = gateFixtures();
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  await uploadBytes(cp, 'weather', f.baseline);
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  return { cp, dir, f, base: ['--control-plane', cp.url, '--token', ADMIN_TOKEN, '--model', 'weather'] };
}

t.test('dataset upload and list, gate policy set and show, evaluate (exit 1 on a failed report), approve, reports', async (t) => {
  const { cp, dir, f, base } = await weatherWithBaseline(t);

  writeFileSync(join(dir, 'holdout.csv'), f.csv);
  const upload = await sluice(['dataset', 'upload', ...base, '--name', 'holdout-2015', '--file', join(dir, 'holdout.csv')]);
  t.equal(upload.code, 0, upload.stderr);
  t.equal(JSON.parse(upload.stdout).rows, f.rows);
  const list = await sluice(['dataset', 'list', ...base]);
  t.same(list.stdout.trim().split('\n').map((l) => JSON.parse(l).name), ['holdout-2015']);

  writeFileSync(join(dir, 'policy.json'), JSON.stringify({ ...WEATHER_POLICY, requireApproval: true }));
  const set = await sluice(['gate', 'policy', ...base, '--file', join(dir, 'policy.json')]);
  t.equal(set.code, 0, set.stderr);
  t.equal(JSON.parse(set.stdout).revision, 1);
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...WEATHER_POLICY, metric: 'auc' }));
  const bad = await sluice(['gate', 'policy', ...base, '--file', join(dir, 'bad.json')]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /SLUICE_E_GATE_POLICY_INVALID/);
  const show = await sluice(['gate', 'policy', ...base]);
  t.match(JSON.parse(show.stdout), { revision: 1, policy: { metric: 'accuracy', requireApproval: true } });

  const wrong = await uploadBytes(cp, 'weather', f.wrong);
  const failed = await sluice(['gate', 'evaluate', ...base, '--version', String(wrong)]);
  t.equal(failed.code, 1, 'a failed report exits 1');
  t.equal(JSON.parse(failed.stdout).passed, false);
  const good = await uploadBytes(cp, 'weather', f.healthy);
  const passed = await sluice(['gate', 'evaluate', ...base, '--version', String(good)]);
  t.equal(passed.code, 0, passed.stderr);
  t.equal(JSON.parse(passed.stdout).passed, true);

  const self = await sluice(['gate', 'approve', ...base, '--version', String(good)]);
  t.equal(self.code, 1);
  t.match(self.stderr, /SLUICE_E_GATE_SELF_APPROVAL/);
  const operator = await cp.token('operator', 'reviewer');
  const approve = await sluice(['gate', 'approve', '--control-plane', cp.url, '--token', operator, '--model', 'weather', '--version', String(good), '--comment', 'ok']);
  t.equal(approve.code, 0, approve.stderr);
  t.match(JSON.parse(approve.stdout), { approver: 'reviewer', comment: 'ok', version: good });

  const reports = await sluice(['gate', 'reports', ...base]);
  t.same(reports.stdout.trim().split('\n').map((l) => [JSON.parse(l).version, JSON.parse(l).passed]), [[wrong, false], [good, true]]);
});

t.test('set-alias and rollout start refuse a failed candidate; --gate-override moves it for an admin, audited, not for an operator', async (t) => {
  const { cp, dir, f, base } = await weatherWithBaseline(t);
  writeFileSync(join(dir, 'holdout.csv'), f.csv);
  t.equal((await sluice(['dataset', 'upload', ...base, '--name', 'holdout-2015', '--file', join(dir, 'holdout.csv')])).code, 0);
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(WEATHER_POLICY));
  t.equal((await sluice(['gate', 'policy', ...base, '--file', join(dir, 'policy.json')])).code, 0);
  const wrong = await uploadBytes(cp, 'weather', f.wrong);

  const refused = await sluice(['set-alias', ...base, '--version', String(wrong), '--wait-seconds', '0']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /SLUICE_E_GATE_FAILED/);
  const start = ['rollout', 'start', ...base, '--candidate', String(wrong), '--steps', 'weight=10'];
  t.match((await sluice(start)).stderr, /SLUICE_E_GATE_FAILED/);
  const operator = await cp.token('operator', 'op');
  const notAdmin = await sluice(['rollout', 'start', '--control-plane', cp.url, '--token', operator, '--model', 'weather', '--candidate', String(wrong), '--gate-override', 'hotfix']);
  t.match(notAdmin.stderr, /SLUICE_E_AUTH_FORBIDDEN/);

  const started = await sluice([...start, '--gate-override', 'known issue, hotfix']);
  t.equal(started.code, 0, started.stderr);
  t.equal(JSON.parse(started.stdout).phase, 'PROGRESSING');
  await cp.gql(`mutation { abortRollout(id: "${JSON.parse(started.stdout).id}", reason: "test") { phase } }`);
  await sluice(['set-alias', ...base, '--alias', 'staging', '--version', String(wrong), '--wait-seconds', '0', '--gate-override', 'staging only']);
  const moved = await sluice(['set-alias', ...base, '--version', String(wrong), '--wait-seconds', '0', '--gate-override', 'known issue, hotfix']);
  t.notMatch(moved.stderr, /SLUICE_E_GATE_FAILED/, 'the override moves production (the exit code is the fleet report: no gateway here)');
  const alias = await cp.gql('{ model(name: "weather") { aliases { name version { number } } } }');
  t.equal(alias.data.model.aliases.find((a: any) => a.name === 'production').version.number, wrong);
  const events = await cp.gql('{ auditEvents(first: 10, filter: { action: "gate.override" }) { edges { node { actorName outcome } } } }');
  t.ok(events.data.auditEvents.edges.length >= 2, 'each override is audited');
});
