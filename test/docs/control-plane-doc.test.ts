// docs/control-plane.md promises that its `sh` blocks work pasted in order, as a whole, into one
// fresh bash shell in the checkout. This runs exactly that: every block, in order, in one bash
// (with -e, so the first failing command fails the test), in a temporary folder that looks like a
// checkout (dist/ and node_modules/ linked), with PORT set to a free port. Real processes, real
// HTTP on 127.0.0.1. Whatever blocks the doc has are run; a block whose output holds a GraphQL
// `"errors"` array fails the test unless the block says `# fails on purpose`.
import t from 'tap';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths.js';
import { freePort } from '../helpers/net.js';

const DOC = join(ROOT, 'docs', 'control-plane.md');
const MARK = '@@sluice-doc-block';

/** The doc's ```sh blocks, in order. */
export function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

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
  const dir = mkdtempSync(join(tmpdir(), 'sluice-doc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(join(ROOT, 'dist'), join(dir, 'dist'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const script = ['set -euo pipefail', ...blocks.flatMap((b, i) => [`echo "${MARK} ${i}"`, b])].join('\n');
  writeFileSync(join(dir, 'doc.sh'), script);

  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port) };
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
  const last = ran - 1;
  t.equal(code, 0, `the script exits 0 (stopped in block ${last}:\n${blocks[last]}\nits output:\n${outputs.at(-1)}\nstderr:\n${err}${readLog(dir)})`);
  t.equal(ran, blocks.length, 'every block ran');
  for (let i = 1; i < outputs.length; i += 2) {
    const n = Number(outputs[i]);
    const text = outputs[i + 1]!;
    if (/# fails on purpose/.test(blocks[n]!)) continue;
    t.notMatch(text, /"errors":\s*\[/, `block ${n} gets no GraphQL error:\n${blocks[n]}`);
  }
});

function readLog(dir: string): string {
  try {
    return `\ncontrol-plane.log:\n${readFileSync(join(dir, 'control-plane.log'), 'utf8')}`;
  } catch {
    return '';
  }
}
