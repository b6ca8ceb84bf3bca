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
import { measure } from './measure.js';

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
