// The gateway side of artifact integrity (issue 18), end to end on loopback with a real control
// plane: the cache is verified before serving at restart, the registry key pin survives restarts,
// `registryPublicKeyPem` (--registry-key) pins from the start, and a key rotation is followed only
// through a chain signed by the pinned key.
import t from 'tap';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../../lib/log.js';
import { controlPlaneSync } from '../../../gateway/sync/control-plane-sync.js';
import { STATEMENT_FILE } from '../../../gateway/sync/version-cache.js';
import { PIN_FILE } from '../../../gateway/sync/registry-pin.js';
import { trainWeatherModel } from '../../../examples/weather.js';
import { startTestControlPlane, type TestControlPlane } from '../../control-plane/harness.js';
import { postJson, startTestGateway } from '../gateway-harness.js';
import { eventually } from '../../helpers/wait.js';
import { freePort } from '../../helpers/net.js';

const CALL = { inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [0, 28.9, 14.4, 2.1, 200] }] };

function logLines(): { lines: Record<string, unknown>[]; logger: Logger } {
  const lines: Record<string, unknown>[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { lines, logger: pino({ level: "info" }, stream) as unknown as Logger };
}

async function weatherModel(cp: TestControlPlane, onnx: Uint8Array[]): Promise<string[]> {
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  const digests: string[] = [];
  for (const bytes of onnx) {
    const up = await cp.upload('weather', bytes, undefined, { allowDuplicate: true });
    if (up.errors) throw new Error(JSON.stringify(up.errors));
    digests.push((up.data as { createModelVersion: { artifact: { sha256: string } } }).createModelVersion.artifact.sha256);
  }
  return digests;
}

const answer = async (url: string, version: string) => postJson(`${url}/v2/models/weather/versions/${version}/infer`, CALL);

t.test('a tampered cached model.onnx never serves after a restart; the signed version is fetched again', async (t) => {
  // Trained before any server starts: training holds the event loop for seconds.
  const [good1, good2, evil] = [11, 12, 13].map((seed) => trainWeatherModel({ seed }).onnx);
  const cp = await startTestControlPlane(t, 'sqlite');
  const [, sha2] = await weatherModel(cp, [good1!, good2!]);
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "staging", version: 1 }) { name } }');
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 2 }) { name } }');
  const token = await cp.token('gateway', 'edge-1');
  const root = join(t.testdir(), 'models');

  const first = await startTestGateway(t, root, { workerThreads: 1, drift: false, extensions: [controlPlaneSync({ url: cp.url, token, name: 'edge-1', pollIntervalMs: 300 })] });
  const signed = await eventually('v2 serves from the registry', async () => {
    const r = await answer(first.url, '2');
    return r.status === 200 && (await answer(first.url, '1')).status === 200 ? r.body.outputs : undefined;
  });
  t.ok(existsSync(join(root, 'weather', '2', STATEMENT_FILE)), 'the signed statement is kept beside the version');
  t.ok(existsSync(join(root, PIN_FILE)), 'the registry key is pinned on disk');
  await first.close();

  // Someone with write access to the gateway's disk swaps v2's model for another one.
  writeFileSync(join(root, 'weather', '2', 'model.onnx'), evil!);

  // Restart without a reachable control plane: the old gateway served the tampered file (it loaded
  // whatever was on disk); now v2 is refused and v1, which still verifies, keeps serving.
  const offline = logLines();
  const dead = `http://127.0.0.1:${await freePort()}`;
  const cut = await startTestGateway(t, root, { workerThreads: 1, drift: false, logger: offline.logger, extensions: [controlPlaneSync({ url: dead, token, name: 'edge-1', pollIntervalMs: 60_000 })] });
  t.equal((await answer(cut.url, '2')).body.code, 'SLUICE_E_MODEL_VERSION_NOT_FOUND', 'the tampered version is not served');
  t.equal((await answer(cut.url, '1')).status, 200, 'the version that verifies serves without the control plane');
  const refusal = offline.lines.find((l) => l.msg === 'version folder refused: it is not loaded from disk');
  t.match(refusal, { model: 'weather', version: '2', code: 'SLUICE_E_CACHE_UNVERIFIED' });
  t.match(String(refusal?.reason), /model\.onnx has sha256 [0-9a-f]{64}, the registry signed [0-9a-f]{64}/);
  await cut.close();

  // Restart with the control plane: v2 is fetched again and what serves is the signed model.
  const again = await startTestGateway(t, root, { workerThreads: 1, drift: false, extensions: [controlPlaneSync({ url: cp.url, token, name: 'edge-1', pollIntervalMs: 300 })] });
  const early = await answer(again.url, '2');
  t.not(early.status, 200, 'nothing answers for v2 before the good bytes are back');
  const refetched = await eventually('v2 is fetched again', async () => {
    const r = await answer(again.url, '2');
    return r.status === 200 ? r.body.outputs : undefined;
  });
  t.same(refetched, signed, 'the answers are the signed model\'s');
  t.equal(createHash('sha256').update(readFileSync(join(root, 'weather', '2', 'model.onnx'))).digest('hex'), sha2);
});

