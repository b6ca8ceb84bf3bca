// Smoke test of `npm run bench`: the runner end to end on its cheapest scenario (the ORT ceiling and
// the uWS fixed-response server on weather calls). Asserts what it writes, nothing about speed.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths.js';
import type { BenchRun } from '../../bench/report/types.js';

const RUN = join(ROOT, 'dist', 'bench', 'run.js');

t.test('a quick run writes the JSON, the Markdown table and the SVG, with the machine recorded', async (t) => {
  const out = t.testdir();
  const r = spawnSync(process.execPath, [RUN, '--quick', '--workloads', 'weather-json', '--targets', 'uws-fixed', '--duration-ms', '300', '--warmup-ms', '100', '--out', out], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  t.equal(r.status, 0, r.stderr);
  const files = readdirSync(out).sort();
  t.equal(files.length, 3);
  t.match(files, [/-quick\.json$/, /-quick\.md$/, /-quick\.svg$/]);
  const run = JSON.parse(readFileSync(join(out, files[0]!), 'utf8')) as BenchRun;
  t.equal(run.quick, true);
  t.ok(run.machine.cores >= 1);
  t.match(run.machine.onnxruntime, /^onnxruntime-node@/);
  t.match(run.machine.node, /^v\d+/);
  t.equal(run.ceilings[0]!.workload, 'weather-json');
  t.ok(run.ceilings[0]!.best.inferencesPerSec > 0);
  const fixed = run.points.find((p) => p.target === 'uws-fixed');
  t.ok(fixed && fixed.result.phases[0]!.ok > 0, 'the fixed-response server answered');
  t.match(r.stdout, /\| uws-fixed \| closed 64 \|/, 'the table is printed');
});

t.test('a bad flag is a usage error with exit code 2', async (t) => {
  const r = spawnSync(process.execPath, [RUN, '--workloads', 'mnist'], { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stderr, /unknown workload mnist/);
});
