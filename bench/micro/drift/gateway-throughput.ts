// Gateway throughput on `weather` with drift monitoring on vs off, in the same run: rounds
// alternate the two (a fresh gateway each time, same repository copy but for the config's `drift`
// section), driven closed-loop by the bench load generator (bench/load) in a child process.
// Besides calls/s it reports the gateway's CPU time per call (main thread and inference workers
// are threads of this process; the generator is not): on a shared machine throughput swings with
// the neighbours' load, CPU per call much less.
//
//   node dist/bench/micro/drift/gateway-throughput.js [--rounds 3] [--seconds 5] [--connections 32] [--sample 1] [--json out.json]
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../../../lib/log.js';
import { startGateway } from '../../../gateway/index.js';
import { generateLoad } from '../../load/spawn-generator.js';
import { exampleModelsDir } from './example-models.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    sample: { type: 'string', default: '1' },
    threads: { type: 'string' },
    json: { type: 'string' },
  },
});

type Mode = 'on' | 'off';

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

async function served(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^sluice_inference_requests_total\{[^}]*outcome="success"[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

interface Round {
  throughput: number;
  p99: number;
  cpuUsPerCall: number;
  rows: number | null;
}

async function round(mode: Mode, root: string): Promise<Round> {
  const gw = await startGateway({
    host: '127.0.0.1', port: 0, modelRepository: root, maxBodyBytes: 1 << 20, drainTimeoutMs: 2000,
    logger: createLogger('bench', 'warn'), workerThreads: args.threads === undefined ? undefined : Number(args.threads),
  });
  try {
    const calls0 = await served(gw.url);
    const cpu = process.cpuUsage();
    const result = await generateLoad({
      target: gw.url, workload: 'weather-json', variants: 256, mode: 'closed', connections: Number(args.connections),
      warmupMs: 2000, durationMs: Number(args.seconds) * 1000, timeoutMs: 5000,
    }, { processes: 1 });
    const used = process.cpuUsage(cpu);
    const cpuUsPerCall = (used.user + used.system) / Math.max(1, (await served(gw.url)) - calls0);
    const phase = result.phases[0]!;
    let rows: number | null = null;
    if (mode === 'on') {
      await new Promise((r) => setTimeout(r, 1200));
      const report = (await (await fetch(`${gw.url}/v2/models/weather/versions/1/drift`)).json()) as { current: { rows: number } };
      rows = report.current.rows;
    }
    return { throughput: phase.throughput, p99: phase.latency.p99, cpuUsPerCall, rows };
  } finally {
    await gw.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const roots: Record<Mode, string> = { on: repository('on'), off: repository('off') };
const runs: Record<Mode, Round[]> = { on: [], off: [] };
try {
  for (let r = 0; r < Number(args.rounds); r++) {
    for (const mode of (r % 2 === 0 ? ['off', 'on'] : ['on', 'off']) as Mode[]) {
      const res = await round(mode, roots[mode]);
      runs[mode].push(res);
      console.log(`round ${r + 1} drift ${mode}: ${res.throughput.toFixed(0)} calls/s, ${res.cpuUsPerCall.toFixed(1)} CPU us/call, p99 ${res.p99.toFixed(2)} ms${res.rows === null ? '' : `, drift window rows ${res.rows}`}`);
    }
  }
} finally {
  for (const root of Object.values(roots)) rmSync(root, { recursive: true, force: true });
}
const on = median(runs.on.map((r) => r.throughput));
const off = median(runs.off.map((r) => r.throughput));
const cpuOn = median(runs.on.map((r) => r.cpuUsPerCall));
const cpuOff = median(runs.off.map((r) => r.cpuUsPerCall));
console.log(`weather-json, ${args.connections} connections closed loop, drift sample_fraction ${args.sample}, median of ${args.rounds} x ${args.seconds} s`);
console.log(`drift off: ${off.toFixed(0)} calls/s | drift on: ${on.toFixed(0)} calls/s | throughput cost ${(((off - on) / off) * 100).toFixed(1)}%`);
console.log(`gateway CPU per call: off ${cpuOff.toFixed(1)} us | on ${cpuOn.toFixed(1)} us | CPU cost ${(((cpuOn - cpuOff) / cpuOff) * 100).toFixed(1)}%`);
if (args.json) writeFileSync(args.json, `${JSON.stringify({ bench: 'drift-gateway-throughput', args, runs, median: { on, off, cpuOn, cpuOff } }, null, 2)}\n`);
