// Small pieces of the scenario plan shared by the suite and the interleaved rounds.
import type { LoadJob } from './load/job.js';
import type { BenchOptions } from './options.js';
import type { TargetName } from './report/types.js';
import type { WorkloadName } from './workloads.js';
import { BENCH_TOKEN } from './targets/commands.js';

export type Log = (line: string) => void;

/** Sluice over /v2/ws is driven over WebSocket; everything else over HTTP/1.1 keep-alive. */
export function transportOf(target: TargetName): 'http' | 'ws' {
  return target === 'sluice-ws' ? 'ws' : 'http';
}

/** Headers every call of a target carries: sluice-auth is called with the bench's bearer token. */
export function headersOf(target: TargetName): Record<string, string> | undefined {
  return target === 'sluice-auth' ? { authorization: `Bearer ${BENCH_TOKEN}` } : undefined;
}

/** The load job of one closed-loop point. */
export function closedJob(o: BenchOptions, url: string, workload: WorkloadName, target: TargetName, connections: number, warmupMs: number, durationMs: number): LoadJob {
  return { target: url, workload, variants: 64, mode: 'closed', connections, warmupMs, durationMs, timeoutMs: o.timeoutMs, transport: transportOf(target), headers: headersOf(target) };
}
