// `--profile`: runs the gateway under `node --cpu-prof` at 64 closed-loop connections per workload,
// stops it (V8 writes one profile per thread on exit) and ranks functions by self time, main thread
// and workers apart. The answer to issue 7's "name the slowest link, with the profile that shows it".
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { generateLoad } from '../load/spawn-generator.js';
import { startServer } from '../targets/server-process.js';
import { benchRepository, targetCommand } from '../targets/commands.js';
import { readCpuProfile, topSelfTime } from './cpu-profile.js';
import type { BenchOptions } from '../options.js';

/** Returns Markdown lines (one block per thread) for the run's notes. */
export async function profileGateway(o: BenchOptions, dir: string, log: (line: string) => void): Promise<string[]> {
  const notes: string[] = [];
  for (const workload of o.workloads) {
    const out = join(dir, workload);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    const repo = benchRepository(workload);
    const server = await startServer(targetCommand('sluice', workload, repo, o.placement.serverCpus, ['--cpu-prof', '--cpu-prof-dir', out]));
    let throughput = 0;
    try {
      const r = await generateLoad(
        { target: server.url, workload, variants: 64, mode: 'closed', connections: 64, warmupMs: o.warmupMs, durationMs: Math.max(o.durationMs, 5000), timeoutMs: o.timeoutMs },
        { cpus: o.placement.clientCpus, processes: o.placement.generators },
      );
      throughput = r.phases[0]!.throughput;
    } finally {
      await server.stop();
    }
    // The main thread's file has thread id 0 in its name (CPU.<date>.<pid>.<tid>.<seq>.cpuprofile).
    const files = readdirSync(out).filter((f) => f.endsWith('.cpuprofile')).sort();
    for (const f of files) {
      const thread = /\.\d+\.0\.\d+\.cpuprofile$/.test(f) ? 'main thread' : `worker (${f.split('.').slice(-3, -2)[0]})`;
      const { busyMs, idleMs, top } = topSelfTime(readCpuProfile(join(out, f)), 12);
      const head = `gateway --cpu-prof, ${workload} @64 (${throughput.toFixed(0)} calls/s under the profiler), ${thread}: busy ${busyMs.toFixed(0)} ms, idle or waiting ${idleMs.toFixed(0)} ms (startup included); top self time:`;
      const lines = top.map((t) => `    ${t.percent.toFixed(1).padStart(5)}%  ${t.selfMs.toFixed(0).padStart(6)} ms  ${t.fn}`);
      log([head, ...lines].join('\n'));
      notes.push([head, '', '```', ...lines, '```'].join('\n'));
    }
  }
  return notes;
}
