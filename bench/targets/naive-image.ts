// The naive baseline's image preprocessing for the `text-direction-image` workload, written the way a
// team would without Sluice: sharp reads the size and resizes (on libuv's pool), a JavaScript loop on
// the main thread fills the tensor.
import sharp from 'sharp';

/**
 * PaddleOCR's classifier preprocessing of one image to one row of `rowShape` = [3, H, W]: height H,
 * width ceil(H * w/h) capped at W (stretched), BGR, (x/255 - 0.5)/0.5, NCHW, zero padding on the right.
 */
export async function pngToRow(png: Buffer, rowShape: readonly number[]): Promise<Float32Array> {
  const [c, h, w] = rowShape as [number, number, number];
  const meta = await sharp(png).metadata();
  const width = Math.max(1, Math.min(w, Math.ceil((h * (meta.width ?? w)) / (meta.height ?? h))));
  const data = await sharp(png).removeAlpha().resize(width, h, { fit: 'fill' }).raw().toBuffer();
  const row = new Float32Array(c * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < width; x++) {
      const px = (y * width + x) * 3;
      for (let ch = 0; ch < c; ch++) row[ch * h * w + y * w + x] = data[px + (2 - ch)]! / 127.5 - 1;
    }
  }
  return row;
}
