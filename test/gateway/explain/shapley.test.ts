// Shapley arithmetic against closed forms: an additive game (every method exact) and a pairwise
// interaction (split equally between its two players by the exact values).
import t from 'tap';
import { seededRandom } from '../../../lib/random.js';
import { KernelFit, exactPlan, exactShapley, kernelPlan, type CoalitionPlan } from '../../../gateway/explain/shapley.js';

const a = [1.5, -2, 0.25, 3, -0.5, 0.75];
const F = a.length;
/** v(S) = Σ_{i∈S} a_i + c·[0 ∈ S and 1 ∈ S]. */
const game = (mask: ArrayLike<number>, c: number): number => {
  let v = 0;
  for (let i = 0; i < F; i++) if (mask[i] === 1) v += a[i]!;
  return v + (mask[0] === 1 && mask[1] === 1 ? c : 0);
};
const values = (plan: CoalitionPlan, c: number): Float64Array =>
  Float64Array.from({ length: plan.count }, (_, k) => game(plan.masks.subarray(k * F, (k + 1) * F), c));
const full = (c: number) => a.reduce((s, x) => s + x, 0) + c;

t.test('exact Shapley values: additive parts as they are, an interaction split in two', async (t) => {
  const plan = exactPlan(F);
  t.equal(plan.count, 2 ** F - 2, 'every coalition but the empty and the full one');
  const phi = exactShapley(F, values(plan, 4), 0, full(4));
  const want = a.map((x, i) => x + (i < 2 ? 2 : 0));
  t.ok(phi.every((p, i) => Math.abs(p - want[i]!) < 1e-12), `φ = ${Array.from(phi).join(', ')}`);
});

t.test('KernelSHAP is exact on an additive game and close on an interaction; efficiency always holds', async (t) => {
  const plan = kernelPlan(F, 400, seededRandom(9));
  t.equal(plan.count, 400);
  let complements = true;
  for (let k = 0; k < plan.count; k += 2) for (let i = 0; i < F; i++) if (plan.masks[k * F + i]! + plan.masks[(k + 1) * F + i]! !== 1) complements = false;
  t.ok(complements, 'coalitions come in complementary pairs');
  const fit = new KernelFit(plan);
  const additive = fit.solve(values(plan, 0), 0, full(0));
  t.ok(additive.every((p, i) => Math.abs(p - a[i]!) < 1e-8), 'additive: exact');
  const interacting = fit.solve(values(plan, 4), 0, full(4));
  const sum = interacting.reduce((s, p) => s + p, 0);
  t.ok(Math.abs(sum - full(4)) < 1e-9, 'the attributions sum to v(all) − v(∅)');
  const want = a.map((x, i) => x + (i < 2 ? 2 : 0));
  const err = Math.max(...Array.from(interacting, (p, i) => Math.abs(p - want[i]!)));
  t.ok(err < 0.2, `interaction: max abs error ${err.toFixed(3)} with 400 coalitions`);
});

t.test('the same seed samples the same coalitions', async (t) => {
  t.same(kernelPlan(F, 50, seededRandom(3)).masks, kernelPlan(F, 50, seededRandom(3)).masks);
  t.notSame(kernelPlan(F, 50, seededRandom(3)).masks, kernelPlan(F, 50, seededRandom(4)).masks);
});
