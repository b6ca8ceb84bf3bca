import t from 'tap';
import { RoutingTable, checkRouting } from '../../../gateway/routing/routing-table.js';

t.test('weights split calls in proportion to their share', async (t) => {
  const table = new RoutingTable({ weights: { 1: 3, 2: 1 } });
  const loaded = ['1', '2'];
  t.equal(table.pick(loaded, 0), '1');
  t.equal(table.pick(loaded, 0.74), '1');
  t.equal(table.pick(loaded, 0.75), '2');
  t.equal(table.pick(loaded, 0.999), '2');
});

t.test('without weights: the default version, else the newest loaded one', async (t) => {
  t.equal(new RoutingTable({}).pick(['1', '2', '10']), '10');
  t.equal(new RoutingTable({ default_version: '2' }).pick(['1', '2', '10']), '2');
  t.equal(new RoutingTable({}).pick([]), undefined);
});

t.test('a weighted or default version that is not loaded falls through, never to nowhere', async (t) => {
  const table = new RoutingTable({ default_version: '1', weights: { 3: 1 } });
  t.equal(table.pick(['1', '2'], 0.5), '1', 'weighted version 3 is missing: the default');
  t.equal(new RoutingTable({ default_version: '9' }).pick(['1', '2']), '2', 'the default is missing: the newest');
  t.equal(new RoutingTable({ weights: { 1: 0, 2: 0 } }).pick(['1', '2']), '2', 'zero weights count as no weights');
});

t.test('a table naming versions that are not loaded is refused', async (t) => {
  t.same(checkRouting('m', { weights: { 1: 1 } }, ['1']), { weights: { 1: 1 } });
  t.throws(() => checkRouting('m', { default_version: '4' }, ['1']), { code: 'SLUICE_E_MODEL_VERSION_NOT_FOUND', message: /no loaded version 4/ });
  t.throws(() => checkRouting('m', { weights: { 1: -1 } }, ['1']), { code: 'SLUICE_E_VALIDATION' });
  t.same(new RoutingTable({ default_version: '1', weights: { 1: 2 } }).toJSON(), { default_version: '1', weights: { 1: 2 } });
});
