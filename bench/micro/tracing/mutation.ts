// Micro-benchmark: what control-plane tracing costs one GraphQL mutation (`createModel`, audited,
// on SQLite), over HTTP on loopback: A with tracing off, B with tracing at 100% exporting to a local
// receiver that discards, both control planes in this process and measured in alternating rounds.
// Figures: median wall time per mutation and process CPU per mutation (client and server both run
// here, so the CPU figure counts the client too; its difference is the tracing). Then the cost
// tracing puts on every promise of the process once its AsyncLocalStorage is in use (Node 20 hooks
// promise creation), which under `sluice serve` the gateway pays too.
//
//   node dist/bench/micro/tracing/mutation.js [--ms 300] [--rounds 5]
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { microOptions } from '../cpu-timer.js';
import { median } from '../../report/summary.js';
import { startOtlpSink } from '../../targets/otlp-sink.js';
import { startControlPlane, type ControlPlaneServer } from '../../../control-plane/index.js';
import { createLogger } from '../../../lib/log.js';

const { rounds: ROUNDS } = microOptions();
const CALLS = 200;
const TOKEN = 'bench-admin-token-0123456789';
const sink = await startOtlpSink();

/** ns of promise work per `await` of a fresh promise, the loop run `n` times. */
async function nsPerAwait(n: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => resolve());
  const d = process.cpuUsage(start);
  return ((d.user + d.system) * 1000) / n;
}
// Before any AsyncLocalStorage is used in this process.
await nsPerAwait(200_000);
const awaitOff = median([await nsPerAwait(500_000), await nsPerAwait(500_000), await nsPerAwait(500_000)]);

async function start(tracing: boolean): Promise<{ cp: ControlPlaneServer; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-cp-'));
  const cp = await startControlPlane({
    host: '127.0.0.1', port: 0, dataDir: dir, adminToken: TOKEN, logger: createLogger('bench', 'silent'),
    ...(tracing ? { tracing: { endpoint: sink.url, sampleRatio: 1 } } : {}),
  });
  return { cp, dir };
}

let serial = 0;
/** Median ms and mean CPU µs per mutation over CALLS sequential mutations. */
async function measure(cp: ControlPlaneServer): Promise<{ ms: number; cpuUs: number }> {
  const times: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) {
    const at = performance.now();
    const res = await fetch(`${cp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ query: 'mutation($n: String!) { createModel(input: { name: $n }) { id } }', variables: { n: `m${serial++}` } }),
    });
    const body = (await res.json()) as { errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    times.push(performance.now() - at);
  }
  const d = process.cpuUsage(cpu);
  return { ms: median(times), cpuUs: (d.user + d.system) / CALLS };
}

const a = await start(false);
const b = await start(true);
const results = { A: { ms: [] as number[], cpu: [] as number[] }, B: { ms: [] as number[], cpu: [] as number[] } };
await measure(a.cp);
await measure(b.cp);
for (let r = 0; r < ROUNDS; r++) {
  for (const [key, side] of [['A', a], ['B', b]] as const) {
    const m = await measure(side.cp);
    results[key].ms.push(m.ms);
    results[key].cpu.push(m.cpuUs);
  }
}
const line = (label: string, x: { ms: number[]; cpu: number[] }) =>
  `${label}: ${median(x.ms).toFixed(3)} ms per mutation (median of round medians; ${x.ms.map((v) => v.toFixed(2)).join(', ')}), ${median(x.cpu).toFixed(0)} µs CPU per mutation`;
console.log(line('A tracing off ', results.A));
console.log(line('B tracing 100%', results.B));
console.log(`B/A: wall ${(median(results.B.ms) / median(results.A.ms)).toFixed(3)}, CPU ${(median(results.B.cpu) / median(results.A.cpu)).toFixed(3)}; OTLP exports received: ${sink.exports()}`);

// Once tracing has run a span, the process's promises are hooked: measure what that adds.
const als = new AsyncLocalStorage<number>();
await als.run(1, () => nsPerAwait(200_000));
const awaitOn = median([await nsPerAwait(500_000), await nsPerAwait(500_000), await nsPerAwait(500_000)]);
console.log(`await of a new promise: ${awaitOff.toFixed(0)} ns before any AsyncLocalStorage, ${awaitOn.toFixed(0)} ns after (+${(awaitOn - awaitOff).toFixed(0)} ns)`);

for (const side of [a, b]) {
  await side.cp.close();
  rmSync(side.dir, { recursive: true, force: true });
}
await sink.close();
