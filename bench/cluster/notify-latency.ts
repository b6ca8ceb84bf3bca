// How long a change made on one control-plane replica takes to reach every subscribed gateway
// (issue 19: p99 < 2 s). Two replicas on one real PostgreSQL (bench/cluster/postgres.ts), N gateway
// subscriptions (default 3) held the way a gateway holds them (GraphQL SSE, gateway token), spread
// over the replicas (B, A, B, ...), then `moves` alias moves on replica A, one after another. Each
// move is timed from the mutation's answer to the moment every subscription has been pushed a state
// serving the new version. Prints a JSON summary:
//   node dist/bench/cluster/notify-latency.js [--gateways 3] [--moves 100]
// Replica B's periodic resync runs at its default (5 s), so a lost NOTIFY would show as a ~5 s outlier.
import { join } from 'node:path';
import { exampleOnnx, modelWithVersion, withControlPlanes, type TestControlPlane } from './local-control-plane.js';
import { subscribe, type Subscription } from './sse.js';
import { clusterBenchArgs, clusterBenchReport } from './bench-args.js';

const BENCH = {
  script: 'notify-latency',
  summary: 'time from an alias move on replica A to every gateway subscription serving it',
  envPrefix: 'NOTIFY_LATENCY_',
  flags: {
    gateways: { type: 'int', default: 3, description: 'subscribed gateways, spread over the two replicas' },
    moves: { type: 'int', default: 100, description: 'alias moves on replica A' },
  },
} as const;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const args = clusterBenchArgs(BENCH);
  if (args === undefined) return;
  const { gateways, moves } = args;
  await withControlPlanes(async (start) => {
    const a = await start('postgres');
    const b = await start('postgres', {
      db: a.db!,
      signingKeyFile: join(a.dataDir, 'keys', 'registry-ed25519.pem'),
      artifactDir: join(a.dataDir, 'artifacts'),
    });
    await modelWithVersion(a);
    await a.upload('weather', exampleOnnx('weather'), undefined, { allowDuplicate: true });
    await move(a, 1);
    const replicas: TestControlPlane[] = [b, a];
    const latest: (number | undefined)[] = [];
    const subs: Subscription<any>[] = [];
    let wake: () => void = () => {};
    for (let i = 0; i < gateways; i++) {
      const token = await a.token('gateway', `gw-${i}`);
      const sub = await subscribe(replicas[i % 2]!.url, token, 'subscription { desiredStateChanged { models { routes { version } } } }');
      subs.push(sub);
      void (async () => {
        for (;;) {
          const s = (await sub.next()).data.desiredStateChanged;
          latest[i] = s.models[0]?.routes[0]?.version;
          wake();
        }
      })().catch(() => undefined);
    }
    const all = (v: number) => latest.length === gateways && latest.every((x) => x === v);
    const until = (v: number) => new Promise<void>((resolve) => {
      if (all(v)) return resolve();
      wake = () => {
        if (all(v)) resolve();
      };
    });
    await until(1);
    const times: number[] = [];
    for (let i = 0; i < moves; i++) {
      const v = i % 2 === 0 ? 2 : 1;
      const reached = until(v);
      await move(a, v);
      const answered = performance.now();
      await reached;
      times.push(performance.now() - answered);
    }
    for (const s of subs) s.close();
    const sorted = [...times].sort((x, y) => x - y);
    console.log(clusterBenchReport({
      gateways, moves,
      replicas: 2,
      // Negative: the push reached every gateway before the mutation's answer did.
      ms: { p50: +quantile(sorted, 0.5).toFixed(1), p99: +quantile(sorted, 0.99).toFixed(1), max: +sorted.at(-1)!.toFixed(1) },
    }));
  });
}

async function move(cp: TestControlPlane, version: number): Promise<void> {
  const r = await cp.gql('mutation($v: Int!) { setAlias(input: { model: "weather", alias: "production", version: $v }) { name } }', { v: version });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
}

await main();
