// Cost of encryption at rest (issue 18): store (upload path: stage, hash, seal, commit) and read back
// (a gateway's download: open, decrypt, stream) for the weather and text-direction models, plaintext
// and encrypted in the same run. Medians of N rounds, in-process on the artifact store, no HTTP.
// Run: npx tsc -p tsconfig.json && node dist/bench/micro/artifacts/encryption.js
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalKek } from '../../../control-plane/services/artifact-crypto.js';
import { ArtifactStore } from '../../../control-plane/services/artifact-store.js';
import { ensureExampleRepository } from '../../../examples/repository.js';

const ROUNDS = 15;

async function* once(bytes: Buffer): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function measure(store: ArtifactStore, bytes: Buffer): Promise<{ put: number; read: number }> {
  const put: number[] = [];
  const read: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // A fresh last byte per round so each put writes a new file (no dedupe shortcut).
    const copy = Buffer.concat([bytes, Buffer.from([i])]);
    let t0 = performance.now();
    const stored = await store.put(once(copy));
    put.push(performance.now() - t0);
    t0 = performance.now();
    for await (const _ of await store.open(stored.sha256));
    read.push(performance.now() - t0);
  }
  return { put: median(put), read: median(read) };
}

const models = join(tmpdir(), 'sluice-bench-models');
ensureExampleRepository(models);
const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-enc-'));
try {
  const plain = new ArtifactStore(join(dir, 'plain'), 1 << 30);
  const encrypted = new ArtifactStore(join(dir, 'enc'), 1 << 30, LocalKek.fromFile(join(dir, 'kek')));
  for (const name of ['weather', 'text-direction']) {
    const bytes = readFileSync(join(models, name, '1', 'model.onnx'));
    const p = await measure(plain, bytes);
    const e = await measure(encrypted, bytes);
    console.log(
      JSON.stringify({
        model: name,
        bytes: bytes.length,
        putMs: { plaintext: +p.put.toFixed(3), encrypted: +e.put.toFixed(3), ratio: +(e.put / p.put).toFixed(2) },
        readMs: { plaintext: +p.read.toFixed(3), encrypted: +e.read.toFixed(3), ratio: +(e.read / p.read).toFixed(2) },
      }),
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
