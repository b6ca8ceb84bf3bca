import { SluiceError } from '../lib/errors.js';
import { gaussian, seededRandom, shuffledIndices } from '../lib/random.js';

/** A one-hidden-layer softmax classifier: z = (x - mean) / std; h = relu(z W1 + b1); p = softmax(h W2 + b2). */
export interface MlpWeights {
  inputs: number;
  hidden: number;
  classes: number;
  mean: Float64Array;
  std: Float64Array;
  /** row-major [inputs, hidden] */
  w1: Float64Array;
  b1: Float64Array;
  /** row-major [hidden, classes] */
  w2: Float64Array;
  b2: Float64Array;
}

export interface MlpTrainingOptions {
  hidden: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  l2: number;
  seed: number;
}

export const DEFAULT_MLP_OPTIONS: MlpTrainingOptions = {
  hidden: 16,
  epochs: 200,
  batchSize: 32,
  learningRate: 0.01,
  l2: 1e-4,
  seed: 7,
};

export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function matrix(rows: number[][]): Matrix {
  const cols = rows[0]?.length ?? 0;
  const data = new Float64Array(rows.length * cols);
  rows.forEach((r, i) => {
    if (r.length !== cols) throw new SluiceError('SLUICE_E_VALIDATION', `row ${i} has ${r.length} columns, expected ${cols}`);
    data.set(r, i * cols);
  });
  return { rows: rows.length, cols, data };
}

function columnStats(x: Matrix): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(x.cols);
  const std = new Float64Array(x.cols);
  for (let i = 0; i < x.rows; i++) for (let j = 0; j < x.cols; j++) mean[j]! += x.data[i * x.cols + j]!;
  for (let j = 0; j < x.cols; j++) mean[j]! /= x.rows;
  for (let i = 0; i < x.rows; i++) {
    for (let j = 0; j < x.cols; j++) {
      const d = x.data[i * x.cols + j]! - mean[j]!;
      std[j]! += d * d;
    }
  }
  for (let j = 0; j < x.cols; j++) std[j] = Math.sqrt(std[j]! / x.rows) || 1;
  return { mean, std };
}

/** Forward pass for one standardized row; fills `h` (post-ReLU) and `p` (probabilities). */
function forward(w: MlpWeights, z: Float64Array, h: Float64Array, p: Float64Array): void {
  for (let k = 0; k < w.hidden; k++) {
    let s = w.b1[k]!;
    for (let j = 0; j < w.inputs; j++) s += z[j]! * w.w1[j * w.hidden + k]!;
    h[k] = s > 0 ? s : 0;
  }
  let max = -Infinity;
  for (let c = 0; c < w.classes; c++) {
    let s = w.b2[c]!;
    for (let k = 0; k < w.hidden; k++) s += h[k]! * w.w2[k * w.classes + c]!;
    p[c] = s;
    if (s > max) max = s;
  }
  let sum = 0;
  for (let c = 0; c < w.classes; c++) {
    p[c] = Math.exp(p[c]! - max);
    sum += p[c]!;
  }
  for (let c = 0; c < w.classes; c++) p[c]! /= sum;
}

function standardize(w: MlpWeights, x: Matrix, i: number, z: Float64Array): void {
  for (let j = 0; j < w.inputs; j++) z[j] = (x.data[i * x.cols + j]! - w.mean[j]!) / w.std[j]!;
}

/**
 * Mini-batch gradient descent with Adam on softmax cross-entropy plus L2. Deterministic for a seed.
 * Returns the weights and the training loss per epoch.
 */
