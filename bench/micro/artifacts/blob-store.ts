// The artifact store's two drivers side by side (issue 19): the filesystem (the embedded default)
// and PostgreSQL (chunk rows, for replicas without a shared disk). Store (stage, hash, seal when
// encrypted, place) and read back (a gateway's download: open, decrypt, stream) the weather and
// text-direction models, plaintext and encrypted, every driver in the same run. Medians of N
// rounds, in-process, no HTTP. PostgreSQL: SLUICE_BENCH_DB (a postgres:// URL of an empty
// database), else a throwaway server started as the tests start theirs (fsync off: compare drivers,
// not disks).
// Run: npx tsc -p tsconfig.json && node dist/bench/micro/artifacts/blob-store.js
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalKek } from '../../../control-plane/services/artifact-crypto.js';
import { ArtifactStore } from '../../../control-plane/services/artifact-store.js';
import { PgBlobStore } from '../../../control-plane/store/blob-pg.js';
import { openStore } from '../../../control-plane/store/db.js';
import { ensureExampleRepository } from '../../../examples/repository.js';
import { measure } from './measure.js';
import { startPostgres } from '../../cluster/postgres.js';

const models = join(tmpdir(), 'sluice-bench-models');
ensureExampleRepository(models);
const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-blobs-'));
const server = process.env.SLUICE_BENCH_DB ? undefined : await startPostgres();
const db = await openStore({ dataDir: dir, db: process.env.SLUICE_BENCH_DB ?? (await server!.createDatabase()) });
try {
  const kek = LocalKek.fromFile(join(dir, 'kek'));
  const stores = {
    fs: new ArtifactStore(join(dir, 'fs'), 1 << 30),
    postgres: new ArtifactStore(new PgBlobStore(db, join(dir, 'pg-tmp')), 1 << 30),
    'fs+kek': new ArtifactStore(join(dir, 'fs-enc'), 1 << 30, kek),
    'postgres+kek': new ArtifactStore(new PgBlobStore(db, join(dir, 'pg-tmp')), 1 << 30, kek),
  };
  for (const name of ['weather', 'text-direction']) {
    const bytes = readFileSync(join(models, name, '1', 'model.onnx'));
    const putMs: Record<string, number> = {};
    const readMs: Record<string, number> = {};
    for (const [driver, store] of Object.entries(stores)) {
      const m = await measure(store, bytes);
      putMs[driver] = +m.put.toFixed(3);
      readMs[driver] = +m.read.toFixed(3);
    }
    const ratio = (x: Record<string, number>, a: string, b: string) => +(x[a]! / x[b]!).toFixed(2);
    console.log(
      JSON.stringify({
        model: name,
        bytes: bytes.length,
        putMs,
        readMs,
        postgresOverFs: { put: ratio(putMs, 'postgres', 'fs'), read: ratio(readMs, 'postgres', 'fs'), putKek: ratio(putMs, 'postgres+kek', 'fs+kek'), readKek: ratio(readMs, 'postgres+kek', 'fs+kek') },
      }),
    );
  }
} finally {
  await db.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}
