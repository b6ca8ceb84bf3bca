import t, { type Test } from 'tap';
import { chiSquared, chiSquaredPValue, gammaQ, jsDistance, kolmogorovQ, ksPValue, lnGamma, psi, PSI_EPSILON } from '../../../gateway/drift/statistics.js';
import { compileProfile } from '../../../gateway/drift/compile.js';
import { buildProfile } from '../../../gateway/drift/profile.js';
import { DriftWindow, scoreRows } from '../../../gateway/drift/window.js';

const near = (t: Test, got: number, want: number, tol: number, what: string) =>
  t.ok(Math.abs(got - want) <= tol, `${what}: ${got} ~ ${want}`);

t.test('PSI matches the hand-computed value and floors empty bins at the documented epsilon', async (t) => {
  // (0.5-0.25) ln(0.5/0.25) + (0.5-0.75) ln(0.5/0.75) = 0.25 ln 2 + 0.25 ln 1.5
  near(t, psi([0.5, 0.5], [0.25, 0.75]), 0.25 * Math.log(2) + 0.25 * Math.log(1.5), 1e-15, 'two bins');
  t.equal(psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]), 0);
  t.equal(PSI_EPSILON, 1e-4);
  near(t, psi([0, 1], [0.5, 0.5]), (1e-4 - 0.5) * Math.log(1e-4 / 0.5) + 0.5 * Math.log(2), 1e-15, 'empty window bin');
});

t.test('Jensen-Shannon distance is 0 for equal, 1 for disjoint distributions, and sqrt of the base-2 divergence between', async (t) => {
  t.equal(jsDistance([0.1, 0.9], [0.1, 0.9]), 0);
  t.equal(jsDistance([1, 0], [0, 1]), 1);
  // P=(1,0), Q=(0.5,0.5): M=(0.75,0.25); JSD = 0.5*log2(1/0.75) + 0.5*(0.5*log2(0.5/0.75)+0.5*log2(0.5/0.25))
  const jsd = 0.5 * Math.log2(1 / 0.75) + 0.5 * (0.5 * Math.log2(0.5 / 0.75) + 0.5 * Math.log2(2));
  near(t, jsDistance([1, 0], [0.5, 0.5]), Math.sqrt(jsd), 1e-15, 'half overlap');
});

t.test('the Kolmogorov distribution matches its table of critical values', async (t) => {
  // Critical values of sqrt(n_e) D (Smirnov 1948 / Massey 1951 tables).
  for (const [lambda, alpha] of [[1.2239, 0.1], [1.3581, 0.05], [1.6276, 0.01], [1.9495, 0.001]] as const) {
    near(t, kolmogorovQ(lambda), alpha, alpha * 1e-3 + 1e-6, `Q(${lambda})`);
  }
  // Both branches of the series around their switch point, and P(K <= 1) = 0.7300.
  near(t, kolmogorovQ(1), 0.27, 1e-5, 'Q(1)');
  near(t, kolmogorovQ(0.5), 0.963945, 1e-6, 'Q(0.5)');
  near(t, kolmogorovQ(1.1799999), kolmogorovQ(1.18), 1e-6, 'continuous at the branch switch');
  t.equal(kolmogorovQ(0), 1);
  near(t, ksPValue(0.1, 200, 200), kolmogorovQ(Math.sqrt(100) * 0.1), 0, 'n_e = nm/(n+m)');
  t.ok(Number.isNaN(ksPValue(0.1, 0, 10)));
});

t.test('chi-squared p-values match the table', async (t) => {
  for (const [x, df, p] of [[2.706, 1, 0.1], [3.841, 1, 0.05], [6.635, 1, 0.01], [5.991, 2, 0.05], [7.815, 3, 0.05],
    [11.07, 5, 0.05], [23.209, 10, 0.01], [31.41, 20, 0.05]] as const) {
    near(t, chiSquaredPValue(x, df), p, p * 2e-3, `chi2(${df}) at ${x}`);
  }
  near(t, lnGamma(5), Math.log(24), 1e-10, 'ln Gamma(5)');
  near(t, lnGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-10, 'ln Gamma(1/2)');
  near(t, gammaQ(1, 2), Math.exp(-2), 1e-12, 'Q(1, x) = e^-x');
  t.equal(chiSquaredPValue(0, 3), 1);
});

t.test('the two-sample chi-squared statistic matches the hand-computed 2x2 table', async (t) => {
  // window (10, 20) vs reference (20, 10): every expected count is 15, so 4 * 25/15.
  const [stat, df] = chiSquared([10, 20], [20, 10]);
  near(t, stat, 20 / 3, 1e-12, 'statistic');
  t.equal(df, 1);
  near(t, chiSquaredPValue(stat, df), 0.009823, 1e-6, 'p-value');
  // A bin neither side uses does not count as a degree of freedom.
  t.same(chiSquared([10, 0, 20], [20, 0, 10]), [stat, 1]);
});

t.test('window scores of a small case match hand computation', async (t) => {
  // Reference: 0..99 -> percentile grid; window: 100 values all at 150 (beyond the max).
  const ref = Float64Array.from({ length: 100 }, (_, i) => i);
  const c = compileProfile(buildProfile({ model: 'm', version: '1', bins: 4, tensors: [{ name: 'x', role: 'input' }] }, { x: { data: ref, dims: [100] } }));
  for (const backend of ['native', 'typescript'] as const) {
    const w = new DriftWindow(c.layout, backend);
    w.updateMatrix(new Float64Array(100).fill(150), 100, 1);
    const s = scoreRows(c.features, w.scores(c.reference)).x!;
    // The grid's last edge is the reference max (99), whose own mass (1%) sits in the open top bin
    // with the window's: KS on the grid is 0.99 where the exact statistic is 1 (the documented bound).
    near(t, s.ks, 0.99, 1e-12, `${backend}: KS evaluated at the grid edges`);
    // Every reference value is moved to 150: W1 = mean(150 - x) = 150 - 49.5, up to the grid's
    // midpoint quantisation of the reference (exact here: 0..99 in 40 bins of width 2.475).
    near(t, s.wasserstein, 100.5, 0.5, `${backend}: wasserstein`);
    t.equal(s.mean, 150);
    t.equal(s.std, 0);
    // 4 bins of 0.25; the window is all in the last: 3 * (1e-4 - 0.25) ln(1e-4/0.25) + 0.75 ln(4)
    near(t, s.psi, 3 * (1e-4 - 0.25) * Math.log(1e-4 / 0.25) + 0.75 * Math.log(4), 1e-12, `${backend}: psi`);
  }
});

t.test('window moments equal the two-pass mean and sample std', async (t) => {
  const values = Float64Array.from({ length: 1000 }, (_, i) => 1e6 + Math.sin(i) * 3);
  const c = compileProfile(buildProfile({ model: 'm', version: '1', tensors: [{ name: 'x', role: 'input' }] }, { x: { data: values, dims: [1000] } }));
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
  for (const backend of ['native', 'typescript'] as const) {
    const w = new DriftWindow(c.layout, backend);
    for (let i = 0; i < 1000; i += 250) w.updateMatrix(values.subarray(i, i + 250), 250, 1);
    const s = scoreRows(c.features, w.scores(c.reference)).x!;
    near(t, s.mean, mean, 1e-9 * mean, `${backend} mean`);
    near(t, s.std, std, 1e-9, `${backend} std (values near 1e6: no cancellation)`);
  }
});
