// Two builds of the gateway through the same overload, run after run in alternating order: a fresh
// gateway per run (how an overload starts depends on the state it meets), on CPU 0 under an
// optional CPU quota, one load generator on CPU 1, open loop at `rate` for `hot-ms`, then a quarter
// of it for `cool-ms`. Every call carries a 1 s deadline. Per run: calls answered, refused and timed
// out (no answer by deadline + grace), the connections the kernel accepted (clients that gave up on
// a call reconnect: the spiral docs/budgets.md describes), and when the cool phase was clean.
//
//   node dist/bench/overload-ab.js [--a-root DIR] [--b-root DIR] [--a-flags '...'] [--b-flags '...'] [--a-server sluice|uws-fixed]
//     [--b-server sluice|uws-fixed] [--workload weather-json] [--rate 11200] [--quota 0.25] [--runs 4] [--hot-ms 20000] [--cool-ms 4000]
//     [--grace-ms 100]
//
// `--b-server uws-fixed` puts the HTTP floor through the same overload: uWebSockets.js answering a
// fixed response (bench/targets/fixed-server.ts), which no gateway can beat at its front.
//
// Overloads are bimodal (a run spirals or it does not), so it takes several runs per build to compare
// them; the summary counts the runs that never recovered.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateLoad } from './load/spawn-generator.js';
import { usageError } from './options.js';
import { recoverySeconds } from './report/summary.js';
import { checkCpuQuota } from './targets/cpu-quota.js';
import { benchRepository, ROOT, sluiceNodeFlags } from './targets/commands.js';
import { startServer } from './targets/server-process.js';
import { isWorkloadName, prepareWorkload, type WorkloadName } from './workloads.js';

const { values: args } = parseArgs({
  options: {
    'a-root': { type: 'string', default: ROOT },
    'b-root': { type: 'string', default: ROOT },
    'a-flags': { type: 'string', default: '' },
    'b-flags': { type: 'string', default: '' },
    'a-server': { type: 'string', default: 'sluice' },
    'b-server': { type: 'string', default: 'sluice' },
    workload: { type: 'string', default: 'weather-json' },
    rate: { type: 'string', default: '11200' },
    quota: { type: 'string' },
    runs: { type: 'string', default: '4' },
    'hot-ms': { type: 'string', default: '20000' },
    'cool-ms': { type: 'string', default: '4000' },
    'grace-ms': { type: 'string', default: '100' },
  },
});
const workloadArg = args.workload!;
if (!isWorkloadName(workloadArg)) throw usageError('workload', `unknown workload ${workloadArg}`);
const workload: WorkloadName = workloadArg;
const rate = Number(args.rate);
const runs = Number(args.runs);
const hotMs = Number(args['hot-ms']);
const coolMs = Number(args['cool-ms']);
const graceMs = Number(args['grace-ms']);
const quota = args.quota === undefined ? undefined : Number(args.quota);
for (const [flag, n] of [['rate', rate], ['runs', runs], ['hot-ms', hotMs], ['cool-ms', coolMs]] as const) {
  if (!(Number.isFinite(n) && n > 0)) throw usageError(flag, `--${flag} must be a positive number`);
}
if (!Number.isInteger(runs)) throw usageError('runs', '--runs must be a whole number');
if (quota !== undefined && !(quota > 0)) throw usageError('quota', `--quota must be a number of cores above 0, got ${args.quota}`);
if (quota !== undefined) checkCpuQuota(quota);
const SERVERS = ['sluice', 'uws-fixed'] as const;
type ServerKind = (typeof SERVERS)[number];
const serverKind = (flag: 'a-server' | 'b-server'): ServerKind => {
  const v = args[flag]!;
  if (!(SERVERS as readonly string[]).includes(v)) throw usageError(flag, `--${flag} must be one of ${SERVERS.join(', ')}, got ${v}`);
  return v as ServerKind;
};
await prepareWorkload(workload);
const repo = benchRepository(workload);
const DEADLINE_MS = 1000;

