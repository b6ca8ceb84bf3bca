// The cluster benches' shared command line and report line (bench/cluster/bench-args.ts), and the
// scripts that use it answering --help without starting a cluster.
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { clusterBenchArgs, clusterBenchReport } from '../../../bench/cluster/bench-args.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

const BENCH = {
  script: 'example',
  summary: 'an example bench',
  envPrefix: 'EXAMPLE_BENCH_',
  flags: {
    rate: { type: 'int', default: 50, description: 'calls per second' },
    moves: { type: 'int', default: 6, description: 'alias moves' },
  },
} as const;

t.test('flags come from argv, then the bench-prefixed environment, then the defaults', async (t) => {
  t.same(clusterBenchArgs(BENCH, [], {}), { rate: 50, moves: 6 });
  t.same(clusterBenchArgs(BENCH, ['--rate', '7'], { EXAMPLE_BENCH_MOVES: '3', EXAMPLE_BENCH_RATE: '9', RATE: '1' }), { rate: 7, moves: 3 });
});

t.test('a bad value is refused with SLUICE_E_CONFIG_INVALID naming the flag', async (t) => {
  t.throws(() => clusterBenchArgs(BENCH, ['--moves', 'many'], {}), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'moves' } });
  t.throws(() => clusterBenchArgs(BENCH, ['--gateways', '3'], {}), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'gateways' } });
});

t.test('--help prints the usage of the script and gives no values', async (t) => {
  const out = new PassThrough();
  t.equal(clusterBenchArgs(BENCH, ['--help'], {}, out), undefined);
  const text = String(out.read());
  t.match(text, 'Usage: node dist/bench/cluster/example.js [flags]');
  t.match(text, 'EXAMPLE_BENCH_RATE');
});

t.test('the report line holds the figures, then the machine they were taken on', async (t) => {
  const line = JSON.parse(clusterBenchReport({ rate: 5, ms: { p50: 1 } })) as Record<string, unknown>;
  t.same(Object.keys(line), ['rate', 'ms', 'machine']);
  t.match(line.machine, { cores: Number, loadavg1: Number });
});

for (const script of ['run', 'notify-latency', 'fleet-queries', 'drift-bins-report']) {
  t.test(`bench/cluster/${script}.js --help answers without starting anything`, async (t) => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'dist', 'bench', 'cluster', `${script}.js`), '--help'], { timeout: 60_000 });
    t.match(stdout, `Usage: node dist/bench/cluster/${script}.js [flags]`);
  });
}
