// `npm run bench -- [flags]`: the suite's knobs, validated once. --quick is the CI smoke run (under
// two minutes, asserts nothing about speed); the default is the full run whose figures are quoted.
import { availableParallelism } from 'node:os';
import { WORKLOAD_NAMES, isWorkloadName, type WorkloadName } from './workloads.js';
import type { TargetName } from './report/types.js';
import { SluiceError } from '../lib/errors.js';
import { defineCommand, parseFlags } from '../lib/flags.js';
import { checkCpuQuota } from './targets/cpu-quota.js';

export const TARGET_NAMES: readonly TargetName[] = ['sluice', 'sluice-ws', 'sluice-auth', 'naive', 'naive-1t', 'micro-batch', 'uws-fixed'];
/** Measured unless --targets says otherwise; sluice-auth (the cost of gateway auth, issue 17) only when named. */
const DEFAULT_TARGETS: readonly TargetName[] = TARGET_NAMES.filter((t) => t !== 'sluice-auth');
/** The load generator's connection cap at an open-loop point: a slow second's calls are late, not unsent. */
export const OPEN_CONNECTIONS = 1024;

export interface Placement {
  /** split: load generators on their own core(s), servers and the ORT ceiling on the rest; shared: nothing pinned. */
  mode: 'split' | 'shared';
  serverCpus: string | undefined;
  clientCpus: string | undefined;
  /** Load generator processes per scenario. */
  generators: number;
  /** A CPU quota for every server under test, in cores (--server-cpu-limit); undefined: none. */
  serverCpuLimit?: number | undefined;
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
  /** How long past the deadline the client waits before it counts an overload call as timed out (issue 17's target: 100). */
  overloadGraceMs: number;
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

export const BENCH_COMMAND = defineCommand({
  name: 'bench',
  usage: 'npm run bench --',
  envPrefix: 'SLUICE_BENCH_',
  summary: 'Run the benchmark suite: Sluice beside its baselines in one run; JSON, Markdown and SVG results.',
  flags: {
    quick: {
      type: 'boolean',
      default: false,
      description: 'short smoke run (< 2 min): 1 and 64 connections, 50/95% open loop, shorter windows (text-direction-image: closed loop only, sluice/naive/naive-1t unless --targets)',
    },
    workloads: { type: 'list', default: WORKLOAD_NAMES, description: 'workloads to measure' },
    targets: { type: 'list', description: `servers to measure (default: ${DEFAULT_TARGETS.join(',')}; sluice-auth only when named)` },
    connections: { type: 'list', placeholder: '1,16,64', description: 'closed-loop connection counts (default: 1,16,64,256; 1,64 with --quick)' },
    'duration-ms': { type: 'int', description: 'measured window per point, warm-up excluded (default: 8000; 1000 with --quick)' },
    'warmup-ms': { type: 'int', description: 'warm-up per point, not recorded (default: 2000; 300 with --quick)' },
    pin: { type: 'string', default: 'auto', choices: ['auto', 'split', 'shared'], description: 'split = load generator on its own core (auto: split when there are >= 4 cores)' },
    generators: { type: 'int', default: 1, description: 'load generator processes per scenario' },
    'server-cpu-limit': {
      type: 'string',
      placeholder: 'cores',
      description: 'run every server under a cgroup CPU quota of this many cores (e.g. 0.5, as a container limit; needs root): with --pin split the load generator then has room to offer 2x',
    },
    rounds: { type: 'int', description: 'interleaved rounds for the ratios at 64 connections (default: 5; 0 with --quick)' },
    profile: { type: 'boolean', default: false, description: 'also run the gateway under --cpu-prof and print its top self-time functions' },
    out: { type: 'string', default: 'bench/results', placeholder: 'dir', description: 'where results go' },
    'overload-grace-ms': { type: 'int', default: 1000, placeholder: 'ms', description: 'overload: how long past its 1 s deadline a call may be answered before it counts as timed out' },
  },
});

/** A bad bench flag: SLUICE_E_CONFIG_INVALID naming it (bench/entry.ts prints it as a usage error). */
export function usageError(flag: string, message: string): SluiceError {
  return new SluiceError('SLUICE_E_CONFIG_INVALID', message, { details: { flag } });
}

function positive(flag: string, n: number | undefined): number | undefined {
  if (n !== undefined && n < 1) throw usageError(flag, `--${flag} must be a positive integer, got ${n}`);
  return n;
}

function cpuLimit(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const cores = Number(text);
  if (!(Number.isFinite(cores) && cores > 0)) throw usageError('server-cpu-limit', `--server-cpu-limit must be a number of cores above 0, got ${text}`);
  checkCpuQuota(cores);
  return cores;
}

/** `cores` = CPUs available; with split pinning the last one runs the load generators. */
export function placementFor(mode: string, cores: number, generators: number): Placement {
  const split = mode === 'split' || (mode === 'auto' && cores >= 4);
  if (!['auto', 'split', 'shared'].includes(mode)) throw usageError('pin', `--pin must be auto, split or shared, got ${mode}`);
  if (split && cores < 2) throw usageError('pin', '--pin split needs at least 2 cores');
  if (!split) return { mode: 'shared', serverCpus: undefined, clientCpus: undefined, generators };
  // One client core per four server cores at most; at least one each.
  const client = Math.max(1, Math.floor(cores / 5));
  return { mode: 'split', serverCpus: `0-${cores - client - 1}`, clientCpus: `${cores - client}-${cores - 1}`, generators };
}

/** The suite's options from argv (and SLUICE_BENCH_* variables); 'help' for --help. */
export function parseBenchArgs(argv: string[], cores = availableParallelism(), env: NodeJS.ProcessEnv = process.env): BenchOptions | 'help' {
  const parsed = parseFlags(BENCH_COMMAND, argv, env);
  if (parsed.help) return 'help';
  const v = parsed.values;
  const quick = v.quick;
  const workloads = v.workloads.filter((w): w is WorkloadName => {
    if (!isWorkloadName(w)) throw usageError('workloads', `unknown workload ${w} (${WORKLOAD_NAMES.join(', ')})`);
    return true;
  });
  const targets = (v.targets ?? [...DEFAULT_TARGETS]).filter((t): t is TargetName => {
    if (!(TARGET_NAMES as readonly string[]).includes(t)) throw usageError('targets', `unknown target ${t} (${TARGET_NAMES.join(', ')})`);
    return true;
  });
  const connections = (v.connections ?? (quick ? ['1', '64'] : ['1', '16', '64', '256'])).map((c) => {
    if (!/^[0-9]+$/.test(c) || Number(c) < 1) throw usageError('connections', `--connections must be positive integers, got ${c}`);
    return Number(c);
  });
  if (v.rounds !== undefined && v.rounds < 0) throw usageError('rounds', `--rounds must be a whole number, got ${v.rounds}`);
  return {
    quick,
    workloads,
    targets,
    connections,
    // --quick keeps the image workload to Sluice and the naive peer (both thread settings), closed loop.
    workloadTargets: quick && v.targets === undefined ? { 'text-direction-image': ['sluice', 'naive', 'naive-1t'] } : {},
    closedOnly: quick ? ['text-direction-image'] : [],
    openFractions: quick ? [0.5, 0.95] : [0.5, 0.8, 0.95],
    warmupMs: positive('warmup-ms', v['warmup-ms']) ?? (quick ? 300 : 2000),
    durationMs: positive('duration-ms', v['duration-ms']) ?? (quick ? 1000 : 8000),
    openConnections: OPEN_CONNECTIONS,
    overloadConnections: 8192,
    overloadDeadlineMs: 1000,
    overloadGraceMs: positive('overload-grace-ms', v['overload-grace-ms'])!,
    timeoutMs: 10_000,
    ceilingMs: quick ? 300 : 1500,
    ceilingBatches: quick
      ? { 'weather-json': [1, 64, 256], 'text-direction-binary': [1, 4, 16], 'text-direction-image': [1, 4, 16] }
      : { 'weather-json': [1, 8, 32, 64, 128, 256], 'text-direction-binary': [1, 2, 4, 8, 16, 32, 64], 'text-direction-image': [1, 2, 4, 8, 16, 32, 64] },
    overloadTargets: quick ? ['sluice'] : ['sluice', 'naive', 'micro-batch'],
    overloadMs: quick ? 3000 : 20_000,
    recoveryMs: quick ? 2000 : 10_000,
    timelineMs: quick ? 500 : 1000,
    placement: { ...placementFor(v.pin, cores, positive('generators', v.generators) ?? 1), serverCpuLimit: cpuLimit(v['server-cpu-limit']) },
    ratioRounds: v.rounds ?? (quick ? 0 : 5),
    roundWarmupMs: 1000,
    roundMs: 4000,
    profile: v.profile,
    outDir: v.out,
  };
}
