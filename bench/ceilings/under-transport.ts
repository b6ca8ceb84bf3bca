// ONNX Runtime alone while calls travel: one ORT-alone measurement taken while an open-loop stream of
// the workload's calls goes, at a given rate, to a server that does nothing with them (uws-fixed:
// reads each body, answers a fixed response). What ORT computes then is what a gateway could still
// compute while doing that transport: the load generator and the kernel's TCP work on both ends
// share the cores with it. Used by `transport-bound.ts` and by the bench's interleaved rounds
// (issue 20: Sluice at 64 connections against this bound, round by round).
import { generateLoad } from '../load/spawn-generator.js';
import { openLoop } from '../load/measured-round.js';
import { threadCpuUs } from '../targets/server-process.js';
import type { WorkloadName } from '../workloads.js';

export interface TransportStream {
  /** The fixed-response server: its URL, and its pid for the CPU it spent. */
  url: string;
  pid: number;
  workload: WorkloadName;
  /** Calls per second sent to it. */
  rate: number;
  /** Open connections the generator may hold. */
  connections: number;
  /** taskset CPU list for the generator; undefined = not pinned. */
  clientCpus?: string | undefined;
}

export interface UnderTransport {
  /** What the ORT measurement returned (inferences/s) while the calls travelled. */
  inferencesPerSec: number;
  /** Calls sent to, and answered 2xx by, the fixed server. */
  sent: number;
  ok: number;
  /** The fixed server's CPU (all threads) per call, and the generator's, in µs. */
  serverUsPerCall: number;
  clientUsPerCall: number;
}

/** The calls start this long before ORT's window; ORT's own start-up is covered by the extra time after it. */
const WARMUP_MS = 1000;
/** Longer than ORT's start-up (a process, its sessions, three warm-up runs): the calls outlast its window. */
const STARTUP_MARGIN_MS = 5000;

/** `measure` runs ORT alone for about `windowMs` and returns inferences/s. */
export async function ortUnderTransport(stream: TransportStream, windowMs: number, measure: () => Promise<number>): Promise<UnderTransport> {
  const job = openLoop(stream.url, { workload: stream.workload, rate: stream.rate, warmupMs: WARMUP_MS, durationMs: windowMs + STARTUP_MARGIN_MS });
  const load = generateLoad({ ...job, connections: stream.connections }, { cpus: stream.clientCpus, processes: 1 });
  await new Promise((resolve) => setTimeout(resolve, WARMUP_MS + 300));
  const before = threadCpuUs(stream.pid);
  const started = performance.now();
  // The calls go on past ORT's window; they are awaited even when ORT fails, so no generator outlives this call.
  const measured = await measure().then((v) => ({ v }), (err: unknown) => ({ err }));
  const after = threadCpuUs(stream.pid);
  const seconds = (performance.now() - started) / 1000;
  const res = await load;
  if ('err' in measured) throw measured.err;
  const phase = res.phases[0]!;
  return {
    inferencesPerSec: measured.v,
    sent: phase.sent,
    ok: phase.ok,
    serverUsPerCall: (after.main + after.other - before.main - before.other) / seconds / stream.rate,
    clientUsPerCall: (res.clientCpu * 1e6) / Math.max(1, phase.throughput),
  };
}
