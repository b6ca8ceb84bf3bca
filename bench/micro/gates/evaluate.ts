// How long `evaluateGates` takes for the example weather model on the 2015 holdout (365 rows) with
// every check of docs/gates.md on, and whether the control plane stays responsive meanwhile (its
// ONNX Runtime work runs in a worker thread): a `{ me { name } }` query is sent every 20 ms during
// the evaluations and its slowest answer reported.
//
//   npx tsc -p tsconfig.json && node dist/bench/micro/gates/evaluate.js [runs=7]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane } from '../../../control-plane/index.js';
import { createLogger } from '../../../lib/log.js';
import { trainWeatherModel } from '../../../examples/weather.js';
import { healthy } from '../../../examples/rollout-candidates.js';
import type { WeatherDay } from '../../../examples/weather-dataset.js';

const TOKEN = 'bench-admin-token-0123456789';
const runs = Number(process.argv[2] ?? 7);

function season(d: WeatherDay): string {
  return ['winter', 'winter', 'spring', 'spring', 'spring', 'summer', 'summer', 'summer', 'autumn', 'autumn', 'autumn', 'winter'][Number(d.date.slice(5, 7)) - 1]!;
}

const dataDir = mkdtempSync(join(tmpdir(), 'sluice-gate-bench-'));
const cp = await startControlPlane({ host: '127.0.0.1', port: 0, dataDir, logger: createLogger('bench', 'silent'), adminToken: TOKEN });
const gql = async (query: string, variables: Record<string, unknown> = {}) => {
  const res = await fetch(`${cp.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
};
const upload = async (bytes: Uint8Array) => {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query: 'mutation($input: CreateModelVersionInput!) { createModelVersion(input: $input) { number } }', variables: { input: { model: 'weather', artifact: null, allowDuplicate: true } } }));
  form.set('map', JSON.stringify({ 0: ['variables.input.artifact'] }));
  form.set('0', new Blob([new Uint8Array(bytes)]), 'model.onnx');
  const res = await fetch(`${cp.url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'graphql-require-preflight': '1' }, body: form });
  return ((await res.json()) as any).data.createModelVersion.number as number;
};

try {
  const trained = trainWeatherModel();
  const days = trained.split.later;
  const csv = ['precipitation,temp_max,temp_min,wind,day_of_year,season,weather', ...days.map((d) => [d.precipitation, d.tempMax, d.tempMin, d.wind, d.dayOfYear, season(d), d.weather].join(','))].join('\n');
  await gql('mutation { createModel(input: { name: "weather" }) { id } }');
  await upload(trained.onnx);
  await gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  const candidate = await upload(healthy(trained.weights));
  await gql('mutation($csv: String!) { registerDataset(input: { model: "weather", name: "holdout-2015", csv: $csv }) { rows } }', { csv });
  await gql('mutation($p: JSON!) { setPromotionPolicy(input: { model: "weather", policy: $p }) { revision } }', {
    p: {
      dataset: 'holdout-2015',
      input: { tensor: 'features', columns: ['precipitation', 'temp_max', 'temp_min', 'wind', 'day_of_year'] },
      label: { column: 'weather', output: 'label' },
      metric: 'accuracy',
      floor: 0.6,
      maxRegression: 0.02,
      slices: { column: 'season', floor: 0.5, maxGap: 0.3 },
      fairness: { column: 'season', positiveClass: 'rain', maxParityGap: 0.7, maxOpportunityGap: 0.5 },
      robustness: { noise: 0.1, seed: 1, maxDrop: 0.3 },
    },
  });
  const times: number[] = [];
  let slowestPing = 0;
  let pings = 0;
  for (let i = 0; i < runs; i++) {
    let done = false;
    const pinger = (async () => {
      while (!done) {
        const t0 = performance.now();
        await gql('{ me { name } }');
        slowestPing = Math.max(slowestPing, performance.now() - t0);
        pings++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const t0 = performance.now();
    const report = (await gql('mutation($v: Int!) { evaluateGates(model: "weather", version: $v) { passed checks { kind } } }', { v: candidate })).evaluateGates;
    times.push(performance.now() - t0);
    done = true;
    await pinger;
    if (i === 0) console.log(`report: passed=${report.passed}, ${report.checks.length} checks, ${days.length} holdout rows`);
  }
  times.sort((a, b) => a - b);
  console.log(`evaluateGates over ${runs} runs: median ${times[Math.floor(runs / 2)]!.toFixed(0)} ms, min ${times[0]!.toFixed(0)} ms, max ${times[runs - 1]!.toFixed(0)} ms`);
  console.log(`meanwhile ${pings} { me } queries, slowest ${slowestPing.toFixed(1)} ms`);
} finally {
  await cp.close();
  rmSync(dataDir, { recursive: true, force: true });
}
