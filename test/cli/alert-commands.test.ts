// `sluice alert ...` as a user runs it: the real CLI process against a control plane on loopback.
import t from 'tap';
import { parseLabels } from '../../cli/alert-commands.js';
import { runSluice } from '../helpers/cli.js';
import { gateway, tick, weatherInProduction, window } from '../control-plane/alert-helpers.js';
import { ADMIN_TOKEN, startTestControlPlane } from '../control-plane/harness.js';

const sluice = runSluice;

const lines = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);

t.test('--labels takes key=value pairs and refuses anything else', async (t) => {
  t.same(parseLabels(['team=forecast', 'url=a=b']), [{ key: 'team', value: 'forecast' }, { key: 'url', value: 'a=b' }]);
  t.throws(() => parseLabels(['team']), { code: 'SLUICE_E_CONFIG_INVALID' });
  t.throws(() => parseLabels(['=x']), { code: 'SLUICE_E_CONFIG_INVALID' });
});

t.test('add-rule, rules, list and silence through the CLI; a bad rule exits 1 naming its code', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite', { alertIntervalMs: 0 });
  await weatherInProduction(cp);
  const base = ['--control-plane', cp.url, '--token', ADMIN_TOKEN];

  const created = await sluice(['alert', 'add-rule', ...base, '--name', 'low-accuracy', '--model', 'weather', '--metric', 'accuracy', '--comparison', '<', '--threshold', '0.8', '--min-count', '10', '--for', '0', '--severity', 'critical', '--labels', 'team=forecast']);
  t.equal(created.code, 0, created.stderr);
  t.match(lines(created.stdout)[0], { name: 'low-accuracy', metric: 'accuracy', comparison: '<', threshold: 0.8, minCount: 10, severity: 'CRITICAL', labels: [{ key: 'team', value: 'forecast' }] });
  const bad = await sluice(['alert', 'add-rule', ...base, '--name', 'no-min', '--model', 'weather', '--metric', 'error_rate', '--threshold', '0.1']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /SLUICE_E_ALERT_RULE_INVALID/, 'the refusal names its code');
  const notNumber = await sluice(['alert', 'add-rule', ...base, '--name', 'x', '--model', 'weather', '--metric', 'error_rate', '--threshold', 'high']);
  t.match(notNumber.stderr, /SLUICE_E_CONFIG_INVALID/);

  const rules = await sluice(['alert', 'rules', ...base, '--model', 'weather']);
  t.same(lines(rules.stdout).map((r) => r.name), ['low-accuracy']);

  const gw = await gateway(cp, 'edge-1');
  const at = (await gw.report([window({ feedback: { count: 20, correct: 8 } })])) + 1;
  await tick(cp, at);
  const list = await sluice(['alert', 'list', ...base, '--state', 'firing']);
  t.equal(list.code, 0, list.stderr);
  const [alert] = lines(list.stdout);
  t.match(alert, { rule: 'low-accuracy', model: 'weather', version: 1, state: 'FIRING', value: 0.4, silencedUntil: null });

  const silenced = await sluice(['alert', 'silence', ...base, '--alert', alert!.id, '--minutes', '30', '--reason', 'retraining']);
  t.equal(silenced.code, 0, silenced.stderr);
  const answer = lines(silenced.stdout)[0]!;
  t.equal(answer.alerts[0].id, alert!.id);
  t.equal(answer.alerts[0].silencedUntil, answer.silencedUntil, 'the alert is silenced until the time printed');
  const both = await sluice(['alert', 'silence', ...base, '--minutes', '30', '--reason', 'x']);
  t.match(both.stderr, /SLUICE_E_CONFIG_INVALID/, 'neither --alert nor --rule');
  const viewer = await sluice(['alert', 'silence', '--control-plane', cp.url, '--token', await cp.token('viewer'), '--rule', 'low-accuracy', '--minutes', '5', '--reason', 'x']);
  t.match(viewer.stderr, /SLUICE_E_AUTH_FORBIDDEN/, 'viewers do not silence');
});
