// Shadow traffic's cost to clients (issue 14: "client p99 with shadow on within 10% of off"). Two
// gateways up at once on the same weather repository with the same two versions loaded: A with no
// rollout, B with a SHADOW rollout copying `--share` (default all) of version 1's calls to version
// 2. Each round, both take the same open-loop arrival rate (a fraction of A's closed-loop maximum,
// measured first) at the same time, one load generator each, for client latency (a stall of the
// shared host lands in both tails); then they take turns, order alternating, at closed loop with
// 64 connections for calls/s. Both share the machine with the load generator: on 2 cores, every copy
// costs CPU that the client's calls would otherwise get, so the closed-loop ratio shows what a
// copy costs, and the open-loop p99 what a client feels below saturation.
//
//   node dist/bench/shadow/run.js [--rounds 5] [--share 1] [--load 0.5] [--duration-ms 4000]
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateLoad } from '../load/spawn-generator.js';
import { benchRepository, ROOT, sluiceNodeFlags } from '../targets/commands.js';
import { startServer, type ServerProcess } from '../targets/server-process.js';
import { closedLoop as closedLoopJob, measuredRound } from '../load/measured-round.js';
import { median } from '../report/summary.js';
import { prepareWorkload } from '../workloads.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    share: { type: 'string', default: '1' },
    load: { type: 'string', default: '0.5' },
    connections: { type: 'string', default: '64' },
    'duration-ms': { type: 'string', default: '4000' },
    'warmup-ms': { type: 'string', default: '1000' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('node dist/bench/shadow/run.js [--rounds N] [--share 0..1] [--load FRACTION] [--connections N] [--duration-ms N] [--warmup-ms N]');
  process.exit(0);
}
const rounds = Number(args.rounds);
const share = Number(args.share);
const load = Number(args.load);
const connections = Number(args.connections);
const durationMs = Number(args['duration-ms']);
const warmupMs = Number(args['warmup-ms']);
const workload = 'weather-json' as const;

interface Variant {
  label: string;
  share: number;
  server?: ServerProcess;
  calls: number[];
  mainUsPerCall: number[];
  otherUsPerCall: number[];
  p50: number[];
  p99: number[];
  notOk: number;
}

async function closedLoop(v: Variant): Promise<number> {
  const round = await measuredRound(v.server!, closedLoopJob(v.server!.url, { workload, connections, warmupMs, durationMs }));
  v.notOk += round.sent - round.ok;
  v.mainUsPerCall.push(round.mainUsPerCall);
  v.otherUsPerCall.push(round.otherUsPerCall);
  return round.calls;
}

async function openLoop(v: Variant, rate: number): Promise<{ p50: number; p99: number }> {
  const job = { target: v.server!.url, workload, variants: 16, mode: 'open' as const, connections: 256, warmupMs, durationMs, phases: [{ rate, durationMs }], timeoutMs: 10_000 };
  const res = await generateLoad(job, { processes: 1 });
  const phase = res.phases[0]!;
  v.notOk += phase.sent - phase.ok;
  return { p50: phase.latency.p50, p99: phase.latency.p99 };
}

async function traffic(v: Variant): Promise<Record<string, { calls: number; copies: number; copyErrors: number; compared: number; agreed: number }>> {
  return (await (await fetch(`${v.server!.url}/bench/traffic`)).json()) as never;
}

