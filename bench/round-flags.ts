// The flags of the A/B benches whose gateways take turns at the same closed-loop load, round after
// round (compare.ts, scaling/run.ts): their node:util parseArgs options, their part of the usage
// line, and their values checked.
import { SluiceError } from '../lib/errors.js';
import { isWorkloadName, type WorkloadName } from './workloads.js';

export interface RoundDefaults {
  workload: WorkloadName;
  connections: number;
  rounds: number;
}

/** parseArgs options: the load each gateway takes in its turn, how many turns, and --help. */
export function roundFlags(defaults: RoundDefaults) {
  return {
    workload: { type: 'string', default: defaults.workload },
    connections: { type: 'string', default: String(defaults.connections) },
    rounds: { type: 'string', default: String(defaults.rounds) },
    'duration-ms': { type: 'string', default: '4000' },
    'warmup-ms': { type: 'string', default: '1000' },
    help: { type: 'boolean', default: false },
  } as const;
}

/** The round flags in a bench's usage line. */
export const ROUND_USAGE = '[--workload W] [--connections N] [--rounds N] [--duration-ms N] [--warmup-ms N]';

export interface RoundOptions {
  workload: WorkloadName;
  connections: number;
  rounds: number;
  durationMs: number;
  warmupMs: number;
}

/** The round flags' values as parseArgs gives them, checked and turned into numbers. */
export function roundOptions(values: { [K in 'workload' | 'connections' | 'rounds' | 'duration-ms' | 'warmup-ms']?: string }): RoundOptions {
  const workload = values.workload!;
  if (!isWorkloadName(workload)) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `unknown workload ${workload}`, { details: { flag: 'workload' } });
  const number = (flag: 'connections' | 'rounds' | 'duration-ms' | 'warmup-ms', min: number): number => {
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < min) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--${flag} takes a whole number from ${min}, got ${values[flag]}`, { details: { flag } });
    return n;
  };
  return { workload, connections: number('connections', 1), rounds: number('rounds', 1), durationMs: number('duration-ms', 1), warmupMs: number('warmup-ms', 0) };
}
