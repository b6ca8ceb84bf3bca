// Micro-benchmark: image preprocessing for `text-direction` (PaddleOCR's plan: height 48 keeping
// the aspect ratio, pad to 192, BGR, (x/255-0.5)/0.5, NCHW), in the same run:
//  - images/s through the whole step (sharp header read + decode + resize off the event loop,
//    then the tensor fill), per format, with 1 and with `--concurrency` images in flight;
//  - µs per image of the tensor fill alone: the native addon's imageToTensor vs the same loop in
//    JavaScript (the alternative it replaces on the main thread).
// Rounds interleave the candidates so machine noise hits all of them; medians are reported.
//
//   node dist/bench/micro/images/preprocess.js [--rounds 5] [--ms 1000] [--concurrency 8] [--json out.json]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { parseModelConfig } from '../../../gateway/models/config.js';
import { decodeImage, imagePlans, imagesToTensor, writeImageTensor, type DecodedImage, type ImagePlan } from '../../../gateway/preprocess/index.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    ms: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    json: { type: 'string' },
  },
});
const ROUNDS = Number(args.rounds);
const MS = Number(args.ms);
const CONCURRENCY = Number(args.concurrency);

const plan: ImagePlan = imagePlans(parseModelConfig('text-direction', {
  max_batch_size: 64,
  input: [{ name: 'x', datatype: 'FP32', dims: [3, 48, 192] }],
  preprocess: [{ input: 'image', target: 'x', fit: 'height', channel_order: 'BGR', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }],
})).get('image')!;

/** A 352x64 text line (the size of a cropped line from a phone photo of a page), made with sharp. */
function textLine(format: 'png' | 'jpeg' | 'webp'): Promise<Buffer> {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="352" height="64"><rect width="100%" height="100%" fill="white"/>' +
    '<text x="10" y="46" font-family="sans-serif" font-size="38" fill="black">Sluice image bench 42</text></svg>';
  return sharp(Buffer.from(svg)).toFormat(format).toBuffer();
}

/** Images/s for about MS ms with `inFlight` single-image calls outstanding. */
async function pipeline(image: Buffer, inFlight: number): Promise<number> {
  let done = 0;
  const start = performance.now();
  const deadline = start + MS;
  const lane = async (): Promise<void> => {
    while (performance.now() < deadline) {
      await imagesToTensor([image], plan);
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return (done * 1000) / (performance.now() - start);
}

/** The native fill written in JavaScript, for comparison. */
function jsFill(img: DecodedImage, p: ImagePlan, dst: Float32Array): void {
  const plane = p.width * p.height;
  for (let c = 0; c < p.channels; c++) {
    const a = p.scale / p.std[c]!;
    const b = -p.mean[c]! / p.std[c]!;
    const sc = p.channelMap[c]!;
    for (let y = 0; y < p.height; y++) {
      const row = c * plane + y * p.width;
      for (let x = 0; x < p.width; x++) {
        dst[row + x] = y < img.height && x < img.width ? img.data[(y * img.width + x) * img.channels + sc]! * a + b : p.padValue;
      }
    }
  }
}

/** µs per image of `fill` for about MS ms. */
function fillMicros(fill: () => void): number {
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < MS) {
    for (let k = 0; k < 64; k++) fill();
    n += 64;
    now = performance.now();
  }
  return ((now - start) * 1000) / n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const formats = ['png', 'jpeg', 'webp'] as const;
const images = Object.fromEntries(await Promise.all(formats.map(async (f) => [f, await textLine(f)] as const))) as Record<(typeof formats)[number], Buffer>;
const decoded = await decodeImage(images.png, plan, 'bench');
const dst = new Float32Array(plan.elements);
const samples: Record<string, number[]> = {};
const add = (k: string, v: number): void => void (samples[k] ??= []).push(v);

for (let r = 0; r < ROUNDS; r++) {
  for (const f of formats) {
    add(`${f} images/s, 1 in flight`, await pipeline(images[f], 1));
    add(`${f} images/s, ${CONCURRENCY} in flight`, await pipeline(images[f], CONCURRENCY));
  }
  add('tensor fill µs/image, native imageToTensor', fillMicros(() => writeImageTensor(decoded, plan, dst, 0)));
  add('tensor fill µs/image, JavaScript loop', fillMicros(() => jsFill(decoded, plan, dst)));
}

const rows = Object.entries(samples).map(([what, xs]) => ({ what, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) }));
console.log(`text-direction image preprocessing, ${ROUNDS} rounds of ${MS} ms, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}, sharp concurrency ${sharp.concurrency()}`);
console.log('| measurement | median | min | max |\n|---|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.what} | ${r.median.toFixed(1)} | ${r.min.toFixed(1)} | ${r.max.toFixed(1)} |`);
const native = samples['tensor fill µs/image, native imageToTensor']!;
const js = samples['tensor fill µs/image, JavaScript loop']!;
console.log(`native fill is ${(median(js) / median(native)).toFixed(1)}x faster than the JS loop`);
if (args.json) writeFileSync(args.json, `${JSON.stringify({ rounds: ROUNDS, ms: MS, concurrency: CONCURRENCY, rows }, null, 2)}\n`);
