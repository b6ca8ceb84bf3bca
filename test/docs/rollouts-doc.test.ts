// docs/rollouts.md promises that its `sh` blocks work pasted in order into one fresh bash in the
// checkout: a control plane, two gateways, a healthy canary promoted and a wrong candidate rolled
// back under load. This runs exactly that (bash -e, a temporary folder that looks like a checkout,
// PORT a free port) and checks what the blocks print: the canary's load saw only 200s from both
// versions, and the wrong candidate was ABORTED by its analysis with every call still a 200.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths.js';
import { runDocBlocks, shellBlocks } from '../helpers/doc-script.js';

const DOC = join(ROOT, 'docs', 'rollouts.md');


t.test('docs/rollouts.md: the walk-through runs, promotes the healthy canary and rolls back the wrong one', async (t) => {
  const blocks = shellBlocks(readFileSync(DOC, 'utf8'));
  t.ok(blocks.length >= 4, 'the doc has its blocks');
  const run = await runDocBlocks(t, blocks, { prefix: 'sluice-rollout-doc-', timeoutMs: 240_000 });
  const { code, stdout: out, stderr: err } = run;
  if (code === 0) t.pass('the walk-through exits 0');
  else t.fail(`the walk-through exits ${code}`, { output: out.slice(-3000), stderr: err.slice(-2000) });

  const lines = out.split('\n').filter((l) => l.startsWith('{"calls"') || l.startsWith('{"phase"'));
  const [canaryLoad, wrongRollout, wrongLoad] = lines.map((l) => JSON.parse(l) as Record<string, any>);
  t.match(out, /PROMOTED step 4\/4/, 'the healthy canary was promoted');
  t.same(Object.keys(canaryLoad!.byStatus), ['200'], 'its load saw only 200s');
  t.ok(canaryLoad!.byVersion['1'] > 0 && canaryLoad!.byVersion['2'] > 0, 'from both versions');
  t.equal(wrongRollout!.phase, 'ABORTED');
  t.match(wrongRollout!.abortReason, /agreement/);
  t.same(Object.keys(wrongLoad!.byStatus), ['200'], 'nothing failed during the rollback');
  const rollbackMs = Date.parse(wrongLoad!.lastAnswer['3']) - Date.parse(wrongRollout!.finishedAt);
  t.comment(`wrong candidate: ${wrongLoad!.byVersion['3']} of ${wrongLoad!.calls} calls answered by v3; last at ${rollbackMs} ms from the abort decision`);
  t.ok(rollbackMs < 2000, 'no answer from the wrong candidate 2 s after the decision');
});
