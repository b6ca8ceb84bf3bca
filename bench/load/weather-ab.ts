// Two gateways up at once on copies of the weather repository, differing in one feature (its
// config, its flags); they take turns, order alternating per round, at closed loop over
// weather-json, for calls/s and server CPU per call, and the per-round ratios B / A are printed.
// The machine is shared (2 cores, other sessions): short rounds are noisy, read the per-round
// ratios, not one figure. Used by bench/feedback and bench/payload-log.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchRepository, ROOT, sluiceNodeFlags } from '../targets/commands.js';
import { startServer, type ServerProcess } from '../targets/server-process.js';
import { closedLoop, measuredRound } from './measured-round.js';
import { median } from '../report/summary.js';
import { prepareWorkload } from '../workloads.js';

export interface AbVariant {
  label: string;
  /** The weather config.json this variant serves (default: as shipped). */
  config?: (shipped: Record<string, unknown>) => Record<string, unknown>;
  /** Extra arguments to the gateway process; `scratch` is a folder removed at the end. */
  args?: (scratch: string) => string[];
}

export interface AbBench {
  /** The benchmark's folder under dist/bench (the command's name). */
  name: string;
  variants: [AbVariant, AbVariant];
}

interface Measured extends AbVariant {
  server?: ServerProcess;
  calls: number[];
  mainUsPerCall: number[];
  otherUsPerCall: number[];
  notOk: number;
}

export async function runWeatherAb(bench: AbBench): Promise<void> {
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
    console.log(`node dist/bench/${bench.name}/run.js [--rounds N] [--connections N] [--duration-ms N] [--warmup-ms N]`);
    return;
  }
  const rounds = Number(args.rounds);
  const connections = Number(args.connections);
  const durationMs = Number(args['duration-ms']);
  const warmupMs = Number(args['warmup-ms']);
  const workload = 'weather-json' as const;

  await prepareWorkload(workload);
  const source = benchRepository(workload);
  const scratch = mkdtempSync(join(tmpdir(), `sluice-${bench.name}-`));
  const variants: Measured[] = bench.variants.map((v) => ({ ...v, calls: [], mainUsPerCall: [], otherUsPerCall: [], notOk: 0 }));
  try {
    for (const [i, v] of variants.entries()) {
      const repo = join(scratch, `repo-${i}`);
      cpSync(join(source, 'weather'), join(repo, 'weather'), { recursive: true });
      if (v.config) {
        const configFile = join(repo, 'weather', 'config.json');
        writeFileSync(configFile, JSON.stringify(v.config(JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>)));
      }
      v.server = await startServer({
        name: `gateway ${v.label}`,
        nodeFlags: sluiceNodeFlags(ROOT),
        args: [join(ROOT, 'dist', 'bench', 'load', 'ab-gateway.js'), '--models', repo, ...(v.args?.(scratch) ?? [])],
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

  const [a, b] = variants as [Measured, Measured];
  const callRatios = a.calls.map((x, i) => b.calls[i]! / x);
  const mainRatios = a.mainUsPerCall.map((x, i) => b.mainUsPerCall[i]! / x);
  console.log(`\nweather-json, ${rounds} rounds, closed loop @${connections} connections in turns, ${durationMs} ms each, medians:`);
  console.log('variant | calls/s | main thread µs/call | other threads µs/call | not ok');
  for (const v of variants) {
    console.log(`${v.label} | ${median(v.calls).toFixed(0)} | ${median(v.mainUsPerCall).toFixed(1)} | ${median(v.otherUsPerCall).toFixed(1)} | ${v.notOk}`);
  }
  const ratio = `${b.label} / ${a.label}`;
  console.log(`${ratio}, calls/s: median ${median(callRatios).toFixed(3)} (per round: ${callRatios.map((x) => x.toFixed(2)).join(', ')})`);
  console.log(`${ratio}, main thread µs/call: median ${median(mainRatios).toFixed(3)} (per round: ${mainRatios.map((x) => x.toFixed(2)).join(', ')})`);
}
