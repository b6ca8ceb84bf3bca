import t from 'tap';
import { Worker } from 'node:worker_threads';
import { native, nativeAvailable, type ImageTensorOptions } from '../../native/index.js';

/** Plain-JS reference of imageToTensor, for comparison. */
function reference(src: Uint8Array, w: number, h: number, c: number, dw: number, dh: number, chw: boolean,
  map: number[], scale: number, mean: number[], std: number[], pad: number): Float32Array {
  const out = new Float32Array(map.length * dw * dh).fill(pad);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      map.forEach((sc, oc) => {
        const v = (src[(y * w + x) * c + sc]! * scale - mean[oc]!) / std[oc]!;
        const idx = chw ? oc * dw * dh + y * dw + x : (y * dw + x) * map.length + oc;
        out[idx] = v;
      });
    }
  }
  return out;
}

t.test('the addon loads in the main thread', async (t) => {
  t.ok(nativeAvailable());
  t.equal(native().abiVersion, 2);
});

t.test('the addon loads and runs in a worker thread', async (t) => {
  const url = new URL('../../native/index.js', import.meta.url).href;
  const code = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(url)}).then(({ native }) => {
      const dst = new Float32Array(3);
      native().imageToTensor({ src: new Uint8Array([255, 0, 51]), srcWidth: 1, srcHeight: 1, srcChannels: 3, dst, dstOffset: 0,
        dstWidth: 1, dstHeight: 1, chw: true, channelMap: new Int32Array([0, 1, 2]), scale: 1 / 255,
        mean: new Float32Array([0, 0, 0]), std: new Float32Array([1, 1, 1]), padValue: 0 });
      parentPort.postMessage(Array.from(dst));
    }).catch((e) => parentPort.postMessage(String(e)));`;
  const worker = new Worker(code, { eval: true });
  const result = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  const [r, g, b] = result as number[];
  t.equal(r, 1);
  t.equal(g, 0);
  t.ok(Math.abs(b! - 0.2) < 1e-6, `51/255 = ${b}`);
});

t.test('imageToTensor matches the JS reference for CHW with BGR order, scale, mean/std and right padding', async (t) => {
  const w = 5, h = 3, c = 3, dw = 8, dh = 4;
  const src = Uint8Array.from({ length: w * h * c }, (_, i) => (i * 37) % 256);
  const args = [[2, 1, 0], 1 / 255, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], 0] as const;
  const dst = new Float32Array(3 * dw * dh + 7);
  native().imageToTensor({ src, srcWidth: w, srcHeight: h, srcChannels: c, dst, dstOffset: 7, dstWidth: dw, dstHeight: dh,
    chw: true, channelMap: new Int32Array(args[0]), scale: args[1], mean: new Float32Array(args[2]),
    std: new Float32Array(args[3]), padValue: args[4] });
  const ref = reference(src, w, h, c, dw, dh, true, [...args[0]], args[1], [...args[2]], [...args[3]], args[4]);
  const got = dst.subarray(7);
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i]! - got[i]!));
  t.ok(maxDiff < 1e-5, `max difference ${maxDiff}`);
  t.equal(dst[0], 0, 'nothing written before dstOffset');
});

t.test('imageToTensor writes NHWC from an RGBA source, dropping alpha', async (t) => {
  const src = Uint8Array.from([10, 20, 30, 255, 40, 50, 60, 255]);
  const dst = new Float32Array(2 * 3);
  native().imageToTensor({ src, srcWidth: 2, srcHeight: 1, srcChannels: 4, dst, dstOffset: 0, dstWidth: 2, dstHeight: 1,
    chw: false, channelMap: new Int32Array([0, 1, 2]), scale: 1, mean: new Float32Array([0, 0, 0]),
    std: new Float32Array([10, 10, 10]), padValue: -1 });
  t.same(Array.from(dst), [1, 2, 3, 4, 5, 6]);
});

t.test('imageToTensor rejects bad options with a TypeError or RangeError before touching memory', async (t) => {
  const ok = (): ImageTensorOptions => ({
    src: new Uint8Array(12), srcWidth: 2, srcHeight: 2, srcChannels: 3, dst: new Float32Array(12), dstOffset: 0,
    dstWidth: 2, dstHeight: 2, chw: true, channelMap: new Int32Array([0, 1, 2]), scale: 1, mean: new Float32Array(3),
    std: new Float32Array([1, 1, 1]), padValue: 0,
  });
  const call = (patch: (o: Record<string, unknown>) => void) => () => {
    const o = ok() as unknown as Record<string, unknown>;
    patch(o);
    native().imageToTensor(o as unknown as ImageTensorOptions);
  };
  t.doesNotThrow(call(() => {}));
  t.throws(call((o) => (o.src = new Float32Array(12))), TypeError, 'src of the wrong type');
  t.throws(call((o) => (o.src = new Uint8Array(11))), RangeError, 'src shorter than its dimensions');
  t.throws(call((o) => (o.dst = new Float32Array(11))), RangeError, 'dst too small');
  t.throws(call((o) => (o.dstOffset = 1)), RangeError, 'dst too small at the offset');
  t.throws(call((o) => (o.channelMap = new Int32Array([0, 1, 3]))), RangeError, 'channel map naming a missing channel');
  t.throws(call((o) => (o.channelMap = new Int32Array(5))), RangeError, 'five output channels');
  t.throws(call((o) => (o.srcChannels = 5)), RangeError, 'five source channels');
  t.throws(call((o) => (o.std = new Float32Array([1, 0, 1]))), RangeError, 'zero std');
  t.throws(call((o) => (o.mean = new Float32Array(2))), RangeError, 'mean with too few entries');
  t.throws(call((o) => (o.dstWidth = 1)), RangeError, 'source larger than destination');
  t.throws(call((o) => (o.srcWidth = -2)), RangeError, 'negative width');
  t.throws(call((o) => (o.srcHeight = 1.5)), RangeError, 'fractional height');
  t.throws(call((o) => (o.dstHeight = 2 ** 53)), RangeError, 'height past 2^53 - 1');
  t.throws(call((o) => delete o.padValue), TypeError, 'missing option');
  t.throws(call((o) => (o.chw = 1)), TypeError, 'chw not a boolean');
  t.throws(() => (native().imageToTensor as (...x: unknown[]) => void)(ok(), 1), TypeError, 'a second argument');
  t.throws(() => (native().imageToTensor as (...x: unknown[]) => void)(), TypeError, 'no options');
});

t.test('imageToTensor refuses dimensions whose products wrap a size_t', async (t) => {
  // 2^32 x 2^32 x 1 wraps to 0 = src.length in 64-bit arithmetic; 2^26 x 2^26 x 2^12 (a plane of
  // 2^52 times 4 channels) wraps the destination's size to 0 as well.
  const base = (): ImageTensorOptions => ({
    src: new Uint8Array(0), srcWidth: 2 ** 32, srcHeight: 2 ** 32, srcChannels: 1, dst: new Float32Array(4), dstOffset: 0,
    dstWidth: 2 ** 32, dstHeight: 2 ** 32, chw: true, channelMap: new Int32Array([0]), scale: 1, mean: new Float32Array(1),
    std: new Float32Array([1]), padValue: 0,
  });
  t.throws(() => native().imageToTensor(base()), RangeError, 'source size wraps to the empty src');
  t.throws(() => native().imageToTensor({ ...base(), srcWidth: 0, srcHeight: 0 }), RangeError, 'destination plane wraps');
  t.throws(() => native().imageToTensor({ ...base(), srcWidth: 0, srcHeight: 0, dstWidth: 2 ** 31, dstHeight: 2 ** 31,
    channelMap: new Int32Array([0, 0, 0, 0]), mean: new Float32Array(4), std: new Float32Array([1, 1, 1, 1]) }), RangeError,
  'plane x channels wraps');
  t.throws(() => native().imageToTensor({ ...base(), srcWidth: 0, srcHeight: 0, dstWidth: 2, dstHeight: 2, dstOffset: 2 ** 53 - 1 }),
    RangeError, 'offset far past dst');
});

t.test('imageToTensor reads every option before checking any, so a getter cannot shrink a checked array', async (t) => {
  // A getter that detaches src after src was read would leave the addon with a dangling pointer if
  // src were checked first. Reading all options first means the check sees the detached (empty) src.
  const src = new Uint8Array(new ArrayBuffer(12));
  const options = {
    src, srcWidth: 2, srcHeight: 2, srcChannels: 3, dst: new Float32Array(12), dstOffset: 0, dstWidth: 2, dstHeight: 2,
    chw: true, channelMap: new Int32Array([0, 1, 2]), scale: 1, mean: new Float32Array(3), std: new Float32Array([1, 1, 1]),
    get padValue(): number {
      structuredClone(src.buffer, { transfer: [src.buffer] });
      return 0;
    },
  };
  t.throws(() => native().imageToTensor(options), RangeError);
  t.equal(src.byteLength, 0, 'the getter did detach src');
});
