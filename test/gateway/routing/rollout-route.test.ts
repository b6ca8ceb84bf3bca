import t from 'tap';
import type { WireRolloutPlan } from '../../../lib/sync-wire.js';
import { OutputBinning } from '../../../gateway/routing/output-bins.js';
import { RolloutRoute, rolloutWindow, routeKeyUnit } from '../../../gateway/routing/rollout-route.js';
import { RoutingTable } from '../../../gateway/routing/routing-table.js';

function plan(over: Partial<WireRolloutPlan>): WireRolloutPlan {
  return { id: 'r1', strategy: 'AB', stable: 1, candidate: 2, sticky: true, mirrorShare: 0, agreementTolerance: 0, ...over };
}

function table(p: WireRolloutPlan, weights: Record<string, number>): RoutingTable {
  return new RoutingTable({ weights }, new RolloutRoute(p, rolloutWindow(p, new OutputBinning([]))));
}

/** Chi-squared critical value at p = 0.001 with 1 degree of freedom. */
const CHI2_1DF_999 = 10.828;

t.test('a route key maps to the same point of [0, 1) every time, from its UTF-8 bytes', async (t) => {
  t.equal(routeKeyUnit('user-1'), routeKeyUnit('user-1'));
  t.not(routeKeyUnit('user-1'), routeKeyUnit('user-2'));
  // FNV-1a of "a" is 0xe40c292c (the published test vector); then murmur3's fmix32, over 2^32.
  let h = 0xe40c292c;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  t.equal(routeKeyUnit('a'), (h >>> 0) / 2 ** 32);
  // Pinned values: a change here would move every A/B caller to another arm on upgrade.
  t.equal(routeKeyUnit('user-1'), 0.4670340372249484);
  t.equal(routeKeyUnit('é'), 0.5557760463561863, 'hashed as its UTF-8 bytes');
  for (const k of ['', 'a', 'user-42', 'é', '日本', '😀']) {
    const u = routeKeyUnit(k);
    t.ok(u >= 0 && u < 1, `${k} in [0, 1)`);
  }
});

t.test('under a sticky rollout two independent routing tables send each key to the same version, split by weight', async (t) => {
  const p = plan({});
  const a = table(p, { 1: 70, 2: 30 });
  const b = table(p, { 1: 70, 2: 30 });
  const loaded = ['1', '2'];
  const n = 20_000;
  let toCandidate = 0;
  let mismatches = 0;
  for (let i = 0; i < n; i++) {
    const key = `customer-${i}`;
    // Each table draws its own random number: only the key decides.
    const va = a.pick(loaded, Math.random(), key);
    const vb = b.pick(loaded, Math.random(), key);
    if (va !== vb) mismatches++;
    if (va === '2') toCandidate++;
  }
  t.equal(mismatches, 0, 'every key reaches the same version on both');
  const expected = n * 0.3;
  const chi2 = (toCandidate - expected) ** 2 / expected + (n - toCandidate - (n - expected)) ** 2 / (n - expected);
  t.ok(chi2 < CHI2_1DF_999, `split ${toCandidate}/${n} is within sampling error of 30% (chi2 ${chi2.toFixed(2)})`);
});

t.test('keys are ignored when the rollout is not sticky, and calls without a key are picked by weight', async (t) => {
  const loaded = ['1', '2'];
  const loose = table(plan({ sticky: false, strategy: 'CANARY' }), { 1: 50, 2: 50 });
  t.equal(loose.pick(loaded, 0.1, 'k'), '1');
  t.equal(loose.pick(loaded, 0.9, 'k'), '2');
  const sticky = table(plan({}), { 1: 50, 2: 50 });
  t.equal(sticky.pick(loaded, 0.1), '1');
  t.equal(sticky.pick(loaded, 0.9), '2');
});

t.test('a preview reaches the candidate while all weight is on stable, only once it is loaded', async (t) => {
  const blueGreen = table(plan({ strategy: 'BLUE_GREEN', sticky: false }), { 1: 100 });
  t.equal(blueGreen.pick(['1', '2'], 0.99), '1');
  t.equal(blueGreen.preview(['1', '2']), '2');
  t.equal(blueGreen.preview(['1']), undefined);
  t.equal(new RoutingTable({ weights: { 1: 1 } }).preview(['1', '2']), undefined, 'no rollout: nothing to preview');
});

t.test('copies go both ways under CANARY, stable to candidate under SHADOW, for the mirrored share only', async (t) => {
  const w = rolloutWindow(plan({}), new OutputBinning([]));
  const canary = new RolloutRoute(plan({ strategy: 'CANARY', mirrorShare: 0.25 }), w);
  t.equal(canary.mirrorOf('1', 0.2), '2');
  t.equal(canary.mirrorOf('2', 0.2), '1');
  t.equal(canary.mirrorOf('1', 0.3), undefined);
  t.equal(canary.mirrorOf('3', 0.1), undefined, 'a version outside the rollout');
  const shadow = new RolloutRoute(plan({ strategy: 'SHADOW', mirrorShare: 1 }), w);
  t.equal(shadow.mirrorOf('1', 0.999), '2');
  t.equal(shadow.mirrorOf('2', 0), undefined);
  t.equal(new RolloutRoute(plan({ strategy: 'AB', mirrorShare: 1 }), w).mirrorOf('1', 0), undefined);
  t.equal(new RolloutRoute(plan({ strategy: 'CANARY', mirrorShare: 0 }), w).mirrorOf('1', 0), undefined, 'share 0 copies nothing');
});

t.test('BLUE_GREEN before the switch copies a share of stable calls to the candidate, never the other way', async (t) => {
  const w = rolloutWindow(plan({}), new OutputBinning([]));
  const before = new RolloutRoute(plan({ strategy: 'BLUE_GREEN', sticky: false, mirrorShare: 0.5 }), w);
  t.equal(before.mirrorOf('1', 0.4), '2', 'stable answered: the candidate runs a copy');
  t.equal(before.mirrorOf('1', 0.6), undefined, 'outside the mirrored share');
  t.equal(before.mirrorOf('2', 0), undefined, 'the candidate (preview) is not copied to stable');
  const after = new RolloutRoute(plan({ strategy: 'BLUE_GREEN', sticky: false, mirrorShare: 0 }), w);
  t.equal(after.mirrorOf('1', 0), undefined, 'the switched plan carries share 0: nothing is copied');
});
