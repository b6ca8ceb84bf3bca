// Peers over https: gateways served with TLS advertise https URLs (derived from their listener) and
// forward feedback to each other through the TLS fetch the control-plane client uses, trusting the
// CA they are given; a gateway that does not trust its peer's certificate refuses to send it the
// feedback and answers SLUICE_E_FEEDBACK_PEER_UNAVAILABLE (in-process gateways: the point is TLS
// between them, not processes, which feedback-forwarding.test.ts covers).
import t from 'tap';
import { join } from 'node:path';
import { controlPlaneSync } from '../../../gateway/sync/control-plane-sync.js';
import { tlsFetch } from '../../../lib/tls-fetch.js';
import { exampleOnnx, startTestControlPlane } from '../../control-plane/harness.js';
import { makeTestCerts } from '../../helpers/certs.js';
import { eventually } from '../../helpers/wait.js';
import { startTestGateway } from '../gateway-harness.js';

const certs = makeTestCerts();
t.teardown(() => certs.remove());
const https = tlsFetch({ caFile: certs.ca });

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await https(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

t.test('https peers: feedback forwarded over TLS to a trusted peer, refused with a code by one that does not trust it', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite', { heartbeatIntervalSeconds: 1 });
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  t.notOk((await cp.upload('weather', exampleOnnx('weather'))).errors);
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  const dir = t.testdir();
  const gateway = async (name: string, caFile: string) => startTestGateway(t, join(dir, name), {
    workerThreads: 1, drift: false,
    tls: { certFile: certs.server.cert, keyFile: certs.server.key },
    extensions: [controlPlaneSync({ url: cp.url, token: await cp.token('gateway', name), name, pollIntervalMs: 300, tls: { caFile } })],
  });
  const a = await gateway('tls-a', certs.ca);
  const b = await gateway('tls-b', certs.ca);
  const stranger = await gateway('tls-c', certs.otherCa);
  t.match(a.url, /^https:/);

  const listed = await eventually('every gateway advertises its https URL', async () => {
    const r = await cp.gql('{ gateways { edges { node { name advertiseUrl } } } }');
    const nodes = r.data.gateways.edges.map((e: { node: { name: string; advertiseUrl: string | null } }) => e.node);
    return nodes.every((n: { advertiseUrl: string | null }) => n.advertiseUrl !== null) && nodes.length === 3 ? nodes : undefined;
  });
  t.same(listed.map((n: { name: string; advertiseUrl: string }) => n.advertiseUrl), [a.url, b.url, stranger.url]);

  const infer = async (base: string) => {
    const r = await post(`${base}/v2/models/weather/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [0, 28.9, 14.4, 2.1, 200] }] });
    return r.status === 200 ? { id: r.body.id as string, label: r.body.outputs.find((o: { name: string }) => o.name === 'label').data[0] as number } : undefined;
  };
  await eventually('tls-a forwards to tls-b over https', async () => {
    const x = await infer(b.url);
    if (x === undefined) return undefined;
    const r = await post(`${a.url}/v2/models/weather/feedback`, { id: x.id, label: x.label });
    return r.status === 200 ? true : undefined;
  });

  const answer = await eventually('tls-b answers', () => infer(b.url));
  const refused = await eventually('tls-c knows its peers', async () => {
    const r = await post(`${stranger.url}/v2/models/weather/feedback`, { id: answer.id, label: answer.label });
    return r.body.code === 'SLUICE_E_FEEDBACK_PEER_UNAVAILABLE' && /tls-b/.test(r.body.error) ? r : undefined;
  });
  t.equal(refused.status, 503, 'a peer whose certificate is not trusted is not sent the feedback');
  t.equal((await post(`${b.url}/v2/models/weather/feedback`, { id: answer.id, label: answer.label })).status, 200, 'and nothing was applied on it');
});
