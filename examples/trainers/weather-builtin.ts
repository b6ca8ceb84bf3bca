// The built-in `weather-mlp` trainer behind the command contract (docs/training.md): the runner
// runs `node dist/examples/trainers/weather-builtin.js` like any command trainer. It trains the
// example weather MLP on SLUICE_DATASET (seattle-weather.csv's format) with SLUICE_PARAMS
// (hidden, epochs, batchSize, learningRate, l2, seed, and lastYear: train on the data's years
// through this one, default 2014; all optional), prints {"epoch":n,"loss":x}
// per epoch, and leaves model.onnx, metrics.json and profile.json (the drift reference profile of
// the rows it trained on) in SLUICE_OUTPUT_DIR. Exit 2: bad input; 1: training failed.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MLP_OPTIONS, type MlpTrainingOptions } from '../mlp.js';
import { trainWeatherModel, WEATHER_LAST_TRAINING_YEAR } from '../weather.js';
import { weatherProfile } from '../weather-profile.js';

class BadInput extends Error {}

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new BadInput(`${name} is not set`);
  return v;
}

interface Parameters {
  options: Partial<MlpTrainingOptions>;
  lastYear: number;
}

function parameters(): Parameters {
  let raw: unknown;
  try {
    raw = JSON.parse(process.env.SLUICE_PARAMS || '{}');
  } catch (err) {
    throw new BadInput(`SLUICE_PARAMS is not JSON: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new BadInput('SLUICE_PARAMS must be a JSON object');
  const out: Partial<MlpTrainingOptions> = {};
  let lastYear: number = WEATHER_LAST_TRAINING_YEAR;
  for (const [k, v] of Object.entries(raw)) {
    if (k === 'lastYear') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 2012 || v > 9999) throw new BadInput('parameter lastYear must be a year from 2012');
      lastYear = v;
      continue;
    }
    if (!(k in DEFAULT_MLP_OPTIONS)) throw new BadInput(`unknown parameter ${k}; known: ${[...Object.keys(DEFAULT_MLP_OPTIONS), 'lastYear'].join(', ')}`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new BadInput(`parameter ${k} must be a non-negative number`);
    out[k as keyof MlpTrainingOptions] = v;
  }
  for (const k of ['hidden', 'epochs', 'batchSize'] as const) if (out[k] !== undefined && !(Number.isInteger(out[k]) && out[k]! >= 1)) throw new BadInput(`parameter ${k} must be a positive integer`);
  return { options: out, lastYear };
}

function main(): number {
  let dataset: string;
  let outDir: string;
  let params: Parameters;
  try {
    dataset = env('SLUICE_DATASET');
    outDir = env('SLUICE_OUTPUT_DIR');
    params = parameters();
  } catch (err) {
    process.stderr.write(`weather-mlp: ${(err as Error).message}\n`);
    return 2;
  }
  process.stderr.write(`weather-mlp: training on ${dataset} through ${params.lastYear} with ${JSON.stringify({ ...DEFAULT_MLP_OPTIONS, ...params.options })}\n`);
  const trained = trainWeatherModel(params.options, dataset, (epoch, loss) => process.stdout.write(`${JSON.stringify({ epoch, loss: Number(loss.toFixed(6)) })}\n`), params.lastYear);
  writeFileSync(join(outDir, 'model.onnx'), trained.onnx);
  writeFileSync(join(outDir, 'metrics.json'), `${JSON.stringify(trained.metrics)}\n`);
  writeFileSync(join(outDir, 'profile.json'), `${JSON.stringify(weatherProfile(trained, process.env.SLUICE_JOB_ID ?? 'trained'))}\n`);
  process.stderr.write(`weather-mlp: holdout accuracy ${trained.metrics.holdout_accuracy.toFixed(4)}\n`);
  return 0;
}

try {
  process.exitCode = main();
} catch (err) {
  process.stderr.write(`weather-mlp: ${(err as Error).message}\n`);
  process.exitCode = (err as { code?: string }).code === 'SLUICE_E_VALIDATION' ? 2 : 1;
}
