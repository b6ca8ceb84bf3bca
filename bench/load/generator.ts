// The load generator: closed loop at N connections, or open loop at fixed arrival rates with
// latency measured from each call's intended start (see schedule.ts). Runs inside its own process
// (generator-process.ts) so that its CPU is not the server's.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { HttpConnection } from './http-connection.js';
import type { HttpResponse } from './response-parser.js';
import { LatencyHistogram } from './histogram.js';
import { ArrivalSchedule } from './schedule.js';
import { emptyCounts, type CallCounts, type LoadJob, type LoadResult, type PhaseResult, type TimelinePoint } from './job.js';
import { inferCall, prepareWorkload, rawHttpRequest, workloadRows, wsFrame } from '../workloads.js';
import type { CallSlot } from './call-slot.js';
import { wsSlots } from './ws-connection.js';

export class CallTimeout extends Error {
  override readonly name = 'CallTimeout';
}

/** A call that waited for a free connection until its deadline and was never sent. */
export class CallNotSent extends Error {
  override readonly name = 'CallNotSent';
}

const SWEEP_MS = 10;

/** Counts and latencies of one phase (or one timeline bucket). */
class Tally {
  readonly counts: CallCounts = emptyCounts();
  readonly latency = new LatencyHistogram();
}

/** Shared bookkeeping of both loops: classification of every outcome, statuses, CPU. */
class Recorder {
  readonly phases: Tally[];
  readonly timeline: Tally[] = [];
  readonly statuses: Record<string, number> = {};
  readonly lag = new LatencyHistogram();
  firstFailure: string | undefined;
  #cpuStart: NodeJS.CpuUsage | null = null;
  #cpuWallStart = 0;
  clientCpu = 0;

  constructor(phaseCount: number, readonly timelineMs: number | undefined, readonly windowStart: number) {
    this.phases = Array.from({ length: phaseCount }, () => new Tally());
  }

  startCpu(): void {
    this.#cpuStart = process.cpuUsage();
    this.#cpuWallStart = performance.now();
  }

