// Figures derived from a run: each target's maximum, the ratios the issues name, the recovery time
// after overload. Pure functions over result objects, shared by the runner and the report writers.
import type { BenchRun, LoadPoint, OverloadRun, TargetName } from './types.js';
import type { TimelinePoint } from '../load/job.js';
import type { WorkloadName } from '../workloads.js';

export function closedPoints(points: LoadPoint[], workload: WorkloadName, target: TargetName): LoadPoint[] {
  return points.filter((p) => p.workload === workload && p.target === target && p.result.mode === 'closed');
}

/** The highest closed-loop throughput a target reached on a workload (calls/s), 0 if none. */
export function maxThroughput(points: LoadPoint[], workload: WorkloadName, target: TargetName): number {
  return Math.max(0, ...closedPoints(points, workload, target).map((p) => p.result.phases[0]!.throughput));
}

export function throughputAt(points: LoadPoint[], workload: WorkloadName, target: TargetName, connections: number): number | null {
  const p = closedPoints(points, workload, target).find((x) => x.result.connections === connections);
  return p ? p.result.phases[0]!.throughput : null;
}

export interface Ratio {
  workload: WorkloadName;
  /** e.g. "sluice / naive @64" */
  name: string;
  value: number | null;
  /** The target, when it names one: a floor, or a ceiling when `atMost`. */
  target?: number;
  atMost?: boolean;
}

const TARGETS: Partial<Record<WorkloadName, Partial<Record<string, number>>>> = {
  'text-direction-binary': { ort: 0.85, naive: 1.7, transport: 0.95 },
  'weather-json': { naive: 2, uws: 0.6 },
};

/** Issue 20 holds this workload's Sluice to the transport bound: the rounds measure ORT alone beside the transport too. */
export function hasTransportBound(workload: WorkloadName): boolean {
  return TARGETS[workload]?.transport !== undefined;
}

/** Sluice against every baseline and ceiling at `connections`, with issue 3's targets beside them. */
export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Sluice against every baseline and ceiling at `connections`, with issue 3's targets beside them:
 * from the medians of the interleaved rounds when the run has them, else from the single points.
 */
export function ratios(run: BenchRun, connections = 64): Ratio[] {
  const out: Ratio[] = [];
  for (const w of run.workloads) {
    const rounds = run.rounds?.find((r) => r.workload === w && r.connections === connections);
    const fromRounds = (target: TargetName | 'ort-alone' | 'ort-under-transport') => rounds?.series.find((s) => s.target === target)?.median ?? null;
    const at = (target: TargetName) => (rounds ? fromRounds(target) : throughputAt(run.points, w, target, connections));
    const sluice = at('sluice');
    const div = (a: number | null, b: number | null | undefined) => (a === null || !b ? null : a / b);
    const push = (name: string, value: number | null, key: string) => {
      const target = TARGETS[w]?.[key];
      out.push(target === undefined ? { workload: w, name, value } : { workload: w, name, value, target });
    };
    const ort = (rounds ? fromRounds('ort-alone') : null) ?? run.ceilings.find((c) => c.workload === w)?.best.inferencesPerSec;
    const how = rounds ? `, median of ${rounds.rounds} rounds` : '';
    push(`sluice / ORT alone (best batch) @${connections}${how}`, div(sluice, ort), 'ort');
    // Issue 20: Sluice / ORT alone ≥ 0.95 × (ORT beside the transport / ORT alone), i.e. Sluice against
    // what ORT computes while Sluice's calls travel; each round's ratio is taken within that round.
    const under = rounds?.series.find((s) => s.target === 'ort-under-transport')?.throughputs;
    const sluiceRounds = rounds?.series.find((s) => s.target === 'sluice')?.throughputs;
    if (under && sluiceRounds) {
      const perRound = under.map((u, i) => sluiceRounds[i]! / u).filter((x) => Number.isFinite(x));
      push(`sluice / ORT alone beside the same calls to uws-fixed (the transport bound) @${connections}, median of ${perRound.length} per-round ratios`, perRound.length ? median(perRound) : null, 'transport');
    }
    const naive = [at('naive'), at('naive-1t')].filter((x): x is number => x !== null);
    push(`sluice / naive (better of default threads and 1 thread) @${connections}${how}`, div(sluice, naive.length ? Math.max(...naive) : null), 'naive');
    push(`sluice / micro-batch @${connections}${how}`, div(sluice, at('micro-batch')), 'micro');
    push(`sluice-ws / sluice (HTTP) @${connections}${how}`, div(at('sluice-ws'), sluice), 'ws');
    push(`sluice-auth / sluice (bearer token checked on every call) @${connections}${how}`, div(at('sluice-auth'), sluice), 'auth');
    // uws-fixed answers without reading a model: its rate is the transport's (on a small machine, often
    // the load generator's: the run's notes say when the generator was CPU-bound, and the ratio is then an upper bound).
    push(`sluice / uws-fixed @${connections}${how}`, div(sluice, at('uws-fixed')), 'uws');
  }
  return out;
}

/** Issue 20's latency target at one connection: Sluice's p50 at most this many times naive-1t's. */
const LATENCY_TARGET = 1.15;

/**
 * Sluice's p50 against naive-1t's (and naive's) at one connection, from the 1-connection rounds:
 * the median of the per-round ratios, each taken within one round (one moment of the machine).
 */
export function latencyRatios(run: BenchRun): Ratio[] {
  const out: Ratio[] = [];
  for (const r of run.rounds ?? []) {
    if (r.connections !== 1) continue;
    const p50s = (t: TargetName) => r.series.find((s) => s.target === t)?.p50s;
    const sluice = p50s('sluice');
    for (const base of ['naive-1t', 'naive'] as const) {
      const other = p50s(base);
      const perRound = sluice && other ? sluice.map((x, i) => x / other[i]!).filter((x) => Number.isFinite(x)) : [];
      const value = perRound.length ? median(perRound) : null;
      const name = `sluice p50 / ${base} p50 @1, median of ${r.rounds} rounds`;
      out.push(base === 'naive-1t' ? { workload: r.workload, name, value, target: LATENCY_TARGET, atMost: true } : { workload: r.workload, name, value });
    }
  }
  return out;
}

/**
 * Seconds from the end of the overload phase to the start of the first timeline bucket of the
 * recovery phase in which every call was answered 2xx with p99 at most `p99LimitMs`; null if none was.
 */
export function recoverySeconds(timeline: TimelinePoint[], overloadMs: number, p99LimitMs: number): number | null {
  for (const b of timeline) {
    if (b.t < overloadMs || b.sent === 0) continue;
    if (b.ok === b.sent && b.p99 <= p99LimitMs) return (b.t - overloadMs) / 1000;
  }
  return null;
}

export function overloadFor(run: BenchRun, workload: WorkloadName, target: TargetName): OverloadRun | undefined {
  return run.overload.find((o) => o.workload === workload && o.target === target);
}
