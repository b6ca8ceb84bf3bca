// A/B of two gateways in the same run: two builds (this checkout and another one, e.g. a git
// worktree of the commit before a hot-path change) or two model configs. Both gateways are up at
// once and take turns at the same load, round after round in alternating order, so a slow minute
// on a shared machine hits both; the report gives each one's median calls/s, CPU per call (from
// /proc: the main thread, and all other threads of the process: the ORT workers, V8's helpers,
// libuv's pool), and the median of the per-round ratios B / A.
//
//   git worktree add /tmp/base HEAD~1 && (cd /tmp/base && ln -s /work/main/node_modules . && npx tsc -p .)
//   node dist/bench/compare.js --a-root /tmp/base --workload text-direction-binary --rounds 7
//   node dist/bench/compare.js --b-config '{"dynamic_batching":{"staged_batches":0}}'
//   node dist/bench/compare.js --rounds 5 --floor   (also: the same calls against a server that does nothing)
//   node dist/bench/compare.js --b-tls --workload weather-json   (B serves https: the cost of TLS, docs/tls.md)
//   node dist/bench/compare.js --b-auth --workload weather-json  (B checks a bearer token on every call: docs/gateway-auth.md)
//   node dist/bench/compare.js --b-trace 0.01 --workload weather-json  (B traces 1% of calls to a discarding OTLP receiver: docs/tracing.md)
//   node dist/bench/compare.js --b-io-threads 2 --workload weather-json  (B serves HTTP from 2 I/O threads: docs/io-threads.md)
//   node dist/bench/compare.js --transport ws --workload weather-json  (the calls as WebSocket frames on /v2/ws, 64 per socket)
//   node dist/bench/compare.js --rate 1526 --rounds 6  (open loop: each turn offers 1526 calls/s; the report adds p50 and p99)
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { closedLoop, measuredRound, openLoop } from './load/measured-round.js';
import { BENCH_TOKEN, benchRepository, benchTokenFile, ROOT, sluiceNodeFlags, targetCommand } from './targets/commands.js';
import { startServer, type ServerProcess } from './targets/server-process.js';
import { median } from './report/summary.js';
import { prepareWorkload, WORKLOADS } from './workloads.js';
import { ROUND_USAGE, roundFlags, roundOptions } from './round-flags.js';
import { usageError } from './options.js';
import { makeBenchCerts, type BenchCerts } from './tls/certs.js';
import { startOtlpSink } from './targets/otlp-sink.js';

const { values: args } = parseArgs({
  options: {
    ...roundFlags({ workload: 'text-direction-binary', connections: 64, rounds: 5 }),
    'a-root': { type: 'string', default: ROOT },
    'b-root': { type: 'string', default: ROOT },
    'a-config': { type: 'string' },
    'b-config': { type: 'string' },
    'a-env': { type: 'string' },
    'b-env': { type: 'string' },
    floor: { type: 'boolean', default: false },
    'b-tls': { type: 'boolean', default: false },
    'b-auth': { type: 'boolean', default: false },
    'b-trace': { type: 'string' },
    'a-io-threads': { type: 'string', default: '1' },
    'b-io-threads': { type: 'string', default: '1' },
    transport: { type: 'string', default: 'http' },
    rate: { type: 'string' },
  },
});
if (args.help) {
  console.log(`node dist/bench/compare.js [--a-root DIR] [--b-root DIR] [--a-config JSON] [--b-config JSON] [--a-env JSON] [--b-env JSON] ${ROUND_USAGE} [--floor] [--b-tls] [--b-auth] [--b-trace RATIO] [--a-io-threads N] [--b-io-threads N] [--transport http|ws] [--rate CALLS_PER_S]`);
  process.exit(0);
}
const { workload, connections, rounds, durationMs, warmupMs } = roundOptions(args);
const transport = args.transport;
if (transport !== 'http' && transport !== 'ws') throw usageError('transport', `--transport takes http or ws, got ${transport}`);
const rate = args.rate === undefined ? undefined : Number(args.rate);
if (rate !== undefined && !(rate > 0 && rate < Infinity)) throw usageError('rate', `--rate takes calls per second above 0, got ${args.rate}`);
/** A JSON object flag (--a-config, --b-env, ...), refused with the flag named when it is not one. */
function objectFlag(flag: 'a-config' | 'b-config' | 'a-env' | 'b-env'): Record<string, unknown> | undefined {
  const raw = args[flag];
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw usageError(flag, `--${flag} takes a JSON object, got text that is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw usageError(flag, `--${flag} takes a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  return value as Record<string, unknown>;
}
/** An environment flag: a JSON object of strings. */
function envFlag(flag: 'a-env' | 'b-env'): Record<string, string> | undefined {
  const env = objectFlag(flag);
  const bad = env === undefined ? undefined : Object.keys(env).find((k) => typeof env[k] !== 'string');
  if (bad !== undefined) throw usageError(flag, `--${flag} takes a JSON object of strings; ${bad} is not one`);
  return env as Record<string, string> | undefined;
}
const jsonFlags = { aConfig: objectFlag('a-config'), bConfig: objectFlag('b-config'), aEnv: envFlag('a-env'), bEnv: envFlag('b-env') };
const traceRatio = args['b-trace'];
if (traceRatio !== undefined && !(Number(traceRatio) >= 0 && Number(traceRatio) <= 1)) throw usageError('b-trace', `--b-trace takes a sample ratio from 0 to 1, got ${traceRatio}`);

interface Variant {
  label: 'A' | 'B';
  root: string;
  config: Record<string, unknown> | undefined;
  /** Extra environment of this gateway's process (e.g. a knob read from the environment). */
  env: Record<string, string> | undefined;
  /** Serve https with a certificate made for this run; the load generator's connections are TLS sockets trusting its CA. */
  tls: BenchCerts | undefined;
  /** Every call carries the bench's bearer token and the gateway checks it (--token-file). */
  auth: boolean;
  /** Trace calls at this sample ratio, exported to a receiver that discards them (--otlp-endpoint). */
  trace?: string | undefined;
  /** --io-threads of this gateway. */
  ioThreads: string;
  server?: ServerProcess;
  repo?: string;
  calls: number[];
  mainUsPerCall: number[];
  otherUsPerCall: number[];
  /** The load generator's CPU per call (it shares the machine with the gateway). */
  clientUsPerCall: number[];
  /** The gateway's GC collections per 1,000 calls and GC pause µs per call (from its /metrics; empty when it could not be read). */
  gcPer1k: number[];
  gcPauseUs: number[];
  /** Open loop (--rate): each round's latency percentiles, ms. */
  p50: number[];
  p99: number[];
}

/** Deep-merge `patch` into `base` (objects merge, anything else replaces). */
function merge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const b = out[k];
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof b === 'object' && b !== null && !Array.isArray(b)
      ? merge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}


