// Drift profiles computed from a dataset of input rows (`sluice upload --dataset`).
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { profileFromDataset } from '../../control-plane/services/dataset-profile.js';
import { readOnnxSignature } from '../../control-plane/services/onnx-signature.js';
import { parseProfile } from '../../gateway/drift/compile.js';
import { exampleOnnx } from './harness.js';

const weather = readOnnxSignature(readFileSync(exampleOnnx('weather')));
const header = 'precipitation,temp_max,temp_min,wind,day_of_year';
const rows = [[0, 12.8, 5, 4.7, 1], [10.9, 10.6, 2.8, 4.5, 2], [0.8, 11.7, 7.2, 2.3, 3], [20.3, 12.2, 5.6, 4.7, 4]];

t.test('CSV and JSON rows give the same profile of the one input, features named after the columns', async (t) => {
  const dir = t.testdir({
    'rows.csv': [header, ...rows.map((r) => r.join(','))].join('\n'),
    'objects.json': JSON.stringify(rows.map((r) => Object.fromEntries(header.split(',').map((k, i) => [k, r[i]])))),
    'arrays.json': JSON.stringify(rows),
  });
  const csv = profileFromDataset(join(dir, 'rows.csv'), 'weather', weather);
  parseProfile(JSON.parse(JSON.stringify(csv)), 'csv profile');
  t.same(csv.tensors.map((x) => [x.name, x.role, x.features.map((f) => f.name)]), [['features', 'input', header.split(',')]]);
  t.equal(csv.source.rows, 4);
  const objects = profileFromDataset(join(dir, 'objects.json'), 'weather', weather);
  t.same(objects.tensors, csv.tensors);
  const arrays = profileFromDataset(join(dir, 'arrays.json'), 'weather', weather);
  t.same(arrays.tensors[0]!.features.map((f) => f.name), ['column0', 'column1', 'column2', 'column3', 'column4']);
});

t.test('a dataset that does not fit is refused with a code', async (t) => {
  const dir = t.testdir({
    'narrow.csv': 'a,b\n1,2\n',
    'ragged.csv': `${header}\n1,2,3\n`,
    'words.csv': `${header}\n1,2,3,4,five\n`,
    'empty.json': '[]',
  });
  for (const file of ['narrow.csv', 'ragged.csv', 'words.csv', 'empty.json']) {
    t.throws(() => profileFromDataset(join(dir, file), 'weather', weather), { code: 'SLUICE_E_CONFIG_INVALID' }, file);
  }
  t.throws(() => profileFromDataset(join(dir, 'absent.csv'), 'weather', weather), { code: 'SLUICE_E_CONFIG_FILE_MISSING' });
  const image = readOnnxSignature(readFileSync(exampleOnnx('text-direction')));
  writeFileSync(join(dir, 'rows.csv'), `${header}\n1,2,3,4,5\n`);
  t.throws(() => profileFromDataset(join(dir, 'rows.csv'), 'text-direction', image), { code: 'SLUICE_E_CONFIG_INVALID' }, 'a model without one [N, F] input needs --profile');
});
