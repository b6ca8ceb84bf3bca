// Small pieces of the scenario plan shared by the suite and the interleaved rounds.
import type { LoadJob } from './load/job.js';
import type { BenchOptions } from './options.js';
import type { TargetName } from './report/types.js';
import type { WorkloadName } from './workloads.js';

export type Log = (line: string) => void;

/** Sluice over /v2/ws is driven over WebSocket; everything else over HTTP/1.1 keep-alive. */
export function transportOf(target: TargetName): 'http' | 'ws' {
  return target === 'sluice-ws' ? 'ws' : 'http';
}

/** The load job of one closed-loop point. */
export function closedJob(o: BenchOptions, url: string, workload: WorkloadName, target: TargetName, connections: number, warmupMs: number, durationMs: number): LoadJob {
  return { target: url, workload, variants: 64, mode: 'closed', connections, warmupMs, durationMs, timeoutMs: o.timeoutMs, transport: transportOf(target) };
}
