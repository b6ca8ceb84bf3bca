import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ensureExampleRepository } from '../../examples/repository.js';

/** The package root (tests run from dist/test/...). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(ROOT, 'dist', 'cli', 'sluice.js');

/**
 * The example model repository shared by every test file (built once; concurrent builders race
 * safely). Tests must not modify it: copy it into a t.testdir() first.
 */
export function exampleModels(): string {
  const dir = join(ROOT, '.sluice', 'test-models');
  ensureExampleRepository(dir);
  return dir;
}
