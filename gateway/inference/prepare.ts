// Checks a call's inputs against the model version's signature (names, datatypes, shapes, batch
// size, element counts) and the outputs it asks for, before anything is queued: every refusal is a
// coded 400 that names the input.
import { SluiceError } from '../../lib/errors.js';
import type { LoadedVersion, PreparedRequest } from '../models/loaded-version.js';
import { elementCount, type Tensor } from '../models/tensors.js';
import type { InferenceRequest } from './request.js';

/** Check a call's inputs against the model's signature and put them in the model's input order. */
export function prepare(version: LoadedVersion, request: InferenceRequest): PreparedRequest {
  const signature = version.inputs;
  const ordered: (Tensor | undefined)[] = new Array(signature.length);
  const batched = version.batched;
  let rows = batched ? -1 : 1;
  for (const input of request.inputs) {
    const i = signature.findIndex((s) => s.name === input.name);
    if (i < 0) {
      throw new SluiceError('SLUICE_E_PROTOCOL_BAD_INPUT', `unexpected input ${input.name} for model ${version.name} (inputs: ${signature.map((s) => s.name).join(', ')})`);
    }
    if (ordered[i] !== undefined) throw new SluiceError('SLUICE_E_PROTOCOL_BAD_INPUT', `input ${input.name} is given twice`);
    const s = signature[i]!;
    if (input.datatype !== s.datatype) {
      throw new SluiceError('SLUICE_E_PROTOCOL_BAD_DATATYPE', `input ${input.name} has datatype ${input.datatype}, the model expects ${s.datatype}`);
    }
    const shape = input.shape;
    if (!shapeFits(shape, s.dims, batched)) {
      const expected = batched ? [-1, ...s.dims] : s.dims;
      throw new SluiceError('SLUICE_E_PROTOCOL_BAD_SHAPE', `input ${input.name} has shape [${shape.join(',')}], the model expects [${expected.join(',')}] (-1: any size)`);
    }
    if (batched) {
      const r = shape[0]!;
      if (r < 1 || r > version.config.max_batch_size) {
        throw new SluiceError('SLUICE_E_PROTOCOL_BAD_SHAPE', `input ${input.name} has batch size ${r}; it must be from 1 to max_batch_size ${version.config.max_batch_size}`);
      }
      if (rows !== -1 && rows !== r) throw new SluiceError('SLUICE_E_PROTOCOL_BAD_SHAPE', `inputs disagree on the batch size (${rows} and ${r})`);
      rows = r;
    }
    if (input.data.length !== elementCount(shape)) {
      throw new SluiceError('SLUICE_E_PROTOCOL_BAD_DATA', `input ${input.name} has ${input.data.length} values, its shape [${shape.join(',')}] needs ${elementCount(shape)}`);
    }
    ordered[i] = input;
  }
  for (let i = 0; i < signature.length; i++) {
    if (ordered[i] === undefined) throw new SluiceError('SLUICE_E_PROTOCOL_BAD_INPUT', `missing input ${signature[i]!.name} for model ${version.name}`);
  }
  if (request.outputs !== undefined) {
    for (const o of request.outputs) {
      if (!version.outputs.some((s) => s.name === o.name)) {
        throw new SluiceError('SLUICE_E_PROTOCOL_BAD_OUTPUT', `unknown output ${o.name} for model ${version.name} (outputs: ${version.outputs.map((s) => s.name).join(', ')})`);
      }
    }
  }
  return { inputs: ordered as Tensor[], rows };
}

/** `shape` matches the signature's `dims` (after a leading batch dimension when batched); -1 matches any size. */
function shapeFits(shape: readonly number[], dims: readonly number[], batched: boolean): boolean {
  const lead = batched ? 1 : 0;
  if (shape.length !== dims.length + lead) return false;
  for (let k = 0; k < shape.length; k++) {
    const d = shape[k]!;
    if (!(Number.isInteger(d) && d >= 0)) return false;
    const e = k < lead ? -1 : dims[k - lead]!;
    if (e !== -1 && e !== d) return false;
  }
  return true;
}
