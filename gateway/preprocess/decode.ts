// Decodes and resizes one encoded image with sharp. sharp runs its work on libuv's thread pool, so
// the event loop only waits; the header is read first (metadata() decodes no pixels) and the pixel
// limit is checked on the declared size, so a 100000x100000 "decompression bomb" is refused before
// any buffer for it exists. limitInputPixels repeats the limit inside libvips as a second guard.
import sharp, { type Metadata } from 'sharp';
import { SluiceError } from '../../lib/errors.js';
import { imageFormat, type ImageFormat } from './image-format.js';
import { resizedSize, type ImagePlan } from './image-plan.js';

/** Resized pixels, interleaved HWC uint8 (RGB, or one grey channel), not yet padded. */
export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
  format: ImageFormat;
}

// EXIF orientations 5-8 turn the image by 90 degrees: width and height swap once it is upright.
const SWAPS_AXES = new Set([5, 6, 7, 8]);

/** What an image's header declares, read without decoding a pixel. */
export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
  orientation: number;
}

/** Reads the header of `bytes` and checks its size against the plan's per-image pixel limit. */
export async function readImageHeader(bytes: Uint8Array, plan: ImagePlan, what: string): Promise<ImageHeader> {
  const format = imageFormat(bytes, what);
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new SluiceError('SLUICE_E_IMAGE_BAD', `${what}: the ${format} header is unreadable`, { cause: err, details: { reason: 'corrupt', format } });
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w <= 0 || h <= 0) {
    throw new SluiceError('SLUICE_E_IMAGE_BAD', `${what}: the ${format} header declares no size`, { details: { reason: 'corrupt', format } });
  }
  if (w * h > plan.maxPixels) {
    throw new SluiceError('SLUICE_E_IMAGE_TOO_LARGE', `${what}: ${w}x${h} pixels exceeds the limit of ${plan.maxPixels} pixels for model ${plan.model}`, {
      details: { width: w, height: h, max_pixels: plan.maxPixels },
    });
  }
  return { format, width: w, height: h, orientation: meta.orientation ?? 1 };
}

/** Decodes `bytes` for `plan` (its header read first unless given). `what` names the image in errors (e.g. `input image[2]`). */
export async function decodeImage(bytes: Uint8Array, plan: ImagePlan, what: string, header?: ImageHeader): Promise<DecodedImage> {
  const { format, width: w, height: h, orientation } = header ?? (await readImageHeader(bytes, plan, what));
  const upright = SWAPS_AXES.has(orientation) ? { w: h, h: w } : { w, h };
  const size = resizedSize(plan, upright.w, upright.h);
  let pipeline = sharp(bytes, { limitInputPixels: plan.maxPixels, failOn: 'warning' })
    .autoOrient()
    // Transparent pixels become white (paper), not whatever colour their RGB happens to hold.
    .flatten({ background: '#ffffff' })
    .resize(size.width, size.height, { fit: 'fill' });
  pipeline = plan.channels === 1 ? pipeline.grayscale() : pipeline.toColourspace('srgb');
  try {
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels, format };
  } catch (err) {
    throw new SluiceError('SLUICE_E_IMAGE_BAD', `${what}: the ${format} data is corrupt or truncated`, { cause: err, details: { reason: 'corrupt', format } });
  }
}
