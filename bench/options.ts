// `npm run bench -- [flags]`: the suite's knobs, validated once. --quick is the CI smoke run (under
// two minutes, asserts nothing about speed); the default is the full run whose figures are quoted.
import { availableParallelism } from 'node:os';
import { WORKLOAD_NAMES, isWorkloadName, type WorkloadName } from './workloads.js';
import type { TargetName } from './report/types.js';

export const TARGET_NAMES: readonly TargetName[] = ['sluice', 'sluice-ws', 'naive', 'naive-1t', 'micro-batch', 'uws-fixed'];

export interface Placement {
  /** split: load generators on their own core(s), servers and the ORT ceiling on the rest; shared: nothing pinned. */
  mode: 'split' | 'shared';
  serverCpus: string | undefined;
  clientCpus: string | undefined;
  /** Load generator processes per scenario. */
  generators: number;
}

export interface BenchOptions {
  quick: boolean;
  workloads: WorkloadName[];
  targets: TargetName[];
  /** Closed-loop connection counts. */
  connections: number[];
  /** Per workload, the only targets measured (the rest of `targets` skipped); from --quick unless --targets is given. */
  workloadTargets: Partial<Record<WorkloadName, TargetName[]>>;
  /** Workloads measured at the closed-loop points only (no open loop, no overload): the image workload with --quick. */
  closedOnly: WorkloadName[];
  /** Open-loop arrival rates as fractions of each target's measured maximum. */
  openFractions: number[];
  warmupMs: number;
  durationMs: number;
  /** Connection cap of the open-loop generator (connections open on demand up to it). */
  openConnections: number;
  /**
   * The same in overload: above any server's queue bound, so that admission control (not the
   * client's connection cap) decides what happens to the excess — as with many independent clients.
   */
  overloadConnections: number;
  /**
   * Overload calls carry this deadline as `parameters.timeout_us`; the client waits one more second
   * for the answer before it counts the call as timed out (the gateway must answer or refuse by then).
   */
  overloadDeadlineMs: number;
  timeoutMs: number;
  ceilingMs: number;
  ceilingBatches: Record<WorkloadName, number[]>;
  overloadTargets: TargetName[];
  overloadMs: number;
  recoveryMs: number;
  timelineMs: number;
  placement: Placement;
  /** Interleaved rounds for the ratios (0 = none; the ratios then come from the single points). */
  ratioRounds: number;
  roundWarmupMs: number;
  roundMs: number;
  /** Run the gateway under --cpu-prof at 64 connections and print its top self-time functions. */
  profile: boolean;
  outDir: string;
}

export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

export const BENCH_HELP = `Usage: npm run bench -- [flags]
  --quick                 short smoke run (< 2 min): 1 and 64 connections, 50/95% open loop, shorter windows
                          (text-direction-image: closed loop only, sluice/naive/naive-1t unless --targets)
  --workloads a,b         ${WORKLOAD_NAMES.join(', ')} (default: all)
  --targets a,b           ${TARGET_NAMES.join(', ')} (default: all)
  --connections 1,16,64   closed-loop connection counts
  --duration-ms N         measured window per point (warm-up excluded)
  --warmup-ms N           warm-up per point, not recorded
  --pin auto|split|shared split = load generator on its own core (auto: split when there are >= 4 cores)
  --generators N          load generator processes per scenario (default 1)
  --rounds N              interleaved rounds for the ratios at 64 connections (default 5, 0 with --quick)
  --profile               also run the gateway under --cpu-prof and print its top self-time functions
  --out DIR               where results go (default bench/results)
`;

function list(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new BenchUsageError(`--${name} must be a positive integer, got ${v}`);
  return n;
}

/** `cores` = CPUs available; with split pinning the last one runs the load generators. */
export function placementFor(mode: string, cores: number, generators: number): Placement {
  const split = mode === 'split' || (mode === 'auto' && cores >= 4);
  if (!['auto', 'split', 'shared'].includes(mode)) throw new BenchUsageError(`--pin must be auto, split or shared, got ${mode}`);
  if (split && cores < 2) throw new BenchUsageError('--pin split needs at least 2 cores');
  if (!split) return { mode: 'shared', serverCpus: undefined, clientCpus: undefined, generators };
  // One client core per four server cores at most; at least one each.
  const client = Math.max(1, Math.floor(cores / 5));
  return { mode: 'split', serverCpus: `0-${cores - client - 1}`, clientCpus: `${cores - client}-${cores - 1}`, generators };
}

