import t from 'tap';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ensureExampleRepository, exampleRepositoryIsCurrent, EXAMPLE_MODELS } from '../../examples/repository.js';
import { parseModelConfig } from '../../gateway/models/config.js';
import { exampleModels } from '../helpers/paths.js';

t.test('the example repository holds every model with a valid config and a version that loads in ONNX Runtime', async (t) => {
  const dir = exampleModels();
  t.same(readdirSync(dir).filter((n) => !n.startsWith('.')).sort(), [...EXAMPLE_MODELS].sort());
  for (const name of EXAMPLE_MODELS) {
    const config = parseModelConfig(name, JSON.parse(readFileSync(join(dir, name, 'config.json'), 'utf8')));
    const modelPath = join(dir, name, '1', 'model.onnx');
    t.ok(existsSync(modelPath), `${name} has version 1`);
    const session = await ort.InferenceSession.create(modelPath);
    t.same(session.inputNames, config.input!.map((i) => i.name), `${name} inputs match its config`);
    t.same(session.outputNames, config.output!.map((o) => o.name), `${name} outputs match its config`);
    await session.release();
  }
});

t.test('the weather config records its holdout accuracy and labels', async (t) => {
  const config = JSON.parse(readFileSync(join(exampleModels(), 'weather', 'config.json'), 'utf8'));
  t.ok(config.parameters.holdout_accuracy > config.parameters.holdout_majority_rate);
  t.same(config.parameters.labels, ['drizzle', 'fog', 'rain', 'snow', 'sun']);
});

t.test('building twice is a no-op and a stale repository is rebuilt whole', async (t) => {
  const dir = join(t.testdir({}), 'models');
  t.equal(ensureExampleRepository(dir), true);
  t.equal(ensureExampleRepository(dir), false);
  const marker = join(dir, '.sluice-examples.json');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(marker, '{"revision":0}');
  t.notOk(exampleRepositoryIsCurrent(dir));
  t.equal(ensureExampleRepository(dir), true);
  t.ok(exampleRepositoryIsCurrent(dir));
  t.same(readdirSync(join(dir, '..')).filter((n) => n.includes('.tmp-')), [], 'no temporary folder left behind');
});
