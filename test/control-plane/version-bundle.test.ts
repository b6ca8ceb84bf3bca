// A registry version carries its serving config and drift profile under one signed statement;
// uploads are checked with the gateway's own parsers; identical bytes are refused; gateways'
// refusals reach the control plane whole and per version.
import t from 'tap';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { subjectDigest, verifyVersionStatement } from '../../lib/artifact-signature.js';
import { trainWeatherModel } from '../../examples/weather.js';
import { exampleModels } from '../helpers/paths.js';
import { dialects, exampleOnnx, startTestControlPlane, stopPostgres, type GraphQLResult, type TestControlPlane } from './harness.js';

t.teardown(stopPostgres);

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const CONFIG = readFileSync(join(exampleModels(), 'weather', 'config.json'));
const PROFILE = readFileSync(join(exampleModels(), 'weather', '1', 'profile.json'));
const RETRAINED = trainWeatherModel({ seed: 11 }).onnx;

async function createModel(cp: TestControlPlane, name = 'weather'): Promise<void> {
  const r = await cp.gql('mutation($n: String!) { createModel(input: { name: $n }) { id } }', { n: name });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
}

function version(r: GraphQLResult): any {
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data.createModelVersion;
}

function refusal(r: GraphQLResult): { code?: string; field?: unknown } {
  return { code: r.errors?.[0]?.extensions?.code, field: r.errors?.[0]?.extensions?.details?.field };
}

async function publicKey(cp: TestControlPlane): Promise<{ keyId: string; publicKeyPem: string }> {
  return (await cp.gql('{ registryPublicKey { keyId publicKeyPem } }')).data.registryPublicKey;
}

