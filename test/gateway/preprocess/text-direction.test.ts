import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { parseModelConfig } from '../../../gateway/models/config.js';
import { imagePlans, imagesToTensor } from '../../../gateway/preprocess/index.js';
import { exampleModels } from '../../helpers/paths.js';
import { rotated180, textLine } from './images.js';

const LINES = ['Sluice inference 2026', 'The quick brown fox', 'WebSocket and images'];

t.test('text-direction\'s preprocess config gives upright text label 0 and the same text rotated 180 label 180', async (t) => {
  const dir = join(exampleModels(), 'text-direction');
  const config = parseModelConfig('text-direction', JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  const plan = imagePlans(config).get('image');
  t.ok(plan, 'text-direction declares the BYTES input image');
  const session = await ort.InferenceSession.create(join(dir, '1', 'model.onnx'));
  t.teardown(() => session.release());
  const labels = config.parameters.labels as string[];
  for (const format of ['png', 'jpeg', 'webp'] as const) {
    const upright = await Promise.all(LINES.map((l) => textLine(l, format)));
    const flipped = await Promise.all(upright.map(rotated180));
    const tensor = await imagesToTensor([...upright, ...flipped], plan!);
    t.same(tensor.shape, [LINES.length * 2, 3, 48, 192]);
    const out = await session.run({ x: new ort.Tensor('float32', tensor.data, tensor.shape) });
    const probs = out['softmax_0.tmp_0']!.data as Float32Array;
    const label = (i: number): string => labels[probs[i * 2]! >= probs[i * 2 + 1]! ? 0 : 1]!;
    for (let i = 0; i < LINES.length; i++) {
      t.equal(label(i), '0', `${format} "${LINES[i]}" upright`);
      t.equal(label(LINES.length + i), '180', `${format} "${LINES[i]}" rotated`);
    }
  }
});