export function parseBenchArgs(argv: string[], cores = availableParallelism()): BenchOptions | 'help' {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return 'help';
    if (!a.startsWith('--')) throw new BenchUsageError(`unexpected argument ${a}`);
    const [k, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    if (k === 'quick' || k === 'profile') flags.set(k, 'true');
    else if (inline !== undefined) flags.set(k, inline);
    else if (argv[i + 1] !== undefined) flags.set(k, argv[++i]!);
    else throw new BenchUsageError(`--${k} needs a value`);
  }
  if (flags.has('rounds') && !/^\d+$/.test(flags.get('rounds')!)) throw new BenchUsageError(`--rounds must be a whole number, got ${flags.get('rounds')}`);
  const known = ['quick', 'profile', 'rounds', 'workloads', 'targets', 'connections', 'duration-ms', 'warmup-ms', 'pin', 'generators', 'out'];
  for (const k of flags.keys()) if (!known.includes(k)) throw new BenchUsageError(`unknown flag --${k}\n\n${BENCH_HELP}`);
  const quick = flags.has('quick');
  const workloads = list(flags.get('workloads') ?? WORKLOAD_NAMES.join(','));
  for (const w of workloads) if (!isWorkloadName(w)) throw new BenchUsageError(`unknown workload ${w} (${WORKLOAD_NAMES.join(', ')})`);
  const targets = list(flags.get('targets') ?? TARGET_NAMES.join(','));
  for (const t of targets) if (!(TARGET_NAMES as string[]).includes(t)) throw new BenchUsageError(`unknown target ${t} (${TARGET_NAMES.join(', ')})`);
  const connections = list(flags.get('connections') ?? (quick ? '1,64' : '1,16,64,256')).map((c) => positiveInt('connections', c));
  return {
    quick,
    workloads: workloads as WorkloadName[],
    targets: targets as TargetName[],
    connections,
    // --quick keeps the image workload to Sluice and the naive peer (both thread settings), closed loop.
    workloadTargets: quick && !flags.has('targets') ? { 'text-direction-image': ['sluice', 'naive', 'naive-1t'] } : {},
    closedOnly: quick ? ['text-direction-image'] : [],
    openFractions: quick ? [0.5, 0.95] : [0.5, 0.8, 0.95],
    warmupMs: flags.has('warmup-ms') ? positiveInt('warmup-ms', flags.get('warmup-ms')!) : quick ? 300 : 2000,
    durationMs: flags.has('duration-ms') ? positiveInt('duration-ms', flags.get('duration-ms')!) : quick ? 1000 : 8000,
    openConnections: 1024,
    overloadConnections: 8192,
    overloadDeadlineMs: 1000,
    timeoutMs: 10_000,
    ceilingMs: quick ? 300 : 1500,
    ceilingBatches: quick
      ? { 'weather-json': [1, 64, 256], 'text-direction-binary': [1, 4, 16], 'text-direction-image': [1, 4, 16] }
      : { 'weather-json': [1, 8, 32, 64, 128, 256], 'text-direction-binary': [1, 2, 4, 8, 16, 32, 64], 'text-direction-image': [1, 2, 4, 8, 16, 32, 64] },
    overloadTargets: quick ? ['sluice'] : ['sluice', 'naive', 'micro-batch'],
    overloadMs: quick ? 3000 : 20_000,
    recoveryMs: quick ? 2000 : 10_000,
    timelineMs: quick ? 500 : 1000,
    placement: placementFor(flags.get('pin') ?? 'auto', cores, flags.has('generators') ? positiveInt('generators', flags.get('generators')!) : 1),
    ratioRounds: flags.has('rounds') ? Number(flags.get('rounds')) : quick ? 0 : 5,
    roundWarmupMs: 1000,
    roundMs: 4000,
    profile: flags.has('profile'),
    outDir: flags.get('out') ?? 'bench/results',
  };
}
