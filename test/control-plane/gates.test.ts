import t from 'tap';
import { createHash } from 'node:crypto';
import { ControlPlaneClient } from '../../control-plane/runner/client.js';
import { ADMIN_TOKEN, dialects, startTestControlPlane, stopPostgres, type TestControlPlane } from './harness.js';
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

t.test('each check fails on its own when its limit is tightened, and a new policy revision is evaluated anew', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await weatherInProduction(cp);
  const good = await uploadBytes(cp, 'weather', gateFixtures().healthy);
  const cases: [string, Record<string, unknown>][] = [
    ['metric_floor', { floor: 0.95 }],
    ['slice_floor', { slices: { column: 'season', floor: 0.75, minRows: 30 } }],
    ['slice_gap', { slices: { column: 'season', maxGap: 0.1, minRows: 30 } }],
    ['parity', { fairness: { column: 'season', positiveClass: 'rain', maxParityGap: 0.5 } }],
    ['equal_opportunity', { fairness: { column: 'season', positiveClass: 'sun', maxOpportunityGap: 0.01 } }],
    ['robustness', { robustness: { noise: 0.1, seed: 3, maxDrop: 0.05 } }],
  ];
  const base = { ...WEATHER_POLICY, slices: undefined, fairness: undefined, robustness: undefined };
  let revision = 0;
  for (const [kind, change] of cases) {
    const set = await setPolicy(cp, { ...base, ...change });
    t.equal(set.data?.setPromotionPolicy.revision, ++revision, `revision ${revision} stored`);
    const refused = await cp.gql(SET_PRODUCTION, { v: good });
    t.equal(refused.errors?.[0]?.extensions?.code, 'SLUICE_E_GATE_FAILED', `setAlias production is refused by ${kind}`);
    const failing = refused.errors![0]!.extensions!.details!.failing as { kind: string }[];
    t.same(failing.map((c) => c.kind), [kind], `only ${kind} fails`);
  }
  const reports = (await cp.gql('{ gateReports(model: "weather") { policyRevision passed } }')).data.gateReports;
  t.same(reports, cases.map((_, i) => ({ policyRevision: i + 1, passed: false })), 'each revision evaluated the version once, when asked to promote it');
  const history = (await cp.gql('{ promotionPolicyHistory(model: "weather") { revision } promotionPolicy(model: "weather") { revision policy } }')).data;
  t.same(history.promotionPolicyHistory.map((p: any) => p.revision), [1, 2, 3, 4, 5, 6]);
  t.equal(history.promotionPolicy.policy.robustness.maxDrop, 0.05);

  t.equal((await setPolicy(cp, base)).data.setPromotionPolicy.revision, 7);
  const moved = await cp.gql(SET_PRODUCTION, { v: good });
  t.equal(moved.data?.setAlias.version.number, good, 'under a revision it passes, production moves');
});

t.test('compatibility fails for a candidate whose signature differs from production', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await weatherInProduction(cp);
  await setPolicy(cp, { ...WEATHER_POLICY, slices: undefined, fairness: undefined, robustness: undefined });
  const renamed = await uploadBytes(cp, 'weather', gateFixtures().renamed);
  const report = (await cp.gql(EVALUATE, { v: renamed })).data.evaluateGates;
  t.same(report.checks.filter((c: any) => !c.passed).map((c: any) => c.kind), ['compatibility'], 'the answers are the same; only the signature differs');
  t.match(byKind(report, 'compatibility')[0].detail, /probabilities/);
  const refused = await cp.gql(START, { v: renamed });
  t.equal(refused.errors?.[0]?.extensions?.code, 'SLUICE_E_GATE_FAILED');
});

