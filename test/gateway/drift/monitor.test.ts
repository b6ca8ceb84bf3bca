import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { buildProfile } from '../../../gateway/drift/profile.js';
import { compileProfile } from '../../../gateway/drift/compile.js';
import { DriftMonitor } from '../../../gateway/drift/monitor.js';
import { DriftMetrics } from '../../../gateway/drift/metrics.js';
import { DriftWindow } from '../../../gateway/drift/window.js';
import { DriftHub } from '../../../gateway/drift/hub.js';
import { DriftObserver } from '../../../gateway/drift/observer.js';
import { sharedStateBuffer, SharedStateReader, SharedStateWriter } from '../../../gateway/drift/shared-state.js';
import { parseModelConfig, type DriftConfig } from '../../../gateway/models/config.js';
import { seededRandom, gaussian } from '../../../lib/random.js';
import { psi } from '../../../gateway/drift/statistics.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(chunk.toString())); cb(); } });
  return { logger: pino({ level: 'info' }, stream), lines };
}

function sample(n: number, seed: number, shiftA: number): Float64Array {
  const rnd = seededRandom(seed);
  const out = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    out[i * 2] = gaussian(rnd) + shiftA;
    out[i * 2 + 1] = gaussian(rnd);
  }
  return out;
}

const profile = buildProfile({ model: 'm', version: '1', tensors: [{ name: 'x', role: 'input', features: [{ name: 'a' }, { name: 'b' }] }] },
  { x: { data: sample(5000, 1, 0), dims: [5000, 2] } });
const compiled = compileProfile(profile);

/** Wait until the hub has adopted the observer of m/1 (its attach message crossed the channel). */
async function adopted(hub: DriftHub): Promise<void> {
  for (let i = 0; i < 200 && !hub.monitor('m', '1'); i++) await new Promise((r) => setTimeout(r, 5));
}

function driftConfig(extra: Record<string, unknown> = {}): DriftConfig {
  return parseModelConfig('m', { drift: { profile: 'profile.json', window_seconds: 10, ...extra } }).drift!;
}

function snapshotOf(rows: Float64Array): Float64Array {
  const w = new DriftWindow(compiled.layout);
  w.updateMatrix(rows, rows.length / 2, 2);
  return w.rotate();
}

