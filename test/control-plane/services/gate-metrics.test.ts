import t from 'tap';
import { columnStd, fairnessGaps, metricDrop, metricOf, sliceMetrics, withNoise, worstAndGap } from '../../../control-plane/services/gate-metrics.js';
import { parsePolicy } from '../../../control-plane/services/gate-policy.js';
import { parseHoldoutCsv } from '../../../control-plane/services/holdout-datasets.js';

t.test('accuracy, macro F1, MAE and RMSE match hand-computed values', async (t) => {
  const labels = [0, 0, 1, 1, 2, 2];
  const predicted = [0, 1, 1, 1, 2, 0];
  t.equal(metricOf('accuracy', predicted, labels), 4 / 6);
  // class 0: tp1 fp1 fn1 → 0.5; class 1: tp2 fp1 fn0 → 0.8; class 2: tp1 fp0 fn1 → 2/3
  t.ok(Math.abs(metricOf('macro_f1', predicted, labels) - (0.5 + 0.8 + 2 / 3) / 3) < 1e-12);
  t.equal(metricOf('accuracy', predicted, labels, [0, 1]), 0.5, 'over a subset of rows');
  t.equal(metricOf('mae', [1, 2, 4], [1, 3, 2]), 1);
  t.ok(Math.abs(metricOf('rmse', [1, 2, 4], [1, 3, 2]) - Math.sqrt(5 / 3)) < 1e-12);
  t.ok(Number.isNaN(metricOf('accuracy', predicted, labels, [])), 'no rows, no metric');
});

t.test('slices below minRows are reported but not judged; worst and gap follow the metric direction', async (t) => {
  const groups = ['a', 'a', 'a', 'b', 'b', 'b', 'c'];
  const labels = [1, 1, 1, 1, 1, 1, 1];
  const predicted = [1, 1, 0, 1, 0, 0, 0];
  const slices = sliceMetrics('accuracy', predicted, labels, groups, 2);
  t.same(slices.map((s) => [s.value, s.rows, s.judged]), [['a', 3, true], ['b', 3, true], ['c', 1, false]]);
  const judged = worstAndGap('accuracy', slices)!;
  t.equal(judged.worst.value, 'b', 'c is worse but too small to judge');
  t.ok(Math.abs(judged.gap - 1 / 3) < 1e-12);
  const errors = worstAndGap('mae', sliceMetrics('mae', [0, 0, 5, 5], [0, 1, 0, 0], ['x', 'x', 'y', 'y'], 1))!;
  t.equal(errors.worst.value, 'y', 'for an error metric the worst slice has the largest error');
  t.equal(worstAndGap('accuracy', sliceMetrics('accuracy', [1], [1], ['a'], 5)), undefined);
});

t.test('demographic parity and equal opportunity gaps across groups', async (t) => {
  // group g1: predicted positive 3/4, TPR 2/2; group g2: predicted positive 1/4, TPR 1/3
  const groups = ['g1', 'g1', 'g1', 'g1', 'g2', 'g2', 'g2', 'g2'];
  const labels = [1, 1, 0, 0, 1, 1, 1, 0];
  const predicted = [1, 1, 1, 0, 1, 0, 0, 0];
  const gaps = fairnessGaps(predicted, labels, groups, 1, 1);
  t.equal(gaps.parityGap, 0.5);
  t.ok(Math.abs(gaps.opportunityGap! - 2 / 3) < 1e-12);
  t.same(fairnessGaps(predicted, labels, groups, 1, 5), { groups: [], parityGap: null, opportunityGap: null }, 'groups under minRows are left out');
});

t.test('noise is seeded and scaled by each column’s std', async (t) => {
  const x = Float32Array.from([0, 100, 2, 100, 4, 100, 6, 100]);
  t.same(Array.from(columnStd(x, 4, 2)), [Math.sqrt(5), 0]);
  const a = withNoise(x, 4, 2, 0.5, 9);
  t.same(a, withNoise(x, 4, 2, 0.5, 9), 'the same seed gives the same noise');
  t.not(a[0], withNoise(x, 4, 2, 0.5, 10)[0], 'another seed, other noise');
  t.same([a[1], a[3], a[5], a[7]], [100, 100, 100, 100], 'a constant column gets no noise');
  t.equal(metricDrop('accuracy', 0.9, 0.8) > 0, true);
  t.equal(metricDrop('rmse', 1, 1.5), 0.5, 'a larger error is a drop');
});

t.test('a policy fills its defaults and names the bad field', async (t) => {
  const p = parsePolicy({ dataset: 'd', input: { tensor: 'x', columns: ['a'] }, label: { column: 'y', output: 'out' }, metric: 'accuracy', floor: 0.5 });
  t.match(p, { label: { task: 'classification' }, compatibility: true, requireApproval: false });
  const field = (raw: Record<string, unknown>) => {
    try {
      parsePolicy({ dataset: 'd', input: { tensor: 'x', columns: ['a'] }, label: { column: 'y', output: 'out' }, metric: 'accuracy', ...raw });
      return undefined;
    } catch (err) {
      return (err as { code: string; details: { field: string } }).code + ' ' + (err as { details: { field: string } }).details.field;
    }
  };
  t.equal(field({ ceiling: 0.1 }), 'SLUICE_E_GATE_POLICY_INVALID ceiling', 'accuracy takes a floor, not a ceiling');
  t.equal(field({ fairness: { column: 's', positiveClass: 'rain' } }), 'SLUICE_E_GATE_POLICY_INVALID fairness');
  t.equal(field({ input: { tensor: 'x', columns: ['a', 'a'] } }), 'SLUICE_E_GATE_POLICY_INVALID input.columns');
  t.equal(field({ label: { column: 'y', output: 'out', task: 'regression' } }), 'SLUICE_E_GATE_POLICY_INVALID metric');
  t.equal(field({ robustness: { noise: 0.1 } }), 'SLUICE_E_GATE_POLICY_INVALID robustness.maxDrop');
});

t.test('a holdout CSV: numeric columns are decided by the first row and then required', async (t) => {
  const table = parseHoldoutCsv(new TextEncoder().encode('\uFEFFx,y,label\r\n1,2.5,rain\r\n-3,1e3,7\r\n'));
  t.same(table.columns, [{ name: 'x', numeric: true }, { name: 'y', numeric: true }, { name: 'label', numeric: false }]);
  t.same(table.rows, [['1', '2.5', 'rain'], ['-3', '1e3', '7']]);
  t.throws(() => parseHoldoutCsv(new TextEncoder().encode('x,label\n1,a\n,b\n')), { code: 'SLUICE_E_GATE_DATASET_INVALID', details: { line: 3, column: 'x' } });
  t.throws(() => parseHoldoutCsv(new TextEncoder().encode('x,label\n1,"a\n')), { code: 'SLUICE_E_GATE_DATASET_INVALID' });
  t.throws(() => parseHoldoutCsv(Uint8Array.from([0xff, 0xfe, 0x00])), { code: 'SLUICE_E_GATE_DATASET_INVALID' });
});
