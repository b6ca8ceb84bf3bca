// Gateway throughput on `weather` with drift monitoring on vs off, in the same run. Both gateways
// (`sluice gateway` child processes on copies of the same repository that differ only in the config's
// `drift` section) are up at once and take turns at 64 closed-loop connections from the bench load
// generator (bench/load), round after round, order alternating — the interleaving of bench/rounds.ts
// for two servers. A slow minute on the shared machine then slows both alike: the figure is the
// median of the per-round costs (1 - on/off), with its spread; many short rounds rather than a few
// long ones, so the two halves of a round see the same neighbours. Besides calls/s it reports each
// gateway's CPU time per call over the measured window (main thread, and the other threads: ORT
// workers, GC, libuv; from /proc like bench/compare.ts; the generator is not counted).
//
//   node dist/bench/micro/drift/gateway-throughput.js [--rounds 24] [--seconds 1.5] [--warmup 0.5] [--connections 64] [--sample 1] [--cpus 0,1] [--json out.json]
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateLoad } from '../../load/spawn-generator.js';
import { startServer, threadCpuUs, type ServerProcess } from '../../targets/server-process.js';
import { targetCommand } from '../../targets/commands.js';
import { exampleModelsDir } from './example-models.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '24' },
    seconds: { type: 'string', default: '1.5' },
    warmup: { type: 'string', default: '0.5' },
    connections: { type: 'string', default: '64' },
    sample: { type: 'string', default: '1' },
    cpus: { type: 'string' },
    json: { type: 'string' },
  },
});
const ROUNDS = Number(args.rounds);
const CONNECTIONS = Number(args.connections);

type Mode = 'off' | 'on';
const MODES: Mode[] = ['off', 'on'];

