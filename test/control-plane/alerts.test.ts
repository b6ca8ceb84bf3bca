import t from 'tap';
import { eventually } from '../helpers/wait.js';
import { alerts, createRule, gateway, tick, weatherInProduction, window, type WindowFigures } from './alert-helpers.js';
import { ControlPlaneServices } from '../../control-plane/services/control-plane.js';
import { startTestControlPlane, stopPostgres, type DialectName, type TestControlPlane } from './harness.js';

t.teardown(stopPostgres);

const FIGURES = `query($from: DateTime!) { fleetFigures(model: "weather", from: $from) {
  version gateways calls errors errorRate p99Ms feedbackCount feedbackCorrect accuracy mae rmse drift { feature psi rows gateways } } }`;

const start = (t: Tap, dialect: DialectName = 'sqlite') => startTestControlPlane(t, dialect, { alertIntervalMs: 0 });
type Tap = Parameters<typeof startTestControlPlane>[0];

const code = (r: { errors?: { extensions?: { code?: string; details?: Record<string, unknown> } }[] }) => r.errors?.[0]?.extensions?.code;
const field = (r: { errors?: { extensions?: { details?: Record<string, unknown> } }[] }) => r.errors?.[0]?.extensions?.details?.field;

t.test('reportTraffic stores feedback and drift and refuses malformed ones, naming the field', async (t) => {
  const cp = await start(t);
  await weatherInProduction(cp);
  const gw = await gateway(cp, 'edge-1');
  const ok = await gw.send([window({ feedback: { count: 4, correct: 3 }, drift: [{ feature: 'temp_max', rows: 100, psi: 0.3, level: 'alert' }] }), window({ feedback: null, drift: null })]);
  t.equal(ok.data.reportTraffic, 2, 'windows with and without the new fields are stored');
  const bad: [string, WindowFigures, string][] = [
    ['more correct than count', { feedback: { count: 2, correct: 3 } }, 'windows[0].feedback.correct'],
    ['a negative feedback count', { feedback: { count: -1, correct: 0 } }, 'windows[0].feedback.count'],
    ['a negative PSI', { drift: [{ feature: 'x', rows: 1, psi: -0.1, level: 'ok' }] }, 'windows[0].drift[0].psi'],
    ['an unknown level', { drift: [{ feature: 'x', rows: 1, psi: 0.1, level: 'red' as 'ok' }] }, 'windows[0].drift[0].level'],
    ['negative rows', { drift: [{ feature: 'x', rows: -5, psi: 0.1, level: 'ok' }] }, 'windows[0].drift[0].rows'],
    ['an unnamed feature', { drift: [{ feature: '', rows: 5, psi: 0.1, level: 'ok' }] }, 'windows[0].drift[0].feature'],
  ];
  for (const [what, f, name] of bad) {
    const r = await gw.send([window(f)]);
    t.equal(code(r), 'SLUICE_E_VALIDATION', what);
    t.equal(field(r), name, `${what}: names ${name}`);
  }
  const negativeError = await gw.send([window({ feedback: { count: 1, correct: 0, absError: -1 } })]);
  t.equal(field(negativeError), 'windows[0].feedback.absError', 'a negative error sum');
  const figures = (await cp.gql(FIGURES, { from: new Date(Date.now() - 60_000).toISOString() })).data.fleetFigures;
  t.equal(figures[0].calls, 20, 'only the two good windows were stored');
});

