// docs/training.md promises that its `sh` blocks work pasted in order into one fresh bash shell in
// the checkout: this runs exactly that (as test/docs/control-plane-doc.test.ts does for its doc),
// with PORT set to a free port. `sluice serve` with its local runner, a second `sluice runner`,
// real training jobs.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths.js';
import { freePort } from '../helpers/net.js';

const DOC = join(ROOT, 'docs', 'training.md');
const MARK = '@@sluice-doc-block';
const blocks = [...readFileSync(DOC, 'utf8').matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);

t.test('docs/training.md: every shell block runs, in order, in one fresh shell', async (t) => {
  t.ok(blocks.length >= 6, 'the doc has shell blocks');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-training-doc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(join(ROOT, 'dist'), join(dir, 'dist'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'doc.sh'), ['set -euo pipefail', ...blocks.flatMap((b, i) => [`echo "${MARK} ${i}"`, b])].join('\n'));
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(await freePort()) };
  for (const k of Object.keys(env)) if (k.startsWith('SLUICE_')) delete env[k];
  // Its own process group, so the servers the doc starts in the background die with it.
  const bash = spawn('bash', ['doc.sh'], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = () => {
    try {
      process.kill(-bash.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  };
  t.teardown(kill);
  let out = '';
  let err = '';
  bash.stdout.on('data', (c: Buffer) => (out += c.toString()));
  bash.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(kill, 150_000);
  const code = await new Promise<number | null>((resolve) => bash.once('exit', resolve));
  clearTimeout(timer);
  const outputs = out.split(new RegExp(`${MARK} (\\d+)\\n`));
  const ran = (outputs.length - 1) / 2;
  const text = (n: number) => outputs[2 * n + 2] ?? '';
  t.equal(code, 0, `the script exits 0 (stopped in block ${ran - 1}:\n${blocks[ran - 1]}\nits output:\n${outputs.at(-1)}\nstderr:\n${err}`);
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
