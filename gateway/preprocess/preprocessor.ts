// Plugs image inputs into the gateway's inference entry (InferenceService.setPreprocessor): for a
// model whose config has `preprocess`, each BYTES input named there is decoded into the FP32 model
// input it feeds before the call is checked against the model's signature and batched. The plans
// are resolved once per loaded model version.
import { SluiceError, isSluiceError } from '../../lib/errors.js';
import type { LoadedVersion } from '../models/loaded-version.js';
import type { Tensor } from '../models/tensors.js';
import { imageElement } from './image-element.js';
import { imagePlans, type ImagePlan } from './image-plan.js';
import { imagesToTensor } from './image-tensor.js';
import type { DecodeBudget } from './decode-budget.js';

/** The plans of one loaded version, keyed by the BYTES input name clients send. */
export function plansFor(version: LoadedVersion): Map<string, ImagePlan> {
  let plans = cache.get(version);
  if (plans === undefined) {
    try {
      plans = imagePlans(version.config, version.inputs);
    } catch (err) {
      // The config is the operator's mistake, not the caller's: a 500 that names the field.
      throw new SluiceError('SLUICE_E_MODEL_LOAD_FAILED', isSluiceError(err) ? err.message : `model ${version.name}: bad preprocess config`, { cause: err });
    }
    cache.set(version, plans);
  }
  return plans;
}

const cache = new WeakMap<LoadedVersion, Map<string, ImagePlan>>();

/** The BYTES input a raw `Content-Type: image/*` body goes to: the first `preprocess` entry's. */
export function imageInputName(version: LoadedVersion): string | undefined {
  return version.config.preprocess?.[0]?.input;
}

/** A single-image call from a raw image body (`POST .../infer` with `Content-Type: image/*`). */
export function imageBodyInputs(version: LoadedVersion, body: Uint8Array): Tensor[] {
  const input = imageInputName(version);
  if (input === undefined) {
    throw new SluiceError('SLUICE_E_HTTP_UNSUPPORTED_MEDIA_TYPE', `model ${version.name} takes no image input (its config has no preprocess); send an OIP JSON or binary request`);
  }
  return [{ name: input, datatype: 'BYTES', shape: [1], data: [body] }];
}

async function imageInput(tensor: Tensor, plan: ImagePlan, version: LoadedVersion, budget: DecodeBudget | undefined): Promise<Tensor> {
  if (tensor.datatype !== 'BYTES' || !Array.isArray(tensor.data)) {
    throw new SluiceError('SLUICE_E_PROTOCOL_BAD_DATATYPE', `input ${tensor.name} of model ${version.name} takes encoded images as BYTES, not ${tensor.datatype}`);
  }
  const shape = tensor.shape;
  // One image per row: [N] or [N, 1].
  if (shape.length < 1 || shape.length > 2 || (shape.length === 2 && shape[1] !== 1)) {
    throw new SluiceError('SLUICE_E_PROTOCOL_BAD_SHAPE', `input ${tensor.name} has shape [${shape.join(',')}]; images go as [N] or [N,1], one encoded image per element`);
  }
  // Refuse an oversized batch before decoding anything (prepare() would, after the work).
  const max = version.config.max_batch_size;
  if (version.batched && shape[0]! > max) {
    throw new SluiceError('SLUICE_E_PROTOCOL_BAD_SHAPE', `input ${tensor.name} has batch size ${shape[0]}; it must be from 1 to max_batch_size ${max}`);
  }
  const images = tensor.data.map(imageElement);
  const out = await imagesToTensor(images, plan, budget);
  return { name: out.name, datatype: 'FP32', shape: out.shape, data: out.data };
}

/**
 * Turns a call's inputs into model inputs; runs only for versions with `preprocess` in their
 * config. Returns `inputs` itself when there is nothing to do.
 */
export type Preprocessor = (version: LoadedVersion, inputs: Tensor[]) => Tensor[] | Promise<Tensor[]>;

/** The preprocessor to hand to InferenceService.setPreprocessor; decodes within `budget` when given. */
export function imagePreprocessor(budget?: DecodeBudget): Preprocessor {
  return async (version: LoadedVersion, inputs: Tensor[]): Promise<Tensor[]> => {
    const plans = plansFor(version);
    if (!inputs.some((t) => plans.has(t.name))) return inputs;
    return Promise.all(inputs.map((t) => {
      const plan = plans.get(t.name);
      return plan === undefined ? t : imageInput(t, plan, version, budget);
    }));
  };
}