t.test('fleetFigures sums every gateway: error rate, p99, accuracy, MAE/RMSE, and a rows-weighted fleet PSI of each gateway\'s latest snapshot', async (t) => {
  const cp = await start(t);
  await weatherInProduction(cp);
  const a = await gateway(cp, 'edge-a');
  const b = await gateway(cp, 'edge-b');
  const from = new Date(Date.now() - 1000).toISOString();
  // edge-a: an early snapshot that its later one replaces; edge-b: a snapshot below min_rows (level null) left out.
  await a.report([window({ calls: 90, errors: 9, ms: 2, feedback: { count: 10, correct: 8, absError: 5, squaredError: 10 }, drift: [{ feature: 'temp_max', rows: 50, psi: 0.9, level: 'alert' }] })]);
  await a.report([window({ calls: 9, errors: 1, ms: 40, feedback: { count: 10, correct: 4, absError: 15, squaredError: 30 }, drift: [{ feature: 'temp_max', rows: 300, psi: 0.1, level: 'ok' }, { feature: 'wind', rows: 10, psi: 5, level: null }] })]);
  await b.report([window({ calls: 1, errors: 0, ms: 1500, drift: [{ feature: 'temp_max', rows: 100, psi: 0.5, level: 'alert' }, { feature: 'wind', rows: 200, psi: 0.2, level: 'warn' }] })]);
  await b.report([window({ version: 2, calls: 5, ms: 1 })]);
  const figures = (await cp.gql(FIGURES, { from })).data.fleetFigures;
  t.equal(figures.length, 2, 'one entry per version');
  const v1 = figures[0];
  t.match(v1, { version: 1, gateways: 2, calls: 100, errors: 10, feedbackCount: 20, feedbackCorrect: 12 });
  t.equal(v1.errorRate, 0.1);
  t.equal(v1.p99Ms, 40, 'the 99th of 100 calls is the last of the 9 in the (30, 40] ms bucket');
  t.equal(v1.accuracy, 0.6);
  t.equal(v1.mae, 1, 'MAE = Σ|error| / count = 20 / 20');
  t.equal(v1.rmse, Math.sqrt(2), 'RMSE = √(Σ error² / count) = √(40 / 20)');
  const temp = v1.drift.find((d: any) => d.feature === 'temp_max');
  t.same({ rows: temp.rows, gateways: temp.gateways }, { rows: 400, gateways: 2 }, "edge-a's latest snapshot and edge-b's");
  t.ok(Math.abs(temp.psi - (0.1 * 300 + 0.5 * 100) / 400) < 1e-12, 'PSI is the rows-weighted mean of the latest snapshots');
  t.same(v1.drift.find((d: any) => d.feature === 'wind'), { feature: 'wind', psi: 0.2, rows: 200, gateways: 1 }, 'a snapshot below min_rows is left out');
  t.match(figures[1], { version: 2, calls: 5, feedbackCount: 0, accuracy: null, mae: null, drift: [] });
  const later = (await cp.gql(FIGURES, { from: new Date(Date.now() + 1000).toISOString() })).data.fleetFigures;
  t.same(later, [], 'windows received before the range are not counted');
});

t.test('bad rules are refused with SLUICE_E_ALERT_RULE_INVALID naming the field, and audited', async (t) => {
  const cp = await start(t);
  await weatherInProduction(cp);
  const base = { name: 'r', model: 'weather', metric: 'error_rate', comparison: '>', threshold: 0.1, minCount: 10 };
  const cases: [string, Record<string, unknown>, string][] = [
    ['a bad name', { name: 'no spaces' }, 'name'],
    ['an unknown model', { model: 'nope' }, 'model'],
    ['an unknown metric', { metric: 'loss' }, 'metric'],
    ['drift without a feature', { metric: 'drift_psi', minCount: null }, 'feature'],
    ['a feature on error_rate', { feature: 'x' }, 'feature'],
    ['error_rate without minCount', { minCount: null }, 'minCount'],
    ['accuracy without minCount', { metric: 'accuracy', comparison: '<', minCount: null }, 'minCount'],
    ['minCount on drift', { metric: 'drift_psi', feature: '*', minCount: 5 }, 'minCount'],
    ['a comparison other than > or <', { comparison: '>=' }, 'comparison'],
    ['a ratio threshold above 1', { threshold: 1.5 }, 'threshold'],
    ['a negative threshold', { threshold: -1 }, 'threshold'],
    ['a window past the traffic retention', { windowSeconds: 7200 }, 'windowSeconds'],
    ['a negative for', { forSeconds: -1 }, 'forSeconds'],
    ['a bad version selector', { versions: '1.5' }, 'versions'],
    ['an unknown webhook', { webhooks: ['nowhere'] }, 'webhooks'],
    ['a bad label name', { labels: [{ key: 'a-b', value: 'x' }] }, 'labels'],
  ];
  for (const [what, patch, name] of cases) {
    const r = await cp.gql('mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id } }', { input: { ...base, ...patch } });
    t.equal(code(r), 'SLUICE_E_ALERT_RULE_INVALID', what);
    t.equal(field(r), name, `${what}: names ${name}`);
  }
  await createRule(cp, base);
  const dup = await cp.gql('mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id } }', { input: base });
  t.same([code(dup), field(dup)], ['SLUICE_E_ALERT_RULE_INVALID', 'name'], 'a second rule of the same name');
  const patch = await cp.gql('mutation { updateAlertRule(name: "r", patch: { threshold: 2 }) { id } }');
  t.same([code(patch), field(patch)], ['SLUICE_E_ALERT_RULE_INVALID', 'threshold'], 'an update is validated whole');
  t.equal(code(await cp.gql('mutation { updateAlertRule(name: "ghost", patch: { threshold: 0.2 }) { id } }')), 'SLUICE_E_ALERT_NOT_FOUND');
  t.equal(code(await cp.gql('mutation { deleteAlertRule(name: "ghost") }')), 'SLUICE_E_ALERT_NOT_FOUND');
  const updated = await cp.gql('mutation { updateAlertRule(name: "r", patch: { metric: "drift_psi", feature: "*", threshold: 0.25 }) { metric feature minCount threshold } }');
  t.same(updated.data.updateAlertRule, { metric: 'drift_psi', feature: '*', minCount: null, threshold: 0.25 }, 'changing the metric drops what only the old one took');
  const events = await cp.gql('{ auditEvents(first: 100, filter: { resource: "alert-rule/r" }) { edges { node { action outcome reason } } } }');
  const seen = events.data.auditEvents.edges.map((e: any) => `${e.node.action}:${e.node.outcome}:${e.node.reason ?? ''}`);
  const count = (key: string) => seen.filter((s: string) => s === key).length;
  t.equal(count('alert-rule.create:FAILED:SLUICE_E_ALERT_RULE_INVALID'), cases.length, 'every refused creation is audited with its code');
  t.same([count('alert-rule.create:SUCCESS:'), count('alert-rule.update:FAILED:SLUICE_E_ALERT_RULE_INVALID'), count('alert-rule.update:SUCCESS:')], [1, 1, 1]);
});

