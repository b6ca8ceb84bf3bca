// docs/training.md promises that its `sh` blocks work pasted in order into one fresh bash shell in
// the checkout: this runs exactly that (as test/docs/control-plane-doc.test.ts does for its doc),
// with PORT set to a free port. `sluice serve` with its local runner, a second `sluice runner`,
// real training jobs.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths.js';
import { runDocBlocks, shellBlocks } from '../helpers/doc-script.js';

const DOC = join(ROOT, 'docs', 'training.md');
const blocks = shellBlocks(readFileSync(DOC, 'utf8'));

t.test('docs/training.md: every shell block runs, in order, in one fresh shell', async (t) => {
  t.ok(blocks.length >= 6, 'the doc has shell blocks');
  const run = await runDocBlocks(t, blocks, { prefix: 'sluice-training-doc-', timeoutMs: 150_000 });
  const { code, ran } = run;
  const text = run.output;
  t.equal(code, 0, `the script exits 0 (stopped in block ${ran - 1}:\n${blocks[ran - 1]}\nits output:\n${text(ran - 1)}\nstderr:\n${run.stderr}`);
  t.equal(ran, blocks.length, 'every block ran');
  for (let n = 0; n < ran; n++) if (!/# fails on purpose/.test(blocks[n]!)) t.notMatch(text(n), /"errors":\s*\[/, `block ${n} gets no GraphQL error`);
  t.match(text(1), /\{"epoch":30,"loss":/, 'the log streamed to the last epoch');
  t.match(text(1), /"status":"SUCCEEDED","version":2/, 'and the job registered version 2');
  t.match(text(2), /"trainerDigest": "builtin:weather-mlp@1"/, 'lineage names the trainer');
  t.match(text(2), /\[sluice-runner\] dataset .*: sha256 [0-9a-f]{64} checked/, 'train logs prints the log');
  t.match(text(3), /\{"runner":"gpu-box-1","status":"succeeded"\}/, 'the labelled job ran on the runner with the label');
  t.match(text(4), /"SLUICE_E_TRAINING_DATA_INVALID"/, 'the bad dataset failed its schema');
  t.match(text(4), /"column":"weather","check":"categories"/);
  t.match(text(5), /"status":"SUCCEEDED","best":"job_/, 'the sweep registered its best trial');
  t.match(text(6), /"status":"CANCELLED","cancelRequested":true/, 'the queued job was cancelled at once');
  t.match(text(6), /\{"id":"job_[0-9a-z]+","status":"QUEUED"\}/, 'retried, it was queued again');
});
