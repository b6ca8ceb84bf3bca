import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { accuracy, matrix } from '../../examples/mlp.js';
import { writeLifecycleFiles } from '../../examples/weather-2015.js';
import { loadWeather, weatherFeatures, weatherLabel, type WeatherDay } from '../../examples/weather-dataset.js';
import { seasonOf, splitYear } from '../../examples/weather-lifecycle.js';
import { encodeWeatherRow, trainWeatherModel } from '../../examples/weather.js';
import { ROOT } from '../helpers/paths.js';

const run = promisify(execFile);
const { days } = loadWeather();

function encoded(ds: WeatherDay[]) {
  return { x: matrix(ds.map((d) => encodeWeatherRow(weatherFeatures(d)))), y: Int32Array.from(ds.map(weatherLabel)) };
}

t.test('2015 splits into replayed and held-out days: disjoint, whole, deterministic', async (t) => {
  const a = splitYear(days);
  const b = splitYear(days);
  t.same(a.heldOut.map((d) => d.date), b.heldOut.map((d) => d.date));
  t.equal(a.replay.length + a.heldOut.length, 365);
  t.equal(a.replay.length, 255);
  const replayed = new Set(a.replay.map((d) => d.date));
  t.notOk(a.heldOut.some((d) => replayed.has(d.date)));
  t.ok([...a.replay, ...a.heldOut].every((d) => d.year === 2015));
  t.same(a.replay.map((d) => d.date), [...a.replay.map((d) => d.date)].sort(), 'replayed in date order');
});

t.test('seasons are meteorological', async (t) => {
  t.equal(seasonOf('2015-12-01'), 'winter');
  t.equal(seasonOf('2015-02-28'), 'winter');
  t.equal(seasonOf('2015-03-01'), 'spring');
  t.equal(seasonOf('2015-07-15'), 'summer');
  t.equal(seasonOf('2015-11-30'), 'autumn');
});

t.test('the files: the training file holds 2012-2014 and the replayed days, the holdout only the held-out days', async (t) => {
  const dir = t.testdir();
  const files = writeLifecycleFiles(dir);
  const train = readFileSync(files.train, 'utf8').trim().split('\n');
  const holdout = readFileSync(files.holdout, 'utf8').trim().split('\n');
  const { replay, heldOut } = splitYear(days);
  t.equal(train[0], 'date,precipitation,temp_max,temp_min,wind,weather');
  t.equal(train.length - 1, 1096 + replay.length);
  t.equal(holdout[0], 'precipitation,temp_max,temp_min,wind,day_of_year,weather,season,year');
  t.equal(holdout.length - 1, heldOut.length);
  const trainDates = new Set(train.slice(1).map((l) => l.split(',')[0]));
  t.notOk(heldOut.some((d) => trainDates.has(d.date)), 'no held-out day is in the training file');
});

t.test('retrained through 2015, the weather model scores better on held-out 2015 days than the 2012-2014 model', async (t) => {
  const dir = t.testdir();
  const files = writeLifecycleFiles(dir);
  const { heldOut, replay } = splitYear(days);
  const old = trainWeatherModel();
  const retrained = trainWeatherModel({}, files.train, undefined, 2015);
  t.equal(retrained.metrics.train_rows + retrained.metrics.holdout_rows, 1096 + replay.length, 'trained on every row of the file through 2015');
  const h = encoded(heldOut);
  const before = accuracy(old.weights, h.x, h.y);
  const after = accuracy(retrained.weights, h.x, h.y);
  t.comment(`held-out 2015 accuracy: 2012-2014 model ${before.toFixed(3)}, retrained ${after.toFixed(3)}`);
  t.ok(after > before, `${after} > ${before}`);
});

t.test('the builtin trainer takes lastYear and refuses a bad one with exit 2', async (t) => {
  const dir = t.testdir();
  const files = writeLifecycleFiles(dir);
  const script = join(ROOT, 'dist', 'examples', 'trainers', 'weather-builtin.js');
  const env = { ...process.env, SLUICE_DATASET: files.train, SLUICE_OUTPUT_DIR: dir, SLUICE_PARAMS: JSON.stringify({ lastYear: 2015, epochs: 5 }) };
  await run(process.execPath, [script], { env });
  const metrics = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as { train_rows: number; holdout_rows: number };
  t.equal(metrics.train_rows + metrics.holdout_rows, 1096 + splitYear(days).replay.length);
  const bad = await run(process.execPath, [script], { env: { ...env, SLUICE_PARAMS: '{"lastYear":1999}' } }).then(
    () => 0,
    (err: { code: number }) => err.code,
  );
  t.equal(bad, 2);
});
