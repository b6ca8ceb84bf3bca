// The benchmark suite: for each workload, the ORT-alone ceiling, then every target in turn (started,
// measured closed loop at each connection count, open loop at fractions of its own maximum, driven
// into overload, stopped). Baselines run in the same run as Sluice so their ratio survives a noisy
// machine.
import { availableParallelism } from 'node:os';
import { generateLoad } from './load/spawn-generator.js';
import type { LoadJob, LoadResult } from './load/job.js';
import { startServer, type ServerProcess } from './targets/server-process.js';
import { benchModelConfig, benchRepository, targetCommand } from './targets/commands.js';
import { ortCeiling } from './ceilings/run-ort-alone.js';
import { runOpenLoopIdeal } from './ceilings/run-open-loop-ideal.js';
import { ratioRounds } from './rounds.js';
import { headersOf, transportOf, type Log } from './plan.js';
import { scrapeMetricSums, stageBreakdown } from './targets/gateway-stages.js';
import { describeMachine } from './machine.js';
import { maxThroughput, recoverySeconds } from './report/summary.js';
import type { BenchOptions } from './options.js';
import type { BenchRun, LoadPoint, OverloadRun, RssSample, TargetName } from './report/types.js';
import { workloadSupports, type WorkloadName } from './workloads.js';

/** Open-loop calls per second one load generator process keeps on schedule (small JSON calls, this machine). */
const OPEN_LOOP_CALLS_PER_PROCESS = 30_000;

function fmt(r: LoadResult): string {
  const p = r.phases[0]!;
  const extra = p.ok < p.sent ? ` refused=${p.refused} expired=${p.expired} failed=${p.failed} timedOut=${p.timedOut} unsent=${p.unsent}` : '';
  const lag = r.clientLag ? ` lag p99=${r.clientLag.p99.toFixed(2)}ms` : '';
  return `${p.throughput.toFixed(0)}/s p50=${p.latency.p50.toFixed(2)}ms p99=${p.latency.p99.toFixed(2)}ms client=${r.clientCpu.toFixed(2)} cores${lag}${extra}`;
}

class TargetSession {
  constructor(
    readonly o: BenchOptions,
    readonly workload: WorkloadName,
    readonly target: TargetName,
    readonly server: ServerProcess,
    readonly log: Log,
  ) {}

  job(mode: LoadJob['mode'], connections: number, extra: Partial<LoadJob> = {}): LoadJob {
    return {
      target: this.server.url,
      workload: this.workload,
      variants: 64,
      mode,
      connections,
      warmupMs: this.o.warmupMs,
      durationMs: this.o.durationMs,
      timeoutMs: this.o.timeoutMs,
      transport: transportOf(this.target),
      headers: headersOf(this.target),
      ...extra,
    };
  }

  /** A generator that was saturated or not scheduled in time makes the server look slower than it is: say so. */
  checkClient(label: string, r: LoadResult, run: BenchRun, processes = this.o.placement.generators): void {
    const perProcess = r.clientCpu / processes;
    if (perProcess >= 0.9) run.notes.push(`${this.workload} ${this.target} ${label}: the load generator was CPU-bound (${r.clientCpu.toFixed(2)} cores); figures are a floor`);
    if (r.clientLag && r.clientLag.p99 > 50) {
      run.notes.push(`${this.workload} ${this.target} ${label}: the load generator's timer ran ${r.clientLag.p99.toFixed(0)} ms late at p99 (machine oversubscribed); latencies include that delay`);
    }
  }

  async point(label: string, job: LoadJob, run: BenchRun): Promise<LoadPoint> {
    const sluice = this.target === 'sluice' || this.target === 'sluice-ws';
    // The scrape includes the warm-up; at these rates it shifts the means by a few per cent at most.
    const before = sluice ? await scrapeMetricSums(this.server.url) : null;
    const result = await generateLoad(job, { cpus: this.o.placement.clientCpus, processes: this.o.placement.generators });
    const after = before ? await scrapeMetricSums(this.server.url) : null;
    const stages = before && after ? stageBreakdown(before, after) : null;
    this.checkClient(label, result, run);
    this.log(`  ${this.workload} ${this.target} ${label}: ${fmt(result)}${result.firstFailure ? ` first failure: ${result.firstFailure}` : ''}`);
    const point: LoadPoint = { workload: this.workload, target: this.target, label, result };
    if (stages) point.stages = stages;
    return point;
  }

