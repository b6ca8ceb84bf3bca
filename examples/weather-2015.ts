// The lifecycle demonstration's data and traffic (issue 16; docs/lifecycle.md):
//   node dist/examples/weather-2015.js files --dir DIR
//     writes DIR/train-2012-2015.csv (2012–2014 plus the replayed 70% of 2015, labelled: what the
//     retraining policy trains on), DIR/holdout-2015.csv (the other 30% of 2015: the gate's holdout),
//     and the policies of the demonstration: gate-policy.json, retrain-policy.json, retrain-policy-bad.json
//   node dist/examples/weather-2015.js replay --gateway URL [--rate N] [--rounds N | --seconds N]
//     asks the gateway about each replayed 2015 day, then gives the day's real weather as feedback
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadWeather, weatherFeatures, type WeatherDay } from './weather-dataset.js';
import { holdoutCsv, seattleWeatherCsv, splitYear } from './weather-lifecycle.js';
import { WEATHER_LAST_TRAINING_YEAR } from './weather.js';

export interface LifecycleFiles {
  train: string;
  holdout: string;
  /** The weather model's promotion policy (docs/gates.md) on holdout-2015. */
  gatePolicy: string;
  /** Retraining policies (docs/lifecycle.md): on 2012–2015 then a canary; and one with a deliberately bad trainer setting. */
  retrainPolicy: string;
  badRetrainPolicy: string;
}

/** The holdout dataset's name in the registry. */
export const HOLDOUT_NAME = 'holdout-2015';

export function gatePolicy() {
  return {
    dataset: HOLDOUT_NAME,
    input: { tensor: 'features', columns: ['precipitation', 'temp_max', 'temp_min', 'wind', 'day_of_year'] },
    label: { column: 'weather', output: 'label', task: 'classification' },
    metric: 'accuracy',
    floor: 0.75,
    maxRegression: 0.02,
    slices: { column: 'season', floor: 0.6, maxGap: 0.3, minRows: 15 },
    robustness: { noise: 0.02, seed: 7, maxDrop: 0.1 },
    compatibility: true,
  };
}

export function retrainPolicy(trainFile: string, parameters: Record<string, number> = { lastYear: 2015 }) {
  return {
    triggers: { metrics: ['drift_psi', 'accuracy'], require: 'any' },
    training: { trainer: { builtin: 'weather-mlp' }, dataset: { url: trainFile }, parameters, timeoutSeconds: 600 },
    rollout: {
      strategy: 'CANARY',
      steps: [{ setWeight: 25 }, { analysis: { count: 2 } }, { setWeight: 50 }, { analysis: { count: 1 } }],
      analysis: { intervalSeconds: 2, minCalls: 20, maxErrorRate: 0.01, minAgreement: 0.6 },
    },
    cooldownSeconds: 600,
  };
}

function writeJson(path: string, value: unknown): string {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
  return path;
}

export function writeLifecycleFiles(dir: string): LifecycleFiles {
  const { days } = loadWeather();
  const { replay, heldOut } = splitYear(days);
  mkdirSync(dir, { recursive: true });
  const train = resolve(dir, 'train-2012-2015.csv');
  const holdout = resolve(dir, 'holdout-2015.csv');
  writeFileSync(train, seattleWeatherCsv([...days.filter((d) => d.year <= WEATHER_LAST_TRAINING_YEAR), ...replay]));
  writeFileSync(holdout, holdoutCsv(heldOut));
  return {
    train,
    holdout,
    gatePolicy: writeJson(resolve(dir, 'gate-policy.json'), gatePolicy()),
    retrainPolicy: writeJson(resolve(dir, 'retrain-policy.json'), retrainPolicy(train)),
    // One epoch at a learning rate 1000 times too small: the model barely moves from its random start.
    badRetrainPolicy: writeJson(resolve(dir, 'retrain-policy-bad.json'), retrainPolicy(train, { lastYear: 2015, epochs: 1, learningRate: 0.00001 })),
  };
}

export interface ReplayFigures {
  calls: number;
  failed: number;
  feedback: number;
  feedbackRefused: number;
  /** Answers whose label matched the day's weather, by the version that answered. */
  byVersion: Record<string, { calls: number; correct: number }>;
  lastError: string | null;
}

export interface ReplayOptions {
  gateway: string;
  /** Calls per second (default 50). */
  rate?: number;
  /** Stop after this many passes over the replayed days (default 1), or at `until`, or at stop(). */
  rounds?: number;
  until?: number;
  signal?: AbortSignal;
}