t.test('roles: viewers read alerts and rules; operators and admins write; developers and gateways do not', async (t) => {
  const cp = await start(t);
  await weatherInProduction(cp);
  const input = { name: 'r', model: 'weather', metric: 'error_rate', comparison: '>', threshold: 0.1, minCount: 10 };
  const create = (token: string, name: string) => cp.gql('mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { name } }', { input: { ...input, name } }, token);
  const viewer = await cp.token('viewer');
  t.equal(code(await create(viewer, 'v')), 'SLUICE_E_AUTH_FORBIDDEN', 'viewer');
  t.equal(code(await create(await cp.token('developer'), 'd')), 'SLUICE_E_AUTH_FORBIDDEN', 'developer');
  t.equal(code(await create(await cp.token('gateway'), 'g')), 'SLUICE_E_AUTH_FORBIDDEN', 'gateway');
  const operator = await cp.token('operator');
  t.equal((await create(operator, 'o')).data.createAlertRule.name, 'o', 'operators create rules');
  t.equal(code(await cp.gql('mutation { createWebhook(input: { name: "w", url: "http://127.0.0.1:9/" }) { id } }', {}, viewer)), 'SLUICE_E_AUTH_FORBIDDEN', 'viewers do not create webhooks');
  t.equal(code(await cp.gql('{ webhooks { name } }', {}, viewer)), 'SLUICE_E_AUTH_FORBIDDEN', 'nor list them');
  t.equal(code(await cp.gql('mutation { silenceAlert(input: { rule: "o", until: "2099-01-01T00:00:00Z", reason: "x" }) { id } }', {}, viewer)), 'SLUICE_E_AUTH_FORBIDDEN', 'nor silence');
  t.same((await cp.gql('{ alertRules { name } }', {}, viewer)).data.alertRules, [{ name: 'o' }], 'viewers list rules');
  t.same((await cp.gql('{ alerts { edges { node { id } } } }', {}, viewer)).data.alerts.edges, [], 'and alerts');
  const denied = await cp.gql('{ auditEvents(filter: { outcome: DENIED }) { edges { node { action } } } }');
  t.ok(denied.data.auditEvents.edges.some((e: any) => e.node.action === 'alert-rule.create'), 'refusals are audited');
});

interface MetricCase {
  rule: Record<string, unknown>;
  bad: WindowFigures;
  good: WindowFigures;
  feature?: string;
}

