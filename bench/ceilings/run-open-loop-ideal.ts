// Runs the ideal open-loop server (open-loop-ideal.ts) in its own process for one round at a rate,
// as the bench's full run does beside each of Sluice's open-loop points.
import { join } from 'node:path';
import { ROOT } from '../targets/commands.js';
import { runJsonScript } from './run-script.js';
import type { IdealWindow } from '../report/types.js';
import type { WorkloadName } from '../workloads.js';

export interface IdealRound {
  workload: WorkloadName;
  rate: number;
  durationMs: number;
  /** The bench's placement: the ideal server and uws-fixed on `serverCpus`, its load generator on `clientCpus` (undefined = not pinned). */
  serverCpus?: string | undefined;
  clientCpus?: string | undefined;
}

export async function runOpenLoopIdeal(r: IdealRound): Promise<{ alone: IdealWindow; underTransport: IdealWindow }> {
  const script = join(ROOT, 'dist', 'bench', 'ceilings', 'open-loop-ideal.js');
  const args = [script, '--workload', r.workload, '--rate', String(r.rate), '--rounds', '1', '--duration-ms', String(Math.round(r.durationMs))];
  if (r.serverCpus !== undefined) args.push('--server-cpus', r.serverCpus);
  if (r.clientCpus !== undefined) args.push('--client-cpus', r.clientCpus);
  // The script itself (its queue and ORT workers) is pinned with the servers; its children are pinned by the flags.
  const result = await runJsonScript<{ alone: IdealWindow; underTransport: IdealWindow }>(args, r.serverCpus, `the ideal open-loop server for ${r.workload} at ${r.rate}/s`);
  const pick = (w: IdealWindow): IdealWindow => ({ p50: w.p50, p99: w.p99, meanBatch: w.meanBatch, computeMs: w.computeMs });
  return { alone: pick(result.alone), underTransport: pick(result.underTransport) };
}
