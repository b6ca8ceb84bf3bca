// scripts/import-graph.mjs keeps the gateway's request path one-way: this runs it on the tree
// itself, and on a small tree with the faults it must find.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = join(ROOT, 'scripts', 'import-graph.mjs');

function run(root: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

function writeTree(root: string, files: Record<string, string>): void {
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
}

t.test('the gateway has no upward or circular import', async (t) => {
  const r = run(ROOT);
  if (r.status !== 0) t.comment(r.out);
  t.equal(r.status, 0, 'exits 0');
  t.match(r.out, / 0 upward imports, 0 import cycles, 0 modules outside any room/);
});

t.test('an upward import, a cycle and a module outside any room fail the check', async (t) => {
  const root = t.testdir();
  writeTree(root, {
    'gateway/index.ts': "import { a } from './server/a.js';\n",
    'gateway/server/a.ts': "import { b } from './b.js';\nexport const a = 1;\n",
    'gateway/server/b.ts': "import type { a } from './a.js';\nexport const b = 2;\n",
    'gateway/batching/batcher.ts': "import { a } from '../server/a.js';\n",
    'gateway/elsewhere/x.ts': 'export const x = 1;\n',
  });
  const r = run(root);
  t.equal(r.status, 1);
  t.match(r.out, /UPWARD\s+gateway\/batching\/batcher\.ts \(batching\) -> gateway\/server\/a\.ts \(server\)/);
  t.match(r.out, /CIRCULAR gateway\/server\/a\.ts <-> gateway\/server\/b\.ts/);
  t.match(r.out, /NO ROOM\s+gateway\/elsewhere\/x\.ts/);
});

t.test('imports down the rooms pass', async (t) => {
  const root = t.testdir();
  writeTree(root, {
    'gateway/index.ts': "import { s } from './server/s.js';\n",
    'gateway/server/s.ts': "import { i } from '../inference/i.js';\nexport const s = 1;\n",
    'gateway/inference/i.ts': "import { q } from '../batching/q.js';\nexport const i = 1;\n",
    'gateway/batching/q.ts': "import { e } from '../../lib/errors.js';\nexport const q = 1;\n",
  });
  const r = run(root);
  if (r.status !== 0) t.comment(r.out);
  t.equal(r.status, 0, 'exits 0');
});
