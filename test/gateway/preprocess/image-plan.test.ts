import t from 'tap';
import { parseModelConfig } from '../../../gateway/models/config.js';
import { imagePlans, resizedSize } from '../../../gateway/preprocess/index.js';

function config(pre: Record<string, unknown>, input: unknown[] = [{ name: 'x', datatype: 'FP32', dims: [3, 48, 192] }], maxBatch = 8) {
  return parseModelConfig('m', { max_batch_size: maxBatch, input, preprocess: [{ input: 'image', target: 'x', ...pre }] });
}

t.test('the size comes from the model input dims in its layout', async (t) => {
  const p = imagePlans(config({})).get('image')!;
  t.same([p.height, p.width, p.channels, p.elements], [48, 192, 3, 3 * 48 * 192]);
  t.same(p.dims, [3, 48, 192]);
  const nhwc = imagePlans(config({ layout: 'NHWC' }, [{ name: 'x', datatype: 'FP32', dims: [224, 200, 3] }])).get('image')!;
  t.same([nhwc.height, nhwc.width, nhwc.chw], [224, 200, false]);
  const noBatch = imagePlans(config({}, [{ name: 'x', datatype: 'FP32', dims: [1, 3, 32, 64] }], 0)).get('image')!;
  t.same([noBatch.height, noBatch.width], [32, 64], 'with max_batch_size 0 the first dim is the batch');
});

t.test('BGR maps output channels to sharp\'s RGB in reverse, GRAY to its one channel', async (t) => {
  t.same(Array.from(imagePlans(config({ channel_order: 'BGR' })).get('image')!.channelMap), [2, 1, 0]);
  t.same(Array.from(imagePlans(config({ channel_order: 'RGB' })).get('image')!.channelMap), [0, 1, 2]);
  const gray = imagePlans(config({ channel_order: 'GRAY' }, [{ name: 'x', datatype: 'FP32', dims: [1, 8, 8] }])).get('image')!;
  t.same(Array.from(gray.channelMap), [0]);
});

t.test('configured sizes fill variable dims and must agree with fixed ones', async (t) => {
  const dyn = [{ name: 'x', datatype: 'FP32', dims: [3, -1, -1] }];
  const p = imagePlans(config({ height: 32, width: 320 }, dyn)).get('image')!;
  t.same([p.height, p.width], [32, 320]);
  t.throws(() => imagePlans(config({}, dyn)), { code: 'SLUICE_E_CONFIG_INVALID', message: /preprocess\[0\]\.height must be set/ });
  t.throws(() => imagePlans(config({ height: 64 })), { code: 'SLUICE_E_CONFIG_INVALID', message: /height is 64 but the model input has 48/ });
});

t.test('a plan that cannot fill its target is a config error naming the field', async (t) => {
  t.throws(() => imagePlans(config({ target: 'y' })), { code: 'SLUICE_E_CONFIG_INVALID', message: /target names no input of the model \(x\)/ });
  t.throws(() => imagePlans(config({ channel_order: 'GRAY' })), { code: 'SLUICE_E_CONFIG_INVALID', message: /gives 1 channel\(s\) but input x has 3/ });
  t.throws(() => imagePlans(config({}, [{ name: 'x', datatype: 'UINT8', dims: [3, 48, 192] }])), { message: /images fill FP32 inputs/ });
  t.throws(() => imagePlans(config({}, [{ name: 'x', datatype: 'FP32', dims: [27648] }])), { message: /an image input has 3/ });
});

t.test('resized sizes per fit mode', async (t) => {
  const base = imagePlans(config({})).get('image')!;
  t.same(resizedSize({ ...base, fit: 'height' }, 100, 50), { width: 96, height: 48 });
  t.same(resizedSize({ ...base, fit: 'height' }, 1000, 10), { width: 192, height: 48 });
  t.same(resizedSize({ ...base, fit: 'height' }, 1, 1000), { width: 1, height: 48 });
  t.same(resizedSize({ ...base, fit: 'fill' }, 1, 1000), { width: 192, height: 48 });
  t.same(resizedSize({ ...base, fit: 'contain' }, 400, 50), { width: 192, height: 24 });
});
