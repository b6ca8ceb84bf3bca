import t from 'tap';
import { createHash } from 'node:crypto';
import { verifyArtifactSignature } from '../../lib/artifact-signature.js';
import { dialects, exampleOnnx, modelWithVersion, startTestControlPlane, stopPostgres, type TestControlPlane } from './harness.js';
import { subscribe } from './sse.js';

t.teardown(stopPostgres);

const DESIRED = `query($g: String) { desiredState(gateway: $g) {
  gateway revision heartbeatIntervalSeconds signingKey { keyId publicKeyPem }
  models { name routes { version weight } aliases { name version } versions { version sha256 size signature keyId downloadUrl tensors { inputs { name } } } }
} }`;

async function registeredGateway(cp: TestControlPlane, name = 'edge-1'): Promise<string> {
  const token = await cp.token('gateway', `${name}-token`);
  const r = await cp.gql('mutation($n: String!) { registerGateway(input: { name: $n, region: "eu-west", labels: [{ key: "tier", value: "edge" }] }) { id } }', { n: name }, token);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return token;
}

for (const dialect of dialects()) {
  t.test(`gateway sync on ${dialect}`, async (t) => {
    t.test('a gateway registers and heartbeats; gateways shows its state; only changes are audited', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const token = await registeredGateway(cp);
      const before = await cp.gql('{ gateway(name: "edge-1") { status lastHeartbeatAt health } }');
      t.same(before.data.gateway, { status: 'NEVER', lastHeartbeatAt: null, health: 'UNKNOWN' });
      const beat = `mutation($l: [LoadedVersionInput!]!, $h: GatewayHealth!) { heartbeat(input: { name: "edge-1", loaded: $l, health: $h }) { lastHeartbeatAt } }`;
      const loaded = [{ model: 'weather', version: 1, sha256: 'a'.repeat(64), state: 'ready' }];
      for (let i = 0; i < 3; i++) t.notOk((await cp.gql(beat, { l: loaded, h: 'HEALTHY' }, token)).errors);
      await cp.gql(beat, { l: loaded, h: 'DEGRADED' }, token);
      const list = await cp.gql('{ gateways { edges { node { name region labels { key value } status health loadedVersions { model version sha256 state } lastHeartbeatAt } } } }');
      const g = list.data.gateways.edges[0].node;
      t.same({ ...g, lastHeartbeatAt: typeof g.lastHeartbeatAt }, {
        name: 'edge-1', region: 'eu-west', labels: [{ key: 'tier', value: 'edge' }], status: 'CONNECTED', health: 'DEGRADED', loadedVersions: loaded, lastHeartbeatAt: 'string',
      });
      const reports = await cp.gql('{ auditEvents(filter: { action: "gateway.report" }) { edges { node { after } } } }');
      t.equal(reports.data.auditEvents.edges.length, 2, 'the first report and the health change; repeated beats are not audited');
    });

    t.test('a gateway token cannot report for, or take the name of, another gateway', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await registeredGateway(cp, 'edge-1');
      const other = await registeredGateway(cp, 'edge-2');
      const beat = await cp.gql('mutation { heartbeat(input: { name: "edge-1", loaded: [], health: HEALTHY }) { id } }', {}, other);
      t.equal(beat.errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_FORBIDDEN');
      const steal = await cp.gql('mutation { registerGateway(input: { name: "edge-1" }) { id } }', {}, other);
      t.equal(steal.errors?.[0]?.extensions?.code, 'SLUICE_E_STORE_CONFLICT');
      const peek = await cp.gql('{ desiredState(gateway: "edge-1") { revision } }', {}, other);
      t.equal(peek.errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_FORBIDDEN');
      const denied = await cp.gql('{ auditEvents(filter: { outcome: DENIED }) { edges { node { actorName action resource } } } }');
      t.same(denied.data.auditEvents.edges.map((e: any) => e.node), [
        { actorName: 'edge-2-token', action: 'desired_state.read', resource: 'gateway/edge-1' },
        { actorName: 'edge-2-token', action: 'gateway.report', resource: 'gateway/edge-1' },
      ]);
    });

    t.test('the desired state lists versions to load with digest and signature, routes and resolved aliases', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const gw = await registeredGateway(cp);
      t.same((await cp.gql(DESIRED, {}, gw)).data.desiredState.models, [], 'nothing registered, nothing to serve');
      const { sha256 } = await modelWithVersion(cp);
      await cp.upload('weather', exampleOnnx('text-direction'));
      let state = (await cp.gql(DESIRED, {}, gw)).data.desiredState;
      t.equal(state.gateway, 'edge-1');
      t.same(state.models[0].routes, [], 'without a production alias nothing serves: uploading is not deploying');
      t.same(state.models[0].versions, [], 'and no version is loaded');

      await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
      await cp.gql('mutation { setAlias(input: { model: "weather", alias: "staging", version: 2 }) { name } }');
      state = (await cp.gql(DESIRED, {}, gw)).data.desiredState;
      const m = state.models[0];
      t.same(m.routes, [{ version: 1, weight: 100 }]);
      t.same(m.aliases, [{ name: 'production', version: 1 }, { name: 'staging', version: 2 }]);
      t.same(m.versions.map((v: any) => v.version), [1, 2]);
      const v1 = m.versions[0];
      t.equal(v1.sha256, sha256);
      t.same(v1.tensors.inputs, [{ name: 'features' }]);
      t.equal(v1.keyId, state.signingKey.keyId);

      const res = await fetch(v1.downloadUrl, { headers: { authorization: `Bearer ${gw}` } });
      t.equal(res.status, 200);
      const bytes = Buffer.from(await res.arrayBuffer());
      t.equal(bytes.length, v1.size);
      t.equal(createHash('sha256').update(bytes).digest('hex'), v1.sha256, 'the downloaded bytes have the announced digest');
      t.ok(verifyArtifactSignature(state.signingKey.publicKeyPem, v1.sha256, v1.signature), 'the signature verifies with the registry key');
      t.notOk(verifyArtifactSignature(state.signingKey.publicKeyPem, m.versions[1].sha256, v1.signature), 'the signature of one artifact does not verify another');
      const key = await cp.gql('{ registryPublicKey { keyId publicKeyPem } }', {}, gw);
      t.same(key.data.registryPublicKey, state.signingKey);

      const again = (await cp.gql(DESIRED, {}, gw)).data.desiredState;
      t.equal(again.revision, state.revision, 'an unchanged registry gives the same revision');
      await cp.gql('mutation { deleteAlias(input: { model: "weather", alias: "staging" }) { deleted } }');
      const after = (await cp.gql(DESIRED, {}, gw)).data.desiredState;
      t.not(after.revision, state.revision);
      t.same(after.models[0].versions.map((v: any) => v.version), [1], 'a version no alias points at is no longer loaded');
    });

    t.test('artifact downloads need a token and a registered digest', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const { sha256 } = await modelWithVersion(cp);
      const url = `${cp.url}/artifacts/${sha256}`;
      t.equal((await fetch(url)).status, 401);
      const gw = await cp.token('gateway');
      t.equal((await fetch(`${cp.url}/artifacts/${'0'.repeat(64)}`, { headers: { authorization: `Bearer ${gw}` } })).status, 404);
      t.equal((await fetch(`${cp.url}/artifacts/not-a-digest`, { headers: { authorization: `Bearer ${gw}` } })).status, 404);
      const head = await fetch(url, { method: 'HEAD', headers: { authorization: `Bearer ${gw}` } });
      t.equal(head.status, 200);
      t.equal(head.headers.get('x-sluice-sha256'), sha256);
    });

    t.test('an alias move is pushed to a subscribed gateway', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await modelWithVersion(cp);
      await cp.upload('weather', exampleOnnx('weather'), undefined, { allowDuplicate: true });
      await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
      const gw = await registeredGateway(cp);
      // Made before subscribing: a new token changes the gateways' access list, and so the state (issue 17).
      const operator = await cp.token('operator');
      const sub = await subscribe(cp.url, gw, 'subscription { desiredStateChanged { gateway revision models { name routes { version weight } } } }');
      t.teardown(() => sub.close());
      const first = (await sub.next()).data.desiredStateChanged;
      t.same(first.models[0].routes, [{ version: 1, weight: 100 }], 'the current state comes first');
      t.equal(first.gateway, 'edge-1');
      await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 2 }) { name } }', {}, operator);
      const pushed = (await sub.next()).data.desiredStateChanged;
      t.same(pushed.models[0].routes, [{ version: 2, weight: 100 }], 'the move arrives without polling');
      t.not(pushed.revision, first.revision);
    });

    t.test('a gateway cannot subscribe to another gateway\'s state', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      const gw = await registeredGateway(cp, 'edge-1');
      await registeredGateway(cp, 'edge-2');
      const sub = await subscribe(cp.url, gw, 'subscription { desiredStateChanged(gateway: "edge-2") { revision } }');
      t.teardown(() => sub.close());
      const r = await sub.next();
      t.equal(r.data, undefined, 'no state is pushed for another gateway');
      t.equal(r.errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_FORBIDDEN');
    });
  });
}
