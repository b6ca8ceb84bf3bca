// Config `slices`: defaults, and every bad field refused with SLUICE_E_CONFIG_INVALID naming it;
// at load, an input the model does not have (or a column past its width) with SLUICE_E_MODEL_LOAD_FAILED.
import t, { type Test } from 'tap';
import { parseModelConfig } from '../../../gateway/models/config.js';
import { checkSlicesInput } from '../../../gateway/models/slices-config.js';
import { isSluiceError } from '../../../lib/errors.js';

function refused(t: Test, raw: Record<string, unknown>, field: string): void {
  try {
    parseModelConfig('m', raw);
    t.fail(`accepted ${JSON.stringify(raw)}`);
  } catch (err) {
    t.ok(isSluiceError(err) && err.code === 'SLUICE_E_CONFIG_INVALID', `refused: ${JSON.stringify(raw)}`);
    t.equal(isSluiceError(err) ? (err.details as { field: string }).field : undefined, field);
  }
}

t.test('slices take their defaults from the feedback window', async (t) => {
  const c = parseModelConfig('m', { feedback: { window_seconds: 90 }, slices: { parameter: 'region' } });
  t.same(c.slices, { parameter: 'region', max_slices: 16, positive: 1, window_seconds: 90, min_rows: 20 });
  t.equal(parseModelConfig('m', {}).slices, undefined, 'absent: off');
  const labelled = parseModelConfig('m', { parameters: { labels: ['a', 'b'] }, slices: { input: 'x', index: 2, edges: [0, 1], positive: 'b', max_slices: 4 } });
  t.same(labelled.slices, { input: 'x', index: 2, edges: [0, 1], positive: 'b', max_slices: 4, window_seconds: 300, min_rows: 20 });
});

t.test('bad slices configs are refused with the field named', async (t) => {
  refused(t, { slices: 'region' }, 'slices');
  refused(t, { slices: {} }, 'slices');
  refused(t, { slices: { parameter: 'a', input: 'b' } }, 'slices');
  refused(t, { slices: { parameter: '' } }, 'slices.parameter');
  refused(t, { slices: { parameter: 'a', index: 1 } }, 'slices.index');
  refused(t, { slices: { input: 'a', index: -1 } }, 'slices.index');
  refused(t, { slices: { parameter: 'a', max_slices: 0 } }, 'slices.max_slices');
  refused(t, { slices: { parameter: 'a', max_slices: 65 } }, 'slices.max_slices');
  refused(t, { slices: { parameter: 'a', edges: [2, 1] } }, 'slices.edges');
  refused(t, { slices: { parameter: 'a', edges: [1, 2, 3], max_slices: 3 } }, 'slices.edges');
  refused(t, { slices: { parameter: 'a', positive: -1 } }, 'slices.positive');
  refused(t, { parameters: { labels: ['a', 'b'] }, slices: { parameter: 'a', positive: 'c' } }, 'slices.positive');
  refused(t, { slices: { parameter: 'a', window_seconds: 0 } }, 'slices.window_seconds');
  refused(t, { slices: { parameter: 'a', min_rows: 0 } }, 'slices.min_rows');
  refused(t, { slices: { parameter: 'a', colum: 'x' } }, 'slices.colum');
  refused(t, { feedback: false, slices: { parameter: 'a' } }, 'slices');
});

t.test('at load, the input a slices config names must fit the model', async (t) => {
  const inputs = [{ name: 'features', datatype: 'FP32' as const, dims: [5] }, { name: 'segment', datatype: 'BYTES' as const, dims: [1] }];
  const check = (slices: Record<string, unknown>) => () => checkSlicesInput('m', '1', { max_slices: 4, positive: 1, window_seconds: 60, min_rows: 1, ...slices }, inputs, true);
  t.doesNotThrow(check({ input: 'features', index: 4 }));
  t.doesNotThrow(check({ input: 'segment' }));
  t.doesNotThrow(check({ parameter: 'region' }));
  for (const bad of [{ input: 'nope' }, { input: 'features', index: 5 }, { input: 'features' }, { input: 'segment', index: 1 }]) {
    t.throws(check(bad), { code: 'SLUICE_E_MODEL_LOAD_FAILED' }, JSON.stringify(bad));
  }
});
