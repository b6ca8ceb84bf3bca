// One round of load against a server process, with the server's CPU read over the measured window
// only (the generator warms up first): what bench/compare.ts and bench/shadow/run.ts put side by
// side for their variants, and compare's transport floor.
import type { LoadJob } from './job.js';
import type { LatencySummary } from './histogram.js';
import { threadCpuUs } from '../targets/server-process.js';
import { scrapeMetricSums, type MetricSums } from '../targets/gateway-stages.js';
import { generateLoad } from './spawn-generator.js';
import { OPEN_CONNECTIONS } from '../options.js';

export interface MeasuredRound {
  /** Answered calls per second. */
  calls: number;
  sent: number;
  ok: number;
  /** The answered calls' latency, ms (open loop: from each call's intended start). */
  latency: LatencySummary;
  /** Server CPU per answered call, µs: main thread, and every other thread (ORT workers, GC, libuv). */
  mainUsPerCall: number;
  otherUsPerCall: number;
  /** Load generator CPU per answered call, µs. */
  clientUsPerCall: number;
  /**
   * The server's V8 garbage collections over the window, from its /metrics (a Sluice gateway's
   * `sluice_nodejs_gc_duration_seconds`; absent for other servers): collections per 1,000 answered
   * calls (with the young generation at its cap, proportional to the bytes a call allocates) and pause µs per call.
   */
  gc?: { per1kCalls: number; pauseUsPerCall: number };
}

const GC_METRIC = 'sluice_nodejs_gc_duration_seconds';

/** A closed-loop job for `measuredRound` (16 request variants, 10 s call timeout). */
export function closedLoop(target: string, o: Pick<LoadJob, 'workload' | 'connections' | 'warmupMs' | 'durationMs'>): LoadJob {
  return { target, workload: o.workload, variants: 16, mode: 'closed', connections: o.connections, warmupMs: o.warmupMs, durationMs: o.durationMs, timeoutMs: 10_000 };
}

/**
 * An open-loop job for `measuredRound`: `rate` calls/s for `durationMs` after a warm-up at the same
 * rate, up to the bench's open-loop connection cap (16 request variants, 10 s call timeout).
 */
export function openLoop(target: string, o: Pick<LoadJob, 'workload' | 'warmupMs' | 'durationMs'> & { rate: number }): LoadJob {
  return { target, workload: o.workload, variants: 16, mode: 'open', connections: OPEN_CONNECTIONS, warmupMs: o.warmupMs, durationMs: o.durationMs, phases: [{ rate: o.rate, durationMs: o.durationMs }], timeoutMs: 10_000 };
}

/** `gc`: also read the server's garbage collections from its /metrics at `server.url`. */
export async function measuredRound(server: { pid: number; url?: string }, job: LoadJob, options: { gc?: boolean } = {}): Promise<MeasuredRound> {
  const load = generateLoad(job, { processes: 1 });
  await new Promise((resolve) => setTimeout(resolve, job.warmupMs + 200));
  // Scraped outside the CPU window, so rendering /metrics is not charged to the calls.
  const gcBefore = options.gc && server.url !== undefined ? await scrapeMetricSums(server.url) : null;
  const before = threadCpuUs(server.pid);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, job.durationMs - 400));
  const after = threadCpuUs(server.pid);
  const seconds = (performance.now() - started) / 1000;
  const gcAfter = gcBefore !== null ? await scrapeMetricSums(server.url!) : null;
  const res = await load;
  const phase = res.phases[0]!;
  const calls = phase.throughput;
  const gc = gcBefore !== null && gcAfter !== null ? gcFigures(gcBefore, gcAfter, calls * seconds) : undefined;
  return {
    ...(gc === undefined ? {} : { gc }),
    calls,
    sent: phase.sent,
    ok: phase.ok,
    latency: phase.latency,
    mainUsPerCall: (after.main - before.main) / seconds / calls,
    otherUsPerCall: (after.other - before.other) / seconds / calls,
    clientUsPerCall: (res.clientCpu * 1e6) / calls,
  };
}

/** GC collections per 1,000 calls and pause µs per call between two scrapes, over `answered` calls. */
export function gcFigures(before: MetricSums, after: MetricSums, answered: number): { per1kCalls: number; pauseUsPerCall: number } | undefined {
  const a = after[GC_METRIC];
  const b = before[GC_METRIC] ?? [0, 0];
  if (a === undefined || !(answered > 0)) return undefined;
  return { per1kCalls: ((a[1] - b[1]) / answered) * 1000, pauseUsPerCall: ((a[0] - b[0]) * 1e6) / answered };
}
