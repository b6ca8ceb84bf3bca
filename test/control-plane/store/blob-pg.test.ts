// The PostgreSQL blob driver on a real PostgreSQL: what goes in comes back, encrypted or not, stored
// once; a failed upload leaves no row and no staged file; an altered, missing or truncated chunk
// ends the read with SLUICE_E_ARTIFACT_TAMPERED; a KEK rotation re-wraps keys in the database.
import t, { type Test } from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres } from '../../helpers/postgres.js';
import { openStore, type Store } from '../../../control-plane/store/db.js';
import { CHUNK_BYTES, PgBlobStore } from '../../../control-plane/store/blob-pg.js';
import { ArtifactStore } from '../../../control-plane/services/artifact-store.js';
import { LocalKek } from '../../../control-plane/services/artifact-crypto.js';

const server = await startPostgres();
t.teardown(() => server.stop());

async function freshStore(t: Test): Promise<{ store: Store; url: string; tmp: string }> {
  const url = await server.createDatabase();
  const store = await openStore({ dataDir: t.testdir(), db: url });
  t.teardown(() => store.close());
  return { store, url, tmp: join(t.testdirName, 'tmp') };
}

async function query(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

async function* pieces(bytes: Buffer, size = 100_000): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

for (const encrypted of [false, true]) {
  const label = encrypted ? 'encrypted' : 'plaintext';

  t.test(`${label}: bytes come back whole from chunk rows, and the same bytes are stored once`, async (t) => {
    const { store, url, tmp } = await freshStore(t);
    const kek = encrypted ? LocalKek.fromFile(join(t.testdirName, 'kek')) : undefined;
    const artifacts = new ArtifactStore(new PgBlobStore(store, tmp), 1 << 26, kek);
    const bytes = randomBytes(3 * CHUNK_BYTES + 12_345);
    const stored = await artifacts.put(pieces(bytes));
    t.equal(stored.sha256, sha(bytes));
    t.equal(await artifacts.sizeOf(stored.sha256), bytes.length, 'the plaintext size');
    t.same(await artifacts.readAll(stored.sha256), bytes);
    const rows = await query(url, 'SELECT count(*)::int AS n, sum(length(data))::bigint AS stored FROM artifact_chunks WHERE sha256 = $1', [stored.sha256]);
    t.equal(rows.rows[0].n, 4, 'cut into chunks');
    if (encrypted) {
      const first = await query(url, 'SELECT data FROM artifact_chunks WHERE sha256 = $1 AND seq = 0', [stored.sha256]);
      t.equal((first.rows[0].data as Buffer).includes(bytes.subarray(0, 64)), false, 'the rows hold ciphertext');
    }
    await artifacts.put(pieces(bytes));
    const again = await query(url, 'SELECT count(*)::int AS n FROM artifact_blobs');
    t.equal(again.rows[0].n, 1, 'stored once');
    t.same(readdirSync(tmp), [], 'no staged file left');
  });

  t.test(`${label}: an upload that fails mid-stream leaves no row and no staged file`, async (t) => {
    const { store, url, tmp } = await freshStore(t);
    const kek = encrypted ? LocalKek.fromFile(join(t.testdirName, 'kek')) : undefined;
    const artifacts = new ArtifactStore(new PgBlobStore(store, tmp), 1 << 26, kek);
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield randomBytes(2 * CHUNK_BYTES);
      throw Object.assign(new Error('client went away'), { code: 'ECONNRESET' });
    }
    await t.rejects(artifacts.put(broken()));
    const tooBig = new ArtifactStore(new PgBlobStore(store, tmp), CHUNK_BYTES, kek);
    await t.rejects(tooBig.put(pieces(randomBytes(2 * CHUNK_BYTES))), { code: 'SLUICE_E_HTTP_BODY_TOO_LARGE' });
    const rows = await query(url, 'SELECT (SELECT count(*) FROM artifact_blobs)::int AS blobs, (SELECT count(*) FROM artifact_chunks)::int AS chunks');
    t.same(rows.rows[0], { blobs: 0, chunks: 0 });
    t.same(readdirSync(tmp), []);
  });

  t.test(`${label}: an altered, missing or extra chunk is SLUICE_E_ARTIFACT_TAMPERED`, async (t) => {
    const { store, url, tmp } = await freshStore(t);
    const kek = encrypted ? LocalKek.fromFile(join(t.testdirName, 'kek')) : undefined;
    const artifacts = new ArtifactStore(new PgBlobStore(store, tmp), 1 << 26, kek);
    const bytes = randomBytes(3 * CHUNK_BYTES);
    const { sha256 } = await artifacts.put(pieces(bytes));
    // One byte flipped in the middle chunk, its length unchanged.
    // (255 − b differs from b for every byte: a fixed replacement byte equalled the random one 1 time in 256.)
    await query(url, 'UPDATE artifact_chunks SET data = set_byte(data, 999, 255 - get_byte(data, 999)) WHERE sha256 = $1 AND seq = 1', [sha256]);
    await t.rejects(artifacts.readAll(sha256), { code: 'SLUICE_E_ARTIFACT_TAMPERED' }, 'altered');
    const { sha256: other } = await artifacts.put(pieces(randomBytes(3 * CHUNK_BYTES)));
    await query(url, 'DELETE FROM artifact_chunks WHERE sha256 = $1 AND seq = 2', [other]);
    await t.rejects(artifacts.readAll(other), { code: 'SLUICE_E_ARTIFACT_TAMPERED' }, 'the last chunk missing');
    const { sha256: third } = await artifacts.put(pieces(randomBytes(CHUNK_BYTES + 10)));
    await query(url, 'UPDATE artifact_chunks SET data = data || $2::bytea WHERE sha256 = $1 AND seq = 1', [third, Buffer.from('more')]);
    await t.rejects(artifacts.readAll(third), { code: 'SLUICE_E_ARTIFACT_TAMPERED' }, 'bytes appended');
  });
}

