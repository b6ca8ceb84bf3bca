// Recognises the accepted encodings by their magic bytes before sharp sees the payload: sharp
// would also open SVG, TIFF, GIF, PDF, HEIF and raw pixel dumps, and libvips' loaders for those are
// a larger attack surface than a model input needs. Signatures: JPEG (ITU T.81 SOI + marker),
// PNG (RFC 2083 section 12.12), WebP (RIFF container with the WEBP form type).
import { SluiceError } from '../../lib/errors.js';

export type ImageFormat = 'jpeg' | 'png' | 'webp';

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (bytes.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (bytes[at + i] !== sig[i]) return false;
  return true;
}

/** Which accepted format `bytes` claims to be; SLUICE_E_IMAGE_BAD naming `what` otherwise. */
export function imageFormat(bytes: Uint8Array, what: string): ImageFormat {
  if (bytes.length === 0) throw new SluiceError('SLUICE_E_IMAGE_BAD', `${what} is empty (0 bytes)`, { details: { reason: 'empty' } });
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, PNG)) return 'png';
  // 'RIFF' <size> 'WEBP'
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) return 'webp';
  throw new SluiceError('SLUICE_E_IMAGE_BAD', `${what} is not a JPEG, PNG or WebP image (${bytes.length} bytes, starting ${hexPrefix(bytes)})`, {
    details: { reason: 'not-an-image' },
  });
}

function hexPrefix(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
}
