// Turns decoded images into the model input: the native addon's imageToTensor writes each image
// once, straight into its slot of a Float32Array (channel map, scale, mean/std, layout, padding in
// one pass), because the same loop in JS costs ~10x more and would run on the event loop.
import { native } from '../../native/index.js';
import { SluiceError } from '../../lib/errors.js';
import { decodeImage, type DecodedImage } from './decode.js';
import type { ImagePlan } from './image-plan.js';

/** Writes `image` into `dst` at element `offset` (slot i of a batch is offset i * plan.elements). */
export function writeImageTensor(image: DecodedImage, plan: ImagePlan, dst: Float32Array, offset: number): void {
  native().imageToTensor({
    src: image.data, srcWidth: image.width, srcHeight: image.height, srcChannels: image.channels,
    dst, dstOffset: offset, dstWidth: plan.width, dstHeight: plan.height, chw: plan.chw,
    channelMap: plan.channelMap, scale: plan.scale, mean: plan.mean, std: plan.std, padValue: plan.padValue,
  });
}

export interface ImageTensor {
  name: string;
  datatype: 'FP32';
  /** [images, ...plan.dims] */
  shape: number[];
  data: Float32Array;
}

/**
 * Decodes `images` (the elements of BYTES input `plan.input`) concurrently and returns the FP32
 * tensor for `plan.target`. Any bad image fails the whole call with an error naming its index.
 */
export async function imagesToTensor(images: readonly Uint8Array[], plan: ImagePlan): Promise<ImageTensor> {
  if (images.length === 0) {
    throw new SluiceError('SLUICE_E_IMAGE_BAD', `input ${plan.input} holds no images`, { details: { input: plan.input, reason: 'empty' } });
  }
  const what = (i: number): string => (images.length === 1 ? `input ${plan.input}` : `input ${plan.input}[${i}]`);
  const decoded = await Promise.all(images.map((bytes, i) => decodeImage(bytes, plan, what(i))));
  const data = new Float32Array(images.length * plan.elements);
  for (let i = 0; i < decoded.length; i++) writeImageTensor(decoded[i]!, plan, data, i * plan.elements);
  return { name: plan.target, datatype: 'FP32', shape: [images.length, ...plan.dims], data };
}
