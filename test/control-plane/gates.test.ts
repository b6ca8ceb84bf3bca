import t from 'tap';
import { dialects, startTestControlPlane, stopPostgres, type TestControlPlane } from './harness.js';
import { gateFixtures, REPORT_FIELDS, uploadBytes, WEATHER_POLICY, weatherInProduction } from './gate-fixtures.js';

t.teardown(stopPostgres);

const SET_POLICY = 'mutation($model: String!, $policy: JSON!) { setPromotionPolicy(input: { model: $model, policy: $policy }) { revision policy } }';
const EVALUATE = `mutation($v: Int!) { evaluateGates(model: "weather", version: $v) { ${REPORT_FIELDS} } }`;
const START = 'mutation($v: Int!, $o: String) { startRollout(input: { model: "weather", candidate: $v, strategy: CANARY, steps: [{ setWeight: 10 }], gateOverride: $o }) { id candidate } }';
const SET_PRODUCTION = 'mutation($v: Int!, $o: String) { setAlias(input: { model: "weather", alias: "production", version: $v, gateOverride: $o }) { name version { number } } }';

async function setPolicy(cp: TestControlPlane, policy: unknown, token?: string) {
  return cp.gql(SET_POLICY, { model: 'weather', policy }, token);
}

function byKind(report: { checks: { kind: string }[] }, kind: string): any[] {
  return report.checks.filter((c) => c.kind === kind);
}

for (const dialect of dialects()) {
  t.test(`on ${dialect}: a healthy candidate passes every check, a wrong one is refused until an admin overrides`, async (t) => {
    const cp = await startTestControlPlane(t, dialect);
    await weatherInProduction(cp);
    const f = gateFixtures();
    const set = await setPolicy(cp, WEATHER_POLICY);
    t.equal(set.data.setPromotionPolicy.revision, 1);
    const good = await uploadBytes(cp, 'weather', f.healthy);
    const bad = await uploadBytes(cp, 'weather', f.wrong);

    const passed = (await cp.gql(EVALUATE, { v: good })).data.evaluateGates;
    t.equal(passed.passed, true, 'the healthy candidate passes');
    t.equal(passed.policyRevision, 1);
    t.same(passed.checks.filter((c: any) => !c.passed), []);
    for (const kind of ['metric_floor', 'no_regression', 'slice', 'slice_floor', 'slice_gap', 'parity', 'robustness', 'compatibility']) t.ok(byKind(passed, kind).length > 0, `the report has a ${kind} check`);
    t.same(byKind(passed, 'slice').map((c: any) => c.name).sort(), ['accuracy of season=autumn', 'accuracy of season=spring', 'accuracy of season=summer', 'accuracy of season=winter']);
    const regression = byKind(passed, 'no_regression')[0];
    t.ok(Math.abs(regression.limit + 0.02 - regression.measured) < 1e-5, 'the same answers as production: the same accuracy, held against it minus the tolerance');

    const failed = (await cp.gql(EVALUATE, { v: bad })).data.evaluateGates;
    t.equal(failed.passed, false);
    t.same(failed.checks.filter((c: any) => !c.passed).map((c: any) => c.kind).filter((k: string) => ['metric_floor', 'no_regression'].includes(k)).sort(), ['metric_floor', 'no_regression']);

    const shown = await cp.gql(`{ modelVersion(model: "weather", version: ${bad}) { gateReport { id passed } } gateReports(model: "weather") { version passed } }`);
    t.same(shown.data.modelVersion.gateReport, { id: failed.id, passed: false }, 'the version shows its latest report');
    t.same(shown.data.gateReports, [{ version: good, passed: true }, { version: bad, passed: false }]);

    const refused = await cp.gql(START, { v: bad });
    t.equal(refused.errors?.[0]?.extensions?.code, 'SLUICE_E_GATE_FAILED');
    const failing = refused.errors![0]!.extensions!.details!.failing as { kind: string }[];
    t.ok(failing.some((c) => c.kind === 'metric_floor'), 'the error carries the failing checks');
    const aliasRefused = await cp.gql(SET_PRODUCTION, { v: bad });
    t.equal(aliasRefused.errors?.[0]?.extensions?.code, 'SLUICE_E_GATE_FAILED');

    const operator = await cp.token('operator');
    const notAdmin = await cp.gql(START, { v: bad, o: 'it is fine' }, operator);
    t.equal(notAdmin.errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_FORBIDDEN', 'only an admin may override');
    const overridden = await cp.gql(START, { v: bad, o: 'known label shift, accepted by the model owner' });
    t.equal(overridden.data?.startRollout.candidate, bad, 'an admin override starts the rollout');
    const events = await cp.gql('{ auditEvents(filter: { action: "gate.override" }) { edges { node { actorName role outcome reason after } } } }');
    const nodes = events.data.auditEvents.edges.map((e: any) => e.node);
    t.same(
      nodes.map((n: any) => [n.role, n.outcome]).sort(),
      [['admin', 'SUCCESS'], ['operator', 'DENIED']],
    );
    const granted = nodes.find((n: any) => n.outcome === 'SUCCESS');
    t.equal(granted.reason, 'known label shift, accepted by the model owner');
    t.ok((granted.after.failing as { kind: string }[]).some((c) => c.kind === 'metric_floor'), 'the override event names the failing checks');
    t.equal(granted.after.for, 'rollout.start');
  });
}
