// What the cluster benches (run, notify-latency, fleet-queries, fleet-sim) share at their edges:
// a command line from one flag table with its own environment prefix and --help, and the machine
// every report names beside its figures (these 2-core machines are shared, so the load matters).
import { cpus, loadavg } from 'node:os';
import type { Writable } from 'node:stream';
import { defineCommand, helpText, parseFlags, type FlagTable, type FlagValues } from '../../lib/flags.js';

export interface ClusterBench<F extends FlagTable> {
  /** The script's name under dist/bench/cluster/, without .js: its usage line and its name in errors. */
  script: string;
  summary: string;
  /** Prefix of the flags' environment variables, e.g. CLUSTER_BENCH_ (CLUSTER_BENCH_RATE=50). */
  envPrefix: string;
  flags: F;
}

/** The bench's flag values, or undefined when --help asked for its help (printed to `out`). */
export function clusterBenchArgs<const F extends FlagTable>(bench: ClusterBench<F>, argv = process.argv.slice(2), env = process.env, out: Writable = process.stdout): FlagValues<F> | undefined {
  const command = defineCommand({ name: bench.script, usage: `node dist/bench/cluster/${bench.script}.js`, summary: bench.summary, envPrefix: bench.envPrefix, flags: bench.flags });
  const parsed = parseFlags(command, argv, env);
  if (parsed.help) {
    out.write(helpText(command));
    return undefined;
  }
  return parsed.values;
}

export interface Machine {
  cores: number;
  /** The one-minute load average when the figures were taken. */
  loadavg1: number;
}

export function machine(): Machine {
  return { cores: cpus().length, loadavg1: +loadavg()[0]!.toFixed(2) };
}

/** The one JSON line a cluster bench ends with: its figures, then the machine they were taken on. */
export function clusterBenchReport(figures: object): string {
  return JSON.stringify({ ...figures, machine: machine() });
}
