import t, { type Test } from 'tap';
import sharp from 'sharp';
import { parseModelConfig } from '../../../gateway/models/config.js';
import { decodeImage, imageFormat, imagePlans, imagesToTensor, type ImagePlan } from '../../../gateway/preprocess/index.js';
import { isSluiceError } from '../../../lib/errors.js';
import { corrupted, pngBomb, textLine, truncated } from './images.js';

function plan(pre: Record<string, unknown> = {}, dims = [3, 48, 192]): ImagePlan {
  const config = parseModelConfig('m', {
    max_batch_size: 8,
    input: [{ name: 'x', datatype: 'FP32', dims }],
    preprocess: [{ input: 'image', target: 'x', fit: 'height', channel_order: 'BGR', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], ...pre }],
  });
  return imagePlans(config).get('image')!;
}

async function rejects(t: Test, p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  try {
    await p;
    t.fail(`expected ${code}`);
  } catch (err) {
    t.ok(isSluiceError(err), 'a SluiceError');
    t.equal((err as { code: string }).code, code);
    t.equal((err as { status: number }).status, 400);
    t.match((err as Error).message, pattern);
  }
}

t.test('JPEG, PNG and WebP are recognised by their signatures', async (t) => {
  for (const format of ['jpeg', 'png', 'webp'] as const) t.equal(imageFormat(await textLine('x', format), 'img'), format);
});

t.test('each accepted format decodes to the PaddleOCR size: height 48, width from the aspect ratio', async (t) => {
  const p = plan();
  for (const format of ['jpeg', 'png', 'webp'] as const) {
    const img = await decodeImage(await textLine('Sluice', format, 64), p, 'image');
    t.equal(img.format, format);
    t.equal(img.height, 48);
    t.equal(img.width, 192, `${format}: a 5.5:1 line is capped at the full width`);
    t.equal(img.channels, 3);
    t.equal(img.data.length, img.width * img.height * 3);
  }
});

t.test('a short line keeps its aspect ratio at height 48', async (t) => {
  const short = await sharp({ create: { width: 120, height: 80, channels: 3, background: '#808080' } }).webp().toBuffer();
  const img = await decodeImage(short, plan(), 'image');
  t.same([img.width, img.height], [72, 48]);
});

t.test('a line wider than 48:192 is squeezed to the full width, as PaddleOCR does', async (t) => {
  const wide = await sharp({ create: { width: 1000, height: 50, channels: 3, background: '#808080' } }).png().toBuffer();
  const img = await decodeImage(wide, plan(), 'image');
  t.same([img.width, img.height], [192, 48]);
});

t.test('the tensor holds BGR (x/255-0.5)/0.5 in NCHW with the padded right side at pad_value', async (t) => {
  // A solid colour image: every pixel is (r, g, b) = (255, 0, 51).
  const solid = await sharp({ create: { width: 96, height: 48, channels: 3, background: { r: 255, g: 0, b: 51 } } }).png().toBuffer();
  const tensor = await imagesToTensor([solid, solid], plan({ pad_value: -7 }));
  t.same(tensor.shape, [2, 3, 48, 192]);
  t.equal(tensor.name, 'x');
  const at = (n: number, c: number, y: number, x: number): number => tensor.data[((n * 3 + c) * 48 + y) * 192 + x]!;
  t.ok(Math.abs(at(1, 0, 10, 10) - (51 / 255 - 0.5) / 0.5) < 1e-5, 'channel 0 is blue');
  t.equal(at(1, 1, 10, 10), -1, 'channel 1 is green');
  t.equal(at(1, 2, 10, 10), 1, 'channel 2 is red');
  t.equal(at(0, 2, 47, 95), 1, 'last resized column');
  t.equal(at(0, 2, 47, 96), -7, 'padding starts after width 96');
});

