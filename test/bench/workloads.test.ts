import t from 'tap';
import sharp from 'sharp';
import { parseModelConfig } from '../../gateway/models/config.js';
import { imagePlans, imagesToTensor } from '../../gateway/preprocess/index.js';
import { IMAGE_LINES, WORKLOADS, inferCall, prepareWorkload, rawHttpRequest, workloadRows, workloadSupports, wsFrame } from '../../bench/workloads.js';
import { pngToRow } from '../../bench/targets/naive-image.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

t.test('text-direction-image: one real 352x64 PNG text line per call, as a raw image/png body', async (t) => {
  const row = workloadRows('text-direction-image', 1)[0]!;
  t.throws(() => inferCall('text-direction-image', row), /prepareWorkload/);
  await prepareWorkload('text-direction-image');
  const calls = Array.from({ length: IMAGE_LINES + 1 }, (_, i) => inferCall('text-direction-image', row, 1_000_000, i));
  for (const c of calls) {
    t.equal(c.path, '/v2/models/text-direction/infer');
    t.equal(c.contentType, 'image/png');
    t.same(c.headers, {});
    t.same(c.body.subarray(0, 8), PNG_SIGNATURE);
  }
  const meta = await sharp(calls[0]!.body).metadata();
  t.equal(meta.format, 'png');
  t.equal(meta.width, 352);
  t.equal(meta.height, 64);
  t.not(calls[0]!.body.equals(calls[1]!.body), 'the variants are distinct images');
  t.ok(calls[IMAGE_LINES]!.body.equals(calls[0]!.body), 'and cycle');
  const raw = rawHttpRequest(calls[0]!, '127.0.0.1:1').toString('latin1');
  t.match(raw, /^POST \/v2\/models\/text-direction\/infer HTTP\/1\.1\r\n/);
  t.match(raw, /content-type: image\/png\r\n/);
  t.match(raw, new RegExp(`content-length: ${calls[0]!.body.length}\\r\\n`));
});

t.test('the image workload is HTTP only; the ceiling feeds the same tensor as the binary workload', async (t) => {
  t.equal(workloadSupports('text-direction-image', 'sluice-ws'), false);
  for (const target of ['sluice', 'naive', 'naive-1t', 'micro-batch', 'uws-fixed']) t.ok(workloadSupports('text-direction-image', target));
  t.ok(workloadSupports('text-direction-binary', 'sluice-ws'));
  t.throws(() => wsFrame('text-direction-image', workloadRows('text-direction-image', 1)[0]!));
  t.same(WORKLOADS['text-direction-image'].rowShape, WORKLOADS['text-direction-binary'].rowShape);
  t.equal(WORKLOADS['text-direction-image'].model, WORKLOADS['text-direction-binary'].model);
});

t.test("the naive baseline's preprocessing gives the gateway's tensor", async (t) => {
  await prepareWorkload('text-direction-image');
  const png = inferCall('text-direction-image', new Float32Array(0), undefined, 2).body;
  const plan = imagePlans(parseModelConfig('text-direction', {
    max_batch_size: 64,
    input: [{ name: 'x', datatype: 'FP32', dims: [3, 48, 192] }],
    preprocess: [{ input: 'image', target: 'x', fit: 'height', channel_order: 'BGR', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }],
  })).get('image')!;
  const gateway = (await imagesToTensor([png], plan)).data as Float32Array;
  const naive = await pngToRow(png, [3, 48, 192]);
  t.equal(naive.length, gateway.length);
  let maxDiff = 0;
  for (let i = 0; i < naive.length; i++) maxDiff = Math.max(maxDiff, Math.abs(naive[i]! - gateway[i]!));
  t.ok(maxDiff < 1e-3, `max difference ${maxDiff}`);
  t.ok(naive.some((v) => v < 0) && naive.some((v) => v > 0.9), 'text and background both present');
});
