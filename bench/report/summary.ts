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
  /** The target, when it names one. */
  target?: number;
}

const TARGETS: Partial<Record<WorkloadName, Partial<Record<string, number>>>> = {
  'text-direction-binary': { ort: 0.85, naive: 1.7 },
  'weather-json': { naive: 2 },
};

/** Sluice against every baseline and ceiling at `connections`, with issue 3's targets beside them. */
export function ratios(run: BenchRun, connections = 64): Ratio[] {
  const out: Ratio[] = [];
  for (const w of run.workloads) {
    const sluice = throughputAt(run.points, w, 'sluice', connections);
    const div = (a: number | null, b: number | null | undefined) => (a === null || !b ? null : a / b);
    const push = (name: string, value: number | null, key: string) => {
      const target = TARGETS[w]?.[key];
      out.push(target === undefined ? { workload: w, name, value } : { workload: w, name, value, target });
    };
    const ort = run.ceilings.find((c) => c.workload === w)?.best.inferencesPerSec;
    push(`sluice / ORT alone (best batch) @${connections}`, div(sluice, ort), 'ort');
    const naive = [throughputAt(run.points, w, 'naive', connections), throughputAt(run.points, w, 'naive-1t', connections)].filter((x): x is number => x !== null);
    push(`sluice / naive (better of default threads and 1 thread) @${connections}`, div(sluice, naive.length ? Math.max(...naive) : null), 'naive');
    push(`sluice / micro-batch @${connections}`, div(sluice, throughputAt(run.points, w, 'micro-batch', connections)), 'micro');
    push(`sluice / uws-fixed @${connections}`, div(sluice, throughputAt(run.points, w, 'uws-fixed', connections)), 'uws');
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
