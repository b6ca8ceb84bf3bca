// Interleaved rounds for the ratios: every server under test runs at once and they take turns at
// 64 connections, round after round, with the ORT-alone ceiling (at its best batch size) measured in
// each round too. On a machine shared with other work, a slow minute then slows every target alike,
// and the median of each series is a ratio that holds. The same at one connection, for latency
// (issue 20: Sluice's p50 against naive-1t's), between Sluice and the naive servers only.
// Where issue 20 bounds Sluice by the transport (`hasTransportBound`) and uws-fixed is in the run,
// each 64-connection round also measures ORT alone again while that round's Sluice rate of calls
// travels to uws-fixed: the bound that round's Sluice is held to.
import { generateLoad } from './load/spawn-generator.js';
import { startServer, type ServerProcess } from './targets/server-process.js';
import { targetCommand } from './targets/commands.js';
import { ortCeiling } from './ceilings/run-ort-alone.js';
import { ortUnderTransport } from './ceilings/under-transport.js';
import { OPEN_CONNECTIONS, type BenchOptions } from './options.js';
import { hasTransportBound, median } from './report/summary.js';
import { closedJob, type Log } from './plan.js';
import type { OrtCeiling, RatioRounds, RoundSeries, TargetName } from './report/types.js';
import { workloadSupports, type WorkloadName } from './workloads.js';

/** The targets of the 1-connection rounds: the latency ratio is Sluice's p50 against the naive servers'. */
const LATENCY_TARGETS: readonly TargetName[] = ['sluice', 'naive', 'naive-1t'];

/** `ceiling` undefined: no ORT-alone figure in the rounds (the 1-connection rounds have none). */
export async function ratioRounds(
  o: BenchOptions, workload: WorkloadName, repo: string, ceiling: OrtCeiling | undefined, log: Log, connections = 64,
): Promise<RatioRounds | null> {
  const servers = new Map<TargetName, ServerProcess>();
  const wanted = (t: TargetName) => connections !== 1 || LATENCY_TARGETS.includes(t);
  try {
    for (const target of o.targets.filter((t) => wanted(t) && workloadSupports(workload, t) && (o.workloadTargets[workload]?.includes(t) ?? true))) {
      try {
        servers.set(target, await startServer({ ...targetCommand(target, workload, repo, o.placement.serverCpus), cpuLimit: o.placement.serverCpuLimit }));
      } catch (err) {
        log(`  rounds: ${target} could not start: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    if (!servers.has('sluice')) return null;
    const targets = [...servers.keys()];
    const series = new Map<RoundSeries['target'], { throughputs: number[]; p50s: number[]; p99s: number[] }>();
    const add = (t: RoundSeries['target'], throughput: number, p50: number, p99: number) => {
      const s = series.get(t) ?? { throughputs: [], p50s: [], p99s: [] };
      s.throughputs.push(throughput);
      s.p50s.push(p50);
      s.p99s.push(p99);
      series.set(t, s);
    };
    for (let r = 0; r < o.ratioRounds; r++) {
      // Rotate the order so no target always follows the same neighbour.
      const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
      const line: string[] = [];
      for (const target of order) {
        const job = closedJob(o, servers.get(target)!.url, workload, target, connections, o.roundWarmupMs, o.roundMs);
        const res = await generateLoad(job, { cpus: o.placement.clientCpus, processes: o.placement.generators });
        const phase = res.phases[0]!;
        add(target, phase.throughput, phase.latency.p50, phase.latency.p99);
        line.push(connections === 1 ? `${target} p50 ${phase.latency.p50.toFixed(3)} ms` : `${target} ${phase.throughput.toFixed(0)}`);
      }
      if (ceiling !== undefined) {
        const measure = async () => (await ortCeiling(o, workload, repo, [ceiling.best.batch], o.roundMs / 2)).best.inferencesPerSec;
        const ort = await measure();
        add('ort-alone', ort, 0, 0);
        line.push(`ORT alone ${ort.toFixed(0)}`);
        const fixed = servers.get('uws-fixed');
        const rate = series.get('sluice')!.throughputs.at(-1)!;
        if (fixed !== undefined && hasTransportBound(workload) && rate > 0) {
          const stream = { url: fixed.url, pid: fixed.pid, workload, rate, connections: OPEN_CONNECTIONS, clientCpus: o.placement.clientCpus };
          const under = await ortUnderTransport(stream, o.roundMs / 2, measure);
          add('ort-under-transport', under.inferencesPerSec, 0, 0);
          line.push(`ORT alone with ${rate.toFixed(0)} calls/s to uws-fixed ${under.inferencesPerSec.toFixed(0)} (calls ${under.ok}/${under.sent} ok)`);
        }
      }
      log(`  ${workload} round ${r + 1}/${o.ratioRounds} @${connections}: ${line.join(', ')}`);
    }
    return {
      workload,
      connections,
      rounds: o.ratioRounds,
      series: [...series.entries()].map(([target, s]) => ({ target, ...s, median: median(s.throughputs) })),
    };
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()));
  }
}
