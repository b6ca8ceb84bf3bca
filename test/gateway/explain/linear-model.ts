// A linear model written with onnx-proto, with a reference profile of its inputs: its Shapley
// values are known in closed form, φ_i = w_i · (x_i − E[x_i]), which the explanation tests check.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { valueInfo } from '../../../examples/onnx-export.js';
import { buildProfile } from '../../../gateway/drift/profile.js';
import { gaussian, seededRandom } from '../../../lib/random.js';

const { onnx } = onnxProto;

export interface LinearModel {
  weights: number[][];
  bias: number[];
  /** Reference rows (row-major) the profile was built from, and their column means. */
  means: number[];
}

/**
 * Model folder `name` (version 1): input `x` FP32 [N,F], output `y` = x·W + b, FP32 [N,K]; the
 * profile describes `rows` reference rows, feature j ~ Normal(j − F/2, 1 + j/4).
 */
export function writeLinearModel(root: string, name: string, features: number, outputs: number, config: Record<string, unknown> = {}, seed = 3, rows = 4000): LinearModel {
  const random = seededRandom(seed);
  const weights = Array.from({ length: features }, () => Array.from({ length: outputs }, () => Math.round((random() * 4 - 2) * 100) / 100));
  const bias = Array.from({ length: outputs }, () => Math.round(random() * 100) / 100);
  const T = onnx.TensorProto.DataType;
  const graph = onnx.GraphProto.create({
    name,
    node: [
      onnx.NodeProto.create({ opType: 'MatMul', name: 'mm', input: ['x', 'W'], output: ['xw'] }),
      onnx.NodeProto.create({ opType: 'Add', name: 'add', input: ['xw', 'b'], output: ['y'] }),
    ],
    initializer: [
      onnx.TensorProto.create({ name: 'W', dims: [features, outputs], dataType: T.FLOAT, floatData: weights.flat() }),
      onnx.TensorProto.create({ name: 'b', dims: [outputs], dataType: T.FLOAT, floatData: bias }),
    ],
    input: [valueInfo('x', T.FLOAT, ['batch', features])],
    output: [valueInfo('y', T.FLOAT, ['batch', outputs])],
  });
  const model = onnx.ModelProto.create({ irVersion: 7, producerName: 'sluice-test', opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })], graph });
  const data = new Float32Array(rows * features);
  for (let r = 0; r < rows; r++) for (let j = 0; j < features; j++) data[r * features + j] = j - features / 2 + (1 + j / 4) * gaussian(random);
  const profile = buildProfile({ model: name, version: '1', tensors: [{ name: 'x', role: 'input' }] }, { x: { data, dims: [rows, features] } });
  const means = profile.tensors[0]!.features.map((f) => f.mean);
  mkdirSync(join(root, name, '1'), { recursive: true });
  writeFileSync(join(root, name, '1', 'model.onnx'), onnx.ModelProto.encode(model).finish());
  writeFileSync(join(root, name, '1', 'profile.json'), JSON.stringify(profile));
  writeFileSync(join(root, name, 'config.json'), JSON.stringify({ max_batch_size: 256, drift: { profile: 'profile.json' }, ...config }));
  return { weights, bias, means };
}