  async overload(maxRate: number, p99LimitMs: number, run: BenchRun): Promise<OverloadRun> {
    const o = this.o;
    const rss: RssSample[] = [];
    const t0 = performance.now();
    const sampler = setInterval(() => rss.push({ t: Math.round(performance.now() - t0), rssMiB: Math.round(this.server.rssMiB() * 10) / 10 }), 250);
    const job = this.job('open', o.overloadConnections, {
      warmupMs: 0,
      durationMs: o.overloadMs + o.recoveryMs,
      deadlineUs: o.overloadDeadlineMs * 1000,
      timeoutMs: o.overloadDeadlineMs + o.overloadGraceMs,
      phases: [
        { rate: 2 * maxRate, durationMs: o.overloadMs },
        { rate: 0.5 * maxRate, durationMs: o.recoveryMs },
      ],
      timelineMs: o.timelineMs,
    });
    // One generator process offers about OPEN_LOOP_CALLS_PER_PROCESS calls/s; past that it falls behind
    // its own schedule and its late calls read as the server's (weather's 2x is ~70k/s).
    const processes = Math.max(o.placement.generators, Math.min(availableParallelism(), Math.ceil((2 * maxRate) / OPEN_LOOP_CALLS_PER_PROCESS)));
    let result: LoadResult;
    try {
      result = await generateLoad(job, { cpus: o.placement.clientCpus, processes });
    } finally {
      clearInterval(sampler);
    }
    this.checkClient('overload', result, run, processes);
    const recovery = recoverySeconds(result.timeline ?? [], o.overloadMs, p99LimitMs);
    const [hot, cool] = result.phases as [LoadResult['phases'][0], LoadResult['phases'][0]];
    this.log(
      `  ${this.workload} ${this.target} overload 2x${maxRate.toFixed(0)}/s: ok=${hot.ok} refused=${hot.refused} expired=${hot.expired} timedOut=${hot.timedOut} failed=${hot.failed} unsent=${hot.unsent} ` +
        `p99(admitted)=${hot.latency.p99.toFixed(1)}ms maxRSS=${Math.max(0, ...rss.map((s) => s.rssMiB))}MiB; ` +
        `client lag p99=${result.clientLag?.p99.toFixed(1) ?? '?'}ms; then 0.5x: ok=${cool.ok} refused=${cool.refused} timedOut=${cool.timedOut} p99=${cool.latency.p99.toFixed(1)}ms recovered after ${recovery ?? 'never'} s`,
    );
    return { workload: this.workload, target: this.target, maxRate, deadlineMs: o.overloadDeadlineMs, graceMs: o.overloadGraceMs, result, rss, recoverySeconds: recovery };
  }
}

async function idealBeside(o: BenchOptions, workload: WorkloadName, label: string, rate: number, run: BenchRun, log: Log): Promise<void> {
  try {
    const ideal = await runOpenLoopIdeal({ workload, rate, durationMs: o.durationMs, serverCpus: o.placement.serverCpus, clientCpus: o.placement.clientCpus });
    (run.ideal ??= []).push({ workload, label, rate, ...ideal });
    log(`  ${workload} ideal server ${label} (${rate.toFixed(0)}/s): p99 ${ideal.alone.p99.toFixed(2)} ms alone, ${ideal.underTransport.p99.toFixed(2)} ms beside the transport`);
  } catch (err) {
    run.notes.push(`the ideal open-loop server did not run for ${workload} ${label}: ${(err as Error).message.split('\n')[0]}`);
  }
}

