// The current drift histograms (issue 23) on SQLite and PostgreSQL, through the real reportTraffic
// mutation and ModelVersion.currentDrift: each gateway's latest bins kept, several gateways added bin
// by bin, stale reports left out, bad bins refused whole, and gateways that send none still accepted.
import t from 'tap';
import { dialects, startTestControlPlane, stopPostgres, type TestControlPlane } from '../harness.js';
import { gateway, weatherInProduction, window } from '../alert-helpers.js';

t.teardown(stopPostgres);

const CURRENT = 'query($s: Int) { model(name: "weather") { versions(first: 5) { edges { node { number currentDrift(seconds: $s) { gateways receivedAt features { feature counts rows } } } } } } }';

async function current(cp: TestControlPlane, seconds = 300, token?: string): Promise<any> {
  const r = await cp.gql(CURRENT, { s: seconds }, token);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data.model.versions.edges.map((e: any) => e.node).find((v: any) => v.number === 1).currentDrift;
}

const bins = (temp: number[], wind: number[]) => [
  { feature: 'temp_max', counts: temp },
  { feature: 'wind', counts: wind },
];

for (const dialect of dialects()) {
  t.test(`current drift histograms on ${dialect}`, async (t) => {
    const cp = await startTestControlPlane(t, dialect);
    await weatherInProduction(cp);
    const a = await gateway(cp, 'gw-a');
    const b = await gateway(cp, 'gw-b');

    t.same(await current(cp), { gateways: 0, receivedAt: null, features: [] }, 'nothing reported: no features');

    t.test('an old gateway\'s windows without driftBins are stored and add no histogram', async (t) => {
      t.equal((await a.send([window({ drift: [{ feature: 'temp_max', rows: 10, psi: 0.01, level: 'ok' }] })])).data.reportTraffic, 1);
      t.equal((await current(cp)).gateways, 0);
    });

    t.test('a gateway\'s latest bins replace its earlier ones', async (t) => {
      await a.report([{ ...window({}), driftBins: bins([1, 2, 3], [5, 5]) }]);
      await a.report([{ ...window({}), driftBins: bins([4, 0, 6], [1, 9]) }]);
      const c = await current(cp);
      t.equal(c.gateways, 1);
      t.same(c.features, [
        { feature: 'temp_max', counts: [4, 0, 6], rows: 10 },
        { feature: 'wind', counts: [1, 9], rows: 10 },
      ]);
      t.ok(Date.parse(c.receivedAt) > 0);
    });

    t.test('two gateways are added bin by bin; a feature binned otherwise is left out', async (t) => {
      await b.report([{ ...window({}), driftBins: [{ feature: 'temp_max', counts: [10, 20, 30] }, { feature: 'wind', counts: [1, 1, 1] }] }]);
      const c = await current(cp);
      t.equal(c.gateways, 2);
      t.same(c.features.find((f: any) => f.feature === 'temp_max'), { feature: 'temp_max', counts: [14, 20, 36], rows: 70 });
      t.equal(c.features.find((f: any) => f.feature === 'wind').counts.length, 2, 'wind keeps the first gateway\'s two bins');
    });

    t.test('of two windows of one version in a report, the one that ended last is kept', async (t) => {
      const early = { ...window({}), rolloutId: 'r1', end: new Date(Date.now() - 500).toISOString(), start: new Date(Date.now() - 1500).toISOString(), driftBins: bins([100, 0, 0], [0, 1]) };
      await a.report([{ ...window({}), driftBins: bins([0, 0, 7], [2, 2]) }, early]);
      const c = await current(cp);
      t.same(c.features.find((f: any) => f.feature === 'temp_max').counts, [10, 20, 37]);
    });

    t.test('reports older than the range are left out', async (t) => {
      await new Promise((r) => setTimeout(r, 1100));
      await b.report([{ ...window({}), driftBins: bins([1, 1, 1], [3, 3]) }]);
      const c = await current(cp, 1);
      t.equal(c.gateways, 1, 'only gw-b reported in the last second');
      t.same(c.features.find((f: any) => f.feature === 'wind'), { feature: 'wind', counts: [3, 3], rows: 6 });
    });

    t.test('bad bins are refused with SLUICE_E_VALIDATION and nothing of the report is stored', async (t) => {
      const before = await current(cp);
      const bad: [string, unknown][] = [
        ['a negative count', bins([1, -1, 3], [1, 1])],
        ['no bins', [{ feature: 'temp_max', counts: [] }]],
        ['a feature twice', [{ feature: 'wind', counts: [1] }, { feature: 'wind', counts: [2] }]],
        ['an empty name', [{ feature: '', counts: [1] }]],
        ['too many bins for one feature', [{ feature: 'wind', counts: new Array(1025).fill(1) }]],
        ['too many bins in all', Array.from({ length: 65 }, (_, i) => ({ feature: `f${i}`, counts: new Array(1024).fill(0) }))],
      ];
      for (const [what, driftBins] of bad) {
        const r = await a.send([{ ...window({}), driftBins: bins([9, 9, 9], [9, 9]) }, { ...window({}), driftBins }]);
        t.equal(r.errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION', what);
        t.match(r.errors?.[0]?.extensions?.details, { field: /^windows\[1\]\.driftBins/ }, `${what}: names the field`);
      }
      t.same(await current(cp), before, 'the good window of each refused report was not stored either');
    });

    t.test('a viewer may read the histograms; the range is checked', async (t) => {
      const viewer = await cp.token('viewer');
      t.equal((await current(cp, 300, viewer)).gateways, 2);
      const r = await cp.gql(CURRENT, { s: 0 });
      t.equal(r.errors?.[0]?.extensions?.code, 'SLUICE_E_VALIDATION');
    });
  });
}
