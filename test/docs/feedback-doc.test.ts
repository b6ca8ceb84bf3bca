// docs/feedback.md promises that its `sh` blocks work pasted in order into one fresh bash in the
// checkout: a gateway on the example models, answers with ids, feedback accepted and refused with
// the codes the page shows, and the accuracy the page prints. This runs exactly that.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths.js';
import { runDocBlocks, shellBlocks } from '../helpers/doc-script.js';

const DOC = join(ROOT, 'docs', 'feedback.md');

function jsonLines(text: string): Record<string, any>[] {
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
}

t.test('docs/feedback.md: the walk-through runs and prints what the page shows', async (t) => {
  const blocks = shellBlocks(readFileSync(DOC, 'utf8'));
  t.equal(blocks.length, 7, 'the doc has its blocks');
  const run = await runDocBlocks(t, blocks, { prefix: 'sluice-feedback-doc-', timeoutMs: 180_000 });
  if (run.code === 0) t.pass('the walk-through exits 0');
  else t.fail(`the walk-through exits ${run.code}`, { output: run.stdout.slice(-3000), stderr: run.stderr.slice(-2000) });

  const [answer] = jsonLines(run.output(1));
  t.match(answer, { model_name: 'weather', model_version: '1', id: /^[0-9a-f]{16}-[0-9a-z]+$/ });
  t.match(jsonLines(run.output(2)), [{ accepted: [{ id: answer!.id, rows: 1, correct: 1 }] }]);
  t.match(jsonLines(run.output(3)), [{ accepted: [{ id: 'order-1042', rows: 2, correct: 1 }] }]);
  const [refused, batch] = jsonLines(run.output(4));
  t.equal(refused!.code, 'SLUICE_E_FEEDBACK_UNKNOWN_ID');
  t.match(batch, { accepted: [{ id: 'a', correct: 1 }, { id: 'b', correct: 0 }] }, 'the refused batch applied nothing');
  t.same(jsonLines(run.output(5)).map((l) => l.code), ['SLUICE_E_FEEDBACK_DUPLICATE', 'SLUICE_E_FEEDBACK_UNKNOWN_ID', 'SLUICE_E_FEEDBACK_BAD_VALUE']);
  const [windows] = jsonLines(run.output(6));
  t.match(windows!.feedback, { task: 'classification', current: { count: 5, correct: 3, accuracy: 0.6 } });
  t.match(run.output(6), /sluice_feedback_accuracy\{model="weather",version="1"\} 0\.6/);
});
