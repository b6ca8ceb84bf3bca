// Turns decoded images into the model input: the native addon's imageToTensor writes each image
// once, straight into its slot of a Float32Array (channel map, scale, mean/std, layout, padding in
// one pass), because the same loop in JS costs ~10x more and would run on the event loop.
import { native } from '../../native/index.js';
import { SluiceError } from '../../lib/errors.js';
import { decodeImage, readImageHeader, type DecodedImage } from './decode.js';
import type { DecodeBudget } from './decode-budget.js';
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
 * With a budget, every header is read first and the request's pixels checked, then the images
 * decode on as many of the budget's slots as are free (refused when none is).
 */
export async function imagesToTensor(images: readonly Uint8Array[], plan: ImagePlan, budget?: DecodeBudget): Promise<ImageTensor> {
  if (images.length === 0) {
    throw new SluiceError('SLUICE_E_IMAGE_BAD', `input ${plan.input} holds no images`, { details: { input: plan.input, reason: 'empty' } });
  }
  const what = (i: number): string => (images.length === 1 ? `input ${plan.input}` : `input ${plan.input}[${i}]`);
  let decoded: DecodedImage[];
  if (budget === undefined) {
    decoded = await Promise.all(images.map((bytes, i) => decodeImage(bytes, plan, what(i))));
  } else {
    const headers = await Promise.all(images.map((bytes, i) => readImageHeader(bytes, plan, what(i))));
    budget.checkPixels(headers.reduce((sum, h) => sum + h.width * h.height, 0), plan.input);
    const lanes = budget.acquire(images.length);
    try {
      decoded = new Array<DecodedImage>(images.length);
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < images.length) {
          const i = next++;
          decoded[i] = await decodeImage(images[i]!, plan, what(i), headers[i]);
        }
      };
      await Promise.all(Array.from({ length: lanes }, lane));
    } finally {
      budget.release(lanes);
    }
  }
  const data = new Float32Array(images.length * plan.elements);
  for (let i = 0; i < decoded.length; i++) writeImageTensor(decoded[i]!, plan, data, i * plan.elements);
  return { name: plan.target, datatype: 'FP32', shape: [images.length, ...plan.dims], data };
}
