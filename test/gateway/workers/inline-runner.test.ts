// Batches on the main thread (gateway/batching/inline.ts, gateway/workers/inline-runner.ts), on a
// real gateway with real ONNX Runtime sessions.
import t, { type Test } from 'tap';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyModels, getJson, postJson, startTestGateway } from '../gateway-harness.js';
import { loadWeather, weatherFeatures } from '../../../examples/weather-dataset.js';
import type { DriftReport } from '../../../gateway/drift/monitor.js';

const days = loadWeather().days;

/** `weather` as shipped, and the same model as `weather_off` with inline_max_us 0 (every call to a worker). */
async function gateway(t: Test) {
  const root = copyModels(t, ['weather']);
  cpSync(join(root, 'weather'), join(root, 'weather_off'), { recursive: true });
  const edit = (model: string, change: (c: Record<string, any>) => void) => {
    const path = join(root, model, 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;
    change(config);
    writeFileSync(path, JSON.stringify(config));
  };
  edit('weather', (c) => {
    c.drift.window_seconds = 3600;
    c.drift.report_min_rows = 1;
  });
  edit('weather_off', (c) => {
    c.name = 'weather_off';
    c.dynamic_batching = { ...c.dynamic_batching, inline_max_us: 0 };
  });
  return startTestGateway(t, root, { workerThreads: 2, drift: { mergeIntervalMs: 100 } });
}

async function infer(t: Test, url: string, model: string, day: number) {
  const res = await postJson(`${url}/v2/models/${model}/versions/1/infer`, {
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: weatherFeatures(days[day]!) }],
  });
  t.equal(res.status, 200, `${model} answered day ${day}`);
  return res.body.outputs as { name: string; data: number[] }[];
}

async function inlineRuns(url: string, model: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^sluice_inline_runs_total\\{model="${model}",version="1"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

t.test('a lone call runs on the main thread once a worker run measured it, and answers exactly as a worker does', async (t) => {
  const gw = await gateway(t);
  for (let day = 0; day < 48; day++) {
    const inline = await infer(t, gw.url, 'weather', day);
    const worker = await infer(t, gw.url, 'weather_off', day);
    t.same(inline, worker, `day ${day}: the same outputs, bit for bit`);
  }
  const runs = await inlineRuns(gw.url, 'weather');
  // The first call goes to a worker (nothing measured yet) and the main thread's session opens
  // after it, in the background; then one eligible call in 16 explores.
  t.ok(runs >= 36 && runs < 48, `${runs} of 48 sequential calls ran inline`);
  t.equal(await inlineRuns(gw.url, 'weather_off'), 0, 'inline_max_us 0: never');
  const gate = gw.repository.model('weather')!.versions.get('1')!.inline!;
  t.ok(gate.costs.computeUs > 0 && gate.costs.hopUs > 0, `c ${gate.costs.computeUs.toFixed(0)} µs, h ${gate.costs.hopUs.toFixed(0)} µs measured`);
  t.equal(gw.repository.model('weather_off')!.versions.get('1')!.inline, undefined, 'no gate for it');
  t.equal(gw.repository.model('weather_off')!.versions.get('1')!.inlineReady, false, 'nor a main-thread session');
});

t.test('a version whose measured compute passes inline_max_us never opens a main-thread session', async (t) => {
  const root = copyModels(t, ['weather']);
  const path = join(root, 'weather', 'config.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;
  config.dynamic_batching = { ...config.dynamic_batching, inline_max_us: 1 };
  writeFileSync(path, JSON.stringify(config));
  const gw = await startTestGateway(t, root, { workerThreads: 2 });
  for (let day = 0; day < 16; day++) await infer(t, gw.url, 'weather', day);
  const v = gw.repository.model('weather')!.versions.get('1')!;
  t.ok(v.inline!.costs.computeUs > 1, `measured ${v.inline!.costs.computeUs.toFixed(0)} µs, past the 1 µs bound`);
  t.equal(v.inlineReady, false, 'no session opened on the main thread');
  t.equal(await inlineRuns(gw.url, 'weather'), 0);
});

t.test('the drift window counts the rows of inline calls', async (t) => {
  const gw = await gateway(t);
  for (let day = 0; day < 40; day++) await infer(t, gw.url, 'weather', day);
  t.ok((await inlineRuns(gw.url, 'weather')) > 30);
  let report: DriftReport | undefined;
  for (let i = 0; i < 100; i++) {
    report = (await getJson(`${gw.url}/v2/models/weather/versions/1/drift`)).body as unknown as DriftReport;
    if (report.current.rows >= 40) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(report!.current.rows, 40, 'every row, inline or not, is in the window');
});

t.test('calls in flight together answer as they do alone, whichever thread runs their batch', async (t) => {
  const gw = await gateway(t);
  for (let day = 0; day < 4; day++) await infer(t, gw.url, 'weather', day);
  const before = await inlineRuns(gw.url, 'weather');
  for (let round = 0; round < 5; round++) {
    const daysOf = Array.from({ length: 32 }, (_, i) => 10 + round * 32 + i);
    const together = await Promise.all(daysOf.map((day) => infer(t, gw.url, 'weather', day)));
    const onWorkers = await Promise.all(daysOf.map((day) => infer(t, gw.url, 'weather_off', day)));
    // A row's floats depend on the batch it ran in (ORT's kernels block by batch size), on a worker
    // too, and the two models' calls batch differently: the same labels, probabilities to 1e-5 (9.5e-7 seen).
    const worst = Math.max(...together.flatMap((outs, i) => outs.flatMap((o, j) => o.data.map((x, k) => Math.abs(x - onWorkers[i]![j]!.data[k]!)))));
    t.same(together.map((outs) => outs.map((o) => o.name)), onWorkers.map((outs) => outs.map((o) => o.name)), `round ${round}: the same outputs`);
    t.same(together.map((outs) => outs.find((o) => o.name === 'label')!.data), onWorkers.map((outs) => outs.find((o) => o.name === 'label')!.data), `round ${round}: 32 concurrent calls, the same labels as on the workers`);
    t.ok(worst < 1e-5, `round ${round}: probabilities within ${worst.toExponential(1)} of the workers'`);
  }
  // Whether a batch of them ran inline depends on the measured costs and timing; the count is told, not asserted.
  t.comment(`${(await inlineRuns(gw.url, 'weather')) - before} inline batch runs in 5 rounds of 32 concurrent calls`);
  t.equal(await inlineRuns(gw.url, 'weather_off'), 0, 'inline_max_us 0: never');
});