await prepareWorkload(workload);
const model = WORKLOADS[workload].model;
const variants: Variant[] = [
  { label: 'A', root: args['a-root']!, config: jsonFlags.aConfig, env: jsonFlags.aEnv, tls: undefined, auth: false, ioThreads: args['a-io-threads']!, calls: [], mainUsPerCall: [], otherUsPerCall: [], clientUsPerCall: [], gcPer1k: [], gcPauseUs: [], p50: [], p99: [] },
  { label: 'B', root: args['b-root']!, config: jsonFlags.bConfig, env: jsonFlags.bEnv, tls: args['b-tls'] ? makeBenchCerts() : undefined, auth: args['b-auth']!, trace: traceRatio, ioThreads: args['b-io-threads']!, calls: [], mainUsPerCall: [], otherUsPerCall: [], clientUsPerCall: [], gcPer1k: [], gcPauseUs: [], p50: [], p99: [] },
];
const sink = traceRatio === undefined ? undefined : await startOtlpSink();
const source = benchRepository(workload);
try {
  for (const v of variants) {
    v.repo = mkdtempSync(join(tmpdir(), `sluice-compare-${v.label}-`));
    cpSync(join(source, model), join(v.repo, model), { recursive: true });
    if (v.config) {
      const file = join(v.repo, model, 'config.json');
      writeFileSync(file, JSON.stringify(merge(JSON.parse(readFileSync(file, 'utf8')), v.config), null, 2));
    }
    v.server = await startServer({
      name: `gateway ${v.label}`,
      nodeFlags: sluiceNodeFlags(v.root),
      env: v.env,
      args: [join(v.root, 'dist', 'cli', 'sluice.js'), 'gateway', '--models', v.repo, '--port', '0', '--log-level', 'info', '--io-threads', v.ioThreads, ...(v.tls ? ['--tls-cert', v.tls.cert, '--tls-key', v.tls.key] : []), ...(v.auth ? ['--token-file', benchTokenFile()] : []),
        ...(v.trace !== undefined ? ['--otlp-endpoint', sink!.url, '--trace-sample-ratio', v.trace] : [])],
    });
  }
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? variants : [...variants].reverse();
    const line: string[] = [];
    for (const v of order) {
      const load = rate === undefined
        ? closedLoop(v.server!.url, { workload, connections, warmupMs, durationMs })
        : openLoop(v.server!.url, { workload, rate, warmupMs, durationMs });
      const round = await measuredRound(v.server!, { ...load, transport, ...(v.tls ? { caFile: v.tls.ca } : {}), ...(v.auth ? { headers: { authorization: `Bearer ${BENCH_TOKEN}` } } : {}) }, { gc: true });
      v.p50.push(round.latency.p50);
      v.p99.push(round.latency.p99);
      v.calls.push(round.calls);
      v.mainUsPerCall.push(round.mainUsPerCall);
      v.otherUsPerCall.push(round.otherUsPerCall);
      v.clientUsPerCall.push(round.clientUsPerCall);
      if (round.gc !== undefined) {
        v.gcPer1k.push(round.gc.per1kCalls);
        v.gcPauseUs.push(round.gc.pauseUsPerCall);
      }
      const latency = rate === undefined ? '' : `, p50 ${round.latency.p50.toFixed(2)} p99 ${round.latency.p99.toFixed(1)} ms`;
      line.push(`${v.label} ${round.calls.toFixed(0)}/s (main ${round.mainUsPerCall.toFixed(0)} µs/call${latency})${round.ok === round.sent ? '' : ` ${round.sent - round.ok} not ok`}`);
    }
    console.log(`round ${r + 1}/${rounds}: ${line.join(', ')}`);
  }
} finally {
  await Promise.all(variants.map((v) => v.server?.stop()));
  for (const v of variants) if (v.repo) rmSync(v.repo, { recursive: true, force: true });
  for (const v of variants) v.tls?.remove();
  if (sink !== undefined) {
    console.log(`OTLP exports received (and discarded): ${sink.exports()}`);
    await sink.close();
  }
}

