// The registry signing key shared through PostgreSQL (issue 19): replicas opening the key on one
// database get the same key (the first one's key file is imported, not replaced), the key is sealed
// under the KEK in its row, and `keys rotate-kek` re-wraps that row.
import t from 'tap';
import { join } from 'node:path';
import { startPostgres } from '../../helpers/postgres.js';
import { openStore } from '../../../control-plane/store/db.js';
import { RegistryKey } from '../../../control-plane/services/signing.js';
import { LocalKek } from '../../../control-plane/services/artifact-crypto.js';

const server = await startPostgres();
t.teardown(() => server.stop());

t.test('replicas on one database sign with one key, imported from the first replica\'s file', async (t) => {
  const dir = t.testdir();
  const url = await server.createDatabase();
  const a = await openStore({ dataDir: join(dir, 'a'), db: url });
  const b = await openStore({ dataDir: join(dir, 'b'), db: url });
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  const kek = LocalKek.fromFile(join(dir, 'kek'));
  // Replica a has a key file from before; b has none.
  RegistryKey.loadOrCreate(join(dir, 'a', 'keys', 'registry-ed25519.pem'));
  const [keyA, keyB] = await Promise.all([
    RegistryKey.openShared(a, kek, join(dir, 'a', 'keys', 'registry-ed25519.pem')),
    RegistryKey.openShared(b, kek, join(dir, 'b', 'keys', 'registry-ed25519.pem')),
  ]);
  t.equal(keyA.keyId, keyB.keyId, 'one key');
  const reopened = await RegistryKey.openShared(b, kek, join(dir, 'b', 'keys', 'registry-ed25519.pem'));
  t.equal(reopened.keyId, keyA.keyId, 'the row is read, not replaced');
  const row = await a.db.selectFrom('registry_keys').selectAll().executeTakeFirstOrThrow();
  t.equal(JSON.parse(row.sealed).kek, kek.keyId, 'sealed under the KEK');
  t.notMatch(row.sealed, /PRIVATE KEY/, 'never in the clear');

  await t.rejects(RegistryKey.openShared(a, LocalKek.fromFile(join(dir, 'other-kek')), join(dir, 'x.pem')), { code: 'SLUICE_E_KEK_INVALID' }, 'another KEK cannot open it');

  const next = LocalKek.fromFile(join(dir, 'kek-2'));
  t.equal(await RegistryKey.rewrapShared(a, kek, next), true);
  t.equal((await RegistryKey.openShared(b, next, join(dir, 'x.pem'))).keyId, keyA.keyId, 'the same key under the new KEK');
  await t.rejects(RegistryKey.openShared(b, kek, join(dir, 'x.pem')), { code: 'SLUICE_E_KEK_INVALID' }, 'not under the old one');
});

t.test('the first start on a database keeps the key file a replica already signs with', async (t) => {
  const dir = t.testdir();
  const store = await openStore({ dataDir: dir, db: await server.createDatabase() });
  t.teardown(() => store.close());
  const kek = LocalKek.fromFile(join(dir, 'kek'));
  const file = join(dir, 'keys', 'registry-ed25519.pem');
  const local = RegistryKey.loadOrCreate(file);
  t.equal((await RegistryKey.openShared(store, kek, file)).keyId, local.keyId, 'gateways keep their pin');
});
