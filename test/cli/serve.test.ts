import t from 'tap';
import { eventually, graphqlAs } from '../helpers/wait.js';
import { startSluice } from '../helpers/cli.js';

const ADMIN = 'sluice_test_admin_token_for_serve_0123456789';

const graphql = (url: string, query: string) => graphqlAs(url, ADMIN, query);


t.test('sluice serve: registry seeded at first start, its gateway syncs and serves weather, SIGTERM exits 0', async (t) => {
  const data = t.testdir({});
  const serve = await startSluice(['serve', '--gateway-port', '0', '--control-plane-port', '0', '--data', data], {
    env: { SLUICE_ADMIN_TOKEN: ADMIN },
    expectListening: 2,
    timeoutMs: 120_000,
  });
  t.teardown(() => {
    if (serve.proc.exitCode === null) serve.proc.kill('SIGKILL');
  });
  const [cp, gw] = serve.urls as [string, string];

  const models = await graphql(cp, '{ models(first: 10) { edges { node { name versions(first: 5) { edges { node { number } } } } } } }');
  t.same(models.models.edges.map((e: any) => e.node.name).sort(), ['text-detection', 'text-direction', 'weather']);
  const audit = await graphql(cp, '{ auditEvents(first: 50) { edges { node { action actorName } } } }');
  t.ok(audit.auditEvents.edges.some((e: any) => e.node.actorName === 'system'), 'the seeding is audited with actor system');

  const gateway = await eventually('the local gateway to report its versions', async () => {
    const g = await graphql(cp, '{ gateways { edges { node { name status loadedVersions { model version } } } } }');
    const local = g.gateways.edges.map((e: any) => e.node).find((n: any) => n.name === 'local');
    return local && local.loadedVersions.length >= 3 ? local : undefined;
  });
  t.same(gateway.loadedVersions.map((v: any) => v.model).sort(), ['text-detection', 'text-direction', 'weather']);

  const res = await fetch(`${gw}/v2/models/weather/infer`, {
    method: 'POST',
    body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [0.0, 28.9, 14.4, 2.1, 200] }] }),
  });
  t.equal(res.status, 200);
  const body = (await res.json()) as { outputs: { name: string; data: number[] }[] };
  t.same(body.outputs.find((o) => o.name === 'label')!.data, [4], 'a hot dry July day is sun');

  t.equal(await serve.stop('SIGTERM'), 0);
  t.notMatch(serve.output(), /"level":50/, 'no error was logged');
});

t.test('sluice gateway --control-plane without --token is refused with a clear message', async (t) => {
  await t.rejects(startSluice(['gateway', '--models', t.testdir({}), '--port', '0', '--control-plane', 'http://127.0.0.1:9']), /--control-plane needs --token/);
});
