// What the payload log costs a client (issue 18): two gateways up at once on the same weather
// repository, one without a payload log, one with `payload_log: { sample: 1, personal: ["features"] }`
// (every call copied, HMACed and written as a JSON line). They take turns, order alternating per
// round, at closed loop over weather-json, for calls/s and server CPU per call. The machine is
// shared (2 cores, other sessions): short rounds are noisy, read the per-round ratios.
//
//   node dist/bench/payload-log/run.js [--rounds 5] [--connections 64] [--duration-ms 3000]
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchRepository, ROOT, sluiceNodeFlags } from '../targets/commands.js';
import { startServer, type ServerProcess } from '../targets/server-process.js';
import { closedLoop, measuredRound } from '../load/measured-round.js';
import { median } from '../report/summary.js';
import { prepareWorkload } from '../workloads.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    'duration-ms': { type: 'string', default: '3000' },
    'warmup-ms': { type: 'string', default: '1000' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('node dist/bench/payload-log/run.js [--rounds N] [--connections N] [--duration-ms N] [--warmup-ms N]');
  process.exit(0);
}
const rounds = Number(args.rounds);
const connections = Number(args.connections);
const durationMs = Number(args['duration-ms']);
const warmupMs = Number(args['warmup-ms']);
const workload = 'weather-json' as const;

interface Variant {
  label: string;
  logged: boolean;
  server?: ServerProcess;
  calls: number[];
  mainUsPerCall: number[];
  otherUsPerCall: number[];
  notOk: number;
}

await prepareWorkload(workload);
const source = benchRepository(workload);
const scratch = mkdtempSync(join(tmpdir(), 'sluice-payload-log-'));
const variants: Variant[] = [
  { label: 'payload log off', logged: false, calls: [], mainUsPerCall: [], otherUsPerCall: [], notOk: 0 },
  { label: 'payload log 1.0', logged: true, calls: [], mainUsPerCall: [], otherUsPerCall: [], notOk: 0 },
];
try {
  for (const [i, v] of variants.entries()) {
    const repo = join(scratch, `repo-${i}`);
    cpSync(join(source, 'weather'), join(repo, 'weather'), { recursive: true });
    const configFile = join(repo, 'weather', 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    if (v.logged) writeFileSync(configFile, JSON.stringify({ ...config, payload_log: { sample: 1, personal: ['features'], max_bytes: 256 * 1024 * 1024 } }));
    v.server = await startServer({
      name: `gateway ${v.label}`,
      nodeFlags: sluiceNodeFlags(ROOT),
      args: [join(ROOT, 'dist', 'bench', 'payload-log', 'gateway-process.js'), '--models', repo, ...(v.logged ? ['--payload-log-dir', join(scratch, 'log')] : [])],
    });
  }
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? variants : [...variants].reverse();
    const line: string[] = [];
    for (const v of order) {
      const round = await measuredRound(v.server!, closedLoop(v.server!.url, { workload, connections, warmupMs, durationMs }));
      v.notOk += round.sent - round.ok;
      v.calls.push(round.calls);
      v.mainUsPerCall.push(round.mainUsPerCall);
      v.otherUsPerCall.push(round.otherUsPerCall);
      line.push(`${v.label}: ${round.calls.toFixed(0)}/s, main ${round.mainUsPerCall.toFixed(0)} µs/call`);
    }
    console.log(`round ${r + 1}/${rounds}: ${line.join('; ')}`);
  }
} finally {
  await Promise.all(variants.map((v) => v.server?.stop()));
  rmSync(scratch, { recursive: true, force: true });
}

const [off, on] = variants as [Variant, Variant];
const callRatios = off.calls.map((x, i) => on.calls[i]! / x);
const mainRatios = off.mainUsPerCall.map((x, i) => on.mainUsPerCall[i]! / x);
console.log(`\nweather-json, ${rounds} rounds, closed loop @${connections} connections in turns, ${durationMs} ms each, medians:`);
console.log('variant | calls/s | main thread µs/call | other threads µs/call | not ok');
for (const v of variants) {
  console.log(`${v.label} | ${median(v.calls).toFixed(0)} | ${median(v.mainUsPerCall).toFixed(1)} | ${median(v.otherUsPerCall).toFixed(1)} | ${v.notOk}`);
}
console.log(`on / off, calls/s: median ${median(callRatios).toFixed(3)} (per round: ${callRatios.map((x) => x.toFixed(2)).join(', ')})`);
console.log(`on / off, main thread µs/call: median ${median(mainRatios).toFixed(3)} (per round: ${mainRatios.map((x) => x.toFixed(2)).join(', ')})`);
