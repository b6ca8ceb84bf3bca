// The input/output signature of an ONNX model, read from its protobuf (onnx-proto) rather than by
// opening an ONNX Runtime session: the control plane only needs names, types and shapes, and
// decoding the graph costs milliseconds where creating a session costs the model's whole load.
import onnxProto from 'onnx-proto';
import { SluiceError } from '../../lib/errors.js';

const { onnx } = onnxProto;

export interface TensorSpec {
  name: string;
  /** Open Inference Protocol datatype (FP32, INT64, ...). */
  datatype: string;
  /** -1 for a dynamic dimension. */
  shape: number[];
}

export interface TensorSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

// onnx.TensorProto.DataType → OIP datatype (KServe V2 "Tensor Data Types").
const DATATYPES: Record<number, string> = {
  1: 'FP32', 2: 'UINT8', 3: 'INT8', 4: 'UINT16', 5: 'INT16', 6: 'INT32', 7: 'INT64', 8: 'BYTES',
  9: 'BOOL', 10: 'FP16', 11: 'FP64', 12: 'UINT32', 13: 'UINT64', 16: 'BF16',
};

type ValueInfo = onnxProto.onnx.IValueInfoProto;

function toSpec(v: ValueInfo): TensorSpec {
  const tensor = v.type?.tensorType;
  if (!tensor) throw new SluiceError('SLUICE_E_ARTIFACT_INVALID', `graph value ${v.name} is not a tensor`, { details: { tensor: v.name } });
  const datatype = DATATYPES[tensor.elemType ?? 0];
  if (datatype === undefined) throw new SluiceError('SLUICE_E_ARTIFACT_INVALID', `tensor ${v.name} has unsupported element type ${tensor.elemType}`, { details: { tensor: v.name } });
  const shape = (tensor.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : -1));
  return { name: v.name ?? '', datatype, shape };
}

export function readOnnxSignature(bytes: Uint8Array): TensorSignature {
  let model: InstanceType<typeof onnx.ModelProto>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new SluiceError('SLUICE_E_ARTIFACT_INVALID', 'artifact is not an ONNX model (protobuf decoding failed)', { cause: err });
  }
  const graph = model.graph;
  if (!graph || !model.irVersion || (graph.output ?? []).length === 0) {
    throw new SluiceError('SLUICE_E_ARTIFACT_INVALID', 'artifact is not an ONNX model (no graph outputs)');
  }
  // Before IR version 4, initializers were also listed as graph inputs; they are weights, not inputs.
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(toSpec);
  if (inputs.length === 0) throw new SluiceError('SLUICE_E_ARTIFACT_INVALID', 'artifact is not an ONNX model (no graph inputs)');
  return { inputs, outputs: (graph.output ?? []).map(toSpec) };
}
