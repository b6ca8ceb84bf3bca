// Models and holdout data the gate tests build: the example weather MLP trained as usual, candidates
// made from its weights (examples/rollout-candidates.ts), one whose output is renamed (another
// signature), and the 2015 days of seattle-weather.csv as a holdout CSV with a season column.
import onnxProto from 'onnx-proto';
import { trainWeatherModel } from '../../examples/weather.js';
import { erroring, healthy, wrong } from '../../examples/rollout-candidates.js';
import type { WeatherDay } from '../../examples/weather-dataset.js';
import type { TestControlPlane } from './harness.js';

const { onnx } = onnxProto;

export interface GateFixtures {
  baseline: Uint8Array;
  healthy: Uint8Array;
  wrong: Uint8Array;
  erroring: Uint8Array;
  /** The same answers, output `probabilities` renamed `scores`: a different signature. */
  renamed: Uint8Array;
  csv: string;
  rows: number;
}

export function season(day: WeatherDay): string {
  const month = Number(day.date.slice(5, 7));
  return ['winter', 'winter', 'spring', 'spring', 'spring', 'summer', 'summer', 'summer', 'autumn', 'autumn', 'autumn', 'winter'][month - 1]!;
}

export function holdoutCsv(days: WeatherDay[]): string {
  const lines = ['date,precipitation,temp_max,temp_min,wind,day_of_year,season,weather'];
  for (const d of days) lines.push([d.date, d.precipitation, d.tempMax, d.tempMin, d.wind, d.dayOfYear, season(d), d.weather].join(','));
  return `${lines.join('\n')}\n`;
}

function renameOutput(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  for (const n of model.graph!.node!) n.output = n.output!.map((o) => (o === from ? to : o));
  for (const o of model.graph!.output!) if (o.name === from) o.name = to;
  return onnx.ModelProto.encode(model).finish();
}

let cached: GateFixtures | undefined;

export function gateFixtures(): GateFixtures {
  if (cached) return cached;
  const trained = trainWeatherModel();
  const w = trained.weights;
  cached = {
    baseline: trained.onnx,
    healthy: healthy(w),
    wrong: wrong(w),
    erroring: erroring(w),
    renamed: renameOutput(healthy(w), 'probabilities', 'scores'),
    csv: holdoutCsv(trained.split.later),
    rows: trained.split.later.length,
  };
  return cached;
}

export const WEATHER_POLICY = {
  dataset: 'holdout-2015',
  input: { tensor: 'features', columns: ['precipitation', 'temp_max', 'temp_min', 'wind', 'day_of_year'] },
  label: { column: 'weather', output: 'label', task: 'classification' },
  metric: 'accuracy',
  floor: 0.6,
  maxRegression: 0.02,
  slices: { column: 'season', floor: 0.4, maxGap: 0.5, minRows: 30 },
  fairness: { column: 'season', positiveClass: 'rain', maxParityGap: 0.7 },
  robustness: { noise: 0.1, seed: 3, maxDrop: 0.25 },
  compatibility: true,
};

export async function uploadBytes(cp: TestControlPlane, model: string, bytes: Uint8Array, token?: string): Promise<number> {
  const up = await cp.upload(model, bytes, token, { allowDuplicate: true });
  if (up.errors) throw new Error(JSON.stringify(up.errors));
  return (up.data as { createModelVersion: { number: number } }).createModelVersion.number;
}

/** Model `weather` with the trained baseline as version 1 in production, and the 2015 holdout registered. */
export async function weatherInProduction(cp: TestControlPlane): Promise<void> {
  const f = gateFixtures();
  const created = await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  if (created.errors) throw new Error(JSON.stringify(created.errors));
  await uploadBytes(cp, 'weather', f.baseline);
  const alias = await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
  if (alias.errors) throw new Error(JSON.stringify(alias.errors));
  const ds = await cp.gql('mutation($csv: String!) { registerDataset(input: { model: "weather", name: "holdout-2015", csv: $csv }) { rows } }', { csv: f.csv });
  if (ds.errors) throw new Error(JSON.stringify(ds.errors));
}

export const REPORT_FIELDS = 'id model version policyRevision passed createdBy checks { kind name passed measured limit detail }';
