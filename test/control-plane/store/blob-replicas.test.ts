// Replicas without a shared disk (issue 19): two control planes with their own data folders on one
// PostgreSQL database, `--artifact-store postgres`. An upload through replica A is downloaded from
// replica B and verifies with the one registry key both sign with; a gateway synced to B serves it;
// a rotation on A reaches B; an upload cut off mid-body leaves nothing. (blob-large.test.ts: memory.)
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { LocalKek } from '../../../control-plane/services/artifact-crypto.js';
import { verifyArtifactSignature } from '../../../lib/artifact-signature.js';
import { controlPlaneSync } from '../../../gateway/sync/control-plane-sync.js';
import { startPostgres } from '../../helpers/postgres.js';
import { eventually } from '../../helpers/wait.js';
import { ADMIN_TOKEN, exampleOnnx, startTestControlPlane } from '../harness.js';
import { postJson, startTestGateway } from '../../gateway/gateway-harness.js';

const server = await startPostgres();
t.teardown(() => server.stop());

const WEATHER_CALL = { inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [0, 28.9, 14.4, 2.1, 200] }] };

async function gql<T = any>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!;
}

/** Download an artifact, hashing as it streams; returns the digest and the signature headers. */
async function download(url: string, sha256: string): Promise<{ status: number; sha256: string; bytes: number; signature: string | null; keyId: string | null }> {
  const res = await fetch(`${url}/artifacts/${sha256}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { status: res.status, sha256: hash.digest('hex'), bytes, signature: res.headers.get('x-sluice-signature'), keyId: res.headers.get('x-sluice-key-id') };
}

t.test('an upload through replica A is served by replica B and verifies with the shared key', async (t) => {
  const db = await server.createDatabase();
  const kekFile = join(t.testdir(), 'kek');
  const kek = LocalKek.fromFile(kekFile);
  const a = await startTestControlPlane(t, 'postgres', { db, kek, artifactStore: 'postgres' });
  const b = await startTestControlPlane(t, 'postgres', { db, kek, artifactStore: 'postgres' });
  t.not(a.dataDir, b.dataDir, 'separate data folders');

  const keyA = (await a.gql('{ registryPublicKey { keyId publicKeyPem } }')).data.registryPublicKey;
  const keyB = (await b.gql('{ registryPublicKey { keyId publicKeyPem } }')).data.registryPublicKey;
  t.same(keyB, keyA, 'both replicas sign with one key');
  t.notOk(existsSync(join(a.dataDir, 'keys', 'registry-ed25519.pem')) || existsSync(join(a.dataDir, 'keys', 'registry-ed25519.pem.enc')), 'no signing key in a data folder');

  await a.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  const up = await a.upload('weather', exampleOnnx('weather'));
  t.notOk(up.errors, 'uploaded through A');
  const sha256 = (up.data as { createModelVersion: { artifact: { sha256: string } } }).createModelVersion.artifact.sha256;
  t.notOk(existsSync(join(a.dataDir, 'artifacts', 'sha256')), 'nothing stored in A\'s folder');
  await a.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');

  const got = await download(b.url, sha256);
  t.equal(got.status, 200);
  t.equal(got.sha256, sha256, 'B streams the bytes A stored');
  t.ok(verifyArtifactSignature(keyA.publicKeyPem, sha256, got.signature!), 'the signature verifies with the registry key');

  const token = await b.token('gateway', 'gw-b');
  const gw = await startTestGateway(t, mkdtempSync(join(tmpdir(), 'sluice-gw-')), {
    workerThreads: 1,
    drift: false,
    extensions: [controlPlaneSync({ url: b.url, token, name: 'gw-b', pollIntervalMs: 300, registryPublicKeyPem: keyA.publicKeyPem })],
  });
  const served = await eventually('the gateway synced to B serves the version uploaded to A', async () => {
    const r = await postJson(`${gw.url}/v2/models/weather/infer`, WEATHER_CALL);
    return r.status === 200 ? r.body : undefined;
  });
  t.equal(served.model_version, '1', 'downloaded from B, digest and signature checked by the gateway');

  const rotated = (await a.gql('mutation { rotateSigningKey(overlapSeconds: 60) { keyId } }')).data.rotateSigningKey.keyId;
  t.not(rotated, keyA.keyId);
  await eventually('B signs with the key rotated on A', async () => ((await b.gql('{ registryPublicKey { keyId } }')).data.registryPublicKey.keyId === rotated ? true : undefined));
  t.equal((await download(b.url, sha256)).keyId, rotated, 'the artifact signature from B names the new key');
});

t.test('an upload cut off mid-body leaves no row in the database and no staged file', async (t) => {
  const db = await server.createDatabase();
  const cp = await startTestControlPlane(t, 'postgres', { db, kek: LocalKek.fromFile(join(t.testdir(), 'kek')), artifactStore: 'postgres' });
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  const { hostname, port } = new URL(cp.url);
  const boundary = 'sluice-abort';
  const preamble = [
    `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n`,
    JSON.stringify({ query: 'mutation($input: CreateModelVersionInput!) { createModelVersion(input: $input) { number } }', variables: { input: { model: 'weather', artifact: null } } }),
    `\r\n--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.input.artifact"]}`,
    `\r\n--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="model.onnx"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  ].join('');
  const socket = connect(Number(port), hostname);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    [`POST /graphql HTTP/1.1`, `Host: ${hostname}:${port}`, `Authorization: Bearer ${ADMIN_TOKEN}`, 'graphql-require-preflight: 1', `Content-Type: multipart/form-data; boundary=${boundary}`, `Content-Length: ${64 * 1024 * 1024}`, '', ''].join('\r\n'),
  );
  socket.write(preamble);
  const staging = join(cp.dataDir, 'artifacts', 'tmp');
  for (let i = 0; i < 24; i++) socket.write(randomBytes(128 * 1024));
  await eventually('the upload is being staged', async () => (readdirSync(staging).length > 0 ? true : undefined));
  socket.destroy();
  await eventually('the staged file is removed', async () => (readdirSync(staging).length === 0 ? true : undefined));
  const counts = new pg.Client({ connectionString: db });
  await counts.connect();
  const rows = await counts.query('SELECT (SELECT count(*) FROM artifact_blobs)::int AS blobs, (SELECT count(*) FROM artifact_chunks)::int AS chunks');
  await counts.end();
  t.same(rows.rows[0], { blobs: 0, chunks: 0 }, 'nothing in the database');
  t.notOk((await cp.gql('{ model(name: "weather") { versions(first: 1) { edges { node { number } } } } }')).data.model.versions.edges.length, 'no version');
});

t.test('the postgres store is refused on SQLite, and without a KEK or a signing key file', async (t) => {
  await t.rejects(startTestControlPlane(t, 'sqlite', { artifactStore: 'postgres', kek: LocalKek.fromFile(join(t.testdir(), 'kek')) }), { code: 'SLUICE_E_CONFIG_INVALID' });
  await t.rejects(startTestControlPlane(t, 'postgres', { db: await server.createDatabase(), artifactStore: 'postgres' }), { code: 'SLUICE_E_CONFIG_INVALID' });
});
