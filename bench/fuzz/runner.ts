// Drives one surface: inputs drawn from its arbitrary in chunks (chunk i uses seed + i, so any
// failing input is reproduced by its seed and index), checked in-process, every `networkEvery`th
// also sent over the network; the heap is measured after a full GC before and after the runs.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { FuzzViolation, type Surface } from './surfaces.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap bytes in use after a full collection. */
export function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

export interface RunOptions {
  runs: number;
  seed: number;
  /** Send every n-th input over the network too (0: none). */
  networkEvery: number;
  /** In-process checks in flight at once (async surfaces: sharp, yoga). */
  concurrency?: number;
  /** Inputs run before the first heap measurement (allocations that stay: JIT, caches, pools). */
  warmup?: number;
}

export interface Failure {
  /** Reproduce: fc.sample(arbitrary, { seed, numRuns: index + 1 })[index]. */
  seed: number;
  index: number;
  network: boolean;
  message: string;
  input: string;
}

export interface SurfaceResult {
  surface: string;
  runs: number;
  sent: number;
  failures: number;
  /** The first few failures. */
  examples: Failure[];
  heapBefore: number;
  heapAfter: number;
  seconds: number;
}

const CHUNK = 1000;
const KEPT = 5;

export async function runSurface<T>(surface: Surface<T>, options: RunOptions): Promise<SurfaceResult> {
  const concurrency = options.concurrency ?? 1;
  const result: SurfaceResult = { surface: surface.name, runs: 0, sent: 0, failures: 0, examples: [], heapBefore: 0, heapAfter: 0, seconds: 0 };
  const fail = (seed: number, index: number, network: boolean, err: unknown, input: T): void => {
    result.failures++;
    if (result.examples.length >= KEPT) return;
    const message = err instanceof FuzzViolation ? err.message : `harness error: ${(err as Error).stack ?? String(err)}`;
    result.examples.push({ seed, index, network, message, input: surface.describe(input) });
  };
  const runChunk = async (seed: number, count: number, counted: boolean): Promise<void> => {
    const inputs = fc.sample(surface.arbitrary, { seed, numRuns: count });
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < inputs.length) {
        const index = next++;
        const input = inputs[index]!;
        try {
          await surface.check(input);
        } catch (err) {
          if (counted) fail(seed, index, false, err, input);
        }
        if (!counted) continue;
        result.runs++;
        if (surface.send !== undefined && options.networkEvery > 0 && (seed * CHUNK + index) % options.networkEvery === 0) {
          result.sent++;
          try {
            await surface.send(input);
          } catch (err) {
            fail(seed, index, true, err, input);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
  };
  await runChunk(options.seed - 1, options.warmup ?? Math.min(CHUNK, Math.ceil(options.runs / 10)), false);
  result.heapBefore = heapAfterGc();
  const started = performance.now();
  for (let done = 0, chunk = 0; done < options.runs; chunk++) {
    const count = Math.min(CHUNK, options.runs - done);
    await runChunk(options.seed + chunk, count, true);
    done += count;
  }
  result.seconds = (performance.now() - started) / 1000;
  result.heapAfter = heapAfterGc();
  return result;
}

const MIB = 1024 * 1024;

/** One line per surface: count, failures, network share, heap before/after (MiB), time. */
export function formatResult(r: SurfaceResult): string {
  const lines = [
    `${r.surface.padEnd(11)} runs ${String(r.runs).padStart(7)}  failures ${String(r.failures).padStart(4)}  network ${String(r.sent).padStart(5)}  ` +
      `heap ${(r.heapBefore / MIB).toFixed(1)} -> ${(r.heapAfter / MIB).toFixed(1)} MiB  ${r.seconds.toFixed(1)} s`,
  ];
  for (const f of r.examples) lines.push(`  seed ${f.seed} index ${f.index}${f.network ? ' (network)' : ''}: ${f.message}\n    input: ${f.input}`);
  return lines.join('\n');
}
