// Placement selectors (control-plane/services/placement.ts): parsing, the canonical form, and which
// gateways a selector picks. The desired states that follow are checked in test/control-plane/fleet.test.ts.
import t from 'tap';
import { formatSelector, parseSelector, selectorAllows } from '../../../control-plane/services/placement.js';
import { SluiceError } from '../../../lib/errors.js';

const gpuEu = { region: 'eu', labels: { pool: 'gpu', tier: 'edge' } };
const cpuUs = { region: 'us', labels: { pool: 'cpu' } };
const unlabelled = { region: '', labels: {} };

t.test('equality terms must all hold; a missing label equals nothing', async (t) => {
  const sel = parseSelector('pool=gpu, tier=edge');
  t.ok(selectorAllows(sel, gpuEu));
  t.notOk(selectorAllows(sel, cpuUs));
  t.notOk(selectorAllows(sel, unlabelled));
  t.ok(selectorAllows(null, unlabelled), 'no selector places the model on every gateway');
});

t.test('!= excludes the value and holds for a gateway without the label', async (t) => {
  const sel = parseSelector('pool!=gpu');
  t.notOk(selectorAllows(sel, gpuEu));
  t.ok(selectorAllows(sel, cpuUs));
  t.ok(selectorAllows(sel, unlabelled));
});

t.test("the key region reads the gateway's region, else its region label", async (t) => {
  t.ok(selectorAllows(parseSelector('region=eu'), gpuEu));
  t.notOk(selectorAllows(parseSelector('region=eu'), cpuUs));
  t.ok(selectorAllows(parseSelector('region=eu'), { region: 'eu', labels: { region: 'us' } }), 'the registered region wins over a label');
  t.ok(selectorAllows(parseSelector('region=eu'), { region: '', labels: { region: 'eu' } }), 'a label stands in when no region was registered');
});

t.test('the canonical form sorts terms and drops spaces', async (t) => {
  t.equal(formatSelector(parseSelector(' tier=edge ,pool!=cpu')), 'pool!=cpu,tier=edge');
});

t.test('bad selectors are refused with SLUICE_E_PLACEMENT_INVALID naming the selector', async (t) => {
  for (const bad of ['', '   ', 'pool', '=gpu', 'pool=gpu,', 'pool==gpu', 'po ol=gpu', 'pool=g pu', 'pool=gpu,pool=gpu', `k=${'v'.repeat(64)}`, Array.from({ length: 17 }, (_, i) => `k${i}=v`).join(',')]) {
    const err = t.throws(() => parseSelector(bad)) as unknown as SluiceError;
    t.equal(err.code, 'SLUICE_E_PLACEMENT_INVALID', JSON.stringify(bad));
    t.equal((err.details as { selector: string }).selector, bad);
  }
});