t.test('a monitor judges PSI only past min_rows, raises alert events once, exports metrics and clears', async (t) => {
  let now = 0;
  const { logger, lines } = capture();
  const registry = new Registry();
  const metrics = new DriftMetrics(registry);
  const forwarded: string[] = [];
  const m = new DriftMonitor({ model: 'm', version: '1', compiled, config: driftConfig(), logger, metrics, now: () => now, onEvent: (e) => forwarded.push(`${e.feature}:${e.level}`) });
  const first = snapshotOf(sample(50, 2, 3));
  m.collect([first]);
  m.evaluate();
  t.equal(m.status, 'insufficient_data', '50 rows < min_rows 100');
  t.equal(m.events.length, 0);
  // Two workers' windows: the first grew by nothing, a second one joined with 450 rows.
  m.collect([first, snapshotOf(sample(450, 3, 3))]);
  now = 1000;
  m.evaluate();
  t.equal(m.status, 'alert');
  const report = m.report();
  t.equal(report.current.rows, 500);
  t.equal(report.current.features.a!.level, 'alert');
  t.equal(report.current.features.b!.level, 'ok');
  t.ok(report.current.features.a!.psi! > 0.2);
  t.ok(report.current.features.b!.psi! < 0.1);
  t.same(m.events.map((e) => [e.feature, e.level, e.previous]), [['a', 'alert', 'ok']]);
  const logged = lines.filter((l) => l.event === 'drift');
  t.equal(logged.length, 1, 'one drift event logged');
  t.match(logged[0], { level: 40, msg: 'drift alert', drift: { feature: 'a', model: 'm', version: '1', level: 'alert', previous: 'ok' } });
  m.evaluate();
  t.equal(m.events.length, 1, 'a level that stays the same raises nothing new');
  const text = await registry.metrics();
  t.match(text, /sluice_drift_psi\{model="m",version="1",feature="a"\} \d/);
  t.match(text, /sluice_drift_ks_statistic\{model="m",version="1",feature="b"\}/);
  t.match(text, /sluice_drift_level\{model="m",version="1",feature="a"\} 2/);
  t.match(text, /sluice_drift_events_total\{model="m",version="1",feature="a",level="alert"\} 1/);
  t.match(text, /sluice_drift_window_rows\{model="m",version="1"\} 500/);
  t.notMatch(text, /sluice_drift_chi2\{/, 'statistics that do not apply are absent');

  // The window rotates after window_seconds; the finished window stays judged until the new one fills.
  now = 11_000;
  t.equal(m.epoch, 0);
  m.evaluate();
  t.equal(m.epoch, 1, 'a new window is a new epoch: the hub tells the workers to start over');
  t.equal(m.report().previous?.rows, 500);
  t.equal(m.report().current.rows, 0);
  t.equal(m.status, 'alert');
  m.collect([snapshotOf(sample(300, 4, 0))]);
  now = 12_000;
  m.evaluate();
  t.equal(m.status, 'ok', 'a fresh window without drift clears the alert');
  t.same(m.events.map((e) => e.level), ['alert', 'ok']);
  t.same(forwarded, ['a:alert', 'a:ok'], 'events are handed to onEvent too');
  m.close();
  t.notMatch(await registry.metrics(), /sluice_drift_psi\{model="m"/, 'close() removes the series');
});

t.test('a window also ends once it holds window_rows rows', async (t) => {
  const { logger } = capture();
  const m = new DriftMonitor({ model: 'm', version: '1', compiled, config: driftConfig({ window_rows: 400 }), logger, now: () => 0 });
  m.collect([snapshotOf(sample(300, 7, 0))]);
  m.evaluate();
  t.equal(m.epoch, 0, '300 rows: the window goes on');
  m.collect([snapshotOf(sample(450, 7, 0))]);
  m.evaluate();
  t.equal(m.epoch, 1, '450 rows: a new window');
  t.equal(m.report().previous?.rows, 450);
  m.close();
});

t.test('per-feature thresholds override the defaults', async (t) => {
  const { logger } = capture();
  const m = new DriftMonitor({ model: 'm', version: '1', compiled, config: driftConfig({ thresholds: { a: { psi_warn: 50, psi_alert: 100 } } }), logger });
  m.collect([snapshotOf(sample(500, 5, 3))]);
  m.evaluate();
  t.equal(m.report().current.features.a!.level, 'ok', 'PSI of a 3-sigma shift is far above 0.2 but below the override');
  t.same(m.report().thresholds.features, { a: { psi_warn: 50, psi_alert: 100 } });
  const m2 = new DriftMonitor({ model: 'm', version: '1', compiled, config: driftConfig({ thresholds: { b: { psi_warn: 0 } } }), logger });
  m2.collect([snapshotOf(sample(500, 5, 0))]);
  m2.evaluate();
  t.equal(m2.report().current.features.b!.level, 'warn', 'a zero warn threshold warns on any data');
  m.close();
  m2.close();
});

t.test('observers reach the hub through shared state: attach, lazy monitor, epochs, detach', async (t) => {
  const repo = t.testdir();
  const versionDir = join(repo, 'm', '1');
  mkdirSync(versionDir, { recursive: true });
  writeFileSync(join(versionDir, 'profile.json'), JSON.stringify(profile));
  const { logger, lines } = capture();
  const registry = new Registry();
  const config = driftConfig({ min_rows: 10 });
  let loaded = true;
  const hub = new DriftHub({ logger, registry, mergeIntervalMs: 60_000, owns: (_m, _v, dir) => (loaded && dir === versionDir ? config : undefined) });
  t.teardown(() => hub.close());
  // Same thread, separate BroadcastChannel instances: the path a worker's observer takes.
  const observer = new DriftObserver({ model: 'm', version: '1', versionDir }, config, compiled);
  const outsider = new DriftObserver({ model: 'm', version: '1', versionDir: '/another/repository/m/1' }, config, compiled);
  t.teardown(() => { observer.close(); outsider.close(); });
  const rows = Float32Array.from(sample(200, 6, 3));
  const batch = { rows: 200, inputs: [{ name: 'x', dims: [200, 2], data: rows }], outputs: [] };
  // Warm-up runs on synthetic inputs are flagged and never counted.
  observer.observe({ rows: 1, warmup: true, inputs: [{ name: 'x', dims: [1, 2], data: Float32Array.of(50, 50) }], outputs: [] });
  t.equal(hub.report('m', '1'), undefined, 'no monitor before the attach message arrives');
  await adopted(hub);
  observer.observe(batch);
  outsider.observe(batch);
  observer.observe({ rows: 1, inputs: [{ name: 'x', dims: [1, 3], data: new Float32Array(3) }], outputs: [] });
  for (let i = 0; i < 100 && (hub.report('m', '1')?.current.rows ?? 0) < 200; i++) {
    await new Promise((r) => setTimeout(r, 20));
    hub.tick();
  }
  t.same(lines.filter((l) => (l.level as number) >= 40).map((l) => [l.msg, l.batches]),
    [['drift observer skipped batches whose tensors do not match the profile', 1], ['drift alert', undefined]], 'the [1, 3] batch is counted and skipped; the shift alerts');
  const report = hub.report('m', '1')!;
  t.equal(report.current.rows, 200, 'rows from the observer in this repository only');
  t.equal(report.status, 'alert');
  t.equal(report.current.features.a!.level, 'alert');
  t.match(await registry.metrics(), /sluice_drift_psi\{model="m",version="1",feature="a"\}/);
  // A released session's observer detaches; its last state stays in the window it belongs to.
  observer.close();
  await new Promise((r) => setTimeout(r, 50));
  hub.tick();
  t.equal(hub.report('m', '1')!.current.rows, 200, 'the detached observer still counts in its window');
  loaded = false;
  hub.tick();
  t.equal(hub.report('m', '1'), undefined, 'an unloaded version loses its monitor');
  t.notMatch(await registry.metrics(), /sluice_drift_psi\{model="m"/, 'and its metric series');
});

t.test('a new epoch requested by the main thread starts the worker window over at its next batch', async (t) => {
  const buffer = sharedStateBuffer(new DriftWindow(compiled.layout).length);
  const writer = new SharedStateWriter(buffer);
  const reader = new SharedStateReader(buffer);
  const window = new DriftWindow(compiled.layout, 'native', writer.state);
  const feed = (n: number) => {
    writer.begin(window);
    window.updateMatrix(sample(n, 9, 0), n, 2);
    writer.end(0);
  };
  feed(20);
  t.equal(reader.read(), 0);
  t.equal(reader.copy[3], 20);
  reader.requestEpoch(1);
  feed(30);
  t.equal(reader.read(), 1);
  t.equal(reader.copy[3], 30);
  reader.requestEpoch(2);
  t.equal(reader.read(), 1, 'until the worker sees it, the published state is the old epoch');
  feed(5);
  t.equal(reader.read(), 2);
  t.equal(reader.copy[3], 5, 'the old rows are gone from the new epoch');
});

t.test('sampling feeds about sample_fraction of the batches', async (t) => {
  let i = 0;
  const draws = [0.1, 0.9, 0.2, 0.8];
  const versionDir = join(t.testdir(), 'm', '1');
  mkdirSync(versionDir, { recursive: true });
  writeFileSync(join(versionDir, 'profile.json'), JSON.stringify(profile));
  const config = driftConfig({ sample_fraction: 0.5 });
  const hub = new DriftHub({ logger: capture().logger, mergeIntervalMs: 60_000, owns: (_m, _v, dir) => (dir === versionDir ? config : undefined) });
  const observer = new DriftObserver({ model: 'm', version: '1', versionDir }, config, compiled, () => draws[i++ % 4]!);
  t.teardown(() => { observer.close(); hub.close(); });
  await adopted(hub);
  for (let k = 0; k < 8; k++) observer.observe({ rows: 1, inputs: [{ name: 'x', dims: [1, 2], data: Float32Array.of(0, 0) }], outputs: [] });
  t.equal(observer.window.snapshot()[3], 4, 'batches drawn below 0.5 are fed, the others skipped');
});

t.test('a snapshot for the traffic window: the current window once it has min_rows, else the previous one', async (t) => {
  let now = 0;
  const { logger } = capture();
  const m = new DriftMonitor({ model: 'm', version: '1', compiled, config: driftConfig({ min_rows: 100 }), logger, now: () => now });
  t.same(m.snapshot().map((s) => [s.feature, s.rows, s.psi, s.level]), [['a', 0, null, null], ['b', 0, null, null]], 'empty: no PSI, no level');
  m.collect([snapshotOf(sample(300, 3, 3))]);
  m.evaluate();
  const current = m.snapshot();
  t.match(current, [{ feature: 'a', rows: 300, level: 'alert' }, { feature: 'b', rows: 300, level: 'ok' }]);
  t.ok(current[0]!.psi! > 0.2, 'feature a shifted by 3 sd');
  now = 10_001;
  m.evaluate(); // the window rotates: the new current one is empty
  m.collect([snapshotOf(sample(20, 4, 0))]);
  m.evaluate();
  t.same(m.snapshot(), current, 'a current window under min_rows: the previous window stands');
});

t.test('bins for the traffic window: PSI bin counts of the window the snapshot scores, none below report_min_rows', async (t) => {
  let now = 0;
  const { logger } = capture();
  const m = new DriftMonitor({ model: 'm', version: '1', compiled, config: driftConfig({ min_rows: 100, report_min_rows: 20 }), logger, now: () => now });
  m.collect([snapshotOf(sample(15, 5, 0))]);
  m.evaluate();
  t.same(m.bins(), [], '15 rows < report_min_rows: nothing to publish');
  m.collect([snapshotOf(sample(300, 3, 3))]);
  m.evaluate();
  const bins = m.bins();
  const snapshot = m.snapshot();
  t.same(bins.map((b) => b.feature), ['a', 'b']);
  profile.tensors[0]!.features.forEach((f, i) => {
    const counts = bins[i]!.counts;
    t.equal(counts.length, f.proportions.length, `${f.name}: one count per bin of the profile's proportions`);
    t.equal(counts.reduce((x, y) => x + y, 0), 300, `${f.name}: every row binned once`);
    t.ok(counts.every((c) => Number.isInteger(c)), `${f.name}: counts are whole`);
    t.ok(Math.abs(psi(counts.map((c) => c / 300), f.proportions) - snapshot[i]!.psi!) < 1e-9, `${f.name}: PSI from the counts is the snapshot's PSI`);
  });
  t.ok(bins[0]!.counts.at(-1)! > 200, 'a shifted by 3 sd: most rows in the top decile bin');
  m.collect([snapshotOf(sample(300, 3, 3)), snapshotOf(sample(5, 6, 0))]);
  m.evaluate();
  t.equal(m.snapshot()[0]!.rows, 305, 'the snapshot has the live window');
  t.same(m.bins(), bins, 'five rows more: the bins stay at the published 300 (steps of report_min_rows)');
  m.collect([snapshotOf(sample(300, 3, 3)), snapshotOf(sample(25, 6, 0))]);
  m.evaluate();
  t.equal(m.bins()[0]!.counts.reduce((x, y) => x + y, 0), 325, 'twenty-five rows more: published again');
  now = 10_001;
  m.evaluate();
  m.collect([snapshotOf(sample(30, 4, 0))]);
  m.evaluate();
  t.equal(m.bins()[0]!.counts.reduce((x, y) => x + y, 0), 325, 'a current window under min_rows: the previous window\'s bins, as the snapshot');
});