const METRICS: Record<string, MetricCase> = {
  accuracy: { rule: { metric: 'accuracy', comparison: '<', threshold: 0.8, minCount: 10 }, bad: { feedback: { count: 20, correct: 10 } }, good: { feedback: { count: 20, correct: 19 } } },
  mae: { rule: { metric: 'mae', threshold: 2, minCount: 10 }, bad: { feedback: { count: 10, correct: 0, absError: 50 } }, good: { feedback: { count: 10, correct: 0, absError: 5 } } },
  error_rate: { rule: { metric: 'error_rate', threshold: 0.05, minCount: 50 }, bad: { calls: 100, errors: 20 }, good: { calls: 100, errors: 1 } },
  latency_p99_ms: { rule: { metric: 'latency_p99_ms', threshold: 100, minCount: 50 }, bad: { calls: 100, ms: 500 }, good: { calls: 100, ms: 5 } },
  drift_psi: {
    rule: { metric: 'drift_psi', feature: 'temp_max', threshold: 0.25 },
    bad: { drift: [{ feature: 'temp_max', rows: 500, psi: 0.6, level: 'alert' }, { feature: 'wind', rows: 500, psi: 0.9, level: 'alert' }] },
    good: { drift: [{ feature: 'temp_max', rows: 500, psi: 0.05, level: 'ok' }, { feature: 'wind', rows: 500, psi: 0.9, level: 'alert' }] },
    feature: 'temp_max',
  },
};

t.test('each metric goes pending, fires after its for, and resolves when the figure recovers (audited with the system actor)', async (t) => {
  const cp = await start(t);
  await weatherInProduction(cp);
  const gw = await gateway(cp, 'edge-1');
  // Each metric watches its own version, so the figures of one case do not mix with another's.
  const cases = Object.entries(METRICS).map(([metric, c], i) => ({ metric, ...c, version: i + 1 }));
  for (const c of cases) await createRule(cp, { name: `on-${c.metric}`, forSeconds: 60, versions: String(c.version), ...c.rule });
  const bad = await gw.report(cases.map((c) => window({ ...c.bad, version: c.version })));
  const t0 = bad + 1;
  t.same(await tick(cp, t0), { rules: 5, pending: 5, fired: 0, resolved: 0 }, 'every rule sees its condition');
  await tick(cp, t0 + 30_000);
  t.same((await alerts(cp)).map((a) => a.state), Array(5).fill('PENDING'), 'held for less than for: still pending');
  t.same(await tick(cp, t0 + 60_000), { rules: 5, pending: 0, fired: 5, resolved: 0 });
  const firing = await alerts(cp, 'FIRING');
  t.equal(firing.length, 5, 'each fired once');
  const expected: Record<string, number> = { accuracy: 0.5, mae: 5, error_rate: 0.2, latency_p99_ms: 500, drift_psi: 0.6 };
  for (const c of cases) {
    const a = firing.find((x) => x.metric === c.metric);
    t.match(a, { rule: `on-${c.metric}`, version: c.version, feature: c.feature ?? null, severity: 'WARNING', value: expected[c.metric], firedAt: new Date(t0 + 60_000).toISOString(), activeSince: new Date(t0).toISOString() }, `${c.metric} fired with its figure`);
  }
  // The good figures are received after the bad ones; a window that starts just after the bad ones sees only them.
  await gw.report(cases.map((c) => window({ ...c.good, version: c.version })));
  t.same(await tick(cp, bad + 300_000 + 1), { rules: 5, pending: 0, fired: 0, resolved: 5 }, 'every figure recovered');
  const resolved = await alerts(cp, 'RESOLVED');
  t.equal(resolved.length, 5);
  t.ok(resolved.every((a) => a.resolvedAt === new Date(bad + 300_001).toISOString()));
  const events = await cp.gql('{ auditEvents(filter: { actorId: "system" }) { edges { node { action resource actorName } } } }');
  const actions = events.data.auditEvents.edges.map((e: any) => e.node.action);
  t.equal(actions.filter((a: string) => a === 'alert.fire').length, 5, 'firing is audited');
  t.equal(actions.filter((a: string) => a === 'alert.resolve').length, 5, 'resolving is audited');
  t.equal((await cp.gql('{ verifyAudit { ok } }')).data.verifyAudit.ok, true);
});

