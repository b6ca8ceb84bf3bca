// bench/ceilings/transport-bound.ts on real ORT sessions and a real uws-fixed server with the load
// generator: one short round, and its flags.
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SCRIPT = join(ROOT, 'dist', 'bench', 'ceilings', 'transport-bound.js');
const run = (args: string[]) => promisify(execFile)(process.execPath, [SCRIPT, ...args], { timeout: 120_000 });

t.test('measures ORT alone, then again while the calls travel to uws-fixed, and every call is answered', async (t) => {
  const { stdout } = await run(['--workload', 'text-direction-binary', '--batch', '2', '--ratio', '0.2', '--rounds', '1', '--duration-ms', '500']);
  const m = /ORT alone (\d+)\/s; with (\d+) calls\/s in transport (\d+)\/s \(([\d.]+)\); calls (\d+)\/(\d+) ok; uws-fixed (\d+) µs\/call/.exec(stdout);
  t.ok(m, stdout);
  const [solo, rate, under, , ok, sent, serverUs] = m!.slice(1).map(Number) as number[];
  t.ok(solo! > 0 && under! > 0, `ORT alone ${solo}/s, beside the transport ${under}/s`);
  t.equal(rate, Math.round(0.2 * solo!), 'the calls go at --ratio × that round\'s ORT alone');
  t.ok(sent! > 0 && ok === sent, `uws-fixed answered ${ok} of ${sent}`);
  t.ok(serverUs! > 0, 'the fixed server\'s CPU per call is read');
  t.match(stdout, /text-direction-binary, batch 2, 1 rounds, medians:/);
});

t.test('refuses bad flags with SLUICE_E_CONFIG_INVALID naming the flag, before starting anything', async (t) => {
  for (const [flag, args] of [['workload', ['--workload', 'mnist']], ['batch', ['--batch', '0']], ['ratio', ['--ratio', 'x']], ['rounds', ['--rounds', '1.5']], ['duration-ms', ['--duration-ms=-1']]] as const) {
    const err = await run([...args]).then(() => undefined, (e: { code: number; stderr: string }) => e);
    t.ok(err !== undefined && err.code !== 0, `${args.join(' ')}: exits non-zero`);
    t.match(err!.stderr, /SLUICE_E_CONFIG_INVALID/);
    t.match(err!.stderr, new RegExp(`flag: '${flag}'`));
  }
});