/** Connections the kernel has accepted since boot (/proc/net/snmp, Tcp: PassiveOpens). */
function passiveOpens(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = lines[0]!.split(/\s+/);
  return Number(lines[1]!.split(/\s+/)[names.indexOf('PassiveOpens')]);
}

interface Run {
  ok: number;
  refused: number;
  timedOut: number;
  unsent: number;
  accepted: number;
  coolOk: number;
  coolSent: number;
  recovered: number | null;
}

async function oneRun(kind: ServerKind, root: string, flags: string[]): Promise<Run> {
  const server = await startServer({
    name: `${kind} ${root}`,
    nodeFlags: kind === 'sluice' ? sluiceNodeFlags(root) : [],
    cpus: '0',
    cpuLimit: quota,
    args: kind === 'sluice'
      ? [join(root, 'dist', 'cli', 'sluice.js'), 'gateway', '--models', repo, '--port', '0', '--log-level', 'info', ...flags]
      : [join(root, 'dist', 'bench', 'targets', 'fixed-server.js'), ...flags],
  });
  try {
    // Warm: the JIT and the batcher's cost curve, as a gateway that served before its overload.
    await generateLoad({ target: server.url, workload, variants: 64, mode: 'closed', connections: 64, warmupMs: 500, durationMs: 1500, timeoutMs: 2000 }, { cpus: '1', processes: 1 });
    const opens = passiveOpens();
    const res = await generateLoad({
      target: server.url, workload, variants: 64, mode: 'open', connections: 8192, warmupMs: 0, durationMs: hotMs + coolMs,
      deadlineUs: DEADLINE_MS * 1000, timeoutMs: DEADLINE_MS + graceMs, timelineMs: 500,
      phases: [{ rate, durationMs: hotMs }, { rate: rate / 4, durationMs: coolMs }],
    }, { cpus: '1', processes: 1 });
    const [hot, cool] = res.phases as [typeof res.phases[0], typeof res.phases[0]];
    return {
      ok: hot.ok, refused: hot.refused, timedOut: hot.timedOut, unsent: hot.unsent, accepted: passiveOpens() - opens,
      coolOk: cool.ok, coolSent: cool.sent, recovered: recoverySeconds(res.timeline ?? [], hotMs, DEADLINE_MS),
    };
  } finally {
    await server.stop();
  }
}

const flagsOf = (text: string): string[] => text.split(' ').filter((f) => f !== '');
const builds = [
  { label: 'A', kind: serverKind('a-server'), root: args['a-root']!, flags: flagsOf(args['a-flags']!), runs: [] as Run[] },
  { label: 'B', kind: serverKind('b-server'), root: args['b-root']!, flags: flagsOf(args['b-flags']!), runs: [] as Run[] },
];
console.log(`${workload} at ${rate} calls/s for ${hotMs} ms, then ${rate / 4}/s for ${coolMs} ms; gateway on CPU 0${quota === undefined ? '' : ` under a ${quota}-core quota`}, generator on CPU 1`);
for (let r = 0; r < runs; r++) {
  for (const b of r % 2 === 0 ? builds : [...builds].reverse()) {
    const x = await oneRun(b.kind, b.root, b.flags);
    b.runs.push(x);
    console.log(`run ${r + 1}/${runs} ${b.label}: ok ${x.ok} refused ${x.refused} timed out ${x.timedOut} not sent ${x.unsent}; connections accepted ${x.accepted}; ` +
      `after: ${x.coolOk}/${x.coolSent} ok, ${x.recovered === null ? 'never clean' : `clean after ${x.recovered} s`}`);
  }
}
for (const b of builds) {
  const never = b.runs.filter((x) => x.recovered === null).length;
  console.log(`${b.label} (${b.kind === 'sluice' ? '' : `${b.kind} `}${b.root}${b.flags.length > 0 ? ` ${b.flags.join(' ')}` : ''}): timed out per run ${b.runs.map((x) => x.timedOut).join(' · ')}; runs never clean after the load dropped: ${never} of ${b.runs.length}`);
}
