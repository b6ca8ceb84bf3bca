// A gateway's peers, as the desired state lists them, on SQLite and PostgreSQL: the other gateways
// of its region whose heartbeat is recent and that advertise a URL; not itself, not a stale one, not
// one without a URL, not one of another region; only for gateway tokens; a bad URL refused with a
// code and nothing stored.
import t from 'tap';
import { dialects, startTestControlPlane, stopPostgres, type TestControlPlane } from '../harness.js';

t.teardown(stopPostgres);

const BEAT = 'mutation($n: String!, $u: String) { heartbeat(input: { name: $n, loaded: [], health: HEALTHY, advertiseUrl: $u }) { advertiseUrl } }';
const PEERS = '{ desiredState { revision peers { name url } } }';

async function gateway(cp: TestControlPlane, name: string, region = ''): Promise<string> {
  const token = await cp.token('gateway', `${name}-token`);
  const r = await cp.gql('mutation($n: String!, $r: String) { registerGateway(input: { name: $n, region: $r }) { id } }', { n: name, r: region }, token);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return token;
}

for (const dialect of dialects()) {
  t.test(`peers on ${dialect}`, async (t) => {
    const cp = await startTestControlPlane(t, dialect, { heartbeatIntervalSeconds: 10 });
    const a = await gateway(cp, 'gw-a');
    const b = await gateway(cp, 'gw-b');
    const c = await gateway(cp, 'gw-c');
    const d = await gateway(cp, 'gw-d');
    const e = await gateway(cp, 'gw-e', 'us-east');
    const f = await gateway(cp, 'gw-f', 'us-east');
    t.same((await cp.gql(BEAT, { n: 'gw-a', u: 'http://10.0.0.1:8000/' }, a)).data.heartbeat, { advertiseUrl: 'http://10.0.0.1:8000' }, 'kept as an origin');
    t.notOk((await cp.gql(BEAT, { n: 'gw-b', u: 'https://gw-b.example:8443' }, b)).errors);
    t.notOk((await cp.gql(BEAT, { n: 'gw-c', u: null }, c)).errors, 'a gateway may advertise nothing');
    t.notOk((await cp.gql(BEAT, { n: 'gw-d', u: 'http://10.0.0.4:8000' }, d)).errors);
    t.notOk((await cp.gql(BEAT, { n: 'gw-e', u: 'http://10.1.0.5:8000' }, e)).errors);
    t.notOk((await cp.gql(BEAT, { n: 'gw-f', u: 'http://10.1.0.6:8000' }, f)).errors);

    const ofA = await cp.gql(PEERS, {}, a);
    t.same(ofA.data.desiredState.peers, [{ name: 'gw-b', url: 'https://gw-b.example:8443' }, { name: 'gw-d', url: 'http://10.0.0.4:8000' }], 'live, advertising, not itself, by name');
    t.same((await cp.gql(PEERS, {}, c)).data.desiredState.peers.map((p: { name: string }) => p.name), ['gw-a', 'gw-b', 'gw-d']);
    t.same((await cp.gql(PEERS, {}, e)).data.desiredState.peers, [{ name: 'gw-f', url: 'http://10.1.0.6:8000' }], 'only its own region');
    t.equal((await cp.gql(PEERS)).data.desiredState.peers, null, 'people do not get the list');

    // gw-d misses its heartbeats: stale after three intervals (30 s here). The live list is read
    // at most once a second per replica, so the next read is a second later.
    await cp.sql(`UPDATE gateways SET last_heartbeat_at = '2020-01-01T00:00:00.000Z' WHERE name = 'gw-d'`);
    await new Promise((r) => setTimeout(r, 1100));
    const later = await cp.gql(PEERS, {}, a);
    t.same(later.data.desiredState.peers.map((p: { name: string }) => p.name), ['gw-b'], 'a stale gateway is no peer');
    t.equal(later.data.desiredState.revision, ofA.data.desiredState.revision, 'peers do not move the revision');

    for (const bad of ['ftp://10.0.0.1', 'http://10.0.0.1:8000/v2', 'http://u:p@10.0.0.1', 'not a url', `http://${'x'.repeat(600)}.example`]) {
      const r = await cp.gql(BEAT, { n: 'gw-b', u: bad }, b);
      t.equal(r.errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION', bad.slice(0, 40));
    }
    t.same((await cp.gql('{ gateway(name: "gw-b") { advertiseUrl } }')).data.gateway, { advertiseUrl: 'https://gw-b.example:8443' }, 'a refused beat changes nothing');
  });
}
