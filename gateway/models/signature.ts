// A model version's inputs and outputs: from config.json when it lists them (checked against the
// ONNX model), else read from the model itself. Dims exclude the batch dimension when the model
// batches (max_batch_size > 0), as in Triton's config.
import { SluiceError } from '../../lib/errors.js';
import type { ModelConfig, TensorConfig } from './config.js';
import { datatypeFromOrt } from './tensors.js';
import type { LoadResult, TensorMetadata } from '../util/worker-messages.js';

export interface Signature {
  inputs: TensorConfig[];
  outputs: TensorConfig[];
}

export function resolveSignature(config: ModelConfig, meta: LoadResult): Signature {
  return {
    inputs: resolve(config, 'input', config.input, meta.inputs),
    outputs: resolve(config, 'output', config.output, meta.outputs),
  };
}

function resolve(config: ModelConfig, kind: 'input' | 'output', declared: TensorConfig[] | undefined, actual: TensorMetadata[]): TensorConfig[] {
  const batched = config.max_batch_size > 0;
  const fail = (why: string): never => {
    throw new SluiceError('SLUICE_E_MODEL_INVALID', `model ${config.name}: ${why}`);
  };
  const fromModel = actual.map((m): TensorConfig => {
    const datatype = datatypeFromOrt(m.type);
    if (datatype === undefined) fail(`${kind} ${m.name} has type ${m.type}, which Sluice cannot serve`);
    if (batched && m.shape.length === 0) fail(`${kind} ${m.name} has no batch dimension; set max_batch_size to 0`);
    if (batched && m.shape[0] !== -1 && m.shape[0]! < config.max_batch_size) {
      fail(`${kind} ${m.name} has a fixed batch dimension of ${m.shape[0]}, below max_batch_size ${config.max_batch_size}`);
    }
    return { name: m.name, datatype: datatype!, dims: batched ? m.shape.slice(1) : [...m.shape] };
  });
  if (declared === undefined) return fromModel;
  if (kind === 'input' && declared.length !== fromModel.length) {
    fail(`config lists ${declared.length} inputs, the model has ${fromModel.length} (${fromModel.map((m) => m.name).join(', ')})`);
  }
  return declared.map((d) => {
    const m = fromModel.find((x) => x.name === d.name);
    if (m === undefined) fail(`config ${kind} ${d.name} is not in the model (it has ${fromModel.map((x) => x.name).join(', ')})`);
    if (m!.datatype !== d.datatype) fail(`config ${kind} ${d.name} is ${d.datatype}, the model says ${m!.datatype}`);
    if (m!.dims.length !== d.dims.length || m!.dims.some((x, i) => x !== -1 && d.dims[i] !== x)) {
      fail(`config ${kind} ${d.name} dims [${d.dims.join(',')}] do not fit the model's [${m!.dims.join(',')}]`);
    }
    return d;
  });
}