t.test('figures with fewer calls or feedback rows than the rule asks for hold nothing', async (t) => {
  const cp = await start(t);
  await weatherInProduction(cp);
  const gw = await gateway(cp, 'edge-1');
  await createRule(cp, { name: 'errors', metric: 'error_rate', threshold: 0.05, minCount: 50 });
  await createRule(cp, { name: 'slow', metric: 'latency_p99_ms', threshold: 100, minCount: 50 });
  await createRule(cp, { name: 'acc', metric: 'accuracy', comparison: '<', threshold: 0.8, minCount: 10 });
  const at = (await gw.report([window({ calls: 49, errors: 49, ms: 500, feedback: { count: 9, correct: 0 } })])) + 1;
  t.same(await tick(cp, at), { rules: 3, pending: 0, fired: 0, resolved: 0 });
  await gw.report([window({ calls: 1, errors: 1, ms: 500, feedback: { count: 1, correct: 0 } })]);
  t.same(await tick(cp, at + 1000), { rules: 3, pending: 3, fired: 3, resolved: 0 }, 'one more call and feedback row each: all three hold');
});

t.test('one open alert per rule, version and feature: re-evaluations update its value; pending flaps leave nothing; a later episode is a new alert', async (t) => {
  const cp = await start(t);
  await weatherInProduction(cp);
  const gw = await gateway(cp, 'edge-1');
  await createRule(cp, { name: 'drift-any', metric: 'drift_psi', feature: '*', threshold: 0.25, versions: '*', forSeconds: 0 });
  await createRule(cp, { name: 'slow', metric: 'latency_p99_ms', threshold: 100, minCount: 1, forSeconds: 600 });
  const first = await gw.report([
    window({ calls: 10, ms: 500, drift: [{ feature: 'temp_max', rows: 100, psi: 0.5, level: 'alert' }, { feature: 'wind', rows: 100, psi: 0.3, level: 'warn' }, { feature: 'rain', rows: 100, psi: 0.01, level: 'ok' }] }),
    window({ version: 2, drift: [{ feature: 'temp_max', rows: 100, psi: 0.4, level: 'alert' }] }),
  ]);
  t.match(await tick(cp, first + 1), { pending: 4, fired: 3 }, 'for 0 fires at the first evaluation; the slow rule waits');
  await tick(cp, first + 2);
  const second = await gw.report([window({ calls: 10, ms: 500, drift: [{ feature: 'temp_max', rows: 300, psi: 0.9, level: 'alert' }] })]);
  t.match(await tick(cp, second + 1), { pending: 0, fired: 0, resolved: 0 });
  const open = await alerts(cp);
  t.same(open.map((a) => `${a.rule}:v${a.version}:${a.feature}:${a.state}`).sort(), ['drift-any:v1:temp_max:FIRING', 'drift-any:v1:wind:FIRING', 'drift-any:v2:temp_max:FIRING', 'slow:v1:null:PENDING']);
  t.ok(Math.abs(open.find((a) => a.feature === 'temp_max' && a.version === 1).value - 0.9) < 1e-12, "the open alert's value follows the latest snapshot");
  t.equal(new Set(open.map((a) => a.fingerprint)).size, 4, 'fingerprints differ by version and feature');
  // Nothing reported in the rules' windows: firing alerts resolve, the pending one is dropped without a trace.
  t.match(await tick(cp, first + 400_000), { resolved: 3 });
  const all = await alerts(cp);
  t.equal(all.length, 3, 'the pending alert that never fired is gone');
  t.ok(all.every((a) => a.state === 'RESOLVED'));
  const again = await gw.report([window({ drift: [{ feature: 'wind', rows: 100, psi: 0.6, level: 'alert' }] })]);
  await tick(cp, again + 1);
  const wind = (await alerts(cp)).filter((a) => a.feature === 'wind' && a.version === 1);
  t.same(wind.map((a) => a.state), ['FIRING', 'RESOLVED'], 'a new episode is a new alert with the same fingerprint');
  t.equal(wind[0].fingerprint, wind[1].fingerprint);
  const ids: string[] = [];
  let after: string | null = null;
  for (let page = 0; page < 10; page++) {
    const r: any = await cp.gql('query($a: String) { alerts(first: 3, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } }', { a: after });
    ids.push(...r.data.alerts.edges.map((e: any) => e.node.id));
    if (!r.data.alerts.pageInfo.hasNextPage) break;
    after = r.data.alerts.pageInfo.endCursor;
  }
  t.same(ids, (await alerts(cp)).map((a) => a.id), 'paging with first/after walks every alert once, newest first');
  t.equal(code(await cp.gql('{ alerts(after: "bm90LWEtY3Vyc29y") { edges { cursor } } }')), 'SLUICE_E_VALIDATION', 'a cursor of another list');
});

