// The drift reference profile of the `weather` model, built from exactly the rows it was trained on
// (the inputs in the order clients send them, and the model's own answers on those rows), so the
// gateway can tell when what it serves stops looking like the training period.
import { buildProfile, type DriftProfile } from '../gateway/drift/profile.js';
import { matrix, predictProba } from './mlp.js';
import { encodeWeatherRow, type TrainedWeatherModel } from './weather.js';
import { weatherFeatures, WEATHER_FEATURES, WEATHER_LABELS } from './weather-dataset.js';

export function weatherProfile(trained: TrainedWeatherModel, version = '1'): DriftProfile {
  const rows = trained.split.train.map(weatherFeatures);
  const n = rows.length;
  // Clients send float32: profile the values the model actually sees, so ties at an edge land alike.
  const features = Float32Array.from(rows.flat());
  const probabilities = predictProba(trained.weights, matrix(Array.from({ length: n }, (_, i) => encodeWeatherRow(Array.from(features.subarray(i * 5, i * 5 + 5))))));
  const proba = new Float32Array(n * WEATHER_LABELS.length);
  const label = new Float64Array(n);
  probabilities.forEach((p, i) => {
    proba.set(p, i * WEATHER_LABELS.length);
    let best = 0;
    for (let k = 1; k < p.length; k++) if (p[k]! > p[best]!) best = k;
    label[i] = best;
  });
  return buildProfile({
    model: 'weather',
    version,
    source: { dataset: trained.lineage.dataset, dataset_digest: trained.lineage.dataset_digest, split: 'train', rows: n },
    tensors: [
      { name: 'features', role: 'input', features: WEATHER_FEATURES.map((name) => ({ name })) },
      { name: 'probabilities', role: 'output', features: WEATHER_LABELS.map((l) => ({ name: `probabilities.${l}` })) },
      { name: 'label', role: 'output', features: [{ name: 'label', kind: 'categorical', categories: WEATHER_LABELS.map((_, i) => i) }] },
    ],
  }, {
    features: { data: features, dims: [n, WEATHER_FEATURES.length] },
    probabilities: { data: proba, dims: [n, WEATHER_LABELS.length] },
    label: { data: label, dims: [n] },
  });
}
