// The short fuzz run's settings, shared by the test files: a fixed seed (printed, overridable
// with SLUICE_FUZZ_SEED to reproduce or explore) and the per-surface assertions.
import { formatResult, runSurface, type RunOptions } from '../../bench/fuzz/runner.js';
import type { Surface } from '../../bench/fuzz/surfaces.js';

export const SEED = Number(process.env.SLUICE_FUZZ_SEED ?? 20261204);

/** Heap growth after GC that a short run may show (the long run's limit is 32 MiB). */
const MAX_HEAP_GROWTH = 16 * 1024 * 1024;

type Tap = Pick<typeof import('tap').default, 'comment' | 'equal' | 'ok'>;

export async function fuzzSurface<T>(t: Tap, surface: Surface<T>, options: Omit<RunOptions, 'seed'>): Promise<void> {
  const r = await runSurface(surface, { ...options, seed: SEED });
  t.comment(`seed ${SEED}: ${formatResult(r)}`);
  t.equal(r.runs, options.runs, `${options.runs} inputs ran`);
  t.equal(r.failures, 0, 'no input broke the contract (failing inputs are printed above with their seed and index)');
  if (options.networkEvery > 0) t.ok(r.sent > 0, 'a share went over the network');
  t.ok(r.heapAfter - r.heapBefore < MAX_HEAP_GROWTH, `heap after GC grew by ${((r.heapAfter - r.heapBefore) / 1048576).toFixed(1)} MiB (limit 16)`);
}
