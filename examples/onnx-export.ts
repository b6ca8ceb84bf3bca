import onnxProto from 'onnx-proto';
import type { MlpWeights } from './mlp.js';

const { onnx } = onnxProto;
type Tensor = InstanceType<typeof onnx.TensorProto>;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const AttrType = onnx.AttributeProto.AttributeType;

function floats(name: string, dims: number[], values: ArrayLike<number>): Tensor {
  return onnx.TensorProto.create({ name, dims, dataType: FLOAT, floatData: Array.from(values, Number) });
}

function int64s(name: string, values: number[]): Tensor {
  return onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, int64Data: values });
}

function node(op: string, inputs: string[], outputs: string[], attrs: Record<string, number> = {}) {
  return onnx.NodeProto.create({
    opType: op,
    name: outputs[0],
    input: inputs,
    output: outputs,
    attribute: Object.entries(attrs).map(([name, i]) => onnx.AttributeProto.create({ name, type: AttrType.INT, i })),
  });
}

/** A graph input/output declaration: element type and dims, a string dim being symbolic (`batch`). */
export function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) =>
            typeof d === 'string'
              ? onnx.TensorShapeProto.Dimension.create({ dimParam: d })
              : onnx.TensorShapeProto.Dimension.create({ dimValue: d }),
          ),
        }),
      }),
    }),
  });
}

export interface MlpExportOptions {
  /** Name of the graph's one input, `[batch, rawInputs]` float32. */
  inputName: string;
  /** Raw columns the client sends. */
  rawInputs: number;
  /**
   * Index of a raw column holding a day of the year (1..366); the graph replaces it by
   * sin/cos(2*pi*day/365.25) appended at the end, the encoding the weights were trained on.
   */
  seasonalColumn?: number;
  graphName: string;
  metadata: Record<string, string>;
}

/**
 * Writes a trained MLP as an ONNX model (opset 13): optional seasonal encoding, standardization,
 * Gemm+Relu, Gemm, then two outputs: `probabilities` [N, classes] and `label` [N] (int64 argmax).
 */
export function mlpToOnnx(w: MlpWeights, o: MlpExportOptions): Uint8Array {
  const nodes = [];
  const init: Tensor[] = [];
  let features = o.inputName;
  if (o.seasonalColumn !== undefined) {
    const s = o.seasonalColumn;
    init.push(int64s('axis1', [1]));
    init.push(int64s('season_start', [s]), int64s('season_end', [s + 1]));
    init.push(int64s('head_start', [0]), int64s('head_end', [s]));
    init.push(int64s('tail_start', [s + 1]), int64s('tail_end', [o.rawInputs]));
    init.push(floats('radians_per_day', [], [(2 * Math.PI) / 365.25]));
    nodes.push(node('Slice', [o.inputName, 'season_start', 'season_end', 'axis1'], ['day']));
    nodes.push(node('Mul', ['day', 'radians_per_day'], ['angle']));
    nodes.push(node('Sin', ['angle'], ['season_sin']));
    nodes.push(node('Cos', ['angle'], ['season_cos']));
    nodes.push(node('Slice', [o.inputName, 'head_start', 'head_end', 'axis1'], ['head']));
    nodes.push(node('Slice', [o.inputName, 'tail_start', 'tail_end', 'axis1'], ['tail']));
    nodes.push(node('Concat', ['head', 'tail', 'season_sin', 'season_cos'], ['encoded'], { axis: 1 }));
    features = 'encoded';
  }
  init.push(floats('mean', [w.inputs], w.mean), floats('std', [w.inputs], w.std));
  init.push(floats('w1', [w.inputs, w.hidden], w.w1), floats('b1', [w.hidden], w.b1));
  init.push(floats('w2', [w.hidden, w.classes], w.w2), floats('b2', [w.classes], w.b2));
  nodes.push(node('Sub', [features, 'mean'], ['centered']));
  nodes.push(node('Div', ['centered', 'std'], ['standardized']));
  nodes.push(node('Gemm', ['standardized', 'w1', 'b1'], ['hidden_linear']));
  nodes.push(node('Relu', ['hidden_linear'], ['hidden']));
  nodes.push(node('Gemm', ['hidden', 'w2', 'b2'], ['logits']));
  nodes.push(node('Softmax', ['logits'], ['probabilities'], { axis: 1 }));
  nodes.push(node('ArgMax', ['logits'], ['label'], { axis: 1, keepdims: 0 }));

  const graph = onnx.GraphProto.create({
    name: o.graphName,
    node: nodes,
    initializer: init,
    input: [valueInfo(o.inputName, FLOAT, ['batch', o.rawInputs])],
    output: [valueInfo('probabilities', FLOAT, ['batch', w.classes]), valueInfo('label', INT64, ['batch'])],
  });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'sluice',
    producerVersion: '0.1.0',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })],
    graph,
    metadataProps: Object.entries(o.metadata).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}