async function dropped(v: Variant): Promise<number> {
  const text = await (await fetch(`${v.server!.url}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith('sluice_mirror_dropped_total{')).reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
}

await prepareWorkload(workload);
const source = benchRepository(workload);
const scratch = mkdtempSync(join(tmpdir(), 'sluice-shadow-'));
const variants: Variant[] = [
  { label: 'off', share: 0, calls: [], mainUsPerCall: [], otherUsPerCall: [], p50: [], p99: [], notOk: 0 },
  { label: `shadow ${share}`, share, calls: [], mainUsPerCall: [], otherUsPerCall: [], p50: [], p99: [], notOk: 0 },
];
let rate = 0;
const copyTotals = { calls: 0, copies: 0, copyErrors: 0, compared: 0, agreed: 0, dropped: 0 };
try {
  for (const [i, v] of variants.entries()) {
    const repo = join(scratch, `repo-${i}`);
    cpSync(join(source, 'weather'), join(repo, 'weather'), { recursive: true });
    const candidate = join(scratch, `candidate-${i}`);
    mkdirSync(candidate);
    cpSync(join(repo, 'weather', '1'), candidate, { recursive: true });
    v.server = await startServer({
      name: `gateway ${v.label}`,
      nodeFlags: sluiceNodeFlags(ROOT),
      args: [join(ROOT, 'dist', 'bench', 'shadow', 'gateway-process.js'), '--models', repo, '--candidate', candidate, '--share', String(v.share)],
    });
  }
  // The open-loop rate: a share of what the gateway without shadow answers at most.
  rate = Math.round(load * (await closedLoop(variants[0]!)));
  variants[0]!.mainUsPerCall.length = 0;
  variants[0]!.otherUsPerCall.length = 0;
  await traffic(variants[1]!);
  console.log(`open-loop rate: ${rate} calls/s (${load} x the closed-loop maximum without shadow)`);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? variants : [...variants].reverse();
    const line: string[] = [];
    // Latency: both gateways at the same rate at the same time, so a stall of the shared host
    // lands in both tails alike.
    const lats = await Promise.all(variants.map((v) => openLoop(v, rate)));
    variants.forEach((v, i) => {
      v.p50.push(lats[i]!.p50);
      v.p99.push(lats[i]!.p99);
    });
    for (const v of order) {
      v.calls.push(await closedLoop(v));
      line.push(`${v.label}: p99 ${v.p99.at(-1)!.toFixed(2)} ms @${rate}/s, ${v.calls.at(-1)!.toFixed(0)}/s closed`);
    }
    console.log(`round ${r + 1}/${rounds}: ${line.join('; ')}`);
  }
  const t = await traffic(variants[1]!);
  for (const w of Object.values(t)) {
    copyTotals.calls += w.calls;
    copyTotals.copies += w.copies;
    copyTotals.copyErrors += w.copyErrors;
    copyTotals.compared += w.compared;
    copyTotals.agreed += w.agreed;
  }
  copyTotals.dropped = await dropped(variants[1]!);
} finally {
  await Promise.all(variants.map((v) => v.server?.stop()));
  rmSync(scratch, { recursive: true, force: true });
}

const [off, on] = variants as [Variant, Variant];
const p99Ratios = off.p99.map((x, i) => on.p99[i]! / x);
const callRatios = off.calls.map((x, i) => on.calls[i]! / x);
console.log(`\nweather-json, ${rounds} rounds (open loop at ${rate}/s to each gateway at once for latency, closed loop @${connections} in turns for calls/s), ${durationMs} ms each, medians:`);
console.log('variant | p50 ms | p99 ms | calls/s (closed) | main thread µs/call | other threads µs/call | not ok');
for (const v of variants) {
  console.log(`${v.label} | ${median(v.p50).toFixed(3)} | ${median(v.p99).toFixed(3)} | ${median(v.calls).toFixed(0)} | ${median(v.mainUsPerCall).toFixed(0)} | ${median(v.otherUsPerCall).toFixed(0)} | ${v.notOk}`);
}
console.log(`shadow / off, client p99 at ${rate}/s: median ${median(p99Ratios).toFixed(3)} (per round: ${p99Ratios.map((x) => x.toFixed(2)).join(', ')})`);
console.log(`shadow / off, closed-loop calls/s: median ${median(callRatios).toFixed(3)} (per round: ${callRatios.map((x) => x.toFixed(2)).join(', ')})`);
console.log(`copies on the shadow gateway: ${copyTotals.copies} run for ${copyTotals.calls} client calls, ${copyTotals.dropped} dropped (candidate busy), ${copyTotals.copyErrors} failed, ${copyTotals.agreed}/${copyTotals.compared} agreed`);
