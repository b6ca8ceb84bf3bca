// Several control-plane replicas on one PostgreSQL: a change made on replica A reaches a gateway
// subscribed to replica B through NOTIFY/LISTEN, and after B's LISTEN connection is cut, through the
// resync by revision. B's periodic resync is turned off (changeResyncMs: 0) so only the notification
// or the reconnect can carry a change; the subscription here is the gateway's own (SSE, as the
// gateway holds it).
import t from 'tap';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { eventually } from '../helpers/wait.js';
import { exampleOnnx, modelWithVersion, startTestControlPlane, stopPostgres, type TestControlPlane } from './harness.js';
import { subscribe, type Subscription } from './sse.js';

t.teardown(stopPostgres);

const STATE = 'subscription { desiredStateChanged { revision models { name routes { version weight } } access { tokens { sha256 } } } }';

/** Every pushed state is kept; `latest` is the newest one the gateway has seen. */
function follow(sub: Subscription<any>): { latest: () => any } {
  let latest: any;
  void (async () => {
    for (;;) latest = (await sub.next()).data.desiredStateChanged;
  })().catch(() => undefined);
  return { latest: () => latest };
}

async function twoReplicas(t: { teardown(fn: () => unknown): void }, backoffMs?: number): Promise<{ a: TestControlPlane; b: TestControlPlane }> {
  const a = await startTestControlPlane(t, 'postgres');
  const b = await startTestControlPlane(t, 'postgres', {
    db: a.db!,
    signingKeyFile: join(a.dataDir, 'keys', 'registry-ed25519.pem'),
    artifactDir: join(a.dataDir, 'artifacts'),
    changeResyncMs: 0,
    ...(backoffMs === undefined ? {} : { changeBackoffMs: backoffMs }),
  });
  return { a, b };
}

async function setProduction(cp: TestControlPlane, version: number): Promise<void> {
  const r = await cp.gql('mutation($v: Int!) { setAlias(input: { model: "weather", alias: "production", version: $v }) { name } }', { v: version });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
}

const route = (s: any) => s?.models?.[0]?.routes?.[0]?.version;

t.test('an alias moved on replica A is pushed to a gateway subscribed to replica B', async (t) => {
  const { a, b } = await twoReplicas(t);
  await modelWithVersion(a);
  await a.upload('weather', exampleOnnx('weather'), undefined, { allowDuplicate: true });
  await setProduction(a, 1);
  const gw = await a.token('gateway');
  const sub = await subscribe(b.url, gw, STATE);
  t.teardown(() => sub.close());
  const feed = follow(sub);
  await eventually('B pushes the current state', async () => (route(feed.latest()) === 1 ? true : undefined));
  await setProduction(a, 2);
  await eventually('the move made on A reaches the gateway on B', async () => (route(feed.latest()) === 2 ? true : undefined));
  t.equal(route(feed.latest()), 2);
  await setProduction(b, 1);
  await eventually('and a move made on B as well', async () => (route(feed.latest()) === 1 ? true : undefined));
  t.equal(route(feed.latest()), 1);
});

t.test('a token revoked on replica A leaves the access list pushed by replica B', async (t) => {
  const { a, b } = await twoReplicas(t);
  const gw = await a.token('gateway');
  const created = await a.gql('mutation { createToken(input: { name: "app", role: DEVELOPER }) { secret token { id } } }');
  const { secret, token } = created.data.createToken;
  const hash = createHash('sha256').update(secret).digest('hex');
  const sub = await subscribe(b.url, gw, STATE);
  t.teardown(() => sub.close());
  const feed = follow(sub);
  const has = () => (feed.latest()?.access?.tokens ?? []).some((x: any) => x.sha256 === hash);
  await eventually('the gateway on B can check the new token', async () => (has() ? true : undefined));
  const revoked = await a.gql('mutation($id: ID!) { revokeToken(input: { id: $id }) { revokedAt } }', { id: token.id });
  t.notOk(revoked.errors);
  await eventually('the revocation on A reaches the gateway on B', async () => (feed.latest() && !has() ? true : undefined));
  t.notOk(has(), 'the revoked token is no longer in the access list B pushed');
});

t.test('after B\'s LISTEN connection is cut, a change on A still reaches B\'s gateway (resync by revision)', async (t) => {
  // B waits 3 s before it reopens its LISTEN connection, so the move below is made while nobody on B listens.
  const { a, b } = await twoReplicas(t, 3000);
  await modelWithVersion(a);
  await a.upload('weather', exampleOnnx('weather'), undefined, { allowDuplicate: true });
  await setProduction(a, 1);
  const gw = await a.token('gateway');
  const sub = await subscribe(b.url, gw, STATE);
  t.teardown(() => sub.close());
  const feed = follow(sub);
  await eventually('B pushes the current state', async () => (route(feed.latest()) === 1 ? true : undefined));

  const admin = new pg.Client({ connectionString: a.db! });
  await admin.connect();
  t.teardown(() => admin.end());
  const name = `sluice-changes:${b.server.port}`;
  const cut = await admin.query('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [name]);
  t.equal(cut.rowCount, 1, 'B had one LISTEN connection, now cut');
  const listening = async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [name])).rowCount;
  await eventually('B\'s LISTEN session is gone', async () => ((await listening()) === 0 ? true : undefined));
  await setProduction(a, 2);
  const during = await admin.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [name]);
  t.equal(during.rowCount, 0, 'the move was made while B was not listening: no notification can reach it');
  await eventually('B listens again', async () => {
    const r = await admin.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [name]);
    return r.rowCount === 1 ? true : undefined;
  });
  await eventually('the move made on A during the outage reaches the gateway on B', async () => (route(feed.latest()) === 2 ? true : undefined));
  t.equal(route(feed.latest()), 2);
  await setProduction(a, 1);
  await eventually('and notifications flow again after the reconnect', async () => (route(feed.latest()) === 1 ? true : undefined));
  t.equal(route(feed.latest()), 1);
});