t.test('NHWC GRAY with fill writes one channel per pixel at the configured size', async (t) => {
  const p = plan({ channel_order: 'GRAY', layout: 'NHWC', fit: 'fill', mean: [0], std: [1], scale: 1 }, [4, 6, 1]);
  const white = await sharp({ create: { width: 30, height: 30, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
  const tensor = await imagesToTensor([white], p);
  t.same(tensor.shape, [1, 4, 6, 1]);
  t.same(Array.from(new Set(tensor.data)), [255], 'transparent pixels become white paper');
});

t.test('contain keeps the aspect ratio inside both sides and pads right and bottom', async (t) => {
  const p = plan({ fit: 'contain', channel_order: 'RGB', height: 10, width: 10, mean: [0, 0, 0], std: [1, 1, 1], scale: 1, pad_value: -1 }, [3, -1, -1]);
  const tall = await sharp({ create: { width: 20, height: 40, channels: 3, background: '#ffffff' } }).jpeg().toBuffer();
  const img = await decodeImage(tall, p, 'image');
  t.same([img.width, img.height], [5, 10]);
  const tensor = await imagesToTensor([tall], p);
  t.equal(tensor.data[0 * 10 + 4], 255);
  t.equal(tensor.data[0 * 10 + 5], -1);
});

t.test('a zero-byte payload is refused as empty', async (t) => {
  await rejects(t, decodeImage(new Uint8Array(0), plan(), 'input image'), 'SLUICE_E_IMAGE_BAD', /input image is empty/);
});

t.test('a non-image payload is refused naming the accepted formats', async (t) => {
  await rejects(t, decodeImage(Buffer.from('{"not": "an image"}'), plan(), 'input image'), 'SLUICE_E_IMAGE_BAD', /not a JPEG, PNG or WebP/);
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
  await rejects(t, decodeImage(svg, plan(), 'input image'), 'SLUICE_E_IMAGE_BAD', /not a JPEG, PNG or WebP/);
  const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } }).gif().toBuffer();
  await rejects(t, decodeImage(gif, plan(), 'input image'), 'SLUICE_E_IMAGE_BAD', /not a JPEG, PNG or WebP/);
});

t.test('a truncated image of each format is refused as corrupt or truncated', async (t) => {
  for (const format of ['jpeg', 'png', 'webp'] as const) {
    const cut = truncated(await textLine('truncated', format), 0.6);
    await rejects(t, decodeImage(cut, plan(), `input image`), 'SLUICE_E_IMAGE_BAD', new RegExp(`input image: the ${format} (data is corrupt or truncated|header is unreadable)`));
  }
});

t.test('an image with a signature but only a few bytes is refused', async (t) => {
  await rejects(t, decodeImage(truncated(await textLine('x', 'png'), 0.05), plan(), 'input image'), 'SLUICE_E_IMAGE_BAD', /png/);
});

t.test('a corrupted image of each format is refused', async (t) => {
  for (const format of ['jpeg', 'png', 'webp'] as const) {
    const image = await textLine('corrupted image data here', format);
    await rejects(t, decodeImage(corrupted(image, 12), plan(), 'input image'), 'SLUICE_E_IMAGE_BAD', new RegExp(format));
  }
  // PNG checksums every chunk and JPEG has markers to lose; a lossy WebP body has neither and
  // decodes to noise, so only its container is checked above.
  for (const format of ['jpeg', 'png'] as const) {
    const image = await textLine('corrupted image data here', format);
    await rejects(t, decodeImage(corrupted(image), plan(), 'input image'), 'SLUICE_E_IMAGE_BAD', /data is corrupt or truncated/);
  }
});

t.test('a decompression bomb is refused from its header before decoding', async (t) => {
  const bomb = await pngBomb(100_000, 100_000);
  t.ok(bomb.length < 200, 'the payload itself is tiny');
  await rejects(t, decodeImage(bomb, plan(), 'input image'), 'SLUICE_E_IMAGE_TOO_LARGE', /100000x100000 pixels exceeds the limit of 40000000/);
});

t.test('max_pixels bounds real images too', async (t) => {
  await rejects(t, decodeImage(await textLine('x', 'png', 64), plan({ max_pixels: 1000 }), 'input image'), 'SLUICE_E_IMAGE_TOO_LARGE', /352x64 pixels exceeds the limit of 1000/);
});

t.test('one bad image in a batch fails the call naming its index', async (t) => {
  const good = await textLine('fine');
  await rejects(t, imagesToTensor([good, Buffer.from('nope'), good], plan()), 'SLUICE_E_IMAGE_BAD', /input image\[1\] is not a JPEG/);
  await rejects(t, imagesToTensor([], plan()), 'SLUICE_E_IMAGE_BAD', /holds no images/);
});
