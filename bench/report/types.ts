// The shape of bench/results/<date>.json: everything the Markdown table and the chart are drawn
// from, so a result file can be re-rendered or compared later without re-running anything.
import type { LoadResult } from '../load/job.js';
import type { WorkloadName } from '../workloads.js';
import type { StageBreakdown } from '../targets/gateway-stages.js';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  /** Cores this process may run on (taskset / cgroup). */
  availableParallelism: number;
  memoryGiB: number;
  os: string;
  node: string;
  onnxruntime: string;
  uws: string;
  fastify: string;
  gitCommit: string;
  /** 1-minute load average when the run started: other work on the machine skews figures. */
  loadAverage: number;
}

export interface OrtPoint {
  layout: string;
  batch: number;
  inferencesPerSec: number;
}

export interface OrtCeiling {
  workload: WorkloadName;
  cores: number;
  points: OrtPoint[];
  best: OrtPoint;
}

/** The servers every scenario is run against. */
/**
 * `naive-1t` is the naive server with a single-threaded ORT session: on a small, busy machine ORT's
 * default (one spinning intra-op thread per core) can be slower, and a baseline must not be beaten
 * only because it was mis-tuned. Ratios use the better of the two. `sluice-ws` is Sluice called over
 * its /v2/ws endpoint: N "connections" are N calls in flight, 64 per WebSocket.
 */
export type TargetName = 'sluice' | 'sluice-ws' | 'sluice-auth' | 'naive' | 'naive-1t' | 'micro-batch' | 'uws-fixed';

export interface LoadPoint {
  workload: WorkloadName;
  target: TargetName;
  /** e.g. "closed 64", "open 80%" */
  label: string;
  result: LoadResult;
  /** Sluice only: where the time went, from the gateway's metrics over this point. */
  stages?: StageBreakdown;
}

export interface RssSample {
  /** ms since the overload run started */
  t: number;
  rssMiB: number;
}

export interface OverloadRun {
  workload: WorkloadName;
  target: TargetName;
  /** The measured maximum the 2x is relative to (calls/s). */
  maxRate: number;
  /** The deadline every call carried (parameters.timeout_us), ms. */
  deadlineMs: number;
  /** How long past the deadline an answer still counted (older results: 1000). */
  graceMs?: number;
  result: LoadResult;
  rss: RssSample[];
  /** Seconds after load dropped until a timeline bucket had no refusals, no timeouts and p99 under the limit; null if never. */
  recoverySeconds: number | null;
}

/** One target's figures over the interleaved rounds (closed loop at `connections`). */
export interface RoundSeries {
  /** ort-under-transport: ORT alone while the round's Sluice rate of calls travels to uws-fixed. */
  target: TargetName | 'ort-alone' | 'ort-under-transport';
  /** calls/s (inferences/s for ORT alone), one per round. */
  throughputs: number[];
  /** Latency percentiles in ms, one per round (0 for ort-alone). */
  p50s: number[];
  p99s: number[];
  median: number;
}

/**
 * The ratio scenario made robust to a noisy machine: every server runs at once and they take turns,
 * round after round (with the ORT-alone ceiling at its best batch size in each round), so slow
 * phases of the machine hit all of them alike; the medians are what the ratios use.
 */
export interface RatioRounds {
  workload: WorkloadName;
  connections: number;
  rounds: number;
  series: RoundSeries[];
}

/** The ideal open-loop server's figures in one window (bench/ceilings/open-loop-ideal.ts), ms. */
export interface IdealWindow {
  p50: number;
  p99: number;
  meanBatch: number;
  /** ORT's run per batch. */
  computeMs: number;
}

/**
 * The ideal server at the rate of one of Sluice's open-loop points (`label`): alone, and while the
 * same calls travel to uws-fixed. What it misses beside the transport, no gateway meets here.
 */
export interface OpenLoopIdeal {
  workload: WorkloadName;
  /** Sluice's point it stands beside, e.g. "open 80%". */
  label: string;
  rate: number;
  alone: IdealWindow;
  underTransport: IdealWindow;
}

export interface BenchRun {
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  machine: MachineInfo;
  /** How processes were placed on cores. */
  placement: { mode: 'split' | 'shared'; serverCpus: string | null; clientCpus: string | null; generators: number; serverCpuLimit?: number | null };
  workloads: WorkloadName[];
  ceilings: OrtCeiling[];
  points: LoadPoint[];
  overload: OverloadRun[];
  rounds?: RatioRounds[];
  /** The ideal open-loop server at the rates of Sluice's open-loop points (runs with uws-fixed among the targets). */
  ideal?: OpenLoopIdeal[];
  /** Each workload's model's dynamic_batching.max_queue_delay_us, in ms (issue 20's open-loop bound). */
  queueDelayMs?: Partial<Record<WorkloadName, number>>;
  notes: string[];
}
