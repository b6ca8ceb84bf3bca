// What the drift bins (issue 23) add to a gateway's traffic report: the wall time of `reportTraffic`
// with one weather window carrying a drift snapshot (baseline, one INSERT) and the same window with
// driftBins too (the INSERT and an upsert into drift_histograms in one transaction), rounds taking
// turns over HTTP on loopback; then ModelVersion.currentDrift with `gateways` gateways' bins stored.
//   node dist/bench/cluster/drift-bins-report.js [--dialect sqlite|postgres] [--rounds 200] [--gateways 100]
import { LATENCY_BUCKETS_MS, REPORT_TRAFFIC_MUTATION } from '../../lib/sync-wire.js';
import { modelWithVersion, withControlPlanes, type TestControlPlane } from './local-control-plane.js';
import { clusterBenchArgs, machine } from './bench-args.js';

const BENCH = {
  script: 'drift-bins-report',
  summary: 'time reportTraffic with and without drift bins, and currentDrift over many gateways',
  envPrefix: 'DRIFT_BINS_REPORT_',
  flags: {
    dialect: { type: 'string', default: 'sqlite', description: 'sqlite or postgres' },
    rounds: { type: 'int', default: 200, description: 'reports of each kind' },
    gateways: { type: 'int', default: 100, description: 'gateways whose bins currentDrift merges' },
  },
} as const;

/** The weather model's drift monitor: 5 inputs, 6 outputs, 10 PSI bins each (the label: 6). */
const FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind', 'day_of_year', 'label', 'probabilities.drizzle', 'probabilities.fog', 'probabilities.rain', 'probabilities.snow', 'probabilities.sun'];

function window(bins: boolean): object {
  const end = new Date();
  const latency = LATENCY_BUCKETS_MS.map((_, b) => (b === 2 ? 80 : b === 3 ? 2 : 0)).concat([0]);
  return {
    model: 'weather', version: 1, rolloutId: null,
    start: new Date(end.getTime() - 10_000).toISOString(), end: end.toISOString(),
    calls: 82, errors: 0, latency,
    mirrored: { calls: 0, errors: 0, compared: 0, agreed: 0, latency: latency.map(() => 0) },
    outputs: [],
    drift: FEATURES.map((feature) => ({ feature, rows: 820, psi: 0.05, level: 'ok' })),
    ...(bins ? { driftBins: FEATURES.map((feature) => ({ feature, counts: Array.from({ length: feature === 'label' ? 6 : 10 }, (_, i) => 80 + i) })) } : {}),
  };
}

function summary(xs: number[]): { medianMs: number; p90Ms: number } {
  xs.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  return { medianMs: round(xs[Math.floor(xs.length / 2)]!), p90Ms: round(xs[Math.min(xs.length - 1, Math.ceil(0.9 * xs.length) - 1)]!) };
}

async function gateway(cp: TestControlPlane, name: string): Promise<(w: object) => Promise<void>> {
  const token = await cp.token('gateway', `${name}-token`);
  const r = await cp.gql('mutation($n: String!) { registerGateway(input: { name: $n }) { id } }', { n: name }, token);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return async (w) => {
    const res = await cp.gql(REPORT_TRAFFIC_MUTATION, { gateway: name, windows: [w] }, token);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
  };
}

async function main(): Promise<void> {
  const args = clusterBenchArgs(BENCH);
  if (args === undefined) return;
  const { dialect, rounds, gateways } = args;
  if (dialect !== 'sqlite' && dialect !== 'postgres') throw new Error('--dialect is sqlite or postgres');
  await withControlPlanes(async (start) => {
    const cp = await start(dialect);
    await modelWithVersion(cp);
    const report = await gateway(cp, 'gw-bench');
    const plain: number[] = [];
    const withBins: number[] = [];
    for (let r = -10; r < rounds; r++) {
      // Alternate which kind goes first, so neither always follows the other.
      for (const bins of r % 2 === 0 ? [false, true] : [true, false]) {
        const w = window(bins);
        const t0 = performance.now();
        await report(w);
        const ms = performance.now() - t0;
        if (r >= 0) (bins ? withBins : plain).push(ms);
      }
    }
    const others = await Promise.all(Array.from({ length: gateways - 1 }, (_, i) => gateway(cp, `gw-${i}`)));
    for (const send of others) await send(window(true));
    const current: number[] = [];
    const query = '{ modelVersion(model: "weather", version: 1) { currentDrift { gateways features { feature counts rows } } } }';
    let merged = 0;
    for (let r = -5; r < 50; r++) {
      const t0 = performance.now();
      const res = await cp.gql(query);
      if (r >= 0) current.push(performance.now() - t0);
      merged = res.data.modelVersion.currentDrift.gateways;
    }
    const a = summary(plain);
    const b = summary(withBins);
    console.log(JSON.stringify({
      dialect, rounds,
      'reportTraffic, drift snapshot only (baseline)': a,
      'reportTraffic, drift snapshot and driftBins': b,
      'with / without (median)': Math.round((b.medianMs / a.medianMs) * 100) / 100,
      [`currentDrift over ${merged} gateways`]: summary(current),
      machine: machine(),
    }, null, 2));
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
