import t from 'tap';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { buildProfile } from '../../../gateway/drift/profile.js';
import { compileProfile, parseProfile, readProfile } from '../../../gateway/drift/compile.js';
import { exampleModels } from '../../helpers/paths.js';
import { parseModelConfig } from '../../../gateway/models/config.js';

t.test('numeric features get quantile PSI edges with open outer bins and a percentile grid', async (t) => {
  const data = Float64Array.from({ length: 1001 }, (_, i) => i / 10); // 0.0 .. 100.0
  const p = buildProfile({ model: 'm', version: '1', tensors: [{ name: 'x', role: 'input', features: [{ name: 'v' }] }] }, { x: { data, dims: [1001, 1] } });
  const f = p.tensors[0]!.features[0]!;
  if (f.kind !== 'numeric') return t.fail('numeric expected');
  t.same(f.edges, [10, 20, 30, 40, 50, 60, 70, 80, 90], 'deciles');
  t.equal(f.proportions.length, 10);
  t.ok(Math.abs(f.proportions.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  t.equal(f.proportions[0], 100 / 1001, '[-inf, 10) holds 0.0 .. 9.9');
  t.equal(f.quantiles.values.length, 101);
  t.equal(f.quantiles.values[50], 50);
  t.equal(f.grid.edges[0], 0, 'the grid starts at the reference min');
  t.equal(f.grid.edges.at(-1), 100, 'and ends at its max');
  t.ok(f.edges.every((e) => f.grid.edges.includes(e)), 'every PSI edge is a grid edge');
  t.equal(f.grid.proportions[0], 0, 'nothing below the min');
  t.equal(f.grid.high_mean, 100);
  t.equal(f.grid.low_mean, null);
  t.equal(f.count, 1001);
  t.equal(f.mean, 50);
  t.equal(f.min, 0);
  t.equal(f.max, 100);
});

t.test('non-finite reference values are ignored and counted; categorical features keep every category', async (t) => {
  const data = Float64Array.of(1, NaN, 2, Infinity, 2, 3, 3, 3);
  const p = buildProfile({ model: 'm', version: '1', tensors: [{ name: 'c', role: 'output', features: [{ kind: 'categorical', categories: [0, 1, 2, 3] }] }] }, { c: { data, dims: [8] } });
  const f = p.tensors[0]!.features[0]!;
  if (f.kind !== 'categorical') return t.fail('categorical expected');
  t.equal(f.name, 'c');
  t.equal(f.ignored, 2);
  t.equal(f.count, 6);
  t.same(f.categories, [0, 1, 2, 3]);
  t.same(f.proportions, [0, 1 / 6, 2 / 6, 3 / 6, 0], 'last bin: values outside the categories');
});

t.test('image tensors are profiled by per-image channel mean/std, class scores by their argmax', async (t) => {
  // 2 images, 2 channels, 2x2 pixels, NCHW.
  const img = Float32Array.of(0, 0, 2, 2, 1, 1, 1, 1, /* image 2 */ 4, 4, 4, 4, 0, 2, 0, 2);
  const probs = Float32Array.of(0.1, 0.9, 0.8, 0.2);
  const p = buildProfile({
    model: 'm', version: '1',
    tensors: [{ name: 'x', role: 'input', derive: 'image_channel_stats' }, { name: 'p', role: 'output', derive: 'argmax' }],
  }, { x: { data: img, dims: [2, 2, 2, 2] }, p: { data: probs, dims: [2, 2] } });
  const names = p.tensors.flatMap((x) => x.features.map((f) => f.name));
  t.same(names, ['x.mean[0]', 'x.std[0]', 'x.mean[1]', 'x.std[1]', 'p.class']);
  const f = p.tensors[0]!.features;
  t.same([f[0]!.min, f[0]!.max], [1, 4], 'channel 0 means: 1 and 4');
  t.same([f[1]!.min, f[1]!.max], [0, 1], 'channel 0 stds: 1 and 0');
  const cls = p.tensors[1]!.features[0]!;
  if (cls.kind !== 'categorical') return t.fail('categorical expected');
  t.same(cls.categories, [0, 1]);
  t.same(cls.proportions, [0.5, 0.5, 0]);
  t.equal(p.tensors[0]!.layout, 'NCHW');
});

t.test('profile errors are refused with coded errors', async (t) => {
  t.throws(() => buildProfile({ model: 'm', version: '1', tensors: [{ name: 'x', role: 'input' }] }, {}), { code: 'SLUICE_E_VALIDATION' });
  t.throws(() => buildProfile({ model: 'm', version: '1', tensors: [{ name: 'x', role: 'input' }] }, { x: { data: Float64Array.of(NaN), dims: [1] } }), { code: 'SLUICE_E_VALIDATION' });
  t.throws(() => buildProfile({ model: 'm', version: '1', bins: 0, tensors: [] }, {}), { code: 'SLUICE_E_VALIDATION' });
  const good = buildProfile({ model: 'm', version: '1', tensors: [{ name: 'x', role: 'input' }] }, { x: { data: Float64Array.of(1, 2, 3, 4), dims: [4] } });
  t.ok(parseProfile(JSON.parse(JSON.stringify(good)), 'p.json'));
  const broken = (edit: (p: any) => void) => {
    const p = JSON.parse(JSON.stringify(good));
    edit(p);
    return () => parseProfile(p, 'p.json');
  };
  t.throws(broken((p) => (p.format = 'other')), { code: 'SLUICE_E_CONFIG_INVALID' });
  t.throws(broken((p) => (p.tensors[0].features[0].proportions[0] = 0.9)), /proportions must sum to 1/);
  t.throws(broken((p) => (p.tensors[0].features[0].edges = [3, 2])), /edges must be increasing/);
  t.throws(broken((p) => (p.tensors[0].features[0].edges = [2.5])), /every PSI edge must also be a grid edge|proportions/);
  t.throws(broken((p) => (p.tensors[0].derive = 'magic')), /derive must be/);
  t.throws(broken((p) => p.tensors.push(p.tensors[0])), /appears twice/);
  t.throws(broken((p) => (p.tensors[0].features[0].kind = 'text')), /kind must be/);
});

t.test('the example repository ships a weather profile built from the training rows', async (t) => {
  const dir = join(exampleModels(), 'weather');
  const config = parseModelConfig('weather', JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  t.equal(config.drift?.profile, 'profile.json');
  t.equal(config.drift?.psi_warn, 0.1);
  t.equal(config.drift?.psi_alert, 0.2);
  const profile = readProfile(join(dir, '1', config.drift!.profile));
  const c = compileProfile(profile);
  t.same(c.features, ['precipitation', 'temp_max', 'temp_min', 'wind', 'day_of_year',
    'probabilities.drizzle', 'probabilities.fog', 'probabilities.rain', 'probabilities.snow', 'probabilities.sun', 'label']);
  t.same(c.tensors.map((x) => [x.name, x.role, x.featureBase, x.features]), [['features', 'input', 0, 5], ['probabilities', 'output', 5, 5], ['label', 'output', 10, 1]]);
  t.equal(profile.source.rows, 877, 'the 80% training share of 2012-2014');
  const tempMax = profile.tensors[0]!.features[1]!;
  t.equal(tempMax.count, 877);
  t.ok(tempMax.min < 0 && tempMax.max > 35, `temp_max spans the seasons (${tempMax.min}..${tempMax.max})`);
});
