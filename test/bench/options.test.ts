import t from 'tap';
import { parseBenchArgs, placementFor } from '../../bench/options.js';

t.test('the default run covers every workload, every target, 1/16/64/256 connections', async (t) => {
  const o = parseBenchArgs([], 2);
  if (o === 'help') throw new Error('unexpected help');
  t.same(o.workloads, ['weather-json', 'text-direction-binary', 'text-direction-image']);
  t.ok(o.ceilingBatches['text-direction-image'].length > 0);
  t.same(o.targets, ['sluice', 'sluice-ws', 'naive', 'naive-1t', 'micro-batch', 'uws-fixed']);
  t.equal(o.ratioRounds, 5);
  t.same(o.connections, [1, 16, 64, 256]);
  t.same(o.openFractions, [0.5, 0.8, 0.95]);
  t.equal(o.overloadMs, 20_000);
  t.equal(o.quick, false);
});

t.test('--quick shortens every window', async (t) => {
  const full = parseBenchArgs([], 2);
  const quick = parseBenchArgs(['--quick'], 2);
  if (full === 'help' || quick === 'help') throw new Error('unexpected help');
  t.ok(quick.durationMs < full.durationMs);
  t.ok(quick.overloadMs < full.overloadMs);
  t.ok(quick.ceilingMs < full.ceilingMs);
  t.same(quick.connections, [1, 64]);
  const image = parseBenchArgs(['--quick', '--workloads', 'text-direction-image'], 2);
  if (image === 'help') throw new Error('unexpected help');
  t.same(image.workloads, ['text-direction-image']);
  t.same(image.connections, [1, 64]);
  t.same(image.closedOnly, ['text-direction-image'], 'the image workload is measured closed loop only with --quick');
  t.same(full.closedOnly, []);
  t.same(image.workloadTargets, { 'text-direction-image': ['sluice', 'naive', 'naive-1t'] });
  t.same(full.workloadTargets, {});
  const named = parseBenchArgs(['--quick', '--targets', 'micro-batch'], 2);
  if (named === 'help') throw new Error('unexpected help');
  t.same(named.workloadTargets, {}, '--targets overrides the quick selection');
});

t.test('flags take values inline or as the next argument', async (t) => {
  const o = parseBenchArgs(['--workloads=weather-json', '--targets', 'sluice,naive', '--connections', '8', '--duration-ms', '500', '--pin', 'shared'], 8);
  if (o === 'help') throw new Error('unexpected help');
  t.same(o.workloads, ['weather-json']);
  t.same(o.targets, ['sluice', 'naive']);
  t.same(o.connections, [8]);
  t.equal(o.durationMs, 500);
  t.equal(o.placement.mode, 'shared');
  t.equal(parseBenchArgs(['--help']), 'help');
});

t.test('unknown flags, workloads, targets and bad numbers are usage errors', async (t) => {
  const cases: [string[], string][] = [
    [['--fast'], 'fast'],
    [['--workloads', 'mnist'], 'workloads'],
    [['--targets', 'triton'], 'targets'],
    [['--connections', '0'], 'connections'],
    [['--duration-ms', 'soon'], 'duration-ms'],
    [['--duration-ms', '0'], 'duration-ms'],
    [['--pin', 'some'], 'pin'],
    [['--rounds', '-1'], 'rounds'],
    [['--out'], 'out'],
    [['--server-cpu-limit', '0'], 'server-cpu-limit'],
    [['--server-cpu-limit', 'half'], 'server-cpu-limit'],
  ];
  for (const [argv, flag] of cases) {
    t.throws(() => parseBenchArgs(argv, 2, {}), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag } }, argv.join(' '));
  }
});

t.test('flags also come from SLUICE_BENCH_* variables, and argv wins', async (t) => {
  const o = parseBenchArgs(['--duration-ms', '700'], 2, { SLUICE_BENCH_QUICK: 'true', SLUICE_BENCH_DURATION_MS: '900', SLUICE_DURATION_MS: '5' });
  if (o === 'help') throw new Error('unexpected help');
  t.equal(o.quick, true);
  t.equal(o.durationMs, 700);
});

t.test('auto pinning splits the load generator onto its own cores only from 4 cores up', async (t) => {
  t.equal(placementFor('auto', 2, 1).mode, 'shared');
  t.same(placementFor('auto', 8, 1), { mode: 'split', serverCpus: '0-6', clientCpus: '7-7', generators: 1 });
  t.same(placementFor('split', 2, 1), { mode: 'split', serverCpus: '0-0', clientCpus: '1-1', generators: 1 });
  t.same(placementFor('auto', 16, 2), { mode: 'split', serverCpus: '0-12', clientCpus: '13-15', generators: 2 });
  t.throws(() => placementFor('split', 1, 1), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'pin' } });
});