t.test('the pin survives restarts, --registry-key pins from the start, and a rotation is followed only through a signed chain', async (t) => {
  // Trained before any server starts: training holds the event loop for seconds.
  const [mine, theirs] = [21, 22].map((seed) => trainWeatherModel({ seed }).onnx);
  const cp = await startTestControlPlane(t, 'sqlite');
  await weatherModel(cp, [mine!]);
  await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  const token = await cp.token('gateway', 'edge-2');
  const root = join(t.testdir(), 'models');
  const pinFile = join(root, PIN_FILE);
  const keyOf = async (c: TestControlPlane) => (await c.gql('{ registryPublicKey { keyId publicKeyPem } }')).data.registryPublicKey as { keyId: string; publicKeyPem: string };
  const pinned = () => (JSON.parse(readFileSync(pinFile, 'utf8')) as { keys: { keyId: string }[] }).keys.map((k) => k.keyId);
  const health = async (c: TestControlPlane, name: string) => (await c.gql(`{ gateway(name: "${name}") { health healthMessage } }`)).data.gateway as { health: string; healthMessage: string } | null;

  // --registry-key with a key that is not the registry's: the state is refused and the heartbeat says why.
  const stranger = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const strict = await startTestGateway(t, join(t.testdir(), 'strict'), {
    workerThreads: 1, drift: false,
    extensions: [controlPlaneSync({ url: cp.url, token: await cp.token('gateway', 'strict'), name: 'strict', pollIntervalMs: 300, registryPublicKeyPem: stranger })],
  });
  const refused = await eventually('the strict gateway reports the untrusted key', async () => {
    const h = await health(cp, 'strict');
    return h?.health === 'DEGRADED' ? h : undefined;
  });
  t.match(refused.healthMessage, /SLUICE_E_REGISTRY_KEY_UNTRUSTED/);
  t.equal((await postJson(`${strict.url}/v2/models/weather/infer`, CALL)).status, 404, 'nothing from an untrusted registry serves');
  await strict.close();

  // --registry-key with the registry's own key: served, and pinned on disk.
  const original = await keyOf(cp);
  const gw = await startTestGateway(t, root, {
    workerThreads: 1, drift: false,
    extensions: [controlPlaneSync({ url: cp.url, token, name: 'edge-2', pollIntervalMs: 300, registryPublicKeyPem: original.publicKeyPem })],
  });
  await eventually('v1 serves', async () => ((await postJson(`${gw.url}/v2/models/weather/infer`, CALL)).status === 200 ? true : undefined));
  t.same(pinned(), [original.keyId]);

  // Rotation: admins only, audited; the gateway follows the chain and re-pins, and keeps serving.
  const developer = await cp.token('developer');
  const denied = await cp.gql('mutation { rotateSigningKey { keyId } }', {}, developer);
  t.equal(denied.errors?.[0]?.extensions?.code, 'SLUICE_E_AUTH_FORBIDDEN');
  const rotated = await cp.gql('mutation { rotateSigningKey(overlapSeconds: 3600) { previousKeyId keyId resignedVersions overlapUntil } }');
  t.equal(rotated.data.rotateSigningKey.previousKeyId, original.keyId);
  t.equal(rotated.data.rotateSigningKey.resignedVersions, 1);
  const next = rotated.data.rotateSigningKey.keyId as string;
  t.equal((await keyOf(cp)).keyId, next);
  const audit = await cp.gql('{ auditEvents(first: 5, filter: { action: "registry_key.rotate" }) { edges { node { action outcome resource } } } }');
  t.match(audit.data.auditEvents.edges[0].node, { action: 'registry_key.rotate', outcome: 'SUCCESS', resource: `registry-key/${next}` });
  await eventually('the gateway re-pins through the chain', async () => (pinned()[0] === next ? true : undefined));
  t.same(pinned(), [next, original.keyId], 'the old key stays trusted during the overlap');
  t.equal((await postJson(`${gw.url}/v2/models/weather/infer`, CALL)).status, 200);
  const envelope = JSON.parse(readFileSync(join(root, 'weather', '1', STATEMENT_FILE), 'utf8')) as { signatures: { keyid: string }[] };
  await eventually('the cached statement is the one signed by the new key', async () => {
    const e = JSON.parse(readFileSync(join(root, 'weather', '1', STATEMENT_FILE), 'utf8')) as { signatures: { keyid: string }[] };
    return e.signatures[0]!.keyid === next ? true : undefined;
  });
  t.ok(envelope.signatures.length === 1);
  await gw.close();

  // Another registry (its own key, no chain from ours) behind the same gateway after a restart:
  // the old gateway trusted it (the pin lived in memory); now the pin on disk refuses it.
  const other = await startTestControlPlane(t, 'sqlite');
  await weatherModel(other, [theirs!]);
  await other.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  const { lines, logger } = logLines();
  const moved = await startTestGateway(t, root, {
    workerThreads: 1, drift: false, logger,
    extensions: [controlPlaneSync({ url: other.url, token: await other.token('gateway', 'edge-2'), name: 'edge-2', pollIntervalMs: 300 })],
  });
  const message = await eventually('the other registry hears why it is refused', async () => {
    const h = await health(other, 'edge-2');
    return h?.health === 'DEGRADED' ? h.healthMessage : undefined;
  });
  t.match(message, /not reached from the pinned key/);
  t.ok(lines.some((l) => l.msg === 'desired state refused: the registry key is not trusted' && l.code === 'SLUICE_E_REGISTRY_KEY_UNTRUSTED'));
  t.same(pinned()[0], next, 'the pin did not move');
  const served = await postJson(`${moved.url}/v2/models/weather/infer`, CALL);
  t.equal(served.status, 200, 'the cached version (signed by the pinned registry) keeps serving');
});