export function trainMlp(
  x: Matrix,
  y: Int32Array,
  classes: number,
  options: Partial<MlpTrainingOptions> = {},
  /** Called after each epoch with its mean training loss (the builtin trainer prints it as progress). */
  onEpoch?: (epoch: number, loss: number) => void,
): { weights: MlpWeights; losses: number[] } {
  const o = { ...DEFAULT_MLP_OPTIONS, ...options };
  if (x.rows === 0 || x.rows !== y.length) {
    throw new SluiceError('SLUICE_E_VALIDATION', `training needs as many labels as rows (rows ${x.rows}, labels ${y.length})`);
  }
  const random = seededRandom(o.seed);
  const { mean, std } = columnStats(x);
  const init = (n: number, fanIn: number) => Float64Array.from({ length: n }, () => gaussian(random) * Math.sqrt(2 / fanIn));
  const w: MlpWeights = {
    inputs: x.cols,
    hidden: o.hidden,
    classes,
    mean,
    std,
    w1: init(x.cols * o.hidden, x.cols),
    b1: new Float64Array(o.hidden),
    w2: init(o.hidden * classes, o.hidden),
    b2: new Float64Array(classes),
  };
  const params = [w.w1, w.b1, w.w2, w.b2];
  const grads = params.map((p) => new Float64Array(p.length));
  const m1 = params.map((p) => new Float64Array(p.length));
  const m2 = params.map((p) => new Float64Array(p.length));
  const [g1, gb1, g2, gb2] = grads as [Float64Array, Float64Array, Float64Array, Float64Array];
  const z = new Float64Array(x.cols);
  const h = new Float64Array(o.hidden);
  const p = new Float64Array(classes);
  const dh = new Float64Array(o.hidden);
  const beta1 = 0.9;
  const beta2 = 0.999;
  let step = 0;
  const losses: number[] = [];

  for (let epoch = 0; epoch < o.epochs; epoch++) {
    const order = shuffledIndices(x.rows, random);
    let loss = 0;
    for (let start = 0; start < order.length; start += o.batchSize) {
      const batch = order.slice(start, start + o.batchSize);
      for (const g of grads) g.fill(0);
      for (const i of batch) {
        standardize(w, x, i, z);
        forward(w, z, h, p);
        const label = y[i]!;
        loss -= Math.log(Math.max(p[label]!, 1e-12));
        // dL/dlogits = p - onehot
        p[label]! -= 1;
        dh.fill(0);
        for (let k = 0; k < o.hidden; k++) {
          for (let c = 0; c < classes; c++) {
            g2[k * classes + c]! += h[k]! * p[c]!;
            dh[k]! += w.w2[k * classes + c]! * p[c]!;
          }
        }
        for (let c = 0; c < classes; c++) gb2[c]! += p[c]!;
        for (let k = 0; k < o.hidden; k++) {
          if (h[k]! <= 0) continue;
          gb1[k]! += dh[k]!;
          for (let j = 0; j < x.cols; j++) g1[j * o.hidden + k]! += z[j]! * dh[k]!;
        }
      }
      step++;
      const scale = 1 / batch.length;
      const c1 = 1 - beta1 ** step;
      const c2 = 1 - beta2 ** step;
      params.forEach((param, pi) => {
        const g = grads[pi]!;
        const a = m1[pi]!;
        const b = m2[pi]!;
        const decay = pi % 2 === 0 ? o.l2 : 0;
        for (let q = 0; q < param.length; q++) {
          const gq = g[q]! * scale + decay * param[q]!;
          a[q] = beta1 * a[q]! + (1 - beta1) * gq;
          b[q] = beta2 * b[q]! + (1 - beta2) * gq * gq;
          param[q]! -= (o.learningRate * (a[q]! / c1)) / (Math.sqrt(b[q]! / c2) + 1e-8);
        }
      });
    }
    losses.push(loss / x.rows);
    onEpoch?.(epoch + 1, loss / x.rows);
  }
  return { weights: w, losses };
}

/** Class probabilities for every row of x. */
export function predictProba(w: MlpWeights, x: Matrix): Float64Array[] {
  const z = new Float64Array(w.inputs);
  const h = new Float64Array(w.hidden);
  const out: Float64Array[] = [];
  for (let i = 0; i < x.rows; i++) {
    const p = new Float64Array(w.classes);
    standardize(w, x, i, z);
    forward(w, z, h, p);
    out.push(p);
  }
  return out;
}

export function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
  return best;
}

export function accuracy(w: MlpWeights, x: Matrix, y: Int32Array): number {
  const probs = predictProba(w, x);
  let right = 0;
  probs.forEach((p, i) => {
    if (argmax(p) === y[i]) right++;
  });
  return x.rows === 0 ? 0 : right / x.rows;
}
