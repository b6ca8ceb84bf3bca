// The timing loop the micro-benchmarks share: nanoseconds of this process's CPU time per operation
// (other processes on the shared machine do not inflate it), after a warm-up, and the flags that
// set it (`--ms` of CPU per round, `--rounds`).
import { parseArgs } from 'node:util';

export interface MicroOptions {
  /** CPU milliseconds per measurement. */
  ms: number;
  rounds: number;
}

/** `--ms 300 --rounds 5` (the defaults) from argv. */
export function microOptions(): MicroOptions {
  const { values } = parseArgs({ options: { ms: { type: 'string', default: '300' }, rounds: { type: 'string', default: '5' } } });
  return { ms: Number(values.ms), rounds: Number(values.rounds) };
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