function repository(mode: Mode): string {
  const root = mkdtempSync(join(tmpdir(), `sluice-drift-bench-${mode}-`));
  cpSync(join(exampleModelsDir(), 'weather'), join(root, 'weather'), { recursive: true });
  const path = join(root, 'weather', 'config.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as { drift?: Record<string, unknown> };
  if (mode === 'off') delete config.drift;
  else config.drift!.sample_fraction = Number(args.sample);
  writeFileSync(path, JSON.stringify(config));
  return root;
}

interface Round {
  throughput: number;
  p99: number;
  /** Gateway CPU per call over the measured window: main thread, other threads (ORT workers, GC, libuv). */
  mainUsPerCall: number;
  otherUsPerCall: number;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function load(server: ServerProcess, warmupMs: number, durationMs: number): Promise<Round> {
  const job = generateLoad({
    target: server.url, workload: 'weather-json', variants: 256, mode: 'closed', connections: CONNECTIONS,
    warmupMs, durationMs, timeoutMs: 5000,
  }, { processes: 1 });
  // CPU is read inside the measured window only (the generator process starts, then warms up).
  await pause(warmupMs + 300);
  const before = threadCpuUs(server.pid);
  const started = performance.now();
  await pause(Math.max(100, durationMs - 500));
  const after = threadCpuUs(server.pid);
  const seconds = (performance.now() - started) / 1000;
  const phase = (await job).phases[0]!;
  const calls = Math.max(1, phase.throughput * seconds);
  return {
    throughput: phase.throughput, p99: phase.latency.p99,
    mainUsPerCall: (after.main - before.main) / calls, otherUsPerCall: (after.other - before.other) / calls,
  };
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => {
  const s = sorted(xs);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const quartiles = (xs: number[]) => {
  const s = sorted(xs);
  const q = (p: number) => s[Math.min(s.length - 1, Math.round(p * (s.length - 1)))]!;
  return [q(0.25), q(0.75)] as const;
};
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

const roots: Record<Mode, string> = { off: repository('off'), on: repository('on') };
const servers = new Map<Mode, ServerProcess>();
const runs: Record<Mode, Round[]> = { off: [], on: [] };
let driftRows: number | null = null;
try {
  for (const mode of MODES) servers.set(mode, await startServer(targetCommand('sluice', 'weather-json', roots[mode], args.cpus)));
  // Warm both once (JIT, ORT sessions, the drift window's first epoch), unrecorded.
  for (const mode of MODES) await load(servers.get(mode)!, 0, 1500);
  const warmupMs = Number(args.warmup) * 1000;
  const durationMs = Number(args.seconds) * 1000;
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? MODES : [...MODES].reverse();
    const line: string[] = [];
    for (const mode of order) {
      const res = await load(servers.get(mode)!, warmupMs, durationMs);
      runs[mode].push(res);
      line.push(`drift ${mode} ${res.throughput.toFixed(0)} calls/s (main ${res.mainUsPerCall.toFixed(1)}, other ${res.otherUsPerCall.toFixed(1)} CPU us/call)`);
    }
    const cost = 1 - runs.on[r]!.throughput / runs.off[r]!.throughput;
    console.log(`round ${String(r + 1).padStart(2)}/${ROUNDS}: ${line.join(', ')}; cost ${pct(cost)}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 1200));
  const report = (await (await fetch(`${servers.get('on')!.url}/v2/models/weather/versions/1/drift`)).json()) as { current?: { rows?: number } };
  driftRows = report.current?.rows ?? null;
} finally {
  await Promise.all([...servers.values()].map((s) => s.stop()));
  for (const root of Object.values(roots)) rmSync(root, { recursive: true, force: true });
}

const costs = runs.on.map((on, r) => 1 - on.throughput / runs.off[r]!.throughput);
const cpu = (r: Round) => r.mainUsPerCall + r.otherUsPerCall;
const cpuCosts = runs.on.map((on, r) => cpu(on) / cpu(runs.off[r]!) - 1);
const med = (mode: Mode, f: (r: Round) => number) => median(runs[mode].map(f));
const summary = {
  off: median(runs.off.map((r) => r.throughput)),
  on: median(runs.on.map((r) => r.throughput)),
  cost: median(costs),
  costQuartiles: quartiles(costs),
  costRange: [Math.min(...costs), Math.max(...costs)],
  mainOff: med('off', (r) => r.mainUsPerCall),
  mainOn: med('on', (r) => r.mainUsPerCall),
  otherOff: med('off', (r) => r.otherUsPerCall),
  otherOn: med('on', (r) => r.otherUsPerCall),
  cpuCost: median(cpuCosts),
  cpuCostQuartiles: quartiles(cpuCosts),
  driftRows,
};
console.log(`weather-json, ${CONNECTIONS} connections closed loop, drift sample_fraction ${args.sample}, ${ROUNDS} interleaved rounds x ${args.seconds} s (both gateways up)`);
console.log(`median throughput: drift off ${summary.off.toFixed(0)} calls/s | drift on ${summary.on.toFixed(0)} calls/s`);
console.log(`throughput cost (median of per-round 1 - on/off): ${pct(summary.cost)}, quartiles ${summary.costQuartiles.map(pct).join(' .. ')}, range ${summary.costRange.map(pct).join(' .. ')}`);
console.log(`gateway CPU us per call, main thread: off ${summary.mainOff.toFixed(1)} | on ${summary.mainOn.toFixed(1)}; other threads: off ${summary.otherOff.toFixed(1)} | on ${summary.otherOn.toFixed(1)}`);
console.log(`CPU cost (median of per-round on/off - 1, all threads): ${pct(summary.cpuCost)}, quartiles ${summary.cpuCostQuartiles.map(pct).join(' .. ')}`);
console.log(`drift window rows on the drift-on gateway at the end: ${driftRows ?? 'unknown'}`);
if (args.json) writeFileSync(args.json, `${JSON.stringify({ bench: 'drift-gateway-throughput', args, runs, summary }, null, 2)}\n`);
