// What the fleet views cost a control plane with a big fleet (issue 19): N registered gateways
// (default 1,000; half pool=gpu, half pool=cpu; one in ten stale), each with the weather model
// loaded and one traffic window every 10 s for the last `history` minutes, written straight into
// the database (the shape lib/sync-wire.ts windows take once stored). Then, over HTTP on loopback,
// the median and p90 wall time of `rounds` runs of each query, each beside its baseline in the
// same run:
// - a page of 100 gateways with status (baseline) and with `recent` (calls/s, error rate, p99);
// - `modelFleet(weather)`; GET /metrics (with the sluice_fleet_* gauges);
// - one gateway's `desiredState` without a placement (baseline) and with `pool=gpu`.
//   node dist/bench/cluster/fleet-queries.js [--dialect sqlite|postgres] [--gateways 1000] [--history 10] [--rounds 30]
import { LATENCY_BUCKETS_MS } from '../../lib/sync-wire.js';
import { modelWithVersion, withControlPlanes, type TestControlPlane } from './local-control-plane.js';
import { clusterBenchArgs, machine } from './bench-args.js';

const BENCH = {
  script: 'fleet-queries',
  summary: "time the control plane's fleet queries and /metrics with a big registered fleet",
  envPrefix: 'FLEET_QUERIES_',
  flags: {
    dialect: { type: 'string', default: 'sqlite', description: 'sqlite or postgres' },
    gateways: { type: 'int', default: 1000, description: 'registered gateways' },
    history: { type: 'int', default: 10, description: 'minutes of traffic windows per gateway (one per 10 s)' },
    rounds: { type: 'int', default: 30, description: 'runs of each query' },
  },
} as const;

const q = (s: string) => `'${s.replace(/'/g, "''")}'`;

async function seed(cp: TestControlPlane, gateways: number, historyMinutes: number): Promise<void> {
  const token = await cp.token('gateway', 'fleet');
  const tokenId = (await cp.gql('{ me { tokenId } }', {}, token)).data.me.tokenId as string;
  const now = Date.now();
  const loaded = JSON.stringify([{ model: 'weather', version: 1, sha256: null, state: 'ready', executionProvider: 'cpu' }]);
  const rows: string[] = [];
  for (let i = 0; i < gateways; i++) {
    const beat = new Date(now - (i % 10 === 9 ? 120_000 : 1000)).toISOString();
    const labels = JSON.stringify({ pool: i % 2 === 0 ? 'gpu' : 'cpu' });
    rows.push(`(${q(`gw-${i}`)}, ${q(`gw-${String(i).padStart(5, '0')}`)}, 'eu', ${q(labels)}, ${q(tokenId)}, ${q(beat)}, ${q(beat)}, ${q(loaded)}, 'healthy', '')`);
  }
  for (let i = 0; i < rows.length; i += 500) {
    await cp.sql(`INSERT INTO gateways (id, name, region, labels, token_id, registered_at, last_heartbeat_at, loaded, health, health_message) VALUES ${rows.slice(i, i + 500).join(',')}`);
  }
  const latency = JSON.stringify(LATENCY_BUCKETS_MS.map((_, b) => (b < 4 ? 20 : b === 4 ? 2 : 0)).concat([0]));
  const mirrored = JSON.stringify({ calls: 0, errors: 0, compared: 0, agreed: 0, latency: new Array(LATENCY_BUCKETS_MS.length + 1).fill(0) });
  const drift = JSON.stringify([{ feature: 'wind', rows: 500, psi: 0.05, level: 'ok' }]);
  let batch: string[] = [];
  let n = 0;
  for (let w = 0; w < historyMinutes * 6; w++) {
    const end = new Date(now - w * 10_000).toISOString();
    const start = new Date(now - (w + 1) * 10_000).toISOString();
    for (let i = 0; i < gateways; i++) {
      batch.push(`(${q(`tw-${n++}`)}, ${q(`gw-${String(i).padStart(5, '0')}`)}, 'weather', 1, NULL, ${q(start)}, ${q(end)}, ${q(end)}, 82, 1, ${q(latency)}, ${q(mirrored)}, '[]', NULL, ${q(drift)})`);
      if (batch.length === 500) {
        await cp.sql(`INSERT INTO traffic_windows (id, gateway, model, version, rollout_id, window_start, window_end, received_at, calls, errors, latency, mirrored, outputs, feedback, drift) VALUES ${batch.join(',')}`);
        batch = [];
      }
    }
  }
  if (batch.length > 0) await cp.sql(`INSERT INTO traffic_windows (id, gateway, model, version, rollout_id, window_start, window_end, received_at, calls, errors, latency, mirrored, outputs, feedback, drift) VALUES ${batch.join(',')}`);
}

async function time(rounds: number, run: () => Promise<void>): Promise<{ medianMs: number; p90Ms: number }> {
  await run();
  const xs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await run();
    xs.push(performance.now() - t0);
  }
  xs.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return { medianMs: round(xs[Math.floor(xs.length / 2)]!), p90Ms: round(xs[Math.min(xs.length - 1, Math.ceil(0.9 * xs.length) - 1)]!) };
}

async function main(): Promise<void> {
  const args = clusterBenchArgs(BENCH);
  if (args === undefined) return;
  const { dialect, gateways, history, rounds } = args;
  if (dialect !== 'sqlite' && dialect !== 'postgres') throw new Error('--dialect is sqlite or postgres');
  await withControlPlanes(async (start) => {
    const cp = await start(dialect, { heartbeatIntervalSeconds: 10 });
    await modelWithVersion(cp);
    await cp.gql('mutation { setAlias(input: { model: "weather", alias: "production", version: 1 }) { name } }');
    await seed(cp, gateways, history);
    const ok = async (query: string) => {
      const r = await cp.gql(query);
      if (r.errors) throw new Error(JSON.stringify(r.errors));
    };
    const results: Record<string, { medianMs: number; p90Ms: number }> = {};
    results['gateways(first: 100) { status } (baseline)'] = await time(rounds, () => ok('{ gateways(first: 100) { edges { node { name status } } } }'));
    results['gateways(first: 100) { status recent }'] = await time(rounds, () => ok('{ gateways(first: 100) { edges { node { name status recent { callsPerSecond errorRate p99Ms } } } } }'));
    results['modelFleet(weather)'] = await time(rounds, () => ok('{ modelFleet(model: "weather") { versions { version serving callsPerSecond gateways { gateway status } figures { calls p99Ms drift { feature level } } } } }'));
    results['GET /metrics'] = await time(rounds, async () => {
      const res = await fetch(`${cp.url}/metrics`);
      if (!res.ok) throw new Error(`/metrics ${res.status}`);
      await res.text();
    });
    const desired = '{ desiredState(gateway: "gw-00001") { revision models { name } } }';
    results['desiredState(gateway), no placement (baseline)'] = await time(rounds, () => ok(desired));
    await ok('mutation { setModelPlacement(input: { model: "weather", selector: "pool=gpu" }) { name } }');
    results['desiredState(gateway), placement pool=gpu'] = await time(rounds, () => ok(desired));
    const metrics = await (await fetch(`${cp.url}/metrics`)).text();
    const fleetLines = metrics.split('\n').filter((l) => l.startsWith('sluice_fleet_'));
    console.log(JSON.stringify({ dialect, gateways, windows: gateways * history * 6, rounds, results, fleetGauges: fleetLines, machine: machine() }, null, 2));
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