t.test('a version that cannot run, or a dataset that does not fit, fails evaluation with a stored failed report', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await weatherInProduction(cp);
  await setPolicy(cp, WEATHER_POLICY);
  const broken = await uploadBytes(cp, 'weather', gateFixtures().erroring);
  const failed = await cp.gql(EVALUATE, { v: broken });
  t.equal(failed.errors?.[0]?.extensions?.code, 'SLUICE_E_GATE_EVALUATION_FAILED');
  const stored = (await cp.gql(`{ modelVersion(model: "weather", version: ${broken}) { gateReport { passed checks { kind passed } } } }`)).data.modelVersion.gateReport;
  t.same(stored, { passed: false, checks: [{ kind: 'evaluation', passed: false }] });
  const refused = await cp.gql(START, { v: broken });
  t.equal(refused.errors?.[0]?.extensions?.code, 'SLUICE_E_GATE_FAILED', 'promotion treats it as a failed gate (an admin may override)');

  // Four input columns for a model that takes five.
  await setPolicy(cp, { ...WEATHER_POLICY, input: { tensor: 'features', columns: ['precipitation', 'temp_max', 'temp_min', 'wind'] } });
  const misfit = await cp.gql(EVALUATE, { v: 1 });
  t.equal(misfit.errors?.[0]?.extensions?.code, 'SLUICE_E_GATE_EVALUATION_FAILED');
});

t.test('a model without a policy gets an empty passing report and is not gated', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await weatherInProduction(cp);
  const bad = await uploadBytes(cp, 'weather', gateFixtures().wrong);
  const report = (await cp.gql(EVALUATE, { v: bad })).data.evaluateGates;
  t.match(report, { policyRevision: null, passed: true, checks: [] });
  t.equal((await cp.gql('{ promotionPolicy(model: "weather") { revision } }')).data.promotionPolicy, null);
  t.equal((await cp.gql(START, { v: bad })).data?.startRollout.candidate, bad);
});

t.test('with requireApproval, promotion needs an approval by someone other than the submitter', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await weatherInProduction(cp);
  await setPolicy(cp, { ...WEATHER_POLICY, slices: undefined, fairness: undefined, robustness: undefined, requireApproval: true });
  const good = await uploadBytes(cp, 'weather', gateFixtures().healthy); // uploaded with the admin token
  const APPROVE = 'mutation($v: Int!) { approvePromotion(input: { model: "weather", version: $v, comment: "looked at the report" }) { approver comment } }';
  t.equal((await cp.gql(SET_PRODUCTION, { v: good })).errors?.[0]?.extensions?.code, 'SLUICE_E_GATE_APPROVAL_REQUIRED');
  t.equal((await cp.gql(APPROVE, { v: good })).errors?.[0]?.extensions?.code, 'SLUICE_E_GATE_SELF_APPROVAL', 'the submitter cannot approve');
  t.equal((await cp.gql(SET_PRODUCTION, { v: good, o: 'I approve of myself' })).errors?.[0]?.extensions?.code, 'SLUICE_E_GATE_APPROVAL_REQUIRED', 'an override does not replace the second person');
  const developer = await cp.token('developer');
  t.equal((await cp.gql(APPROVE, { v: good }, developer)).errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_FORBIDDEN');
  const operator = await cp.token('operator', 'second-person');
  const approved = await cp.gql(APPROVE, { v: good }, operator);
  t.same(approved.data?.approvePromotion, { approver: 'second-person', comment: 'looked at the report' });
  t.equal((await cp.gql(SET_PRODUCTION, { v: good }, operator)).data?.setAlias.version.number, good, 'approved, production moves');
  const bad = await uploadBytes(cp, 'weather', gateFixtures().wrong);
  const unapproved = await cp.gql(SET_PRODUCTION, { v: bad, o: 'urgent' });
  t.equal(unapproved.errors?.[0]?.extensions?.code, 'SLUICE_E_GATE_APPROVAL_REQUIRED', 'a failed gate overridden still needs its approval');
  const overrides = await cp.gql('{ auditEvents(filter: { action: "gate.override" }) { edges { node { outcome } } } }');
  t.same(overrides.data.auditEvents.edges, [], 'no override is recorded for a promotion that did not happen');
  const audit = await cp.gql('{ auditEvents(filter: { action: "promotion.approve" }) { edges { node { actorName outcome reason } } } }');
  t.same(audit.data.auditEvents.edges.map((e: any) => [e.node.actorName, e.node.outcome]).sort(), [['admin', 'FAILED'], ['developer-token', 'DENIED'], ['second-person', 'SUCCESS']]);
});

