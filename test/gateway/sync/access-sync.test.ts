// Tokens made on the control plane reach a real gateway by push: a token created with scopes
// works on the gateway, a revoked one is refused within the push (the fallback poll is set to a
// minute, so only the push can deliver it; the delay is reported), the repository API is refused
// on a gateway whose models come from a control plane, and the control plane's side (scopes,
// limits, the `access` field only for gateways and admins) holds on both dialects.
import t from 'tap';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { controlPlaneSync } from '../../../gateway/sync/control-plane-sync.js';
import { dialects, modelWithVersion, startTestControlPlane, stopPostgres, type TestControlPlane } from '../../control-plane/harness.js';
import { startTestGateway } from '../gateway-harness.js';
import { eventually } from '../../helpers/wait.js';

t.teardown(stopPostgres);

const WEATHER_CALL = JSON.stringify({ inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [0, 28.9, 14.4, 2.1, 200] }] });
const CREATE = `mutation($i: CreateTokenInput!) { createToken(input: $i) { secret token { id scopes rateLimit rateBurst } } }`;

async function createToken(cp: TestControlPlane, input: Record<string, unknown>): Promise<{ id: string; secret: string; scopes: string[] }> {
  const r = await cp.gql(CREATE, { i: input });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return { id: r.data.createToken.token.id, secret: r.data.createToken.secret, scopes: r.data.createToken.token.scopes };
}

async function status(url: string, token?: string, init: RequestInit = {}): Promise<{ status: number; code?: string }> {
  const res = await fetch(url, { method: 'POST', body: WEATHER_CALL, ...init, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const body = (await res.json().catch(() => ({}))) as { code?: string };
  return { status: res.status, code: body.code };
}

t.test('a token created on the control plane works on the gateway at once; a revoked one is refused within the push', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite');
  await modelWithVersion(cp);
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  const gatewayToken = await cp.token('gateway', 'edge-1');
  const gw = await startTestGateway(t, join(t.testdir(), 'models'), {
    workerThreads: 1,
    drift: false,
    access: { auth: 'on' },
    extensions: [controlPlaneSync({ url: cp.url, token: gatewayToken, name: 'edge-1', pollIntervalMs: 60_000 })],
  });
  t.ok(gw.access.managed);
  const infer = `${gw.url}/v2/models/weather/infer`;

  const caller = await createToken(cp, { name: 'app', role: 'DEVELOPER', scopes: ['infer:weather'] });
  await eventually('the new token infers on the gateway', async () => ((await status(infer, caller.secret)).status === 200 ? true : undefined));
  t.equal((await status(infer)).code, 'SLUICE_E_AUTH_MISSING');
  t.equal((await status(`${gw.url}/metrics`, caller.secret, { method: 'GET', body: null })).code, 'SLUICE_E_GATEWAY_SCOPE', 'explicit scopes replace the role defaults');
  const runner = await createToken(cp, { name: 'machine', role: 'RUNNER' });
  t.same(runner.scopes, [], 'machine identities have no gateway scopes');

  const repo = await status(`${gw.url}/v2/repository/models/weather/unload`, caller.secret);
  t.equal(repo.status, 403);
  t.equal(repo.code, 'SLUICE_E_GATEWAY_REPOSITORY_MANAGED', 'the repository API is refused under a control plane, whatever the token');

  const revoked = await cp.gql('mutation($i: RevokeTokenInput!) { revokeToken(input: $i) { revokedAt } }', { i: { id: caller.id } });
  t.notOk(revoked.errors);
  const at = performance.now();
  // Probed every 10 ms (eventually() probes every 200 ms, too coarse for the figure).
  let code: string | undefined;
  for (let i = 0; i < 3000 && code === undefined; i++) {
    const r = await status(infer, caller.secret);
    if (r.status === 401) code = r.code;
    else await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const ms = performance.now() - at;
  t.equal(code, 'SLUICE_E_AUTH_INVALID');
  t.comment(`revocation reached the gateway ${ms.toFixed(0)} ms after revokeToken answered (push; polling was 60 s)`);
});

for (const dialect of dialects()) {
  t.test(`gateway scopes on the control plane (${dialect})`, async (t) => {
    const cp = await startTestControlPlane(t, dialect);
    const gatewayToken = await cp.token('gateway', 'edge-1');
    await cp.gql('mutation { registerGateway(input: { name: "edge-1" }) { id } }', {}, gatewayToken);
    const viewer = await cp.token('viewer', 'looker');
    const access = async (token: string) => (await cp.gql('{ desiredState { revision access { tokens { sha256 name scopes rateLimit rateBurst } } } }', {}, token)).data.desiredState;

    const before = await access(gatewayToken);
    const limited = await createToken(cp, { name: 'batch-job', role: 'OPERATOR', scopes: ['infer:weather', 'metrics'], rateLimit: 2.5, rateBurst: 5 });
    const after = await access(gatewayToken);
    t.not(after.revision, before.revision, 'a new token changes the revision');
    const entry = after.access.tokens.find((e: { name: string }) => e.name === 'batch-job');
    t.same(entry, { sha256: createHash('sha256').update(limited.secret).digest('hex'), name: 'batch-job', scopes: ['infer:weather', 'metrics'], rateLimit: 2.5, rateBurst: 5 });
    t.same(after.access.tokens.find((e: { name: string }) => e.name === 'looker')?.scopes, ['metrics'], "a viewer's default scope");
    t.notOk(after.access.tokens.some((e: { name: string }) => e.name === 'edge-1'), 'gateway tokens call nothing on gateways');
    t.equal((await access(viewer)).access, null, 'token hashes are not shown to viewers');

    for (const [input, field] of [
      [{ name: 'x', role: 'DEVELOPER', scopes: ['infer:*', 'admin'] }, 'scopes'],
      [{ name: 'x', role: 'DEVELOPER', rateLimit: 0 }, 'rateLimit'],
      [{ name: 'x', role: 'DEVELOPER', rateBurst: 3 }, 'rateBurst'],
    ] as const) {
      const r = await cp.gql(CREATE, { i: input });
      t.equal(r.errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION', `bad ${field}`);
      t.equal(r.errors?.[0]?.extensions?.details?.field, field);
    }
    const events = await cp.gql('{ auditEvents(filter: { action: "token.create" }) { edges { node { after } } } }');
    const audited = events.data.auditEvents.edges.map((e: { node: { after: Record<string, unknown> } }) => e.node.after).find((a: Record<string, unknown>) => a.name === 'batch-job');
    t.same(audited.scopes, ['infer:weather', 'metrics'], 'the chosen scopes are audited');
    t.equal(audited.rateLimit, 2.5);

    await cp.gql('mutation($i: RevokeTokenInput!) { revokeToken(input: $i) { id } }', { i: { id: limited.id } });
    const revoked = await access(gatewayToken);
    t.notOk(revoked.access.tokens.some((e: { name: string }) => e.name === 'batch-job'), 'a revoked token leaves the list');
    t.not(revoked.revision, after.revision);
  });
}
