// The open-loop latency an ideal gateway could reach on this machine, beside issue 20's target
// (p99 ≤ max_queue_delay + 2 × one batch's compute at 80 % of capacity). Calls arrive on the load
// generator's own schedule (even spacing at --rate, latency from each call's intended time), wait in
// one central FIFO queue, and each free instance (a single-threaded ORT session in a worker thread)
// takes every queued row, up to --max-batch, at once: no HTTP, no copies, no wait for company.
// Each round runs it twice, as transport-bound.ts does for throughput: alone, and while the same
// calls at the same rate travel over HTTP to a server that does nothing with them (uws-fixed), so
// the load generator and the kernel's TCP work take their share of the cores as they do beside a
// gateway. What the second run misses, no gateway on this machine meets. Latency counts from each
// call's intended time, so a timer's lateness (up to about 1 ms) is in it, as in the generator's.
//
//   node dist/bench/ceilings/open-loop-ideal.js --rate 1526 [--workload text-direction-binary] [--rounds 3] [--duration-ms 8000] [--max-batch 16] [--instances N] [--server-cpus LIST --client-cpus LIST]
//
// The last line is the result as JSON.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { SluiceError } from '../../lib/errors.js';
import { ArrivalSchedule } from '../load/schedule.js';
import { generateLoad } from '../load/spawn-generator.js';
import { openLoop } from '../load/measured-round.js';
import { benchModelConfig, benchRepository, targetCommand } from '../targets/commands.js';
import { startServer } from '../targets/server-process.js';
import { median } from '../report/summary.js';
import { isWorkloadName, prepareWorkload, WORKLOADS } from '../workloads.js';
import { usageError } from '../options.js';

const WORKER = fileURLToPath(new URL('./open-loop-worker.js', import.meta.url));

const { values: args } = parseArgs({
  options: {
    workload: { type: 'string', default: 'text-direction-binary' },
    rate: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    'duration-ms': { type: 'string', default: '8000' },
    'max-batch': { type: 'string', default: '16' },
    instances: { type: 'string' },
    // The bench's split placement: uws-fixed on the servers' CPUs, the load generator on its own.
    'server-cpus': { type: 'string' },
    'client-cpus': { type: 'string' },
  },
});
const invalid = (flag: string, why: string): SluiceError => usageError(flag, `--${flag} ${why}`);
const workload = args.workload!;
if (!isWorkloadName(workload)) throw invalid('workload', `names no workload: ${workload}`);
const whole = (flag: 'rounds' | 'duration-ms' | 'max-batch' | 'instances', fallback?: number): number => {
  const raw = args[flag];
  const n = raw === undefined ? fallback : Number(raw);
  if (n === undefined || !Number.isInteger(n) || n < 1) throw invalid(flag, `takes a whole number from 1, got ${raw}`);
  return n;
};
const rate = Number(args.rate);
if (!(rate > 0 && rate < Infinity)) throw invalid('rate', `takes calls per second above 0, got ${args.rate}`);
const repo = benchRepository(workload);
const model = WORKLOADS[workload].model;
const config = benchModelConfig(repo, workload);
const rounds = whole('rounds');
const durationMs = whole('duration-ms');
const maxBatch = Math.min(whole('max-batch'), config.max_batch_size);
const instances = whole('instances', config.instances);
await prepareWorkload(workload);

export interface IdealRun {
  /** Calls answered (every one is: the queue is unbounded). */
  calls: number;
  p50: number;
  p90: number;
  p99: number;
  meanBatch: number;
  /** ORT's run per batch, ms. */
  computeMs: number;
}

