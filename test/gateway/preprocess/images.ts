// Test images made with sharp itself (text rendered from an SVG overlay), never files from outside,
// plus the broken payloads every image input must refuse.
import sharp from 'sharp';
import { crc32 } from 'node:zlib';

/** A white text line with black text, like the crops PaddleOCR's classifier sees. */
export async function textLine(text = 'Sluice 2026 upright text', format: 'png' | 'jpeg' | 'webp' = 'png', height = 64): Promise<Buffer> {
  const width = Math.round(height * 5.5);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="${height * 0.15}" y="${height * 0.72}" font-family="sans-serif" font-size="${Math.round(height * 0.6)}" fill="black">${text}</text></svg>`;
  return sharp(Buffer.from(svg)).toFormat(format).toBuffer();
}

/** The same image turned upside down. */
export function rotated180(image: Buffer): Promise<Buffer> {
  return sharp(image).rotate(180).toBuffer();
}

/** A real PNG whose IHDR claims `width` x `height` (CRC fixed up), so only the size is a lie. */
export async function pngBomb(width = 100_000, height = 100_000): Promise<Buffer> {
  const png = Buffer.from(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } }).png().toBuffer());
  // Signature (8) + IHDR length (4) + 'IHDR' (4), then width and height, big-endian.
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

/** The first `fraction` of `image`. */
export function truncated(image: Buffer, fraction = 0.5): Buffer {
  return image.subarray(0, Math.floor(image.length * fraction));
}

/** `image` with noise written every 7th byte from `from` on (the signature, bytes 0-11, stays). */
export function corrupted(image: Buffer, from = Math.floor(image.length / 3)): Buffer {
  const out = Buffer.from(image);
  for (let i = Math.max(12, from); i < out.length - 16; i += 7) out[i] = (i * 131) & 0xff;
  return out;
}
