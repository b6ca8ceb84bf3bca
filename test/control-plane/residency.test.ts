// Data residency (issue 18): a model kept to `eu` is never named in the desired state of a `uae`
// gateway, its artifacts are refused to the `uae` gateway's token (audited), and its training jobs
// go only to runners in `eu`. Real gateways sync from a real control plane on loopback.
import t from 'tap';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { controlPlaneSync } from '../../gateway/sync/control-plane-sync.js';
import { modelWithVersion, startTestControlPlane, type TestControlPlane } from './harness.js';
import { postJson, startTestGateway } from '../gateway/gateway-harness.js';
import { eventually } from '../helpers/wait.js';
import { runModelRegions, MODEL_REGIONS_COMMAND } from '../../cli/residency-commands.js';
import { parseFlags } from '../../lib/flags.js';

const WEATHER_CALL = { inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [0, 28.9, 14.4, 2.1, 200] }] };
function flags(argv: string[]) {
  const parsed = parseFlags(MODEL_REGIONS_COMMAND, argv);
  if (parsed.help) throw new Error('unexpected --help');
  return parsed.values;
}

const SET_REGIONS = 'mutation($r: [String!]) { setModelRegions(input: { model: "weather", regions: $r }) { name allowedRegions } }';

async function desiredModels(cp: TestControlPlane, token: string): Promise<string[]> {
  const r = await cp.gql('{ desiredState { models { name } } }', {}, token);
  return r.data.desiredState.models.map((m: { name: string }) => m.name);
}

t.test('a model kept to eu is served by the eu gateway and never reaches the uae gateway', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  const { sha256 } = await modelWithVersion(cp);
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  const set = await cp.gql(SET_REGIONS, { r: ['eu'] });
  t.same(set.data.setModelRegions.allowedRegions, ['eu']);

  const tokens = { eu: await cp.token('gateway', 'gw-eu'), uae: await cp.token('gateway', 'gw-uae') };
  const gateways: Record<string, string> = {};
  for (const region of ['eu', 'uae'] as const) {
    const gw = await startTestGateway(t, join(t.testdir(), region), {
      workerThreads: 1,
      drift: false,
      extensions: [controlPlaneSync({ url: cp.url, token: tokens[region], name: `gw-${region}`, region, pollIntervalMs: 300 })],
    });
    gateways[region] = `${gw.url}/v2/models/weather/infer`;
  }
  const served = await eventually('the eu gateway serves weather', async () => {
    const r = await postJson(gateways.eu!, WEATHER_CALL);
    return r.status === 200 ? r.body : undefined;
  });
  t.equal(served.model_version, '1');
  await eventually('the uae gateway has registered', async () => ((await cp.gql('{ gateway(name: "gw-uae") { status } }')).data.gateway?.status === 'CONNECTED' ? true : undefined));

  t.same(await desiredModels(cp, tokens.eu), ['weather'], "the eu gateway's desired state names weather");
  t.same(await desiredModels(cp, tokens.uae), [], "the uae gateway's desired state does not");
  t.equal((await postJson(gateways.uae!, WEATHER_CALL)).status, 404, 'the uae gateway does not serve it');

  const refused = await fetch(`${cp.url}/artifacts/${sha256}`, { headers: { authorization: `Bearer ${tokens.uae}` } });
  t.equal(refused.status, 403);
  t.equal(((await refused.json()) as { code: string }).code, 'SLUICE_E_RESIDENCY_REFUSED', "the artifact is refused to the uae gateway's token");
  const allowed = await fetch(`${cp.url}/artifacts/${sha256}`, { headers: { authorization: `Bearer ${tokens.eu}` } });
  t.equal(allowed.status, 200, "and handed to the eu gateway's");
  await allowed.arrayBuffer();
  const audit = await cp.gql('{ auditEvents(first: 10, filter: { action: "artifact.download", outcome: DENIED }) { edges { node { actorName resource } } } }');
  t.same(
    audit.data.auditEvents.edges.map((e: any) => e.node),
    [{ actorName: 'gw-uae', resource: `artifact/${sha256}` }],
    'the refusal is audited',
  );

  await cp.gql(SET_REGIONS, { r: ['eu', 'uae'] });
  await eventually('the uae gateway serves weather once uae is allowed', async () => ((await postJson(gateways.uae!, WEATHER_CALL)).status === 200 ? true : undefined));
  await cp.gql(SET_REGIONS, { r: ['eu'] });
  await eventually('the uae gateway unloads weather when uae is taken out again', async () => ((await postJson(gateways.uae!, WEATHER_CALL)).status === 404 ? true : undefined));
  t.equal((await postJson(gateways.eu!, WEATHER_CALL)).status, 200, 'the eu gateway keeps serving');
  const changes = await cp.gql('{ auditEvents(first: 10, filter: { action: "model.set_regions" }) { edges { node { before after } } } }');
  t.equal(changes.data.auditEvents.edges.length, 3, 'every change of regions is audited');
});

t.test('training jobs of a model kept to eu are claimed only by a runner in eu', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  await cp.gql(SET_REGIONS, { r: ['eu'] });
  const runner = (await cp.gql('mutation { createToken(input: { name: "r", role: RUNNER }) { secret } }')).data.createToken.secret as string;
  const submitted = await cp.gql('mutation($input: SubmitTrainingJobInput!) { submitTrainingJob(input: $input) { id labels } }', {
    input: { model: 'weather', trainer: { command: ['/bin/true'] }, dataset: { url: '/nowhere/rows.csv', sha256: 'a'.repeat(64) } },
  });
  t.same(submitted.data.submitTrainingJob.labels, [], 'the job carries no region label');
  const claim = (region?: string) =>
    cp.gql('mutation($r: String) { claimTrainingJob(input: { runner: "r1", region: $r }) { job { id } } }', region === undefined ? {} : { r: region }, runner).then((r) => r.data.claimTrainingJob);
  t.equal(await claim('uae'), null, 'a uae runner gets nothing');
  t.equal(await claim(), null, 'a runner without a region gets nothing');
  t.equal((await claim('eu')).job.id, submitted.data.submitTrainingJob.id, 'an eu runner gets the job');
});

t.test('regions are checked and only operators and admins may change them', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  t.equal((await cp.gql(SET_REGIONS, { r: ['EU West'] })).errors?.[0]?.extensions?.code, 'SLUICE_E_RESIDENCY_INVALID');
  t.equal((await cp.gql(SET_REGIONS, { r: ['eu'] }, await cp.token('developer'))).errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_FORBIDDEN');

  const out = new PassThrough();
  const args = ['--control-plane', cp.url, '--token', (await cp.token('operator')) as string, '--model', 'weather', '--regions', 'uae,eu'];
  t.equal(await runModelRegions(flags(args), out), 0);
  t.same(JSON.parse(out.read().toString()), { model: 'weather', allowedRegions: ['eu', 'uae'] }, 'sluice model regions sets them');
  const lifted = new PassThrough();
  await runModelRegions(flags(['--control-plane', cp.url, '--token', (await cp.token('admin', 'a2')) as string, '--model', 'weather', '--anywhere']), lifted);
  t.same(JSON.parse(lifted.read().toString()).allowedRegions, null, 'and --anywhere lifts them');
});