t.test('a KEK rotation re-wraps the data keys in the database and encrypts plaintext blobs', async (t) => {
  const { store, tmp } = await freshStore(t);
  const plainBytes = randomBytes(CHUNK_BYTES + 1);
  const encBytes = randomBytes(2 * CHUNK_BYTES + 7);
  const oldKek = LocalKek.fromFile(join(t.testdirName, 'kek-old'));
  const newKek = LocalKek.fromFile(join(t.testdirName, 'kek-new'));
  const plain = await new ArtifactStore(new PgBlobStore(store, tmp), 1 << 26).put(pieces(plainBytes));
  const enc = await new ArtifactStore(new PgBlobStore(store, tmp), 1 << 26, oldKek).put(pieces(encBytes));
  const after = new ArtifactStore(new PgBlobStore(store, tmp), 1 << 26, newKek);
  t.same(await after.rewrap(oldKek), { rewrapped: 1, encrypted: 1 });
  t.same(await after.readAll(enc.sha256), encBytes, 'opens under the new KEK');
  t.same(await after.readAll(plain.sha256), plainBytes, 'the plaintext blob is now encrypted and reads back');
  t.equal((await after.blobs.info(plain.sha256))?.key?.kek, newKek.keyId);
  await t.rejects(new ArtifactStore(new PgBlobStore(store, tmp), 1 << 26, oldKek).readAll(enc.sha256), { code: 'SLUICE_E_KEK_INVALID' }, 'no longer under the old KEK');
});

t.test('a missing blob is SLUICE_E_STORE_NOT_FOUND', async (t) => {
  const { store, tmp } = await freshStore(t);
  const artifacts = new ArtifactStore(new PgBlobStore(store, tmp), 1 << 26);
  await t.rejects(artifacts.open('0'.repeat(64)), { code: 'SLUICE_E_STORE_NOT_FOUND' });
  t.equal(await artifacts.sizeOf('0'.repeat(64)), undefined);
  await t.rejects(artifacts.open('not-a-digest'), { code: 'SLUICE_E_VALIDATION' });
});
