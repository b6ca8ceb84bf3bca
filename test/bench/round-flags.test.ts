// The round flags compare.ts and scaling/run.ts share (bench/round-flags.ts), and both scripts
// answering --help with every flag without starting a gateway.
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { ROUND_USAGE, roundFlags, roundOptions } from '../../bench/round-flags.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const parse = (args: string[]) => parseArgs({ args, options: roundFlags({ workload: 'text-direction-binary', connections: 64, rounds: 5 }) }).values;

t.test("each bench's defaults, then the flags given, as numbers", async (t) => {
  t.same(roundOptions(parse([])), { workload: 'text-direction-binary', connections: 64, rounds: 5, durationMs: 4000, warmupMs: 1000 });
  t.same(roundOptions(parse(['--workload', 'weather-json', '--connections', '256', '--rounds', '7', '--duration-ms', '2000', '--warmup-ms', '300'])), { workload: 'weather-json', connections: 256, rounds: 7, durationMs: 2000, warmupMs: 300 });
  t.equal(parse(['--help']).help, true);
});

t.test('an unknown workload or a count that is not a whole number is refused with a coded error naming the flag', async (t) => {
  t.throws(() => roundOptions(parse(['--workload', 'no-such-workload'])), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'workload' } });
  t.throws(() => roundOptions(parse(['--rounds', '0'])), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'rounds' } });
  t.throws(() => roundOptions(parse(['--connections', 'many'])), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'connections' } });
  t.throws(() => roundOptions(parse(['--duration-ms', '2.5'])), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'duration-ms' } });
});

t.test('bench/compare.js refuses a transport it does not drive, before starting anything', async (t) => {
  const run = promisify(execFile)(process.execPath, [join(ROOT, 'dist', 'bench', 'compare.js'), '--transport', 'carrier-pigeon'], { timeout: 60_000 });
  const err = await run.then(() => undefined, (e: { code: number; stderr: string }) => e);
  t.ok(err !== undefined && err.code !== 0, 'exits non-zero');
  t.match(err!.stderr, /SLUICE_E_CONFIG_INVALID/);
});

t.test('bench/compare.js refuses an open-loop rate that is not above 0, naming the flag, before starting anything', async (t) => {
  for (const rate of ['0', 'fast', '-5']) {
    const run = promisify(execFile)(process.execPath, [join(ROOT, 'dist', 'bench', 'compare.js'), `--rate=${rate}`], { timeout: 60_000 });
    const err = await run.then(() => undefined, (e: { code: number; stderr: string }) => e);
    t.ok(err !== undefined && err.code !== 0, `--rate=${rate} exits non-zero`);
    t.match(err!.stderr, /SLUICE_E_CONFIG_INVALID/);
    t.match(err!.stderr, /flag: 'rate'/);
  }
});

t.test('bench/compare.js refuses a config or env flag that is not a JSON object, naming the flag, before starting anything', async (t) => {
  for (const [flag, value] of [['a-config', '{staged'], ['a-config', ''], ['b-config', '[1]'], ['a-env', '"x"'], ['b-env', 'null'], ['b-env', '{"N":5}']] as const) {
    const run = promisify(execFile)(process.execPath, [join(ROOT, 'dist', 'bench', 'compare.js'), `--${flag}=${value}`], { timeout: 60_000 });
    const err = await run.then(() => undefined, (e: { code: number; stderr: string }) => e);
    t.ok(err !== undefined && err.code !== 0, `--${flag}=${value} exits non-zero`);
    t.match(err!.stderr, /SLUICE_E_CONFIG_INVALID/);
    t.match(err!.stderr, new RegExp(`flag: '${flag}'`));
  }
});

for (const script of ['compare', 'scaling/run']) {
  t.test(`bench/${script}.js --help names every round flag and exits 0`, async (t) => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'dist', 'bench', `${script}.js`), '--help'], { timeout: 60_000 });
    t.match(stdout, `node dist/bench/${script}.js `);
    t.match(stdout, ROUND_USAGE);
  });
}