t.test('a silence holds back notifications but the state is still tracked; AlertSource.list filters newest first', async (t) => {
  const cp = await start(t);
  await weatherInProduction(cp);
  const gw = await gateway(cp, 'edge-1');
  const w = await cp.gql('mutation { createWebhook(input: { name: "hook", url: "http://127.0.0.1:9/never" }) { name kind signed } }');
  t.same(w.data.createWebhook, { name: 'hook', kind: 'GENERIC', signed: false });
  await createRule(cp, { name: 'errors', metric: 'error_rate', threshold: 0.05, minCount: 10, webhooks: ['hook'], severity: 'CRITICAL' });
  const until = new Date(Date.now() + 3600_000).toISOString();
  const silenced = await cp.gql('mutation($u: DateTime!) { silenceAlert(input: { rule: "errors", until: $u, reason: "maintenance" }) { id } }', { u: until });
  t.same(silenced.data.silenceAlert, [], 'no alert yet; the rule itself is silenced');
  const at = (await gw.report([window({ calls: 100, errors: 50 })])) + 1;
  await tick(cp, at);
  let [alert] = await alerts(cp, 'FIRING');
  t.match(alert, { state: 'FIRING', severity: 'CRITICAL', silencedUntil: until, silenceReason: 'maintenance' }, 'it fires while silenced');
  t.same(alert.deliveries, [], 'nothing was sent');
  await tick(cp, at + 1000);
  const un = await cp.gql('mutation { unsilenceAlert(input: { rule: "errors" }) { id silencedUntil } }');
  t.same(un.data.unsilenceAlert, [{ id: alert.id, silencedUntil: null }]);
  await tick(cp, at + 2000);
  [alert] = await alerts(cp, 'FIRING');
  t.same(alert.deliveries.map((d: any) => d.event), ['firing'], 'the firing event goes out once the silence ends');
  const one = await cp.gql('mutation($id: ID!, $u: DateTime!) { silenceAlert(input: { alert: $id, until: $u, reason: "known" }) { id silenceReason } }', { id: alert.id, u: until });
  t.same(one.data.silenceAlert, [{ id: alert.id, silenceReason: 'known' }]);
  await tick(cp, at + 400_000);
  const [resolved] = await alerts(cp, 'RESOLVED');
  t.same(resolved.deliveries.map((d: any) => d.event), ['firing'], 'a silenced alert resolves without a resolved event');
  t.equal(code(await cp.gql('mutation { silenceAlert(input: { alert: "alt_nope", until: "2099-01-01T00:00:00Z", reason: "x" }) { id } }')), 'SLUICE_E_VALIDATION', 'a silence past 30 days');
  t.equal(code(await cp.gql(`mutation { silenceAlert(input: { alert: "alt_nope", until: "${until}", reason: "x" }) { id } }`)), 'SLUICE_E_ALERT_NOT_FOUND');
  t.equal(code(await cp.gql(`mutation { silenceAlert(input: { rule: "errors", until: "${until}", reason: " " }) { id } }`)), 'SLUICE_E_VALIDATION', 'a silence needs a reason');
  const audit = await cp.gql('{ auditEvents(filter: { action: "alert-rule.silence" }) { edges { node { outcome actorName after } } } }');
  t.equal(audit.data.auditEvents.edges.filter((e: any) => e.node.outcome === 'SUCCESS').length, 1, 'silences are audited');
  // The lead's retraining loop reads alerts through AlertSource.list: the same database, another handle.
  const services = await ControlPlaneServices.open({ dataDir: cp.dataDir, maxArtifactBytes: 1024 });
  t.teardown(() => services.close());
  t.same(await services.alerts.list({ model: 'weather', state: 'firing' }), [], 'nothing firing now');
  const listed = await services.alerts.list({ model: 'weather' }, 5);
  t.match(listed, [{ id: alert.id, ruleName: 'errors', model: 'weather', version: 1, metric: 'error_rate', feature: null, severity: 'critical', state: 'resolved', value: 0.5, threshold: 0.05 }]);
  t.same(await services.alerts.list({ model: 'other' }), []);
});

