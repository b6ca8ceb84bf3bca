// The micro-benchmarks' shared flags (bench/micro/cpu-timer.ts), and every micro bench that uses
// them answering --help with its flags and exit code 0, before it measures anything.
import t from 'tap';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { microOptions } from '../../../bench/micro/cpu-timer.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

t.test('--ms and --rounds come from argv, then MICRO_BENCH_*, then the defaults', async (t) => {
  t.same(microOptions([], {}), { ms: 300, rounds: 5 });
  t.same(microOptions(['--ms', '50', '--rounds', '3'], { MICRO_BENCH_ROUNDS: '9' }), { ms: 50, rounds: 3 });
  t.same(microOptions([], { MICRO_BENCH_MS: '20' }), { ms: 20, rounds: 5 });
});

t.test('a bad value or an unknown flag is refused with SLUICE_E_CONFIG_INVALID naming the flag', async (t) => {
  t.throws(() => microOptions(['--ms', 'long'], {}), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'ms' } });
  t.throws(() => microOptions(['--seconds', '3'], {}), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'seconds' } });
});

/** The micro benches (sources under bench/micro/) that take their flags from microOptions. */
const benches = (readdirSync(join(ROOT, 'bench', 'micro'), { recursive: true, encoding: 'utf8' }))
  .filter((f) => f.endsWith('.ts') && f !== 'cpu-timer.ts' && readFileSync(join(ROOT, 'bench', 'micro', f), 'utf8').includes('microOptions('))
  .sort();

t.ok(benches.length > 0, 'micro benches use microOptions');
for (const bench of benches) {
  const script = join('dist', 'bench', 'micro', bench.replace(/\.ts$/, '.js'));
  t.test(`${script} --help prints its flags and exits 0`, async (t) => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, script), '--help'], { timeout: 60_000 });
    t.match(stdout, `Usage: node ${script} [flags]`);
    t.match(stdout, '--ms <n>');
    t.match(stdout, '--rounds <n>');
  });
}
