// Issue 22's figures on a real control plane (SQLite): reportTraffic takes attribution snapshots
// and slice counts (and windows without them), refuses malformed ones naming the field, sums them
// across gateways into fleet figures, and alert rules on them are validated with coded errors and
// fire per slice, on the disparity and on the attribution shift.
import t from 'tap';
import { alerts, createRule, gateway, tick, weatherInProduction, window } from '../alert-helpers.js';
import { startTestControlPlane } from '../harness.js';
import { fleetAttribution, fleetSlices, sliceErrorDisparity } from '../../../control-plane/services/explained-figures.js';

const code = (r: { errors?: { extensions?: { code?: string } }[] }) => r.errors?.[0]?.extensions?.code;
const field = (r: { errors?: { extensions?: { details?: Record<string, unknown> } }[] }) => r.errors?.[0]?.extensions?.details?.field;
const slice = (name: string, labelled: number, errors: number, calls = labelled) => ({ slice: name, calls, outcome: calls / 2, labelled, errors });
const attribution = (rows: number, shift: number | null, shares: [string, number, number][]) => ({ rows, shift, features: shares.map(([feature, share, referenceShare]) => ({ feature, share, referenceShare })) });

t.test('fleet figures: slice counts add up, attribution is the rows-weighted mean of each gateway\'s latest snapshot', async (t) => {
  const slices = fleetSlices([{ gateway: 'a', slices: [slice('x', 10, 1), slice('y', 10, 5)] }, { gateway: 'b', slices: [slice('y', 30, 3)] }, { gateway: 'b' }]);
  t.same(slices, [{ slice: 'x', calls: 10, labelled: 10, outcomeRate: 0.5, errorRate: 0.1 }, { slice: 'y', calls: 40, labelled: 40, outcomeRate: 0.5, errorRate: 0.2 }]);
  t.ok(Math.abs(sliceErrorDisparity(slices, 10)! - 0.1) < 1e-12);
  t.equal(sliceErrorDisparity(slices, 11), null, 'one slice with enough labelled rows: no disparity');
  const a = fleetAttribution([
    { gateway: 'a', attribution: attribution(10, 0.9, [['f', 1, 0]]) },
    { gateway: 'a', attribution: attribution(10, 0.1, [['f', 0.6, 0.5]]) },
    { gateway: 'b', attribution: attribution(30, 0.5, [['f', 0.2, 0.5]]) },
  ])!;
  t.equal(a.rows, 40);
  t.equal(a.gateways, 2);
  t.ok(Math.abs(a.shift! - 0.4) < 1e-12, 'a\'s later snapshot (0.1) and b\'s (0.5), by rows');
  t.ok(Math.abs(a.features[0]!.shift - 0.25) < 1e-12, '|0.6 − 0.5| and |0.2 − 0.5|, by rows');
  t.equal(fleetAttribution([{ gateway: 'a' }]), null);
});

t.test('reportTraffic takes the new fields, refuses malformed ones naming the field, and rules on them fire', async (t) => {
  const cp = await startTestControlPlane(t, 'sqlite', { alertIntervalMs: 0 });
  await weatherInProduction(cp);
  const gw = await gateway(cp, 'edge-1');
  const other = await gateway(cp, 'edge-2');
  const ok = await gw.send([window({}), { ...window({}), attribution: null, slices: null }]);
  t.equal(ok.data.reportTraffic, 2, 'windows without the new fields (older gateways) are stored');
  const bad: [string, Record<string, unknown>, string][] = [
    ['a share above 1', { attribution: attribution(1, 0.1, [['f', 1.5, 0.2]]) }, 'windows[0].attribution.features[0].share'],
    ['a negative shift', { attribution: attribution(1, -0.2, []) }, 'windows[0].attribution.shift'],
    ['an unnamed slice', { slices: [slice('', 1, 0)] }, 'windows[0].slices[0].slice'],
    ['a slice twice', { slices: [slice('a', 1, 0), slice('a', 1, 0)] }, 'windows[0].slices[1].slice'],
    ['negative errors', { slices: [slice('a', 1, -1)] }, 'windows[0].slices[0].errors'],
    ['too many slices', { slices: Array.from({ length: 129 }, (_, i) => slice(`s${i}`, 1, 0)) }, 'windows[0].slices'],
  ];
  for (const [what, extra, name] of bad) {
    const r = await gw.send([{ ...window({}), ...extra }]);
    t.equal(code(r), 'SLUICE_E_VALIDATION', what);
    t.equal(field(r), name, `${what}: names ${name}`);
  }

  const badRules: [Record<string, unknown>, string][] = [
    [{ metric: 'slice_error_rate', threshold: 0.2, minCount: 5 }, 'feature'],
    [{ metric: 'slice_error_disparity', feature: 'x', threshold: 0.2, minCount: 5 }, 'feature'],
    [{ metric: 'slice_error_disparity', threshold: 0.2 }, 'minCount'],
    [{ metric: 'attribution_shift', threshold: 1.5, minCount: 5 }, 'threshold'],
    [{ metric: 'attribution_shift', feature: '', threshold: 0.2, minCount: 5 }, 'feature'],
  ];
  for (const [input, name] of badRules) {
    const r = await cp.gql('mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id } }', { input: { name: 'bad', model: 'weather', comparison: '>', ...input } });
    t.same([code(r), field(r)], ['SLUICE_E_ALERT_RULE_INVALID', name], JSON.stringify(input));
  }

  await createRule(cp, { name: 'slice', metric: 'slice_error_rate', feature: '*', threshold: 0.3, minCount: 20 });
  await createRule(cp, { name: 'disparity', metric: 'slice_error_disparity', threshold: 0.25, minCount: 20 });
  await createRule(cp, { name: 'shift', metric: 'attribution_shift', threshold: 0.3, minCount: 10 });
  await createRule(cp, { name: 'shift-f', metric: 'attribution_shift', feature: 'temp_max', threshold: 0.3, minCount: 10 });
  await gw.report([{ ...window({}), slices: [slice('north', 20, 2), slice('south', 15, 9)], attribution: attribution(12, 0.5, [['temp_max', 0.65, 0.2], ['wind', 0.35, 0.8]]) }]);
  await other.report([{ ...window({}), slices: [slice('south', 10, 3)], attribution: attribution(4, 0.1, [['temp_max', 0.3, 0.2], ['wind', 0.7, 0.8]]) }]);
  await tick(cp, Date.now());
  const firing = (await alerts(cp, 'FIRING')).map((a) => `${a.rule}:${a.feature ?? ''}:${(a.value as number).toFixed(2)}`).sort();
  // south: 12 of 25 rows wrong over both gateways (0.48), north 2 of 20 (0.1): disparity 0.38;
  // shift (0.5·12 + 0.1·4) / 16 = 0.4; temp_max (|0.65 − 0.2|·12 + |0.3 − 0.2|·4) / 16 = 0.3625.
  t.same(firing, ['disparity::0.38', 'shift-f:temp_max:0.36', 'shift::0.40', 'slice:south:0.48']);
});
