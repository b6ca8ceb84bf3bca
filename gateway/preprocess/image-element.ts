// The elements of a BYTES image input, as the two OIP encodings deliver them: the binary extension
// carries the image bytes themselves; JSON can only carry text, so there an element is base64 (or
// a `data:image/...;base64,` URL) and reaches us as that text's UTF-8 bytes.

const IMAGE_SIGNATURES = [[0xff, 0xd8, 0xff], [0x89, 0x50, 0x4e, 0x47], [0x52, 0x49, 0x46, 0x46]];

function isBase64Byte(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2b || b === 0x2f || b === 0x3d || b === 0x2d || b === 0x5f;
}

/**
 * The encoded image an element carries: the element itself when it starts with an image signature
 * (JPEG FF D8 FF, PNG 89 'PNG', WebP 'RIFF'), else its base64 text decoded. Base64 of an accepted
 * image starts '/9j/', 'iVBOR' or 'UklGR', never with a signature, so the two cannot be confused;
 * anything else is passed on as is and refused by the format check with its first bytes named.
 */
export function imageElement(el: Uint8Array): Uint8Array {
  if (IMAGE_SIGNATURES.some((sig) => sig.every((b, i) => el[i] === b))) return el;
  let start = 0;
  if (el.length > 5 && Buffer.from(el.buffer, el.byteOffset, 5).toString('latin1') === 'data:') {
    start = el.indexOf(0x2c) + 1; // after the comma
    if (start === 0) return el;
  }
  for (let i = start; i < el.length; i++) if (!isBase64Byte(el[i]!)) return el;
  if (el.length - start === 0) return el;
  return Buffer.from(Buffer.from(el.buffer, el.byteOffset + start, el.length - start).toString('latin1'), 'base64');
}