t.test('deleting a rule resolves its open alerts; an alert whose rule vanished under a pass resolves at the next one', async (t) => {
  const cp = await start(t);
  await weatherInProduction(cp);
  const gw = await gateway(cp, 'edge-1');
  await createRule(cp, { name: 'deleted', metric: 'error_rate', threshold: 0.1, minCount: 1 });
  await createRule(cp, { name: 'vanished', metric: 'error_rate', threshold: 0.2, minCount: 1 });
  const at = (await gw.report([window({ calls: 10, errors: 5 })])) + 1;
  await tick(cp, at);
  t.equal((await alerts(cp, 'FIRING')).length, 2);
  t.equal((await cp.gql('mutation { deleteAlertRule(name: "deleted") }')).data.deleteAlertRule, true);
  t.same((await alerts(cp, 'FIRING')).map((a) => a.rule), ['vanished'], "the deleted rule's alert resolved with it");
  // What a pass racing deleteRule on PostgreSQL can leave: an open alert without its rule.
  await cp.sql("DELETE FROM alert_rules WHERE name = 'vanished'");
  await tick(cp, at + 1000);
  t.same((await alerts(cp)).map((a) => a.state), ['RESOLVED', 'RESOLVED']);
  const resolves = await cp.gql('{ auditEvents(filter: { action: "alert.resolve" }) { edges { node { actorName } } } }');
  t.equal(resolves.data.auditEvents.edges.length, 1, 'the sweep audits its resolution');
});

t.test('GET /metrics shows sluice_alerts_firing per firing alert, gone once resolved', async (t) => {
  const cp = await start(t);
  await weatherInProduction(cp);
  const gw = await gateway(cp, 'edge-1');
  await createRule(cp, { name: 'drift-temp', metric: 'drift_psi', feature: 'temp_max', threshold: 0.25, severity: 'CRITICAL' });
  const scrape = async () => {
    const res = await fetch(`${cp.url}/metrics`);
    t.match(res.headers.get('content-type'), /text\/plain/);
    return res.text();
  };
  t.notMatch(await scrape(), /sluice_alerts_firing\{/, 'no firing alert, no series');
  const at = (await gw.report([window({ drift: [{ feature: 'temp_max', rows: 100, psi: 0.7, level: 'alert' }] })])) + 1;
  await tick(cp, at);
  t.match(await scrape(), 'sluice_alerts_firing{rule="drift-temp",model="weather",version="1",severity="critical",feature="temp_max"} 1');
  await tick(cp, at + 400_000);
  t.notMatch(await scrape(), /sluice_alerts_firing\{/, 'resolved: the series is gone');
  t.match(await scrape(), /sluice_webhook_deliveries_total\{outcome="delivered"\} 0/);
});

t.test('the rules and evaluation flow on PostgreSQL, on the leader replica', async (t) => {
  const cp: TestControlPlane = await start(t, 'postgres');
  await weatherInProduction(cp);
  const gw = await gateway(cp, 'edge-1');
  await createRule(cp, { name: 'acc', metric: 'accuracy', comparison: '<', threshold: 0.8, minCount: 5, forSeconds: 30 });
  const at = (await gw.report([window({ feedback: { count: 10, correct: 5 } })])) + 1;
  await eventually('the replica leads', async () => (await cp.server.alertEvaluator.tick(new Date(at))) ?? undefined, 20_000);
  await tick(cp, at + 30_000);
  const [alert] = await alerts(cp, 'FIRING');
  t.match(alert, { rule: 'acc', value: 0.5, state: 'FIRING' });
  const listed = await cp.gql('{ alerts(state: FIRING) { edges { node { id } } } }');
  t.equal(listed.data.alerts.edges.length, 1);
  await tick(cp, at + 400_000);
  t.equal((await alerts(cp, 'RESOLVED')).length, 1);
  t.equal((await cp.gql('mutation { deleteAlertRule(name: "acc") }')).data.deleteAlertRule, true);
  t.same((await cp.gql('{ alertRules { name } }')).data.alertRules, []);
});