t.test('a bad policy or a bad dataset is refused with its code, naming the field, line and column', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await weatherInProduction(cp);
  const policyCases: [unknown, string][] = [
    [{ ...WEATHER_POLICY, thresholds: 1 }, 'thresholds'],
    [{ ...WEATHER_POLICY, metric: 'rmse', floor: undefined }, 'metric'],
    [{ ...WEATHER_POLICY, floor: 1.5 }, 'floor'],
    [{ ...WEATHER_POLICY, dataset: 'no-such-data' }, 'dataset'],
    [{ ...WEATHER_POLICY, input: { tensor: 'features', columns: ['precipitation', 'rain_mm'] } }, 'input.columns[1]'],
    [{ ...WEATHER_POLICY, input: { tensor: 'features', columns: ['precipitation', 'season'] } }, 'input.columns[1]'],
    [{ ...WEATHER_POLICY, slices: { column: 'season' } }, 'slices'],
    [{ ...WEATHER_POLICY, robustness: { noise: -1, maxDrop: 0.1 } }, 'robustness.noise'],
  ];
  for (const [policy, field] of policyCases) {
    const r = await setPolicy(cp, policy);
    t.equal(r.errors?.[0]?.extensions?.code, 'SLUICE_E_GATE_POLICY_INVALID', `refused: ${field}`);
    t.equal(r.errors?.[0]?.extensions?.details?.field, field);
  }
  t.equal((await setPolicy(cp, WEATHER_POLICY, await cp.token('developer'))).errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_FORBIDDEN');
  t.equal((await cp.gql('{ promotionPolicy(model: "weather") { revision } }')).data.promotionPolicy, null, 'nothing was stored');

  const REGISTER = 'mutation($name: String!, $csv: String!) { registerDataset(input: { model: "weather", name: $name, csv: $csv }) { rows } }';
  const datasetCases: [string, Record<string, unknown>][] = [
    ['a,b,label\n1,2,rain\n3,x,sun\n', { line: 3, column: 'b' }],
    ['a,b,label\n1,2,rain\n3,4\n', { line: 3 }],
    ['a,a,label\n1,2,rain\n', { line: 1, column: 'a' }],
    ['a,b,label\n', { line: 2 }],
  ];
  for (const [csv, where] of datasetCases) {
    const r = await cp.gql(REGISTER, { name: 'bad', csv });
    t.equal(r.errors?.[0]?.extensions?.code, 'SLUICE_E_GATE_DATASET_INVALID', JSON.stringify(csv));
    t.match(r.errors?.[0]?.extensions?.details, where);
  }
  const quoted = await cp.gql(REGISTER, { name: 'quoted', csv: 'a,"note, with comma",label\n1,"x ""y""",rain\n' });
  t.equal(quoted.data?.registerDataset.rows, 1, 'quoted fields hold commas and quotes');
  const twice = await cp.gql(REGISTER, { name: 'holdout-2015', csv: gateFixtures().csv });
  t.equal(twice.errors?.[0]?.extensions?.code, 'SLUICE_E_STORE_CONFLICT', 'a dataset name is registered once');
  const listed = (await cp.gql('{ datasets(model: "weather") { name rows sha256 columns { name numeric } } }')).data.datasets;
  t.same(listed.map((d: any) => [d.name, d.rows]), [['holdout-2015', gateFixtures().rows], ['quoted', 1]]);
  t.same(listed[0].columns.filter((c: any) => !c.numeric).map((c: any) => c.name), ['date', 'season', 'weather']);
});

