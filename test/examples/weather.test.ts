import t from 'tap';
import * as ort from 'onnxruntime-node';
import { splitWeather, trainWeatherModel, encodeWeatherRow, majorityRate } from '../../examples/weather.js';
import { loadWeather, weatherFeatures, weatherLabel, WEATHER_LABELS } from '../../examples/weather-dataset.js';
import { matrix, predictProba, argmax, trainMlp } from '../../examples/mlp.js';

t.test('seattle-weather loads every day 2012–2015 with a known label', async (t) => {
  const { days, digest } = loadWeather();
  t.equal(days.length, 1461);
  t.match(digest, /^[0-9a-f]{64}$/);
  t.same([...new Set(days.map((d) => d.year))], [2012, 2013, 2014, 2015]);
  t.equal(days[0]!.dayOfYear, 1);
  t.equal(days.find((d) => d.date === '2012-12-31')!.dayOfYear, 366, 'leap year');
});

t.test('the split keeps later years out of training and is deterministic', async (t) => {
  const { days } = loadWeather();
  const a = splitWeather(days);
  const b = splitWeather(days);
  t.same(a.holdout.map((d) => d.date), b.holdout.map((d) => d.date));
  t.ok(a.train.every((d) => d.year <= 2014) && a.holdout.every((d) => d.year <= 2014));
  t.ok(a.later.every((d) => d.year === 2015));
  t.equal(a.train.length + a.holdout.length, 1096);
  const trainDates = new Set(a.train.map((d) => d.date));
  t.notOk(a.holdout.some((d) => trainDates.has(d.date)), 'no holdout day is trained on');
});

t.test('the trained weather model beats the majority class on held-out days, and ONNX agrees with the trainer', async (t) => {
  const model = trainWeatherModel();
  t.comment(`holdout accuracy ${model.metrics.holdout_accuracy.toFixed(3)}, majority-class rate ${model.metrics.holdout_majority_rate.toFixed(3)}`);
  t.ok(model.metrics.holdout_majority_rate > 0.3 && model.metrics.holdout_majority_rate < 0.6, 'majority rate of a real class mix');
  t.ok(model.metrics.holdout_accuracy >= model.metrics.holdout_majority_rate + 0.2,
    `accuracy ${model.metrics.holdout_accuracy} clearly above majority ${model.metrics.holdout_majority_rate}`);

  const session = await ort.InferenceSession.create(Buffer.from(model.onnx));
  t.same(session.inputNames, ['features']);
  t.same(session.outputNames, ['probabilities', 'label']);
  const rows = model.split.holdout.map(weatherFeatures);
  const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 5]) });
  const probs = out.probabilities!.data as Float32Array;
  const labels = out.label!.data as BigInt64Array;
  const js = predictProba(model.weights, matrix(rows.map(encodeWeatherRow)));
  let maxDiff = 0;
  let right = 0;
  js.forEach((p, i) => {
    for (let c = 0; c < WEATHER_LABELS.length; c++) maxDiff = Math.max(maxDiff, Math.abs(p[c]! - probs[i * WEATHER_LABELS.length + c]!));
    if (Number(labels[i]) === argmax(p)) right++;
  });
  t.ok(maxDiff < 1e-4, `ONNX and trainer probabilities differ by at most ${maxDiff}`);
  t.ok(right >= rows.length - 1, 'ONNX argmax equals the trainer argmax (ties aside)');
  const onnxAccuracy = model.split.holdout.filter((d, i) => Number(labels[i]) === weatherLabel(d)).length / rows.length;
  t.ok(Math.abs(onnxAccuracy - model.metrics.holdout_accuracy) < 0.01, 'the ONNX model scores what the trainer reported');
  await session.release();
});

t.test('training is reproducible for a seed and the loss goes down', async (t) => {
  const x = matrix([[0, 0], [0, 1], [1, 0], [1, 1], [0.1, 0.9], [0.9, 0.1]]);
  const y = Int32Array.from([0, 1, 1, 0, 1, 1]);
  const a = trainMlp(x, y, 2, { epochs: 300, hidden: 8, batchSize: 6, learningRate: 0.05 });
  const b = trainMlp(x, y, 2, { epochs: 300, hidden: 8, batchSize: 6, learningRate: 0.05 });
  t.same(Array.from(a.weights.w1), Array.from(b.weights.w1));
  t.ok(a.losses[a.losses.length - 1]! < a.losses[0]! / 4, 'loss fell by 4x');
  t.same(predictProba(a.weights, x).map(argmax), Array.from(y), 'learns XOR');
});

t.test('training refuses mismatched rows and labels', async (t) => {
  t.throws(() => trainMlp(matrix([[1, 2]]), Int32Array.from([0, 1]), 2), { code: 'SLUICE_E_VALIDATION' });
  t.throws(() => matrix([[1, 2], [3]]), { code: 'SLUICE_E_VALIDATION' });
  t.equal(majorityRate(Int32Array.from([1, 1, 0]), 2), 2 / 3);
});
