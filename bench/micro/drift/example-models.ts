// The example model repository for the drift benchmarks (built on first use, like the tests').
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ensureExampleRepository } from '../../../examples/repository.js';

export function exampleModelsDir(): string {
  const dir = join(fileURLToPath(new URL('../../../../', import.meta.url)), '.sluice', 'bench-models');
  ensureExampleRepository(dir);
  return dir;
}