for (const dialect of dialects()) {
  t.test(`version bundle on ${dialect}`, async (t) => {
    t.test('a version registered with config and profile carries both under one signed statement', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await createModel(cp);
      const v1 = version(await cp.upload('weather', exampleOnnx('weather'), undefined, { config: CONFIG, profile: PROFILE }));
      t.equal(v1.config.sha256, sha(CONFIG));
      t.equal(v1.profile.sha256, sha(PROFILE));
      const key = await publicKey(cp);
      const statement = verifyVersionStatement(key.publicKeyPem, v1.statement, v1.statementSignature);
      t.match(statement.predicate, { model: 'weather', version: 1, registryKey: key.keyId });
      t.same(
        ['model.onnx', 'config.json', 'profile.json'].map((n) => subjectDigest(statement, n as 'model.onnx')),
        [v1.artifact.sha256, sha(CONFIG), sha(PROFILE)],
      );

      const v2 = version(await cp.upload('weather', RETRAINED));
      t.equal(v2.config.sha256, sha(CONFIG), 'the next version takes the previous config');
      t.equal(v2.profile, null, 'but not its profile: profiles describe one version');
      t.throws(() => verifyVersionStatement(key.publicKeyPem, v1.statement, v2.statementSignature), { code: 'SLUICE_E_ARTIFACT_SIGNATURE' }, "one version's signature does not cover another's statement");

      await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 2 }) { name } }');
      const gw = await cp.token('gateway');
      await cp.gql('mutation { registerGateway(input: { name: "edge-1" }) { id } }', {}, gw);
      const state = await cp.gql('{ desiredState { models { versions { version sha256 statement statementSignature files { name sha256 size downloadUrl } } } } }', {}, gw);
      const desired = state.data.desiredState.models[0].versions[0];
      t.equal(desired.version, 2, 'the production version is the one to load');
      t.same(desired.files.map((f: { name: string; sha256: string }) => [f.name, f.sha256]), [['model.onnx', v2.artifact.sha256], ['config.json', sha(CONFIG)]]);
      t.equal(desired.statement, v2.statement);
      const config = await fetch(desired.files[1].downloadUrl, { headers: { authorization: `Bearer ${gw}` } });
      t.equal(sha(new Uint8Array(await config.arrayBuffer())), sha(CONFIG), 'the config downloads like any artifact');
    });

    t.test('a profile uploaded with a config that has no drift section turns drift on with profile.json', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await createModel(cp);
      const v1 = version(await cp.upload('weather', exampleOnnx('weather'), undefined, { profile: PROFILE }));
      const res = await fetch(`${cp.url}/artifacts/${v1.config.sha256}`, { headers: { authorization: `Bearer ${await cp.token('viewer')}` } });
      t.same(await res.json(), { drift: { profile: 'profile.json' } });
      const plain = version(await cp.upload('weather', RETRAINED));
      t.equal(plain.config.sha256, v1.config.sha256);
    });

    t.test('a bad config or profile is refused naming the field, and nothing is registered', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await createModel(cp);
      const cases: [Record<string, unknown>, string][] = [
        [{ config: '{"max_batch_size": -1}' }, 'max_batch_size'],
        [{ config: '{"dynamic_batching": {"max_queue_delay_us": "soon"}}' }, 'dynamic_batching.max_queue_delay_us'],
        [{ config: '{"drift": {"profile": "../escape.json"}}' }, 'drift.profile'],
        [{ config: 'max_batch_size: 8' }, 'config'],
        [{ profile: '{"format": "something else"}' }, 'profile'],
        [{ profile: 'not json' }, 'profile'],
      ];
      for (const [extra, field] of cases) {
        t.same(refusal(await cp.upload('weather', exampleOnnx('weather'), undefined, extra)), { code: 'SLUICE_E_CONFIG_INVALID', field }, `${JSON.stringify(extra)} names ${field}`);
      }
      const versions = await cp.gql('{ model(name: "weather") { versions { edges { node { number } } } } }');
      t.same(versions.data.model.versions.edges, []);
      const audit = await cp.gql('{ auditEvents(first: 1) { edges { node { action outcome reason } } } }');
      t.same(audit.data.auditEvents.edges[0].node, { action: 'model_version.create', outcome: 'FAILED', reason: 'SLUICE_E_CONFIG_INVALID' });
    });

    t.test('bytes identical to an existing version are refused unless allowDuplicate', async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await createModel(cp);
      await createModel(cp, 'weather-copy');
      version(await cp.upload('weather', exampleOnnx('weather')));
      const again = await cp.upload('weather', exampleOnnx('weather'));
      t.equal(refusal(again).code, 'SLUICE_E_ARTIFACT_DUPLICATE');
      t.same(again.errors?.[0]?.extensions?.details?.versions, [1], 'the refusal names the version that has them');
      t.equal(version(await cp.upload('weather-copy', exampleOnnx('weather'))).number, 1, 'another model may hold the same bytes');
      t.equal(version(await cp.upload('weather', exampleOnnx('weather'), undefined, { allowDuplicate: true })).number, 2);
    });

    t.test("a gateway's refusal reaches the control plane whole, and ModelVersion.fleet reports each gateway", async (t) => {
      const cp = await startTestControlPlane(t, dialect);
      await createModel(cp);
      version(await cp.upload('weather', exampleOnnx('weather')));
      const beat = 'mutation($n: String!, $l: [LoadedVersionInput!]!, $h: GatewayHealth!) { heartbeat(input: { name: $n, loaded: $l, health: $h }) { id } }';
      const tokens: string[] = [];
      for (const name of ['edge-1', 'edge-2', 'edge-3']) {
        const token = await cp.token('gateway', `${name}-token`);
        await cp.gql('mutation($n: String!) { registerGateway(input: { name: $n }) { id } }', { n: name }, token);
        tokens.push(token);
      }
      const reason = `model weather version 1 failed to load: ${'a long cause chain; '.repeat(150)}`;
      t.notOk((await cp.gql(beat, { n: 'edge-1', l: [{ model: 'weather', version: 1, sha256: null, state: 'ready' }], h: 'HEALTHY' }, tokens[0])).errors);
      t.notOk((await cp.gql(beat, { n: 'edge-2', l: [{ model: 'weather', version: 1, sha256: null, state: 'failed', reason }], h: 'DEGRADED' }, tokens[1])).errors);
      const fleet = await cp.gql('{ modelVersion(model: "weather", version: 1) { fleet { gateways loaded failed states { gateway state reason } } } }', {}, await cp.token('viewer'));
      t.same(fleet.data.modelVersion.fleet, {
        gateways: 2,
        loaded: 1,
        failed: 1,
        states: [
          { gateway: 'edge-1', state: 'ready', reason: null },
          { gateway: 'edge-2', state: 'failed', reason },
        ],
      }, 'edge-3 never reported and is not counted; the reason is whole');
      const seen = await cp.gql('{ gateway(name: "edge-2") { loadedVersions { reason } } }');
      t.equal(seen.data.gateway.loadedVersions[0].reason.length, reason.length);
    });

    t.test('versions registered before statements existed are signed at the next start', async (t) => {
      const first = await startTestControlPlane(t, dialect);
      await createModel(first);
      version(await first.upload('weather', exampleOnnx('weather'), undefined, { config: CONFIG }));
      await first.sql('UPDATE model_versions SET statement = NULL, statement_signature = NULL');
      await first.close();
      const again = await startTestControlPlane(t, dialect, { dataDir: first.dataDir, ...(first.db ? { db: first.db } : {}) });
      const v = (await again.gql('{ modelVersion(model: "weather", version: 1) { statement statementSignature } }')).data.modelVersion;
      const statement = verifyVersionStatement((await publicKey(again)).publicKeyPem, v.statement, v.statementSignature);
      t.equal(subjectDigest(statement, 'config.json'), sha(CONFIG));
    });
  });
}