  stopCpu(): void {
    if (this.#cpuStart === null) return;
    const used = process.cpuUsage(this.#cpuStart);
    this.clientCpu = (used.user + used.system) / 1000 / Math.max(1, performance.now() - this.#cpuWallStart);
  }

  #bucket(intendedAt: number): Tally | null {
    if (this.timelineMs === undefined) return null;
    // Intended times are start + i / rate in floating point: across a power of two (performance.now()
    // is small in a fresh process) a call due exactly on a bucket's edge lands a few ulps before it.
    // A millionth of a bucket of slack puts it in its own bucket.
    const i = Math.floor((intendedAt - this.windowStart) / this.timelineMs + 1e-6);
    if (i < 0) return null;
    while (this.timeline.length <= i) this.timeline.push(new Tally());
    return this.timeline[i]!;
  }

  sent(phase: number, intendedAt: number): void {
    this.phases[phase]!.counts.sent++;
    const b = this.#bucket(intendedAt);
    if (b) b.counts.sent++;
  }

  outcome(phase: number, intendedAt: number, err: Error | null, res: HttpResponse | null, latencyMs: number): void {
    const key = err ? (err instanceof CallTimeout ? 'timeout' : err instanceof CallNotSent ? 'not sent' : 'error') : String(res!.status);
    this.statuses[key] = (this.statuses[key] ?? 0) + 1;
    const kind: keyof CallCounts =
      err instanceof CallTimeout
        ? 'timedOut'
        : err instanceof CallNotSent
          ? 'unsent'
          : err || !res
            ? 'failed'
            : res.status < 300
              ? 'ok'
              : res.status === 503 || res.status === 429
                ? 'refused'
                : res.status === 504
                  ? 'expired'
                  : 'failed';
    if (kind === 'failed' && this.firstFailure === undefined) {
      this.firstFailure = err ? err.message : `${res!.status} ${res!.body.toString('utf8', 0, Math.min(300, res!.body.length))}`;
    }
    for (const t of [this.phases[phase]!, this.#bucket(intendedAt)]) {
      if (!t) continue;
      t.counts[kind]++;
      if (kind === 'ok') t.latency.recordMs(latencyMs);
    }
  }

  result(job: LoadJob, rates: number[], durations: number[]): LoadResult {
    const phases: PhaseResult[] = this.phases.map((t, i) => ({
      ...t.counts,
      rate: rates[i]!,
      durationMs: durations[i]!,
      throughput: t.counts.ok / (durations[i]! / 1000),
      latency: t.latency.summary(),
      histogram: t.latency.encode(),
    }));
    const out: LoadResult = { mode: job.mode, connections: job.connections, phases, statuses: this.statuses, clientCpu: this.clientCpu };
    if (this.timelineMs !== undefined) {
      const ms = this.timelineMs;
      out.timeline = this.timeline.map((t, i): TimelinePoint => ({ t: i * ms, ...t.counts, p99: t.latency.percentileMs(99) }));
    }
    if (this.firstFailure !== undefined) out.firstFailure = this.firstFailure;
    if (this.lag.count > 0) out.clientLag = { p50: this.lag.percentileMs(50), p99: this.lag.percentileMs(99) };
    return out;
  }
}

/** Concurrent WebSocket calls per socket: 64 connections' worth of calls on one socket. */
export const WS_SLOTS_PER_SOCKET = 64;

/** The job's call slots (connections) and its pre-built calls, for its transport. */
function transportFor(job: LoadJob): { conns: CallSlot[]; requests: Buffer[] } {
  const url = new URL(job.target);
  const host = url.hostname;
  const tls = url.protocol === 'https:' ? { ca: job.caFile === undefined ? undefined : readFileSync(job.caFile) } : undefined;
  const port = Number(url.port || (tls ? 443 : 80));
  const rows = workloadRows(job.workload, job.variants);
  if (job.transport === 'ws') {
    const ws = wsSlots(`ws://${host}:${port}/v2/ws`, job.connections, WS_SLOTS_PER_SOCKET, rows.map((row) => wsFrame(job.workload, row)));
    return { conns: ws.slots, requests: ws.requests };
  }
  const requests = rows.map((row, i) => {
    const call = inferCall(job.workload, row, job.deadlineUs, i);
    return rawHttpRequest(job.headers ? { ...call, headers: { ...call.headers, ...job.headers } } : call, `${host}:${port}`);
  });
  return { conns: Array.from({ length: job.connections }, () => new HttpConnection(host, port, tls)), requests };
}

/** Give up every call past its deadline. */
function sweep(conns: CallSlot[]): void {
  const now = performance.now();
  for (const c of conns) if (c.busy && c.deadline <= now) c.abandon(new CallTimeout('no answer by the deadline'));
}

export function runClosedLoop(job: LoadJob): Promise<LoadResult> {
  const { conns, requests } = transportFor(job);
  const start = performance.now();
  const windowStart = start + job.warmupMs;
  const windowEnd = windowStart + job.durationMs;
  const rec = new Recorder(1, job.timelineMs, windowStart);
  let next = 0;
  let stopped = false;

  const fire = (c: CallSlot): void => {
    const t = performance.now();
    if (stopped || t >= windowEnd) return;
    c.intendedAt = t;
    c.send(requests[next++ % requests.length]!, t + job.timeoutMs, (err, res) => {
      const end = performance.now();
      // Counted only when both the start and the outcome fall in the window, so sent = the sum of outcomes.
      if (c.intendedAt >= windowStart && end <= windowEnd) {
        rec.sent(0, c.intendedAt);
        rec.outcome(0, c.intendedAt, err, res, end - c.intendedAt);
      }
      // A refused connection would otherwise spin; a short pause keeps the failure visible and cheap.
      if (err && !(err instanceof CallTimeout)) setTimeout(() => fire(c), 5);
      else fire(c);
    });
  };

  return new Promise((resolve) => {
    const sweeper = setInterval(() => sweep(conns), SWEEP_MS);
    setTimeout(() => rec.startCpu(), job.warmupMs);
    setTimeout(() => {
      stopped = true;
      rec.stopCpu();
      clearInterval(sweeper);
      for (const c of conns) c.close();
      resolve(rec.result(job, [0], [job.durationMs]));
    }, job.warmupMs + job.durationMs);
    for (const c of conns) fire(c);
  });
}

interface Segment {
  phase: number;
  rate: number;
  start: number;
  end: number;
  schedule: ArrivalSchedule;
}

export function runOpenLoop(job: LoadJob): Promise<LoadResult> {
  const phases = job.phases ?? [];
  if (phases.length === 0) throw new RangeError('an open-loop job needs at least one phase');
  const { conns, requests } = transportFor(job);
  const idle: CallSlot[] = [...conns];
  // Calls due while every connection is busy wait here, oldest first; their latency still counts from
  // their intended start.
  const waiting: { at: number; phase: number }[] = [];
  let waitingHead = 0;
  const start = performance.now();
  const windowStart = start + job.warmupMs;
  const rec = new Recorder(phases.length, job.timelineMs, windowStart);
  const segments: Segment[] = [];
  let t = start;
  const plan = [{ rate: phases[0]!.rate, durationMs: job.warmupMs, phase: -1 }, ...phases.map((p, i) => ({ ...p, phase: i }))];
  for (const p of plan) {
    if (p.durationMs <= 0) continue;
    segments.push({ phase: p.phase, rate: p.rate, start: t, end: t + p.durationMs, schedule: new ArrivalSchedule(p.rate, t) });
    t += p.durationMs;
  }
  const end = t;
  let seg = 0;
  let next = 0;

  const send = (c: CallSlot, at: number, phase: number): void => {
    c.intendedAt = at;
    c.send(requests[next++ % requests.length]!, at + job.timeoutMs, (err, res) => {
      const done = performance.now();
      if (phase >= 0) rec.outcome(phase, at, err, res, done - at);
      release(c);
    });
  };

  const release = (c: CallSlot): void => {
    while (waitingHead < waiting.length) {
      const w = waiting[waitingHead++]!;
      if (w.at + job.timeoutMs > performance.now()) return send(c, w.at, w.phase);
      if (w.phase >= 0) rec.outcome(w.phase, w.at, new CallNotSent('no free connection by the deadline'), null, 0);
    }
    idle.push(c);
  };

  const dispatch = (at: number, phase: number): void => {
    if (phase >= 0) rec.sent(phase, at);
    const c = idle.pop();
    if (c) send(c, at, phase);
    else waiting.push({ at, phase });
  };

  return new Promise((resolve) => {
    let finishing = false;
    const finish = (): void => {
      if (waitingHead < waiting.length || idle.length < conns.length) return;
      clearInterval(sweeper);
      for (const c of conns) c.close();
      resolve(rec.result(job, phases.map((p) => p.rate), phases.map((p) => p.durationMs)));
    };
    const sweeper = setInterval(() => {
      sweep(conns);
      const now = performance.now();
      while (waitingHead < waiting.length && waiting[waitingHead]!.at + job.timeoutMs <= now) {
        const w = waiting[waitingHead++]!;
        if (w.phase >= 0) rec.outcome(w.phase, w.at, new CallNotSent('no free connection by the deadline'), null, 0);
      }
      if (waitingHead > 4096 && waitingHead * 2 > waiting.length) waiting.splice(0, waitingHead), (waitingHead = 0);
      if (finishing) finish();
    }, SWEEP_MS);
    const tick = (): void => {
      const now = performance.now();
      while (seg < segments.length) {
        const s = segments[seg]!;
        if (s.phase === 0 && s.schedule.issued === 0) rec.startCpu();
        if (s.phase >= 0 && now >= s.schedule.intendedAt(s.schedule.issued)) rec.lag.recordMs(now - s.schedule.intendedAt(s.schedule.issued));
        s.schedule.due(Math.min(now, s.end - 1e-6), (at) => dispatch(at, s.phase));
        if (now < s.end) break;
        seg++;
      }
      if (seg >= segments.length || now >= end) {
        rec.stopCpu();
        finishing = true;
        return;
      }
      const s = segments[seg]!;
      setTimeout(tick, Math.floor(s.schedule.untilNext(now)));
    };
    tick();
  });
}

export async function runLoad(job: LoadJob): Promise<LoadResult> {
  await prepareWorkload(job.workload);
  return job.mode === 'closed' ? runClosedLoop(job) : runOpenLoop(job);
}
