// Run a doc's ```sh blocks as one bash script, as a reader pasting them would: in a fresh folder
// holding links to this checkout's dist/ and node_modules/, with a free PORT and no SLUICE_*
// variables, in its own process group so the servers the doc starts in the background die with it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { freePort } from './net.js';
import { ROOT } from './paths.js';

const MARK = '@@sluice-doc-block';

/** The doc's ```sh blocks, in order. */
export function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

export interface DocRun {
  /** bash's exit code (null when killed at the time limit). */
  code: number | null;
  /** The folder the script ran in (removed at teardown). */
  dir: string;
  stdout: string;
  stderr: string;
  /** How many blocks started. */
  ran: number;
  /** What block n printed on stdout. */
  output(n: number): string;
}

export async function runDocBlocks(t: Test, blocks: string[], options: { prefix: string; timeoutMs: number }): Promise<DocRun> {
  const dir = mkdtempSync(join(tmpdir(), options.prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(join(ROOT, 'dist'), join(dir, 'dist'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'doc.sh'), ['set -euo pipefail', ...blocks.flatMap((b, i) => [`echo "${MARK} ${i}"`, b])].join('\n'));
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(await freePort()) };
  for (const k of Object.keys(env)) if (k.startsWith('SLUICE_')) delete env[k];
  const bash = spawn('bash', ['doc.sh'], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = () => {
    try {
      process.kill(-bash.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  };
  t.teardown(kill);
  let stdout = '';
  let stderr = '';
  bash.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  bash.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(kill, options.timeoutMs);
  const code = await new Promise<number | null>((resolve) => bash.once('exit', resolve));
  clearTimeout(timer);
  const parts = stdout.split(new RegExp(`${MARK} (\\d+)\\n`));
  const outputs = new Map<number, string>();
  for (let i = 1; i < parts.length; i += 2) outputs.set(Number(parts[i]), parts[i + 1] ?? '');
  return { code, dir, stdout, stderr, ran: outputs.size, output: (n) => outputs.get(n) ?? '' };
}
