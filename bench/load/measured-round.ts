// One round of load against a server process, with the server's CPU read over the measured window
// only (the generator warms up first): what bench/compare.ts and bench/shadow/run.ts put side by
// side for their variants, and compare's transport floor.
import type { LoadJob } from './job.js';
import { threadCpuUs } from '../targets/server-process.js';
import { generateLoad } from './spawn-generator.js';

export interface MeasuredRound {
  /** Answered calls per second. */
  calls: number;
  sent: number;
  ok: number;
  /** Server CPU per answered call, µs: main thread, and every other thread (ORT workers, GC, libuv). */
  mainUsPerCall: number;
  otherUsPerCall: number;
  /** Load generator CPU per answered call, µs. */
  clientUsPerCall: number;
}

/** A closed-loop job for `measuredRound` (16 request variants, 10 s call timeout). */
export function closedLoop(target: string, o: Pick<LoadJob, 'workload' | 'connections' | 'warmupMs' | 'durationMs'>): LoadJob {
  return { target, workload: o.workload, variants: 16, mode: 'closed', connections: o.connections, warmupMs: o.warmupMs, durationMs: o.durationMs, timeoutMs: 10_000 };
}

export async function measuredRound(server: { pid: number }, job: LoadJob): Promise<MeasuredRound> {
  const load = generateLoad(job, { processes: 1 });
  await new Promise((resolve) => setTimeout(resolve, job.warmupMs + 200));
  const before = threadCpuUs(server.pid);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, job.durationMs - 400));
  const after = threadCpuUs(server.pid);
  const seconds = (performance.now() - started) / 1000;
  const res = await load;
  const phase = res.phases[0]!;
  const calls = phase.throughput;
  return {
    calls,
    sent: phase.sent,
    ok: phase.ok,
    mainUsPerCall: (after.main - before.main) / seconds / calls,
    otherUsPerCall: (after.other - before.other) / seconds / calls,
    clientUsPerCall: (res.clientCpu * 1e6) / calls,
  };
}
