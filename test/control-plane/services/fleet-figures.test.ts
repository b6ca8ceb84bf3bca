// Fleet drift levels (control-plane/services/fleet-figures.ts): each feature's level is the worst of
// the gateways' latest usable snapshots, and a gateway's earlier snapshot gives way to its later one.
import t from 'tap';
import { fleetFigures, type FigureWindow } from '../../../control-plane/services/fleet-figures.js';
import { LATENCY_BUCKETS_MS, type WireDriftSnapshot } from '../../../lib/sync-wire.js';

const latency = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
const win = (gateway: string, drift: WireDriftSnapshot[]): FigureWindow => ({ gateway, version: 1, calls: 10, errors: 0, latency, feedback: null, drift });

t.test("a feature's fleet level is the worst of the gateways' latest snapshots", async (t) => {
  const [v1] = fleetFigures('weather', [
    win('a', [{ feature: 'wind', rows: 100, psi: 0.3, level: 'alert' }]),
    win('a', [{ feature: 'wind', rows: 100, psi: 0.05, level: 'ok' }]),
    win('b', [{ feature: 'wind', rows: 300, psi: 0.15, level: 'warn' }, { feature: 'temp', rows: 300, psi: 0.01, level: 'ok' }]),
    win('c', [{ feature: 'wind', rows: 10, psi: null, level: null }]),
  ]);
  t.same(
    v1!.drift.map((d) => [d.feature, d.level, d.gateways]),
    [
      ['temp', 'ok', 1],
      ['wind', 'warn', 2],
    ],
    "a's later ok replaces its alert; c's snapshot below min_rows counts for nothing",
  );
});
