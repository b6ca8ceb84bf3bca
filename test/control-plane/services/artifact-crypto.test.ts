// Artifacts at rest (issue 18): framed AES-256-GCM under per-artifact data keys wrapped by a KEK.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FRAME_BYTES, LocalKek } from '../../../control-plane/services/artifact-crypto.js';
import { ArtifactStore } from '../../../control-plane/services/artifact-store.js';
import { RegistryKey } from '../../../control-plane/services/signing.js';
import { exampleOnnx } from '../harness.js';

async function* chunks(bytes: Buffer, size = 10_000): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

t.test('a KEK file is created 0600 when absent and refused when group or others can read it', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'keys', 'kek');
  const kek = LocalKek.fromFile(file);
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.equal(LocalKek.fromFile(file).keyId, kek.keyId, 'the same key on the next start');
  chmodSync(file, 0o644);
  t.throws(() => LocalKek.fromFile(file), { code: 'SLUICE_E_KEK_INVALID' });
  t.throws(() => LocalKek.fromEnv('SLUICE_TEST_KEK', { SLUICE_TEST_KEK: 'short' }), { code: 'SLUICE_E_KEK_INVALID' });
  t.equal(LocalKek.fromEnv('K', { K: 'ab'.repeat(32) }).keyId.startsWith('local:'), true, 'a KEK from the environment');
});

t.test('stored bytes are ciphertext, read back whole and streamed as plaintext, under the plaintext digest', async (t) => {
  const dir = t.testdir();
  const store = new ArtifactStore(dir, 1 << 24, LocalKek.fromFile(join(dir, 'kek')));
  const plain = Buffer.concat([randomBytes(3 * FRAME_BYTES + 123), Buffer.from('a recognisable plaintext marker')]);
  const stored = await store.put(chunks(plain));
  t.equal(stored.sha256, createHash('sha256').update(plain).digest('hex'));
  const onDisk = readFileSync(stored.path);
  t.equal(onDisk.includes(Buffer.from('a recognisable plaintext marker')), false, 'no plaintext on disk');
  t.equal(statSync(stored.path).mode & 0o777, 0o600);
  t.equal(statSync(`${stored.path}.key`).mode & 0o777, 0o600);
  t.equal(await store.sizeOf(stored.sha256), plain.length, 'the size is the plaintext size');
  t.same(await store.readAll(stored.sha256), plain);

  t.test('an exact multiple of the frame size and an empty-tail round trip', async (t) => {
    const exact = randomBytes(2 * FRAME_BYTES);
    const s = await store.put(chunks(exact, 7000));
    t.same(await store.readAll(s.sha256), exact);
    t.equal(await store.sizeOf(s.sha256), exact.length);
  });
});

t.test('a truncated or altered encrypted artifact fails to decrypt with SLUICE_E_ARTIFACT_TAMPERED', async (t) => {
  const dir = t.testdir();
  const store = new ArtifactStore(dir, 1 << 24, LocalKek.fromFile(join(dir, 'kek')));
  const plain = randomBytes(3 * FRAME_BYTES);
  const a = await store.put(chunks(plain));
  // Cut after the second frame: what is left are whole frames, none sealed as the last.
  truncateSync(a.path, 12 + 2 * (FRAME_BYTES + 16));
  await t.rejects(store.readAll(a.sha256), { code: 'SLUICE_E_ARTIFACT_TAMPERED' }, 'truncation at a frame boundary is detected');

  const b = await store.put(chunks(randomBytes(1000)));
  const bytes = readFileSync(b.path);
  bytes[500] ^= 1;
  writeFileSync(b.path, bytes);
  await t.rejects(store.readAll(b.sha256), { code: 'SLUICE_E_ARTIFACT_TAMPERED' }, 'one flipped bit is detected');
});

t.test('rotating the KEK re-wraps data keys without touching the data; the old KEK no longer opens them', async (t) => {
  const dir = t.testdir();
  const oldKek = LocalKek.fromFile(join(dir, 'old-kek'));
  const newKek = LocalKek.fromFile(join(dir, 'new-kek'));
  const plain = randomBytes(100_000);
  const before = new ArtifactStore(join(dir, 'store'), 1 << 24, oldKek);
  const a = await before.put(chunks(plain));
  const cipherBefore = createHash('sha256').update(readFileSync(a.path)).digest('hex');
  const after = new ArtifactStore(join(dir, 'store'), 1 << 24, newKek);
  t.same(await after.rewrap(oldKek), { rewrapped: 1, encrypted: 0 });
  t.equal(createHash('sha256').update(readFileSync(a.path)).digest('hex'), cipherBefore, 'the data file is unchanged');
  t.same(await after.readAll(a.sha256), plain);
  await t.rejects(before.readAll(a.sha256), { code: 'SLUICE_E_KEK_INVALID' });
});

t.test('plaintext artifacts from before encryption are still read, and rewrap encrypts them', async (t) => {
  const dir = t.testdir();
  const plainStore = new ArtifactStore(join(dir, 'store'), 1 << 24);
  const plain = randomBytes(5000);
  const a = await plainStore.put(chunks(plain));
  const store = new ArtifactStore(join(dir, 'store'), 1 << 24, LocalKek.fromFile(join(dir, 'kek')));
  t.same(await store.readAll(a.sha256), plain, 'read as plaintext');
  t.same(await store.rewrap(undefined), { rewrapped: 0, encrypted: 1 });
  t.ok(existsSync(`${a.path}.key`));
  t.equal(readFileSync(a.path).includes(plain.subarray(0, 64)), false);
  t.same(await store.readAll(a.sha256), plain);
});

t.test("an encrypted staged model's signature is read without decrypting its weights whole", async (t) => {
  const dir = t.testdir();
  const store = new ArtifactStore(dir, 1 << 24, LocalKek.fromFile(join(dir, 'kek')));
  const staged = await store.stage(chunks(readFileSync(exampleOnnx('weather'))));
  t.same(staged.onnxSignature().inputs.map((i) => i.name), ['features']);
  staged.discard();
});

t.test('the registry signing key is sealed under the KEK, 0600, and plaintext keys are migrated', async (t) => {
  const dir = t.testdir();
  const kek = LocalKek.fromFile(join(dir, 'kek'));
  const plainFile = join(dir, 'keys', 'registry-ed25519.pem');
  const plain = RegistryKey.loadOrCreate(plainFile);
  const sealed = await RegistryKey.loadOrCreateSealed(plainFile, kek);
  t.equal(sealed.keyId, plain.keyId, 'the same key, now sealed');
  t.equal(existsSync(plainFile), false, 'the plaintext PEM is gone');
  t.equal(statSync(`${plainFile}.enc`).mode & 0o777, 0o600);
  t.equal(readFileSync(`${plainFile}.enc`, 'utf8').includes('PRIVATE KEY'), false);
  t.equal((await RegistryKey.loadOrCreateSealed(plainFile, kek)).keyId, plain.keyId, 'reloaded');
  const next = LocalKek.fromFile(join(dir, 'kek2'));
  t.equal(await RegistryKey.rewrapSealed(plainFile, kek, next), true);
  t.equal((await RegistryKey.loadOrCreateSealed(plainFile, next)).keyId, plain.keyId, 'opens under the new KEK');
  await t.rejects(RegistryKey.loadOrCreateSealed(plainFile, kek), { code: 'SLUICE_E_KEK_INVALID' });
});