async function measureTarget(o: BenchOptions, workload: WorkloadName, target: TargetName, repo: string, run: BenchRun, log: Log): Promise<void> {
  let server: ServerProcess;
  try {
    server = await startServer({ ...targetCommand(target, workload, repo, o.placement.serverCpus), cpuLimit: o.placement.serverCpuLimit });
  } catch (err) {
    const msg = `${target} could not start for ${workload}: ${(err as Error).message.split('\n').slice(0, 6).join(' | ')}`;
    log(`  SKIPPED ${msg}`);
    run.notes.push(msg);
    return;
  }
  const s = new TargetSession(o, workload, target, server, log);
  try {
    // The fixed-response ceiling only needs the load levels it is compared at.
    const levels = target === 'uws-fixed' ? o.connections.filter((c) => c >= 64).slice(0, 2) : o.connections;
    for (const c of levels.length > 0 ? levels : [Math.max(...o.connections)]) run.points.push(await s.point(`closed ${c}`, s.job('closed', c), run));
    // The transport alone at the rates Sluice was offered in open loop: the floor under its p99.
    const sluiceMax = maxThroughput(run.points, workload, 'sluice');
    if (target === 'uws-fixed' && sluiceMax > 0 && !o.closedOnly.includes(workload)) {
      for (const f of o.openFractions) {
        const job = s.job('open', o.openConnections, { phases: [{ rate: f * sluiceMax, durationMs: o.durationMs }], timelineMs: o.timelineMs });
        run.points.push(await s.point(`open ${Math.round(f * 100)}% of sluice`, job, run));
      }
    }
    // The ceiling and the second naive variant are compared at closed-loop points only.
    if (target === 'uws-fixed' || target === 'naive-1t' || o.closedOnly.includes(workload)) return;
    const max = maxThroughput(run.points, workload, target);
    if (max <= 0) {
      run.notes.push(`${target} answered no ${workload} call; open-loop and overload skipped`);
      return;
    }
    let p99AtHalf = 0;
    for (const f of o.openFractions) {
      const job = s.job('open', o.openConnections, { phases: [{ rate: f * max, durationMs: o.durationMs }], timelineMs: o.timelineMs });
      const p = await s.point(`open ${Math.round(f * 100)}%`, job, run);
      if (f === 0.5) p99AtHalf = p.result.phases[0]!.latency.p99;
      run.points.push(p);
      // The ideal open-loop server at the same rate, straight after (the same minute of the machine):
      // the floor under issue 20's latency bound. With uws-fixed among the targets, as its points are.
      if (target === 'sluice' && o.targets.includes('uws-fixed')) await idealBeside(o, workload, p.label, f * max, run, log);
    }
    // Recovered = a bucket as clean as steady load at half the maximum (with slack for noise).
    if (o.overloadTargets.includes(target)) run.overload.push(await s.overload(max, Math.max(3 * p99AtHalf, 10), run));
  } finally {
    await server.stop();
  }
}


export async function runSuite(o: BenchOptions, log: Log): Promise<BenchRun> {
  const run: BenchRun = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    quick: o.quick,
    machine: describeMachine(),
    placement: { mode: o.placement.mode, serverCpus: o.placement.serverCpus ?? null, clientCpus: o.placement.clientCpus ?? null, generators: o.placement.generators, serverCpuLimit: o.placement.serverCpuLimit ?? null },
    workloads: o.workloads,
    ceilings: [],
    points: [],
    overload: [],
    notes: [],
  };
  log(`machine: ${run.machine.cores} x ${run.machine.cpuModel}, load ${run.machine.loadAverage.toFixed(2)}, ${run.machine.node}, ${run.machine.onnxruntime}; placement ${run.placement.mode}${o.placement.serverCpuLimit === undefined ? '' : `, servers limited to ${o.placement.serverCpuLimit} cores`}`);
  for (const workload of o.workloads) {
    const repo = benchRepository(workload);
    (run.queueDelayMs ??= {})[workload] = benchModelConfig(repo, workload).dynamic_batching.max_queue_delay_us / 1000;
    const ceiling = await ortCeiling(o, workload, repo);
    run.ceilings.push(ceiling);
    log(`${workload}: ORT alone best ${ceiling.best.inferencesPerSec.toFixed(0)} inferences/s (${ceiling.best.layout}, batch ${ceiling.best.batch})`);
    for (const target of o.targets) {
      const only = o.workloadTargets[workload];
      if (!workloadSupports(workload, target)) run.notes.push(`${target} does not take ${workload} calls; not measured`);
      else if (only && !only.includes(target)) run.notes.push(`${target} not measured on ${workload} in this run (--quick; name it with --targets to include it)`);
      else await measureTarget(o, workload, target, repo, run, log);
    }
    if (o.ratioRounds > 0) {
      const rounds = await ratioRounds(o, workload, repo, ceiling, log);
      if (rounds) (run.rounds ??= []).push(rounds);
      // Issue 20's latency target, Sluice's p50 against naive-1t's, taken round by round too.
      const lone = await ratioRounds(o, workload, repo, undefined, log, 1);
      if (lone) run.rounds!.push(lone);
    }
  }
  run.finishedAt = new Date().toISOString();
  return run;
}
