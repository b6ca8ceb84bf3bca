// Runs a LoadJob in child processes (never in the runner or a server process) and merges what they
// measured: the connections and the arrival rate are split evenly between `processes` generators,
// their histograms are added, so percentiles stay exact.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LatencyHistogram } from './histogram.js';
import type { CallCounts, LoadJob, LoadResult, PhaseResult, TimelinePoint } from './job.js';

const ENTRY = fileURLToPath(new URL('./generator-process.js', import.meta.url));

export interface GeneratorPlacement {
  /** CPU list for taskset (e.g. "0"); undefined = not pinned. */
  cpus?: string | undefined;
  processes: number;
}

function runOne(job: LoadJob, cpus: string | undefined): Promise<LoadResult> {
  const [cmd, args] = cpus === undefined ? [process.execPath, [ENTRY]] : ['taskset', ['-c', cpus, process.execPath, ENTRY]];
  const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let settled = false;
    child.once('message', (m: { ok: boolean; result?: LoadResult; error?: string }) => {
      settled = true;
      if (m.ok) resolve(m.result!);
      else reject(new Error(`load generator failed: ${m.error}`));
    });
    child.once('error', (err) => {
      if (!settled) reject(err);
      settled = true;
    });
    child.once('exit', (code) => {
      if (!settled) reject(new Error(`load generator exited with ${code} before reporting`));
      settled = true;
    });
    child.send(job);
  });
}

/** Split `n` into `parts` integers that differ by at most one and sum to n. */
export function splitEvenly(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

export function mergeResults(results: LoadResult[]): LoadResult {
  const first = results[0]!;
  const phases: PhaseResult[] = first.phases.map((p0, i) => {
    const h = new LatencyHistogram();
    const sum = { sent: 0, ok: 0, refused: 0, expired: 0, failed: 0, timedOut: 0, unsent: 0, rate: 0 };
    for (const r of results) {
      const p = r.phases[i]!;
      h.add(LatencyHistogram.decode(p.histogram));
      for (const k of ['sent', 'ok', 'refused', 'expired', 'failed', 'timedOut', 'unsent', 'rate'] as const) sum[k] += p[k];
    }
    return { ...sum, durationMs: p0.durationMs, throughput: sum.ok / (p0.durationMs / 1000), latency: h.summary(), histogram: h.encode() };
  });
  const statuses: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  const merged: LoadResult = {
    mode: first.mode,
    connections: results.reduce((a, r) => a + r.connections, 0),
    phases,
    statuses,
    clientCpu: results.reduce((a, r) => a + r.clientCpu, 0),
  };
  if (first.timeline) {
    // Per-bucket p99 cannot be merged exactly; the worst generator's is the conservative figure.
    const len = Math.max(...results.map((r) => r.timeline?.length ?? 0));
    merged.timeline = Array.from({ length: len }, (_, i): TimelinePoint => {
      const pts = results.map((r) => r.timeline?.[i]).filter((p): p is TimelinePoint => p !== undefined);
      const add = (k: keyof CallCounts) => pts.reduce((a, p) => a + p[k], 0);
      return { t: pts[0]?.t ?? 0, sent: add('sent'), ok: add('ok'), refused: add('refused'), expired: add('expired'), failed: add('failed'), timedOut: add('timedOut'), unsent: add('unsent'), p99: Math.max(0, ...pts.map((p) => p.p99)) };
    });
  }
  const failure = results.find((r) => r.firstFailure !== undefined)?.firstFailure;
  if (failure !== undefined) merged.firstFailure = failure;
  return merged;
}

export async function generateLoad(job: LoadJob, placement: GeneratorPlacement): Promise<LoadResult> {
  const n = Math.max(1, Math.min(placement.processes, job.connections));
  if (n === 1) return runOne(job, placement.cpus);
  const conns = splitEvenly(job.connections, n);
  const jobs = conns.map((c): LoadJob => {
    const j: LoadJob = { ...job, connections: c };
    if (job.phases) j.phases = job.phases.map((p) => ({ ...p, rate: p.rate / n }));
    return j;
  });
  return mergeResults(await Promise.all(jobs.map((j) => runOne(j, placement.cpus))));
}
