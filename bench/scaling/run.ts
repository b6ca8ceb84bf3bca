// How the gateway scales with --io-threads on this machine, in one command (docs/io-threads.md):
// one gateway per thread count 1..N, all up at once and taking turns at the same closed-loop load,
// round after round in rotated order (so a noisy minute hits every count alike). Per count: median
// calls/s, p99, and CPU per call of the main thread, the I/O threads (their event-loop busy time,
// from /metrics) and every other thread (ORT workers, GC) — the figures that say which part a
// bigger machine runs out of first.
//
//   node dist/bench/scaling/run.js                        (1..cores/2 threads, weather-json @256)
//   node dist/bench/scaling/run.js --max-threads 8 --connections 512 --rounds 5 --workload weather-json
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { closedLoop } from '../load/measured-round.js';
import { generateLoad } from '../load/spawn-generator.js';
import { median } from '../report/summary.js';
import { benchRepository, ROOT, sluiceNodeFlags } from '../targets/commands.js';
import { startServer, threadCpuUs, type ServerProcess } from '../targets/server-process.js';
import { prepareWorkload, WORKLOADS } from '../workloads.js';
import { ROUND_USAGE, roundFlags, roundOptions } from '../round-flags.js';

const cores = availableParallelism();
const { values: args } = parseArgs({
  options: {
    'max-threads': { type: 'string', default: String(Math.max(2, Math.floor(cores / 2))) },
    'generators': { type: 'string', default: String(Math.max(1, Math.floor(cores / 8))) },
    ...roundFlags({ workload: 'weather-json', connections: 256, rounds: 3 }),
  },
});
if (args.help) {
  console.log(`node dist/bench/scaling/run.js [--max-threads N] [--generators N] ${ROUND_USAGE}`);
  process.exit(0);
}
const { workload, connections, rounds, durationMs, warmupMs } = roundOptions(args);
const maxThreads = Number(args['max-threads']);
const job = closedLoop('', { workload, connections, warmupMs, durationMs });
const generators = Number(args.generators);

interface Count {
  threads: number;
  server?: ServerProcess;
  repo?: string;
  calls: number[];
  p99: number[];
  mainUs: number[];
  ioUs: number[];
  otherUs: number[];
}

/** Seconds the I/O threads were busy, summed, from the gateway's own counter. */
async function ioBusySeconds(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^sluice_io_thread_busy_seconds_total\{[^}]*\} ([\d.e+-]+)$/gm)) total += Number(m[1]);
  return total;
}

async function round(c: Count): Promise<void> {
  const url = c.server!.url;
  const load = generateLoad({ ...job, target: url }, { processes: generators });
  await new Promise((r) => setTimeout(r, job.warmupMs + 200));
  const cpu0 = threadCpuUs(c.server!.pid);
  const io0 = await ioBusySeconds(url);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, job.durationMs - 400));
  const cpu1 = threadCpuUs(c.server!.pid);
  const io1 = await ioBusySeconds(url);
  const seconds = (performance.now() - t0) / 1000;
  const phase = (await load).phases[0]!;
  const calls = phase.throughput;
  const ioUsPerCall = ((io1 - io0) * 1e6) / seconds / calls;
  c.calls.push(calls);
  c.p99.push(phase.latency.p99);
  c.mainUs.push((cpu1.main - cpu0.main) / seconds / calls);
  c.ioUs.push(ioUsPerCall);
  // /proc cannot tell I/O threads from ORT workers: their busy time comes off the "other" CPU.
  c.otherUs.push((cpu1.other - cpu0.other) / seconds / calls - ioUsPerCall);
}

await prepareWorkload(workload);
const model = WORKLOADS[workload].model;
const counts: Count[] = Array.from({ length: maxThreads }, (_, i) => ({ threads: i + 1, calls: [], p99: [], mainUs: [], ioUs: [], otherUs: [] }));
console.log(`${cores} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${workload} closed loop @${job.connections} from ${generators} generator process(es), ${rounds} rounds of ${job.durationMs} ms`);
try {
  for (const c of counts) {
    c.repo = mkdtempSync(join(tmpdir(), `sluice-scaling-${c.threads}-`));
    cpSync(join(benchRepository(workload), model), join(c.repo, model), { recursive: true });
    c.server = await startServer({
      name: `io-threads ${c.threads}`,
      nodeFlags: sluiceNodeFlags(ROOT),
      args: [join(ROOT, 'dist', 'cli', 'sluice.js'), 'gateway', '--models', c.repo, '--port', '0', '--log-level', 'info', '--io-threads', String(c.threads)],
    });
  }
  for (let r = 0; r < rounds; r++) {
    const order = counts.map((_, i) => counts[(i + r) % counts.length]!);
    for (const c of order) await round(c);
    console.log(`round ${r + 1}/${rounds}: ${order.map((c) => `${c.threads}t ${c.calls.at(-1)!.toFixed(0)}/s`).join(', ')}`);
  }
} finally {
  await Promise.all(counts.map((c) => c.server?.stop()));
  for (const c of counts) if (c.repo) rmSync(c.repo, { recursive: true, force: true });
}

console.log('\nio-threads | calls/s | x 1 thread | p99 ms | main µs/call | io threads µs/call | other threads µs/call');
const base = median(counts[0]!.calls);
for (const c of counts) {
  const calls = median(c.calls);
  console.log(`${c.threads} | ${calls.toFixed(0)} | ${(calls / base).toFixed(2)} | ${median(c.p99).toFixed(2)} | ${median(c.mainUs).toFixed(1)} | ${median(c.ioUs).toFixed(1)} | ${median(c.otherUs).toFixed(1)}`);
}
console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