const [a, b] = variants as [Variant, Variant];
const ratios = a.calls.map((x, i) => b.calls[i]! / x);
const loop = rate === undefined ? `closed loop @${connections}` : `open loop at ${rate} calls/s`;
console.log(`\n${workload}${transport === 'ws' ? ' over WebSocket' : ''}, ${loop}, ${rounds} rounds of ${durationMs} ms, medians:`);
console.log('variant | calls/s | main thread µs/call | other threads (ORT workers, GC, libuv) µs/call | load generator µs/call | GCs per 1k calls | GC pause µs/call | root | config');
const gcCell = (xs: number[], digits: number): string => (xs.length === 0 ? '?' : median(xs).toFixed(digits));
for (const v of variants) {
  console.log(`${v.label} | ${median(v.calls).toFixed(0)} | ${median(v.mainUsPerCall).toFixed(0)} | ${median(v.otherUsPerCall).toFixed(0)} | ${median(v.clientUsPerCall).toFixed(0)} | ${gcCell(v.gcPer1k, 3)} | ${gcCell(v.gcPauseUs, 2)} | ${v.root} | ${v.config ? JSON.stringify(v.config) : 'as shipped'}${v.env ? ` env ${JSON.stringify(v.env)}` : ''}${v.tls ? ' https' : ''}${v.auth ? ' bearer token' : ''}${v.trace !== undefined ? ` tracing at ${v.trace}` : ''}${v.ioThreads !== '1' ? ` io-threads ${v.ioThreads}` : ''}`);
}
console.log(`B / A calls/s: median ${median(ratios).toFixed(3)} (per round: ${ratios.map((x) => x.toFixed(2)).join(', ')})`);
if (rate !== undefined) {
  // At a fixed offered rate calls/s only says whether both kept up; latency is the comparison.
  for (const v of variants) console.log(`${v.label} latency ms: p50 median ${median(v.p50).toFixed(2)} (${v.p50.map((x) => x.toFixed(2)).join(', ')}), p99 median ${median(v.p99).toFixed(1)} (${v.p99.map((x) => x.toFixed(1)).join(', ')})`);
  const p50s = a.p50.map((x, i) => b.p50[i]! / x);
  const p99s = a.p99.map((x, i) => b.p99[i]! / x);
  console.log(`B / A latency: p50 median ${median(p50s).toFixed(3)} (per round: ${p50s.map((x) => x.toFixed(2)).join(', ')}), p99 median ${median(p99s).toFixed(3)} (per round: ${p99s.map((x) => x.toFixed(2)).join(', ')})`);
}

// The transport floor: what the same calls cost at B's rate when the server does nothing with them
// (uws-fixed reads each body and answers a fixed response), server and load generator. Whatever
// a gateway does beyond that (and beyond ORT) is its own overhead.
if (args.floor) {
  const rate = Math.round(median(b.calls));
  const fixed = await startServer(targetCommand('uws-fixed', workload, '', undefined));
  try {
    const job = { target: fixed.url, workload, variants: 16, mode: 'open' as const, connections: 256, warmupMs, durationMs, phases: [{ rate, durationMs }], timeoutMs: 10_000 };
    const round = await measuredRound(fixed, job);
    const server = round.mainUsPerCall + round.otherUsPerCall;
    console.log(`transport floor at ${rate} calls/s (uws-fixed: reads each body, answers a fixed response; ${round.ok}/${round.sent} ok): server ${server.toFixed(0)} µs/call, load generator ${round.clientUsPerCall.toFixed(0)} µs/call`);
  } finally {
    await fixed.stop();
  }
}
