// The example `command` trainer (examples/trainers/weather_logreg.py) run the way a runner runs it:
// through the local executor with the trainer contract's environment, under Debian's Python.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { LocalExecutor } from '../../control-plane/runner/executors/local.js';
import type { ExecutionEnd } from '../../control-plane/runner/executor.js';
import { readOnnxSignature } from '../../control-plane/services/onnx-signature.js';
import { majorityRate, splitWeather } from '../../examples/weather.js';
import { loadWeather, weatherCsvPath, weatherFeatures, weatherLabel, WEATHER_LABELS } from '../../examples/weather-dataset.js';
import { exampleModels, ROOT } from '../helpers/paths.js';

const PYTHON = '/usr/bin/python3';
const TRAINER = join(ROOT, 'examples', 'trainers', 'weather_logreg.py');

const probe = spawnSync(PYTHON, ['-c', 'import numpy, onnx'], { encoding: 'utf8' });
const missing = probe.error ? `${PYTHON} not found` : probe.status !== 0 ? `${PYTHON} lacks numpy/onnx (apt-get install python3-numpy python3-onnx): ${probe.stderr.trim().split('\n').pop()}` : undefined;

async function runTrainer(dir: string, params: Record<string, unknown>) {
  const out = join(dir, 'out');
  mkdirSync(out);
  const lines: Array<['stdout' | 'stderr', string]> = [];
  const env: Record<string, string> = {
    SLUICE_DATASET: weatherCsvPath(),
    SLUICE_OUTPUT_DIR: out,
    SLUICE_PARAMS: JSON.stringify(params),
    SLUICE_JOB_ID: 'job-weather',
    SLUICE_ATTEMPT: '1',
    SLUICE_MODEL: 'weather',
  };
  for (const [k, v] of Object.entries(params)) env[`SLUICE_PARAM_${k.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = typeof v === 'string' ? v : JSON.stringify(v);
  const exec = await new LocalExecutor().start(
    { jobId: 'job-weather', attempt: 1, command: [PYTHON, TRAINER], env, workDir: dir, labels: [], timeoutSeconds: 120 },
    (stream, line) => lines.push([stream, line]),
  );
  const end: ExecutionEnd = await exec.done;
  return { end, lines, out };
}

t.test('the logistic-regression trainer leaves a weather model that beats the majority class and has production signature', { skip: missing }, async (t) => {
  const dir = t.testdir();
  // The built-in trainer's years and seed, so both hold out the same days.
  const { end, lines, out } = await runTrainer(dir, { epochs: 300, learning_rate: 0.5, train_years: [2012, 2013, 2014], seed: 42 });
  t.same(end, { outcome: 'exited', exitCode: 0 }, lines.map(([, l]) => l).join('\n'));

  const progress = lines.filter(([s, l]) => s === 'stdout' && l.startsWith('{')).map(([, l]) => JSON.parse(l));
  const epochs = progress.filter((p) => 'epoch' in p);
  t.ok(epochs.length >= 10, 'progress lines stream');
  t.equal(epochs.at(-1).epoch, 300);
  t.ok(epochs.at(-1).loss < epochs[0].loss, 'the loss goes down');
  t.ok(lines.some(([s, l]) => s === 'stderr' && l.startsWith('training on')), 'logs go to stderr');

  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  const { holdout } = splitWeather(loadWeather().days);
  const labels = Int32Array.from(holdout.map(weatherLabel));
  t.equal(metrics.holdout_rows, holdout.length);
  t.equal(metrics.holdout_majority_rate, majorityRate(labels, WEATHER_LABELS.length), 'the same holdout days as the built-in trainer');

  const bytes = readFileSync(join(out, 'model.onnx'));
  const session = await ort.InferenceSession.create(bytes);
  const rows = holdout.map(weatherFeatures);
  const result = await session.run({ features: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 5]) });
  const predicted = result.label!.data as BigInt64Array;
  const probabilities = result.probabilities!.data as Float32Array;
  t.equal(probabilities.length, rows.length * WEATHER_LABELS.length);
  let right = 0;
  for (let i = 0; i < rows.length; i++) if (Number(predicted[i]) === labels[i]) right++;
  const accuracy = right / rows.length;
  t.comment(`ONNX holdout accuracy ${accuracy.toFixed(3)}, trainer reported ${metrics.holdout_accuracy.toFixed(3)}, majority ${metrics.holdout_majority_rate.toFixed(3)}`);
  t.ok(Math.abs(accuracy - metrics.holdout_accuracy) <= 1 / rows.length, 'ONNX Runtime agrees with the trainer (float32 may flip one tie)');
  t.ok(accuracy >= metrics.holdout_majority_rate + 0.2, `accuracy ${accuracy} clearly above the majority class ${metrics.holdout_majority_rate}`);

  const production = readOnnxSignature(readFileSync(join(exampleModels(), 'weather', '1', 'model.onnx')));
  t.same(readOnnxSignature(bytes), production, 'the same inputs and outputs as the built-in weather model');
});

t.test('an unknown parameter stops the trainer with exit 2, a message naming it, and no model', { skip: missing }, async (t) => {
  const dir = t.testdir();
  const { end, lines, out } = await runTrainer(dir, { epochs: 5, momentum: 0.9 });
  t.same(end, { outcome: 'exited', exitCode: 2 });
  t.ok(lines.some(([s, l]) => s === 'stderr' && l.includes('momentum')));
  t.notOk(existsSync(join(out, 'model.onnx')));
});
