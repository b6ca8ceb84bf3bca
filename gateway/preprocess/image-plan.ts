// Resolves one `preprocess` entry of a model config against the model input it feeds into the plain,
// fully checked object the decode and tensor steps trust (sharp's habit: validate once, then work).
// Done once per model load, so every per-image step is arithmetic on known sizes.
import { SluiceError } from '../../lib/errors.js';
import type { ImagePreprocessConfig, ModelConfig, TensorConfig } from '../models/config.js';

export interface ImagePlan {
  model: string;
  /** The BYTES input clients send, and the model input the decoded images fill. */
  input: string;
  target: string;
  /** Size of one image in the target tensor. */
  height: number;
  width: number;
  channels: 1 | 3;
  fit: ImagePreprocessConfig['fit'];
  chw: boolean;
  /** Output channel -> channel of sharp's raw output (RGB or single grey). */
  channelMap: Int32Array;
  scale: number;
  mean: Float32Array;
  std: Float32Array;
  padValue: number;
  maxPixels: number;
  /** Float32 elements one image takes in the target tensor (channels * height * width). */
  elements: number;
  /** The target tensor's dims without the batch dimension, in the model's layout. */
  dims: number[];
}

function bad(model: string, field: string, why: string): never {
  throw new SluiceError('SLUICE_E_CONFIG_INVALID', `model ${model}: config field ${field} ${why}`, {
    details: { model, field },
  });
}

/** Picks the target size: the config's height/width win, else the model's fixed dims. */
function size(model: string, field: string, configured: number | undefined, fromModel: number | undefined): number {
  const c = configured !== undefined && configured > 0 ? configured : undefined;
  const m = fromModel !== undefined && fromModel > 0 ? fromModel : undefined;
  if (c !== undefined && m !== undefined && c !== m) bad(model, field, `is ${c} but the model input has ${m}`);
  const v = c ?? m;
  if (v === undefined) bad(model, field, 'must be set: the model input has a variable size there');
  return v;
}

/**
 * The plan for `pre` (entry `index` of `config.preprocess`). `target` is the model input it feeds,
 * from the config or from the model's own metadata; without it height and width must be configured.
 */
export function imagePlan(config: ModelConfig, pre: ImagePreprocessConfig, index: number, target?: TensorConfig): ImagePlan {
  const model = config.name;
  const f = `preprocess[${index}]`;
  const channels = pre.channel_order === 'GRAY' ? 1 : 3;
  const chw = pre.layout === 'NCHW';
  let dims: number[] | undefined;
  if (target) {
    if (target.datatype !== 'FP32') bad(model, `${f}.target`, `names input ${target.name} of type ${target.datatype}; images fill FP32 inputs`);
    // With max_batch_size 0 the config's dims include the batch dimension.
    dims = config.max_batch_size > 0 ? target.dims : target.dims.slice(1);
    if (dims.length !== 3) bad(model, `${f}.target`, `names input ${target.name} with dims [${target.dims.join(', ')}]; an image input has 3 (${pre.layout} without the batch)`);
    const c = chw ? dims[0]! : dims[2]!;
    if (c !== -1 && c !== channels) bad(model, `${f}.channel_order`, `gives ${channels} channel(s) but input ${target.name} has ${c}`);
  }
  const height = size(model, `${f}.height`, pre.height, dims && (chw ? dims[1] : dims[0]));
  const width = size(model, `${f}.width`, pre.width, dims && (chw ? dims[2] : dims[1]));
  const channelMap = pre.channel_order === 'BGR' ? [2, 1, 0] : pre.channel_order === 'RGB' ? [0, 1, 2] : [0];
  return {
    model,
    input: pre.input,
    target: pre.target,
    height,
    width,
    channels,
    fit: pre.fit,
    chw,
    channelMap: Int32Array.from(channelMap),
    scale: pre.scale,
    mean: Float32Array.from(pre.mean),
    std: Float32Array.from(pre.std),
    padValue: pre.pad_value,
    maxPixels: pre.max_pixels,
    elements: channels * height * width,
    dims: chw ? [channels, height, width] : [height, width, channels],
  };
}

/** Plans for every `preprocess` entry of a model, keyed by the BYTES input name clients send. */
export function imagePlans(config: ModelConfig, inputs: readonly TensorConfig[] = config.input ?? []): Map<string, ImagePlan> {
  const plans = new Map<string, ImagePlan>();
  (config.preprocess ?? []).forEach((pre, i) => {
    const target = inputs.find((t) => t.name === pre.target);
    if (inputs.length > 0 && !target) bad(config.name, `preprocess[${i}].target`, `names no input of the model (${inputs.map((t) => t.name).join(', ')})`);
    if (plans.has(pre.input)) bad(config.name, `preprocess[${i}].input`, `repeats ${pre.input}`);
    plans.set(pre.input, imagePlan(config, pre, i, target));
  });
  return plans;
}

/**
 * Resized size of a `srcWidth` x `srcHeight` image before padding. `height` keeps the aspect ratio
 * at the target height and caps the width (PaddleOCR's resize_norm_img: min(W, ceil(H * w / h)));
 * `contain` fits inside both; `fill` stretches. Padding goes right and bottom.
 */
export function resizedSize(plan: ImagePlan, srcWidth: number, srcHeight: number): { width: number; height: number } {
  if (plan.fit === 'fill') return { width: plan.width, height: plan.height };
  if (plan.fit === 'height') {
    return { width: Math.max(1, Math.min(plan.width, Math.ceil((plan.height * srcWidth) / srcHeight))), height: plan.height };
  }
  const k = Math.min(plan.width / srcWidth, plan.height / srcHeight);
  return {
    width: Math.max(1, Math.min(plan.width, Math.round(srcWidth * k))),
    height: Math.max(1, Math.min(plan.height, Math.round(srcHeight * k))),
  };
}
