import t from 'tap';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ArtifactStore } from '../../../control-plane/services/artifact-store.js';

async function* body(parts: Uint8Array[], beforeEach?: () => void): AsyncIterable<Uint8Array> {
  for (const p of parts) {
    beforeEach?.();
    await new Promise((resolve) => setImmediate(resolve));
    yield p;
  }
}

t.test('bytes are stored under their sha256 and read back', async (t) => {
  const store = new ArtifactStore(t.testdir(), 1024);
  const stored = await store.put(body([Buffer.from('hello '), Buffer.from('world')]));
  t.equal(stored.sha256, 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9');
  t.equal(stored.size, 11);
});

t.test('a store folder removed while a body streams in is a SLUICE_E_STORE_FAILED, not a crash', async (t) => {
  const dir = t.testdir();
  const store = new ArtifactStore(dir, 1 << 20);
  // The folder goes before the temporary file is opened: the open fails while the body is awaited.
  const parts = Array.from({ length: 8 }, () => Buffer.alloc(1024, 7));
  await t.rejects(store.put(body(parts, () => rmSync(join(dir, 'tmp'), { recursive: true, force: true }))), { code: 'SLUICE_E_STORE_FAILED' });
});

t.test('a body over the limit is refused with 413 and leaves no file behind', async (t) => {
  const dir = t.testdir();
  const store = new ArtifactStore(dir, 100);
  await t.rejects(store.put(body([Buffer.alloc(60), Buffer.alloc(60)])), { code: 'SLUICE_E_HTTP_BODY_TOO_LARGE' });
});
