// Runs the ORT-alone ceiling (ort-alone.ts) in its own process, pinned like the servers.
import { join } from 'node:path';
import { ROOT } from '../targets/commands.js';
import { runJsonScript } from './run-script.js';
import type { BenchOptions } from '../options.js';
import type { OrtCeiling } from '../report/types.js';
import type { WorkloadName } from '../workloads.js';

export function ortCeiling(o: BenchOptions, workload: WorkloadName, repo: string, batches = o.ceilingBatches[workload], durationMs = o.ceilingMs): Promise<OrtCeiling> {
  return runOrtAlone({ repo, workload, batches, durationMs, cpus: o.placement.serverCpus });
}

export interface OrtAloneRun {
  repo: string;
  workload: WorkloadName;
  batches: number[];
  durationMs: number;
  /** taskset CPU list; undefined = not pinned. */
  cpus?: string | undefined;
  /** Only the single-threaded sessions, one per core (not ORT's default threads). */
  perCoreOnly?: boolean;
  /** One session on this GPU alone (bench/gpu) instead of the CPU layouts. */
  cudaDevice?: number;
}

export function runOrtAlone(r: OrtAloneRun): Promise<OrtCeiling> {
  const script = join(ROOT, 'dist', 'bench', 'ceilings', 'ort-alone.js');
  const args = [script, '--models', r.repo, '--workload', r.workload, '--batches', r.batches.join(','), '--duration-ms', String(r.durationMs)];
  if (r.perCoreOnly === true) args.push('--layouts', 'per-core');
  if (r.cudaDevice !== undefined) args.push('--cuda-device', String(r.cudaDevice));
  return runJsonScript<OrtCeiling>(args, r.cpus, `ORT-alone ceiling for ${r.workload}`);
}
