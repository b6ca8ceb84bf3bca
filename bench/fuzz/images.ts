// Image inputs for the fuzzer: small valid PNG/JPEG/WebP seeds made with sharp, then cut,
// overwritten, spliced, or given hostile declared dimensions (headers patched where the format
// keeps them, with the PNG chunk CRC fixed so only the size is a lie).
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import sharp from 'sharp';

export type ImageSeeds = readonly Buffer[];

/** A few small images of each accepted format (opaque, alpha, grey; odd sizes). */
export async function imageSeeds(): Promise<ImageSeeds> {
  const seeds: Buffer[] = [];
  const sizes: [number, number, 3 | 4][] = [[8, 8, 3], [33, 7, 4], [1, 1, 3], [64, 48, 3]];
  for (const [width, height, channels] of sizes) {
    const base = sharp({ create: { width, height, channels, background: { r: 200, g: 40, b: 90, alpha: 0.5 } } });
    seeds.push(await base.clone().png().toBuffer(), await base.clone().jpeg().toBuffer(), await base.clone().webp().toBuffer());
  }
  seeds.push(await sharp({ create: { width: 16, height: 16, channels: 3, background: '#777' } }).grayscale().png().toBuffer());
  seeds.push(await sharp({ create: { width: 16, height: 16, channels: 3, background: '#777' } }).jpeg({ progressive: true }).withMetadata({ orientation: 6 }).toBuffer());
  return seeds;
}

const HOSTILE_SIDES = [0, 1, 2, 65_535, 65_536, 100_000, 2 ** 24, 2 ** 31 - 1, 2 ** 32 - 1];

/** `image` with its declared width and height replaced (PNG IHDR, JPEG SOFn, WebP VP8X/VP8/VP8L). */
export function withDeclaredSize(image: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(image);
  if (out[0] === 0x89 && out.length >= 33) {
    out.writeUInt32BE(width >>> 0, 16);
    out.writeUInt32BE(height >>> 0, 20);
    out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
    return out;
  }
  if (out[0] === 0xff) {
    for (let i = 2; i + 9 < out.length; ) {
      if (out[i] !== 0xff) break;
      const marker = out[i + 1]!;
      const length = out.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        out.writeUInt16BE(height & 0xffff, i + 5);
        out.writeUInt16BE(width & 0xffff, i + 7);
        return out;
      }
      i += 2 + length;
    }
    return out;
  }
  if (out.length >= 30) {
    const chunk = out.toString('latin1', 12, 16);
    if (chunk === 'VP8X') {
      out.writeUIntLE((width - 1) & 0xffffff, 24, 3);
      out.writeUIntLE((height - 1) & 0xffffff, 27, 3);
    } else if (chunk === 'VP8 ') {
      out.writeUInt16LE(width & 0x3fff, 26);
      out.writeUInt16LE(height & 0x3fff, 28);
    } else if (chunk === 'VP8L') {
      const bits = ((width - 1) & 0x3fff) | (((height - 1) & 0x3fff) << 14);
      out.writeUInt32LE(bits >>> 0, 21);
    }
  }
  return out;
}

/** Every kind of image input: valid seeds, cut, overwritten, spliced, hostile sizes, noise with a signature. */
export function imageInputs(seeds: ImageSeeds): fc.Arbitrary<Uint8Array> {
  const seed = fc.constantFrom(...seeds);
  return fc.oneof(
    { weight: 1, arbitrary: seed },
    { weight: 3, arbitrary: fc.tuple(seed, fc.double({ min: 0, max: 1, noNaN: true })).map(([s, f]) => s.subarray(0, Math.floor(s.length * f))) },
    {
      weight: 4,
      arbitrary: fc.tuple(seed, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 })).map(([s, edits]) => {
        const out = Buffer.from(s);
        for (const [at, byte] of edits) out[at % out.length] = byte;
        return out;
      }),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(seed, fc.nat(), fc.nat(), fc.nat(64)).map(([s, from, to, n]) => {
        const a = from % s.length;
        return Buffer.concat([s.subarray(0, to % s.length), s.subarray(a, a + n), s.subarray(to % s.length)]);
      }),
    },
    { weight: 3, arbitrary: fc.tuple(seed, fc.constantFrom(...HOSTILE_SIDES), fc.constantFrom(...HOSTILE_SIDES)).map(([s, w, h]) => withDeclaredSize(s, w, h)) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom([0xff, 0xd8, 0xff], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], [0x52, 0x49, 0x46, 0x46, 1, 0, 0, 0, 0x57, 0x45, 0x42, 0x50]), fc.uint8Array({ maxLength: 128 }))
        .map(([sig, rest]) => new Uint8Array([...sig, ...rest])),
    },
    { weight: 1, arbitrary: fc.oneof(fc.uint8Array({ maxLength: 32 }), seed.map((s) => Buffer.from(s.toString('base64')))) },
  );
}