t.test('a version made by a training job is submitted by the job submitter: they cannot approve it, a second person can', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await weatherInProduction(cp);
  await setPolicy(cp, { ...WEATHER_POLICY, slices: undefined, fairness: undefined, robustness: undefined, requireApproval: true });
  const submitter = await cp.token('admin', 'job-submitter');
  const job = await cp.gql('mutation { submitTrainingJob(input: { model: "weather", trainer: { command: ["/bin/true"] }, dataset: { url: "/nowhere/rows.csv", sha256: "' + 'a'.repeat(64) + '" } }) { id } }', {}, submitter);
  const jobId = job.data.submitTrainingJob.id;
  const runner = (await cp.gql('mutation { createToken(input: { name: "r1", role: RUNNER }) { secret } }')).data.createToken.secret;
  const claim = await cp.gql('mutation { claimTrainingJob(input: { runner: "r1" }) { attempt job { id } } }', {}, runner);
  t.equal(claim.data?.claimTrainingJob.job.id, jobId);
  const client = new ControlPlaneClient(cp.url, runner);
  const done = await client.upload(
    'mutation($input: FinishTrainingAttemptInput!) { finishTrainingAttempt(input: $input) { status version { number } } }',
    { jobId, attempt: claim.data.claimTrainingJob.attempt, outcome: 'SUCCEEDED', trainerDigest: 'b'.repeat(64) },
    { model: new Blob([new Uint8Array(gateFixtures().healthy)]) },
  );
  const version = (done as any).finishTrainingAttempt.version.number as number;
  t.equal(version, 2, 'the job registered version 2');
  const APPROVE = 'mutation($v: Int!) { approvePromotion(input: { model: "weather", version: $v }) { approver } }';
  t.equal((await cp.gql(APPROVE, { v: version }, submitter)).errors?.[0]?.extensions?.code, 'SLUICE_E_GATE_SELF_APPROVAL', 'the job submitter cannot approve its version');
  t.equal((await cp.gql(APPROVE, { v: version })).data?.approvePromotion.approver, 'admin', 'another admin can');
  t.equal((await cp.gql(START, { v: version }, submitter)).data?.startRollout.candidate, version, 'approved and passed: the rollout starts');
});

t.test('a dataset uploaded as a multipart file is registered like CSV text', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  const form = new FormData();
  form.set('operations', JSON.stringify({ query: 'mutation($input: UploadDatasetInput!) { uploadDataset(input: $input) { name rows sha256 } }', variables: { input: { model: 'weather', name: 'holdout-2015', file: null } } }));
  form.set('map', JSON.stringify({ 0: ['variables.input.file'] }));
  form.set('0', new Blob([gateFixtures().csv]), 'holdout.csv');
  const res = await fetch(`${cp.url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'graphql-require-preflight': '1' }, body: form });
  const body = (await res.json()) as any;
  t.equal(body.data?.uploadDataset.rows, gateFixtures().rows, JSON.stringify(body.errors));
  t.equal(body.data.uploadDataset.sha256, createHash('sha256').update(gateFixtures().csv).digest('hex'), 'stored by the digest of its bytes');
});

t.test('a report counts for promotion only while production is the version it was compared with', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await weatherInProduction(cp);
  await setPolicy(cp, { ...WEATHER_POLICY, slices: undefined, fairness: undefined, robustness: undefined });
  const two = await uploadBytes(cp, 'weather', gateFixtures().healthy);
  const three = await uploadBytes(cp, 'weather', gateFixtures().healthy);
  t.equal((await cp.gql(EVALUATE, { v: three })).data.evaluateGates.passed, true);
  t.equal((await cp.gql(SET_PRODUCTION, { v: two })).data?.setAlias.version.number, two);
  t.equal((await cp.gql(START, { v: three })).data?.startRollout.candidate, three);
  const reports = (await cp.gql(`{ gateReports(model: "weather", version: ${three}) { productionVersion passed } }`)).data.gateReports;
  t.same(reports, [{ productionVersion: 1, passed: true }, { productionVersion: two, passed: true }], 'the start evaluated version 3 again, against the new production');
});
