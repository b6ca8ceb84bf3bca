// Runs the ideal open-loop server (open-loop-ideal.ts) in its own process for one round at a rate,
// as the bench's full run does beside each of Sluice's open-loop points.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../targets/commands.js';
import type { IdealWindow } from '../report/types.js';
import type { WorkloadName } from '../workloads.js';

export interface IdealRound {
  workload: WorkloadName;
  rate: number;
  durationMs: number;
  /** taskset CPU list; undefined = not pinned. */
  cpus?: string | undefined;
}

export function runOpenLoopIdeal(r: IdealRound): Promise<{ alone: IdealWindow; underTransport: IdealWindow }> {
  const script = join(ROOT, 'dist', 'bench', 'ceilings', 'open-loop-ideal.js');
  const args = [script, '--workload', r.workload, '--rate', String(r.rate), '--rounds', '1', '--duration-ms', String(Math.round(r.durationMs))];
  const child = r.cpus === undefined ? spawn(process.execPath, args) : spawn('taskset', ['-c', r.cpus, process.execPath, ...args]);
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`the ideal open-loop server for ${r.workload} at ${r.rate}/s exited with ${code}: ${err.slice(-2000)}`));
      const result = JSON.parse(out.trim().split('\n').pop()!) as { alone: IdealWindow; underTransport: IdealWindow };
      const pick = (w: IdealWindow): IdealWindow => ({ p50: w.p50, p99: w.p99, meanBatch: w.meanBatch, computeMs: w.computeMs });
      resolve({ alone: pick(result.alone), underTransport: pick(result.underTransport) });
    });
  });
}