/** One call and its feedback: the answer's id and label, then `{id, label}` with what the day really was. */
async function replayDay(gateway: string, day: WeatherDay, id: string, figures: ReplayFigures): Promise<void> {
  figures.calls++;
  try {
    const res = await fetch(`${gateway}/v2/models/weather/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id, inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: weatherFeatures(day) }], outputs: [{ name: 'label' }] }),
    });
    const body = (await res.json()) as { id?: string; model_version?: string; outputs?: { name: string; data: number[] }[]; error?: string; code?: string };
    if (!res.ok || body.id === undefined) {
      figures.failed++;
      figures.lastError = `${res.status} ${body.code ?? ''} ${body.error ?? 'no id in the answer'}`;
      return;
    }
    const v = (figures.byVersion[body.model_version ?? '?'] ??= { calls: 0, correct: 0 });
    v.calls++;
    const label = body.outputs?.find((o) => o.name === 'label')?.data[0];
    if (label !== undefined && ['drizzle', 'fog', 'rain', 'snow', 'sun'][label] === day.weather) v.correct++;
    const fb = await fetch(`${gateway}/v2/models/weather/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: body.id, label: day.weather }) });
    await fb.arrayBuffer();
    if (fb.ok) figures.feedback++;
    else {
      figures.feedbackRefused++;
      figures.lastError = `feedback ${fb.status}`;
    }
  } catch (err) {
    figures.failed++;
    figures.lastError = (err as Error).message;
  }
}

/** Replay the 2015 days (date order) at `rate` calls per second, each followed by its feedback. */
export async function replay2015(options: ReplayOptions): Promise<ReplayFigures> {
  const { replay } = splitYear(loadWeather().days);
  const rate = options.rate ?? 50;
  const rounds = options.rounds ?? 1;
  const figures: ReplayFigures = { calls: 0, failed: 0, feedback: 0, feedbackRefused: 0, byVersion: {}, lastError: null };
  const inFlight = new Set<Promise<void>>();
  const start = performance.now();
  let n = 0;
  for (let round = 0; round < rounds; round++) {
    for (const day of replay) {
      if (options.signal?.aborted || (options.until !== undefined && Date.now() >= options.until)) {
        await Promise.all(inFlight);
        return figures;
      }
      const due = start + (n * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const p = replayDay(options.gateway, day, `${day.date}/${round}`, figures).finally(() => inFlight.delete(p));
      inFlight.add(p);
      n++;
    }
  }
  await Promise.all(inFlight);
  return figures;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'files') {
    const { values } = parseArgs({ args: rest, options: { dir: { type: 'string' } }, strict: true });
    if (!values.dir) throw new Error('files needs --dir DIR');
    const files = writeLifecycleFiles(values.dir);
    process.stdout.write(`${Object.values(files).join('\n')}\n`);
    return 0;
  }
  if (command === 'replay') {
    const { values } = parseArgs({
      args: rest,
      options: { gateway: { type: 'string', default: 'http://127.0.0.1:8000' }, rate: { type: 'string', default: '50' }, rounds: { type: 'string', default: '1' }, seconds: { type: 'string' } },
      strict: true,
    });
    const rate = Number(values.rate);
    const rounds = Number(values.rounds);
    if (!(rate > 0) || !(Number.isInteger(rounds) && rounds > 0)) throw new Error('--rate must be > 0 and --rounds a positive integer');
    const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    const figures = await replay2015({
      gateway: values.gateway!.replace(/\/$/, ''),
      rate,
      rounds: seconds === undefined ? rounds : Number.MAX_SAFE_INTEGER,
      ...(seconds !== undefined ? { until: Date.now() + seconds * 1000 } : {}),
      signal: controller.signal,
    });
    const versions = Object.entries(figures.byVersion).map(([v, f]) => `version ${v}: ${f.calls} calls, accuracy ${(f.correct / f.calls).toFixed(3)}`);
    process.stdout.write(`${figures.calls} calls (${figures.failed} failed), ${figures.feedback} feedback accepted (${figures.feedbackRefused} refused)${versions.length ? `; ${versions.join('; ')}` : ''}${figures.lastError ? `; last error: ${figures.lastError}` : ''}\n`);
    return figures.failed === 0 && figures.feedbackRefused === 0 ? 0 : 1;
  }
  process.stderr.write('usage: weather-2015.js files --dir DIR | replay [--gateway URL] [--rate N] [--rounds N | --seconds N]\n');
  return 2;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(join(import.meta.dirname, 'weather-2015.js'))) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`weather-2015: ${(err as Error).message}\n`);
      process.exitCode = 2;
    },
  );
}
