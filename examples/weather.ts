import { accuracy, argmax, matrix, predictProba, trainMlp, type MlpTrainingOptions, type MlpWeights } from './mlp.js';
import { mlpToOnnx } from './onnx-export.js';
import { seededRandom, shuffledIndices } from '../lib/random.js';
import {
  loadWeather,
  weatherFeatures,
  weatherLabel,
  WEATHER_FEATURES,
  WEATHER_LABELS,
  type WeatherDay,
} from './weather-dataset.js';

/** Years the model trains on; later years are kept out entirely (they are the "future" for drift). */
export const WEATHER_TRAINING_YEARS = [2012, 2013, 2014] as const;
export const WEATHER_HOLDOUT_FRACTION = 0.2;

export interface WeatherSplit {
  train: WeatherDay[];
  holdout: WeatherDay[];
  later: WeatherDay[];
}

/** The last year the example trains on by default: 2015 is the "future" its drift is measured on. */
export const WEATHER_LAST_TRAINING_YEAR = WEATHER_TRAINING_YEARS[WEATHER_TRAINING_YEARS.length - 1]!;

/**
 * Deterministic split: a seeded 20% holdout from the training years (the first year of the data
 * through `lastYear`), and every later day apart.
 */
export function splitWeather(days: WeatherDay[], seed = 42, lastYear: number = WEATHER_LAST_TRAINING_YEAR): WeatherSplit {
  const inTraining = days.filter((d) => d.year >= WEATHER_TRAINING_YEARS[0] && d.year <= lastYear);
  const later = days.filter((d) => d.year > lastYear);
  const order = shuffledIndices(inTraining.length, seededRandom(seed));
  const cut = Math.round(inTraining.length * WEATHER_HOLDOUT_FRACTION);
  return {
    holdout: order.slice(0, cut).map((i) => inTraining[i]!),
    train: order.slice(cut).map((i) => inTraining[i]!),
    later,
  };
}

/** The encoding the ONNX graph applies: day of year -> sin/cos appended after the other columns. */
export function encodeWeatherRow(raw: number[]): number[] {
  const day = raw[4]!;
  const angle = (2 * Math.PI * day) / 365.25;
  return [raw[0]!, raw[1]!, raw[2]!, raw[3]!, Math.sin(angle), Math.cos(angle)];
}

function encoded(days: WeatherDay[]) {
  return {
    x: matrix(days.map((d) => encodeWeatherRow(weatherFeatures(d)))),
    y: Int32Array.from(days.map(weatherLabel)),
  };
}

export interface TrainedWeatherModel {
  onnx: Uint8Array;
  weights: MlpWeights;
  metrics: {
    holdout_accuracy: number;
    holdout_majority_rate: number;
    train_accuracy: number;
    final_loss: number;
    train_rows: number;
    holdout_rows: number;
  };
  lineage: { dataset: string; dataset_digest: string; parameters: MlpTrainingOptions | Partial<MlpTrainingOptions>; seed: number };
  split: WeatherSplit;
}

export function majorityRate(labels: Int32Array, classes: number): number {
  const counts = new Array<number>(classes).fill(0);
  for (const l of labels) counts[l]!++;
  return labels.length === 0 ? 0 : Math.max(...counts) / labels.length;
}

/** Train the example `weather` classifier on seattle-weather.csv and export it to ONNX. */
export function trainWeatherModel(
  options: Partial<MlpTrainingOptions> = {},
  /** Another file in seattle-weather.csv's format (the builtin trainer's SLUICE_DATASET). */
  datasetPath?: string,
  onEpoch?: (epoch: number, loss: number) => void,
  /** Train on the data's years through this one (default 2014; the retraining loop's example uses 2015). */
  lastYear: number = WEATHER_LAST_TRAINING_YEAR,
): TrainedWeatherModel {
  const dataset = loadWeather(datasetPath);
  const split = splitWeather(dataset.days, 42, lastYear);
  const train = encoded(split.train);
  const holdout = encoded(split.holdout);
  const { weights, losses } = trainMlp(train.x, train.y, WEATHER_LABELS.length, options, onEpoch);
  const metrics = {
    holdout_accuracy: accuracy(weights, holdout.x, holdout.y),
    holdout_majority_rate: majorityRate(holdout.y, WEATHER_LABELS.length),
    train_accuracy: accuracy(weights, train.x, train.y),
    final_loss: losses[losses.length - 1] ?? NaN,
    train_rows: split.train.length,
    holdout_rows: split.holdout.length,
  };
  const onnxBytes = mlpToOnnx(weights, {
    inputName: 'features',
    rawInputs: WEATHER_FEATURES.length,
    seasonalColumn: 4,
    graphName: 'weather',
    metadata: {
      labels: WEATHER_LABELS.join(','),
      features: WEATHER_FEATURES.join(','),
      holdout_accuracy: metrics.holdout_accuracy.toFixed(4),
      dataset_digest: dataset.digest,
    },
  });
  return {
    onnx: onnxBytes,
    weights,
    metrics,
    lineage: { dataset: 'vega-datasets/data/seattle-weather.csv', dataset_digest: dataset.digest, parameters: options, seed: options.seed ?? 7 },
    split,
  };
}

export { argmax, predictProba };
