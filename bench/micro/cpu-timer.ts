// The timing loop the micro-benchmarks share: nanoseconds of this process's CPU time per operation
// (other processes on the shared machine do not inflate it), after a warm-up, and the flags that
// set it (`--ms` of CPU per round, `--rounds`, and `--help`).
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineCommand, helpText, parseFlags } from '../../lib/flags.js';

export interface MicroOptions {
  /** CPU milliseconds per measurement. */
  ms: number;
  rounds: number;
}

/** The package root (this file runs from dist/bench/micro/). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const MICRO_FLAGS = {
  ms: { type: 'int', default: 300, description: 'CPU milliseconds per measurement' },
  rounds: { type: 'int', default: 5, description: 'measurements of each candidate; the median is reported' },
} as const;

/**
 * `--ms 300 --rounds 5` (the defaults) from argv, or MICRO_BENCH_MS / MICRO_BENCH_ROUNDS. `--help`
 * prints the flags and ends the process with 0, before the bench measures anything.
 */
export function microOptions(argv = process.argv.slice(2), env = process.env): MicroOptions {
  const script = relative(ROOT, process.argv[1] ?? 'dist/bench/micro/<bench>.js');
  const command = defineCommand({ name: script, usage: `node ${script}`, summary: "A micro-benchmark: this process's CPU time per operation, the median of --rounds measurements (what it compares: the script's header).", envPrefix: 'MICRO_BENCH_', flags: MICRO_FLAGS });
  const parsed = parseFlags(command, argv, env);
  if (parsed.help) {
    process.stdout.write(helpText(command));
    process.exit(0);
  }
  return parsed.values;
}

/** ns per operation of `fn(i)`, run in batches of 10 000 until `ms` of CPU time passed. */
export function nsPerOp(fn: (i: number) => void, ms: number): number {
  for (let i = 0; i < 100_000; i++) fn(i);
  let ops = 0;
  const start = process.cpuUsage();
  let used = 0;
  while (used < ms * 1000) {
    for (let i = 0; i < 10_000; i++) fn(ops + i);
    ops += 10_000;
    const d = process.cpuUsage(start);
    used = d.user + d.system;
  }
  return (used * 1000) / ops;
}
