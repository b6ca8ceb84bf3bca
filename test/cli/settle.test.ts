import t from 'tap';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const settle = pathToFileURL(join(fileURLToPath(new URL('.', import.meta.url)), '../../cli/settle.js')).href;

function run(body: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { exitLoudlyIfUnsettled } from ${JSON.stringify(settle)};\n${body}`], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

t.test('a command whose promise never settles and holds nothing alive exits 1 with a code', async (t) => {
  const r = run('exitLoudlyIfUnsettled(new Promise(() => {}));');
  t.equal(r.status, 1);
  t.match(r.stderr, /\(SLUICE_E_CLI_UNSETTLED\)/);
});

t.test('a command that settles keeps its own exit code and says nothing more', async (t) => {
  const r = run('exitLoudlyIfUnsettled(new Promise((resolve) => setTimeout(() => { process.exitCode = 0; resolve(0); }, 20)));');
  t.equal(r.status, 0);
  t.equal(r.stderr, '');
  const failed = run('exitLoudlyIfUnsettled(Promise.resolve().then(() => { process.exitCode = 3; }));');
  t.equal(failed.status, 3);
  t.equal(failed.stderr, '');
});
