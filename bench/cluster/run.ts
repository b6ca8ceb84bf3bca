// The cluster of issue 19 on one machine, under constant open-loop load through nginx: PostgreSQL,
// two control-plane replicas, three gateways, nginx (bench/cluster/cluster.ts), then the five
// scenarios of bench/cluster/scenarios.ts one after the other. Prints a table of their figures and
// a JSON line with all of them:
//   node dist/bench/cluster/run.js [--rate 50] [--moves 6]
// test/cluster/cluster.test.ts runs the same scenarios and asserts their behaviours.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterBenchArgs, clusterBenchReport } from './bench-args.js';
import { Cluster, WEATHER_BODY } from './cluster.js';
import { failures, OpenLoopLoad, type LoadCall } from './load.js';
import { aliasMove, gatewayKill, leaderKillMidRollout, postgresOutage, rollingRestart } from './scenarios.js';

const BENCH = {
  script: 'run',
  summary: 'a Sluice cluster on one machine through five failure scenarios under open-loop load',
  envPrefix: 'CLUSTER_BENCH_',
  flags: {
    rate: { type: 'int', default: 50, description: 'weather calls per second through nginx' },
    moves: { type: 'int', default: 6, description: 'alias moves timed in scenario 1' },
  },
} as const;

const ms = (x: number) => `${Math.round(x)} ms`;
const calls = (c: LoadCall[]) => `${c.length} calls, ${failures(c).length} failed`;

async function main(): Promise<void> {
  const args = clusterBenchArgs(BENCH);
  if (args === undefined) return;
  const { rate, moves } = args;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cluster-'));
  const cluster = await Cluster.start({ dir });
  const load = new OpenLoopLoad(`${cluster.base}/v2/models/weather/infer`, WEATHER_BODY, rate);
  try {
    load.start();
    const alias = await aliasMove(cluster, moves);
    const rolling = await rollingRestart(cluster, load);
    const leader = await leaderKillMidRollout(cluster, load);
    const outage = await postgresOutage(cluster, load);
    const gateway = await gatewayKill(cluster, load);
    await load.stop();
    const sorted = [...alias.ms].sort((a, b) => a - b);
    const rows: Array<[string, string]> = [
      ['1. alias move → every gateway serves it', `median ${ms(sorted[Math.floor(sorted.length / 2)]!)}, max ${ms(sorted.at(-1)!)} (${moves} moves)`],
      ['2. rolling restart of 3 gateways', `${calls(rolling.calls)}; drain+exit ${rolling.drainMs.map(ms).join(', ')}; serving again ${rolling.backMs.map(ms).join(', ')}; back in nginx ${rolling.rejoinMs.map(ms).join(', ')}`],
      ['3. leader kill -9 mid-canary', `other replica leads ${ms(leader.takeoverMs)}; next step ${ms(leader.nextStepMs)} (weight ${leader.weightAtKill} at kill); ${leader.phase}, steps ${leader.stepWeights.join('/')}; ${calls(leader.calls)}`],
      ['4. PostgreSQL down 10 s', `${calls(outage.calls)}; ${outage.refusals.length} writes refused (${[...new Set(outage.refusals.map((r) => `${r.status} ${r.code}`))].join(', ')}), ${outage.accepted} accepted, ${outage.stored.length} stored; leader back ${ms(outage.leaderBackMs)}, writes back ${ms(outage.writeBackMs)}, alias move after ${ms(outage.aliasAfterMs)}`],
      ['5. gateway kill -9', `${gateway.failedBefore.length} of ${gateway.openAtKill.length} open calls failed, ${gateway.failedAfter.length} of ${gateway.callsAfter} later; nginx tried it ${gateway.triesAtVictim} times in ${gateway.loggedAfter} calls; stale after ${ms(gateway.staleMs)}`],
    ];
    const width = Math.max(...rows.map((r) => r[0].length));
    console.log(`cluster on one machine: PostgreSQL, 2 replicas, 3 gateways, nginx; ${rate} weather calls/s open loop (${load.calls.length} calls, ${failures(load.calls).length} failed in all, ${load.skipped} skipped)`);
    for (const [what, figure] of rows) console.log(`${what.padEnd(width)}  ${figure}`);
    console.log(clusterBenchReport({
      rate,
      calls: load.calls.length,
      failed: failures(load.calls).length,
      aliasMoveMs: alias.ms.map(Math.round),
      rolling: { calls: rolling.calls.length, failed: failures(rolling.calls).length, exitCodes: rolling.exitCodes, drainMs: rolling.drainMs.map(Math.round), backMs: rolling.backMs.map(Math.round), rejoinMs: rolling.rejoinMs.map(Math.round) },
      leaderKill: { takeoverMs: Math.round(leader.takeoverMs), nextStepMs: Math.round(leader.nextStepMs), phase: leader.phase, stepWeights: leader.stepWeights, calls: leader.calls.length, failed: failures(leader.calls).length },
      gatewayKill: { openAtKill: gateway.openAtKill.length, failedBefore: gateway.failedBefore.length, failedAfter: gateway.failedAfter.length, callsAfter: gateway.callsAfter, triesAtVictim: gateway.triesAtVictim, loggedAfter: gateway.loggedAfter, staleMs: Math.round(gateway.staleMs) },
      postgresOutage: { calls: outage.calls.length, failed: failures(outage.calls).length, refused: outage.refusals.length, accepted: outage.accepted, stored: outage.stored.length, leaderBackMs: Math.round(outage.leaderBackMs), writeBackMs: Math.round(outage.writeBackMs), aliasAfterMs: Math.round(outage.aliasAfterMs) },
    }));
  } finally {
    await load.stop();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
