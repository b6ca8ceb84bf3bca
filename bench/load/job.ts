// What the runner asks a load generator process to do, and what it gets back (plain JSON: it
// crosses the IPC channel).
import type { WorkloadName } from '../workloads.js';
import type { LatencySummary } from './histogram.js';

export interface LoadPhase {
  /** Calls per second (open loop). */
  rate: number;
  durationMs: number;
}

export interface LoadJob {
  /** e.g. http://127.0.0.1:8000 */
  target: string;
  workload: WorkloadName;
  /** http (default): one call at a time per keep-alive connection; ws: calls multiplexed on /v2/ws sockets. */
  transport?: 'http' | 'ws';
  /** Extra request headers on every HTTP call (sluice-auth: the bearer token). */
  headers?: Record<string, string> | undefined;
  /** Distinct input rows cycled through. */
  variants: number;
  /** closed: each connection sends its next call when the last is answered; open: calls at a fixed arrival rate. */
  mode: 'closed' | 'open';
  /** HTTP connections, or concurrent WebSocket calls (WS_SLOTS_PER_SOCKET per socket). */
  connections: number;
  /** Not recorded. In open loop it runs at the first phase's rate. */
  warmupMs: number;
  /** Closed loop: the measured window. Open loop: the sum of the phases. */
  durationMs: number;
  /** Open loop only: consecutive arrival rates (e.g. overload, then recovery). */
  phases?: LoadPhase[];
  /** The client's deadline per call, from its intended start; past it the call counts as timed out. */
  timeoutMs: number;
  /** Sent as the call's `parameters.timeout_us`: the deadline the server is told about. */
  deadlineUs?: number;
  /** An https target: the CA (PEM file) its certificate is trusted by; each connection is a TLS socket. */
  caFile?: string;
  /** When set, counts and p99 per bucket of this many ms (by intended start time). */
  timelineMs?: number;
}

export interface CallCounts {
  /** Calls whose intended start fell in the window. */
  sent: number;
  /** 2xx answers: the only ones in the latency histogram. */
  ok: number;
  /** 503 or 429: refused by admission control. */
  refused: number;
  /** 504: the server answered at the call's deadline (it did not hang). */
  expired: number;
  /** Other statuses, broken connections. */
  failed: number;
  /** No answer by the client's deadline. */
  timedOut: number;
  /**
   * Open loop: never sent, because every connection the generator may open was busy until the
   * call's deadline — the generator's connection cap, not the server, is what dropped it.
   */
  unsent: number;
}

export interface PhaseResult extends CallCounts {
  /** Offered rate (open loop); 0 in closed loop. */
  rate: number;
  durationMs: number;
  /** ok calls per second. */
  throughput: number;
  latency: LatencySummary;
  /** HdrHistogram compressed base64 of the ok latencies, in µs. */
  histogram: string;
}

export interface TimelinePoint extends CallCounts {
  /** Bucket start, ms since the measured window began. */
  t: number;
  p99: number;
}

export interface LoadResult {
  mode: LoadJob['mode'];
  connections: number;
  phases: PhaseResult[];
  statuses: Record<string, number>;
  timeline?: TimelinePoint[];
  /** CPU the generator itself used during the window, in cores (1 = one core busy). */
  clientCpu: number;
  /**
   * Open loop: how late the generator's timer woke up past the first call it had to send (ms, p50 and
   * p99). A starved or saturated client shows here before it distorts the server's figures.
   */
  clientLag?: { p50: number; p99: number };
  /** What the first failed call got, to make a broken scenario obvious. */
  firstFailure?: string;
}

export function emptyCounts(): CallCounts {
  return { sent: 0, ok: 0, refused: 0, expired: 0, failed: 0, timedOut: 0, unsent: 0 };
}