/** One measured window of the ideal server, `ms` long, on fresh workers. */
async function ideal(ms: number): Promise<IdealRun> {
  const workers = await Promise.all(Array.from({ length: instances }, () => new Promise<Worker>((resolve, reject) => {
    const w = new Worker(WORKER, { workerData: { modelPath: join(repo, model, '1', 'model.onnx'), workload, maxBatch } });
    w.once('message', () => resolve(w));
    w.once('error', reject);
  })));
  const queue: number[] = [];
  const free = [...workers];
  const latencies: number[] = [];
  let batches = 0;
  let computeMs = 0;
  const pump = (): void => {
    while (free.length > 0 && queue.length > 0) {
      const w = free.pop()!;
      const calls = queue.splice(0, maxBatch);
      w.once('message', (runMs: number) => {
        const now = performance.now();
        for (const intended of calls) latencies.push(now - intended);
        batches++;
        computeMs += runMs;
        free.push(w);
        pump();
      });
      w.postMessage(calls.length);
    }
  };
  const schedule = new ArrivalSchedule(rate, performance.now() + 20);
  const end = schedule.intendedAt(0) + ms;
  await new Promise<void>((resolve) => {
    // A timer per arrival, as the load generator's: the main thread idles between them.
    const tick = (): void => {
      const now = performance.now();
      schedule.due(Math.min(now, end), (intended) => queue.push(intended));
      pump();
      if (schedule.intendedAt(schedule.issued) <= end) {
        setTimeout(tick, schedule.untilNext(now));
        return;
      }
      const drained = (): void => (queue.length === 0 && free.length === instances ? resolve() : void setTimeout(drained, 5));
      drained();
    };
    tick();
  });
  await Promise.all(workers.map((w) => w.terminate()));
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)]!;
  return { calls: latencies.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), meanBatch: latencies.length / batches, computeMs: computeMs / batches };
}

const line = (r: IdealRun): string =>
  `p50 ${r.p50.toFixed(2)} p90 ${r.p90.toFixed(2)} p99 ${r.p99.toFixed(2)} ms, ${r.meanBatch.toFixed(2)} rows and ${r.computeMs.toFixed(2)} ms of compute per batch`;

const alone: IdealRun[] = [];
const underTransport: IdealRun[] = [];
const fixed = await startServer(targetCommand('uws-fixed', workload, repo, args['server-cpus']));
try {
  for (let r = 0; r < rounds; r++) {
    alone.push(await ideal(durationMs));
    // The calls run past the ideal's window, which includes its workers' start-up.
    const warmupMs = 1000;
    const travel = durationMs + 3000;
    const load = generateLoad(openLoop(fixed.url, { workload, rate, warmupMs, durationMs: travel }), { cpus: args['client-cpus'], processes: 1 });
    await new Promise((resolve) => setTimeout(resolve, warmupMs + 300));
    underTransport.push(await ideal(durationMs));
    const sent = (await load).phases[0]!;
    console.log(`round ${r + 1}/${rounds}: alone ${line(alone.at(-1)!)}; beside the transport (${sent.ok}/${sent.sent} calls to uws-fixed answered) ${line(underTransport.at(-1)!)}`);
  }
} finally {
  await fixed.stop();
}

const mqdMs = config.dynamic_batching.max_queue_delay_us / 1000;
const summary = (runs: IdealRun[]) => {
  const m = { p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)), meanBatch: median(runs.map((r) => r.meanBatch)), computeMs: median(runs.map((r) => r.computeMs)) };
  return { ...m, boundMs: mqdMs + 2 * m.computeMs };
};
const result = { workload, rate, instances, maxBatch, rounds, maxQueueDelayMs: mqdMs, alone: summary(alone), underTransport: summary(underTransport) };
console.log(`\n${workload} at ${rate} calls/s, ${instances} instances, batches up to ${maxBatch}, medians of ${rounds} rounds:`);
for (const [label, s] of [['alone', result.alone], ['beside the transport', result.underTransport]] as const) {
  console.log(`ideal ${label}: p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms; its own bound (max_queue_delay ${mqdMs} + 2 × ${s.computeMs.toFixed(2)} ms) ${s.boundMs.toFixed(2)} ms: ${s.p99 <= s.boundMs ? 'met' : 'not met'}`);
}
console.log(JSON.stringify(result));
