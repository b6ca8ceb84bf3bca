import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { copyModels, getJson, postJson, startTestGateway } from '../gateway-harness.js';
import { splitWeather } from '../../../examples/weather.js';
import { loadWeather, weatherFeatures, WEATHER_FEATURES, type WeatherDay } from '../../../examples/weather-dataset.js';
import type { DriftReport } from '../../../gateway/drift/monitor.js';

const INPUTS = [...WEATHER_FEATURES];
const split = splitWeather(loadWeather().days);

/**
 * A gateway over a private copy of `weather`, its drift window long enough to hold the whole test,
 * judged from `minRows` rows on.
 */
async function weatherGateway(t: Test, minRows: number) {
  const root = copyModels(t, ['weather']);
  const configPath = join(root, 'weather', 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { drift: Record<string, unknown> };
  // 92 summer days are fewer than the shipped min_rows (100); the window must not rotate mid-test.
  config.drift.min_rows = minRows;
  config.drift.window_seconds = 3600;
  // These tests read the window's exact figures; publication in steps is drift-publication.test.ts's.
  config.drift.report_min_rows = 1;
  writeFileSync(configPath, JSON.stringify(config));
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({ write(chunk, _e, cb) { logs.push(JSON.parse(chunk.toString())); cb(); } });
  const gw = await startTestGateway(t, root, { logger: pino({ level: 'info' }, stream), workerThreads: 2, drift: { mergeIntervalMs: 100 } });
  return { gw, logs };
}

/** Serve the days through real infer calls, a few rows per call as clients would send them. */
async function serve(t: Test, url: string, days: WeatherDay[]): Promise<void> {
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < days.length; i += 5) {
    const rows = days.slice(i, i + 5);
    calls.push(postJson(`${url}/v2/models/weather/versions/1/infer`, {
      inputs: [{ name: 'features', datatype: 'FP32', shape: [rows.length, 5], data: rows.flatMap(weatherFeatures) }],
    }).then((r) => { if (r.status !== 200) t.fail(`infer answered ${r.status}: ${r.body.error}`); }));
  }
  await Promise.all(calls);
}

async function driftOnce(url: string, rows: number): Promise<DriftReport> {
  let report: DriftReport | undefined;
  for (let i = 0; i < 200; i++) {
    const res = await getJson(`${url}/v2/models/weather/versions/1/drift`);
    report = res.body as unknown as DriftReport;
    if (report.current.rows >= rows) return report;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`drift window never reached ${rows} rows: ${JSON.stringify(report?.current.rows)}`);
}

t.test('held-out days from the training years do not drift: PSI < 0.1 on every input feature', async (t) => {
  // Judged only once every held-out day is in: the calls go out in date order, and a merge that
  // catches the first few dozen (one season) rightly alerts on them.
  const { gw, logs } = await weatherGateway(t, split.holdout.length);
  const before = await getJson(`${gw.url}/v2/models/weather/versions/1/drift`);
  t.equal(before.status, 200);
  t.match(before.body, { model: 'weather', version: '1', status: 'insufficient_data', backend: 'native', current: { rows: 0 } });
  await serve(t, gw.url, split.holdout);
  const report = await driftOnce(gw.url, split.holdout.length);
  t.equal(report.current.rows, 219, 'every held-out day reached the window once, and no warm-up row');
  for (const name of INPUTS) {
    const f = report.current.features[name]!;
    t.equal(f.count, 219);
    t.ok(f.psi! < 0.1, `${name}: PSI ${f.psi!.toFixed(4)} < 0.1 (KS ${f.ks!.toFixed(3)}, p ${f.ks_pvalue!.toFixed(3)})`);
    t.equal(f.level, 'ok');
  }
  // The outputs are profiled too; print them for the record (a rare class's probability is noisier).
  const outputs = Object.entries(report.current.features).filter(([n]) => !INPUTS.includes(n as never));
  t.same(outputs.map(([n]) => n), ['probabilities.drizzle', 'probabilities.fog', 'probabilities.rain', 'probabilities.snow', 'probabilities.sun', 'label']);
  t.comment(`output PSI: ${outputs.map(([n, f]) => `${n}=${f.psi!.toFixed(3)}`).join(' ')}`);
  t.ok(report.current.features.label!.chi2_pvalue! > 0.01, `predicted label distribution holds (chi2 p ${report.current.features.label!.chi2_pvalue})`);
  t.same(logs.filter((l) => (l.drift as { level?: string } | undefined)?.level === 'alert'), [], 'no drift alert');
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /sluice_drift_psi\{model="weather",version="1",feature="temp_max"\} 0\.\d+/);
  t.match(metrics, /sluice_drift_window_rows\{model="weather",version="1"\} 219/);
});

t.test('summer days of a later year raise an alert on the temperature features', async (t) => {
  const { gw, logs } = await weatherGateway(t, 50);
  const summer = split.later.filter((d) => d.year === 2015 && d.date >= '2015-06-01' && d.date < '2015-09-01');
  t.equal(summer.length, 92);
  await serve(t, gw.url, summer);
  const report = await driftOnce(gw.url, summer.length);
  t.equal(report.status, 'alert');
  for (const name of ['temp_max', 'temp_min']) {
    const f = report.current.features[name]!;
    t.ok(f.psi! >= 0.2, `${name}: PSI ${f.psi!.toFixed(3)} >= 0.2`);
    t.equal(f.level, 'alert');
    t.ok(f.ks_pvalue! < 1e-6, `${name}: KS p-value ${f.ks_pvalue}`);
    t.ok(f.wasserstein! > 5, `${name}: Wasserstein-1 ${f.wasserstein!.toFixed(2)} degrees C`);
  }
  const alerted = report.events.filter((e) => e.level === 'alert').map((e) => e.feature);
  t.ok(alerted.includes('temp_max') && alerted.includes('temp_min'), `alert events: ${alerted.join(', ')}`);
  const logged = logs.filter((l) => l.event === 'drift').map((l) => l.drift as { feature: string; level: string });
  t.ok(logged.some((e) => e.feature === 'temp_max' && e.level === 'alert'), 'the alert is logged as a drift event');
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /sluice_drift_level\{model="weather",version="1",feature="temp_max"\} 2/);
  t.match(metrics, /sluice_drift_events_total\{model="weather",version="1",feature="temp_min",level="alert"\} 1/);
});

t.test('the drift endpoint answers coded 404s for unknown models, versions and models without a profile', async (t) => {
  const root = copyModels(t, ['weather']);
  const configPath = join(root, 'weather', 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  delete config.drift;
  writeFileSync(configPath, JSON.stringify(config));
  const gw = await startTestGateway(t, root);
  const none = await getJson(`${gw.url}/v2/models/weather/versions/1/drift`);
  t.equal(none.status, 404);
  t.equal(none.body.code, 'SLUICE_E_HTTP_NOT_FOUND');
  t.equal((await getJson(`${gw.url}/v2/models/nope/versions/1/drift`)).status, 404);
  t.equal((await getJson(`${gw.url}/v2/models/weather/versions/9/drift`)).status, 404);
});
