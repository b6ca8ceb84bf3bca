import t from 'tap';
import { Worker } from 'node:worker_threads';
import { native, nativeAvailable } from '../../native/index.js';

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
  t.equal(native().abiVersion, 1);
});

t.test('the addon loads and runs in a worker thread', async (t) => {
  const url = new URL('../../native/index.js', import.meta.url).href;
  const code = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(url)}).then(({ native }) => {
      const dst = new Float32Array(3);
      native().imageToTensor(new Uint8Array([255, 0, 51]), 1, 1, 3, dst, 0, 1, 1, true, new Int32Array([0, 1, 2]), 1 / 255,
        new Float32Array([0, 0, 0]), new Float32Array([1, 1, 1]), 0);
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
  native().imageToTensor(src, w, h, c, dst, 7, dw, dh, true, new Int32Array(args[0]), args[1],
    new Float32Array(args[2]), new Float32Array(args[3]), args[4]);
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
  native().imageToTensor(src, 2, 1, 4, dst, 0, 2, 1, false, new Int32Array([0, 1, 2]), 1, new Float32Array([0, 0, 0]),
    new Float32Array([10, 10, 10]), -1);
  t.same(Array.from(dst), [1, 2, 3, 4, 5, 6]);
});

t.test('imageToTensor rejects bad arguments with a JS error instead of crashing', async (t) => {
  const ok = (): unknown[] => [new Uint8Array(12), 2, 2, 3, new Float32Array(12), 0, 2, 2, true, new Int32Array([0, 1, 2]), 1,
    new Float32Array(3), new Float32Array([1, 1, 1]), 0];
  const call = (patch: (a: unknown[]) => void) => () => {
    const a = ok();
    patch(a);
    (native().imageToTensor as (...x: unknown[]) => void)(...a);
  };
  t.doesNotThrow(call(() => {}));
  t.throws(call((a) => (a[0] = new Float32Array(12))), TypeError, 'src of the wrong type');
  t.throws(call((a) => (a[0] = new Uint8Array(11))), RangeError, 'src shorter than its dimensions');
  t.throws(call((a) => (a[4] = new Float32Array(11))), RangeError, 'dst too small');
  t.throws(call((a) => (a[5] = 1)), RangeError, 'dst too small at the offset');
  t.throws(call((a) => (a[9] = new Int32Array([0, 1, 3]))), RangeError, 'channel map naming a missing channel');
  t.throws(call((a) => (a[12] = new Float32Array([1, 0, 1]))), RangeError, 'zero std');
  t.throws(call((a) => (a[6] = 1)), RangeError, 'source larger than destination');
  t.throws(call((a) => (a[1] = -2)), RangeError, 'negative width');
  t.throws(call((a) => a.pop()), TypeError, 'missing argument');
});
