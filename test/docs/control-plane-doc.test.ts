// docs/control-plane.md promises that its `sh` blocks work pasted in order, as a whole, into one
// fresh bash shell in the checkout. This runs exactly that: every block, in order, in one bash
// (with -e, so the first failing command fails the test), in a temporary folder that looks like a
// checkout (dist/ and node_modules/ linked), with PORT set to a free port. Real processes, real
// HTTP on 127.0.0.1. Whatever blocks the doc has are run; a block whose output holds a GraphQL
// `"errors"` array fails the test unless the block says `# fails on purpose`.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths.js';
import { runDocBlocks, shellBlocks } from '../helpers/doc-script.js';

const DOC = join(ROOT, 'docs', 'control-plane.md');


t.test('the doc has shell blocks to run', async (t) => {
  t.ok(shellBlocks(readFileSync(DOC, 'utf8')).length >= 5);
});

t.test('docs/control-plane.md: every shell block runs, in order, in one fresh shell', async (t) => {
  for (const tool of ['bash', 'curl', 'jq', 'openssl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      t.fail(`the doc needs ${tool}, which is not installed`);
      return;
    }
  }
  const blocks = shellBlocks(readFileSync(DOC, 'utf8'));
  const run = await runDocBlocks(t, blocks, { prefix: 'sluice-doc-', timeoutMs: 150_000 });
  const last = run.ran - 1;
  t.equal(run.code, 0, `the script exits 0 (stopped in block ${last}:\n${blocks[last]}\nits output:\n${run.output(last)}\nstderr:\n${run.stderr}${readLog(run.dir)})`);
  t.equal(run.ran, blocks.length, 'every block ran');
  for (let n = 0; n < run.ran; n++) {
    if (/# fails on purpose/.test(blocks[n]!)) continue;
    t.notMatch(run.output(n), /"errors":\s*\[/, `block ${n} gets no GraphQL error:\n${blocks[n]}`);
  }
});

function readLog(dir: string): string {
  try {
    return `\ncontrol-plane.log:\n${readFileSync(join(dir, 'control-plane.log'), 'utf8')}`;
  } catch {
    return '';
  }
}
