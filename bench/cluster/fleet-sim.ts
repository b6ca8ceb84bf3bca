// What one control-plane replica sustains for a fleet (issue 19, docs/scaling.md): N simulated
// gateways (fleet-gateway.ts, the real sync client) against a real `sluice control-plane` process,
// on SQLite and on a real PostgreSQL started here. Per store:
//  1. setup: the weather model with two versions, `production` on 1, one gateway token per gateway;
//     every gateway registers and holds its desiredStateChanged subscription;
//  2. steady: every gateway heartbeats and reports a traffic window at the intervals the desired
//     state gives (10 s by default) and polls the desired state every 5 s as gateways do, for
//     --steady-seconds; the replica's CPU and RSS (and PostgreSQL's) are sampled;
//  3. moves: --moves alias moves (1 → 2 → 1 ...), each timed from the mutation's answer until every
//     gateway has been pushed a state routing to the new version (per move: the last gateway;
//     over all deliveries: p50/p99). Each push makes its gateway heartbeat the change, as real ones do;
//  4. ramp: the loops stop; heartbeats, then windows, are sent open loop at rising rates (latency from
//     each call's intended start) for --step-seconds each, until p99 passes --p99-limit-ms, a call
//     fails or fewer than 95% of the calls are answered in the step: the last step that held is what
//     the replica sustains.
// Prints a table (or --json) and writes bench/results/fleet-sim-<time>.{json,md}.
//   node dist/bench/cluster/fleet-sim.js [--gateways 1000] [--stores sqlite,postgres]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureExampleRepository } from '../../examples/repository.js';
import type { FlagValues } from '../../lib/flags.js';
import { clusterBenchArgs, machine as benchMachine, type Machine } from './bench-args.js';
import { CallStats, SimulatedGateway, type CallKind } from './fleet-gateway.js';
import { processUsage, startFleetControlPlane, UsageMeter, type FleetControlPlane } from './fleet-control-plane.js';
import { startPostgres, type PostgresServer } from './postgres.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const BENCH = {
  script: 'fleet-sim',
  summary: 'N simulated gateways against one control-plane replica: heartbeats/s, windows/s, push latency, CPU, RSS',
  envPrefix: 'FLEET_SIM_',
  flags: {
    gateways: { type: 'int', default: 1000, description: 'simulated gateways' },
    stores: { type: 'list', default: ['sqlite', 'postgres'], description: 'control-plane stores to measure (sqlite, postgres)' },
    'steady-seconds': { type: 'int', default: 30, description: 'steady phase at the configured intervals' },
    moves: { type: 'int', default: 20, description: 'alias moves timed to every gateway' },
    ramp: { type: 'list', default: ['100', '200', '400', '800', '1600', '3200'], description: 'calls/s of the ramp steps ("none": no ramp)' },
    'step-seconds': { type: 'int', default: 5, description: 'length of a ramp step' },
    'poll-ms': { type: 'int', default: 5000, description: "each gateway's fallback poll of the desired state (the gateway's default; 0: none)" },
    'p99-limit-ms': { type: 'int', default: 250, description: 'a ramp step whose p99 passes this has not held' },
    cli: { type: 'string', placeholder: 'path', description: "the sluice CLI the control plane runs from (default: this checkout's dist/cli/sluice.js; another build for an A/B of a control-plane change)" },
    json: { type: 'boolean', default: false, description: 'print the result as JSON instead of the table' },
    out: { type: 'string', default: 'bench/results', placeholder: 'dir', description: 'where the JSON and Markdown results go ("none": not written)' },
  },
} as const;

type Flags = FlagValues<typeof BENCH.flags>;

export interface RampStep {
  rate: number;
  achieved: number;
  p50: number;
  p99: number;
  errors: number;
  cpCores: number;
  /** Control-plane CPU per answered call (ms): the figure that holds on a busy machine. */
  cpCpuMsPerCall: number;
  held: boolean;
}

export interface StoreResult {
  store: string;
  gateways: number;
  setup: { registered: number; subscribed: number; registerP99Ms: number; tokensSeconds: number };
  steady: { seconds: number; heartbeatsPerSec: number; windowsPerSec: number; pollsPerSec: number; pollP99Ms: number; heartbeatP50Ms: number; heartbeatP99Ms: number; windowP99Ms: number; errors: number; cp: { cores: number; rssMiB: number; peakRssMiB: number }; pg: { cores: number; rssMiB: number } | null };
  moves: { count: number; reachedAll: number; lastGatewayP50Ms: number; lastGatewayP99Ms: number; deliveryP50Ms: number; deliveryP99Ms: number; cp: { cores: number; peakRssMiB: number; cpuMsPerMove: number } };
  ramp: { heartbeat: RampStep[]; window: RampStep[]; heartbeatsPerSecHeld: number; windowsPerSecHeld: number };
  /** Gateways the control plane lists as registered with a heartbeat (checked through its own API at the end). */
  listedWithHeartbeat: number;
  /** Gateways that were pushed every move. */
  receivedEveryMove: number;
  errorCodes: Record<string, number>;
  /** Per code, the first failure's call and message. */
  errorMessages: Record<string, string>;
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return +sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!.toFixed(1);
}

/** Run `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function runStore(store: string, flags: Flags, postgres: () => Promise<PostgresServer>): Promise<StoreResult> {
  const pgServer = store === 'postgres' ? await postgres() : undefined;
  const db = pgServer ? await pgServer.createDatabase(`fleet_${Date.now()}`) : undefined;
  const cp = await startFleetControlPlane(db, flags.cli);
  const stats = new CallStats();
  const fleet: SimulatedGateway[] = [];
  try {
    return await measure(store, flags, cp, pgServer, stats, fleet);
  } finally {
    for (const g of fleet) g.close();
    await cp.stop();
  }
}

async function measure(store: string, flags: Flags, cp: FleetControlPlane, pgServer: PostgresServer | undefined, stats: CallStats, fleet: SimulatedGateway[]): Promise<StoreResult> {
  const n = flags.gateways;
  const models = join(ROOT, '.sluice', 'test-models');
  ensureExampleRepository(models);
  await cp.gql('mutation { createModel(input: { name: "weather" }) { id } }');
  const onnx = join(models, 'weather', '1', 'model.onnx');
  await cp.upload('weather', onnx);
  await cp.upload('weather', onnx);
  const move = (v: number) => cp.gql('mutation($v: Int!) { setAlias(input: { model: "weather", alias: "production", version: $v }) { name } }', { v });
  await move(1);

  // Tokens first: every token created is a change pushed to every subscriber.
  const tokensAt = performance.now();
  const tokens: string[] = new Array(n);
  await pool([...Array(n).keys()], 8, async (i) => {
    const r = await cp.gql<{ createToken: { secret: string } }>('mutation($input: CreateTokenInput!) { createToken(input: $input) { secret } }', { input: { name: `sim-${i}`, role: 'GATEWAY' } });
    tokens[i] = r.createToken.secret;
  });
  const tokensSeconds = (performance.now() - tokensAt) / 1000;
  for (let i = 0; i < n; i++) fleet.push(new SimulatedGateway(cp.url, tokens[i]!, `sim-${String(i).padStart(5, '0')}`, stats));
  let wake = () => {};
  for (const g of fleet) g.pushed = () => wake();
  const until = (v: number, timeoutMs: number) => new Promise<boolean>((resolve) => {
    const check = () => fleet.every((g) => g.version === v);
    if (check()) return resolve(true);
    const timer = setTimeout(() => resolve(false), timeoutMs);
    wake = () => {
      if (check()) {
        clearTimeout(timer);
        resolve(true);
      }
    };
  });
  await pool(fleet, 32, (g) => g.register().catch(() => undefined));
  for (const g of fleet) g.subscribe();
  await until(1, 120_000);
  const progress = (phase: string, figures: unknown) => process.stderr.write(`fleet-sim ${store} ${phase}: ${JSON.stringify(figures)}\n`);
  const setup = { registered: fleet.filter((g) => g.registered).length, subscribed: fleet.filter((g) => g.version === 1).length, registerP99Ms: quantile(stats.ms.register, 0.99), tokensSeconds: +tokensSeconds.toFixed(1) };

  const cpMeter = new UsageMeter(() => processUsage(cp.pid));
  const pgMeter = pgServer ? new UsageMeter(() => processUsage(pgServer.postmasterPid(), true)) : undefined;
  const errorCodes: Record<string, number> = {};
  const errorMessages: Record<string, string> = {};
  const keepCodes = () => {
    for (const [c, k] of stats.codes) errorCodes[c] = (errorCodes[c] ?? 0) + k;
    for (const [c, m] of stats.messages) errorMessages[c] ??= m;
  };

  // 2. steady
  stats.reset();
  cpMeter.restart();
  pgMeter?.restart();
  for (const g of fleet) g.startLoops(flags['poll-ms']);
  const steadyAt = performance.now();
  for (let s = 0; s < flags['steady-seconds']; s++) {
    await sleep(1000);
    cpMeter.tick();
    pgMeter?.tick();
  }
  const steadySeconds = (performance.now() - steadyAt) / 1000;
  const pgUse = pgMeter?.read();
  const steady = {
    seconds: +steadySeconds.toFixed(1),
    heartbeatsPerSec: +(stats.ms.heartbeat.length / steadySeconds).toFixed(1),
    windowsPerSec: +(stats.ms.window.length / steadySeconds).toFixed(1),
    pollsPerSec: +(stats.ms.poll.length / steadySeconds).toFixed(1),
    pollP99Ms: quantile(stats.ms.poll, 0.99),
    heartbeatP50Ms: quantile(stats.ms.heartbeat, 0.5),
    heartbeatP99Ms: quantile(stats.ms.heartbeat, 0.99),
    windowP99Ms: quantile(stats.ms.window, 0.99),
    errors: stats.errors.heartbeat + stats.errors.window + stats.errors.poll,
    cp: cpMeter.read(),
    pg: pgUse ? { cores: pgUse.cores, rssMiB: pgUse.rssMiB } : null,
  };
  progress('setup', setup);
  progress('steady', steady);
  keepCodes();

  // 3. moves (the loops keep running, as in production)
  stats.reset();
  cpMeter.restart();
  const movesAt = performance.now();
  const lastGateway: number[] = [];
  const deliveries: number[] = [];
  const reached = new Array<number>(n).fill(0);
  let reachedAll = 0;
  for (let i = 0; i < flags.moves; i++) {
    const v = i % 2 === 0 ? 2 : 1;
    const marks = fleet.map((g) => g.pushes.length);
    const all = until(v, 30_000);
    await move(v);
    const answered = performance.now();
    const ok = await all;
    cpMeter.tick();
    if (ok) reachedAll++;
    let last = -Infinity;
    fleet.forEach((g, j) => {
      const push = g.pushes.slice(marks[j]).find((p) => p.version === v);
      if (push === undefined) return;
      reached[j]!++;
      // Negative: the push reached the gateway before the mutation's answer reached the admin.
      deliveries.push(push.at - answered);
      last = Math.max(last, push.at - answered);
    });
    if (ok) lastGateway.push(last);
    progress(`move ${i + 1}`, { reachedAll: ok, lastMs: +last.toFixed(1), reached: fleet.filter((g) => g.version === v).length });
    await sleep(500);
  }
  const moveUse = cpMeter.read();
  const moves = {
    count: flags.moves,
    reachedAll,
    lastGatewayP50Ms: quantile(lastGateway, 0.5),
    lastGatewayP99Ms: quantile(lastGateway, 0.99),
    deliveryP50Ms: quantile(deliveries, 0.5),
    deliveryP99Ms: quantile(deliveries, 0.99),
    // Pushes, the gateways' audited "loaded it" heartbeats and the loops' calls meanwhile, per move.
    cp: { cores: moveUse.cores, peakRssMiB: moveUse.peakRssMiB, cpuMsPerMove: flags.moves === 0 ? 0 : +((moveUse.cores * (performance.now() - movesAt)) / flags.moves).toFixed(0) },
  };
  keepCodes();

  // 4. ramp
  for (const g of fleet) g.stopLoops();
  await sleep(1000);
  const rates = flags.ramp.includes('none') ? [] : flags.ramp.map(Number);
  const heartbeat = await ramp('heartbeat', rates, flags, fleet, stats, cpMeter);
  keepCodes();
  const window = await ramp('window', rates, flags, fleet, stats, cpMeter);
  keepCodes();

  const listed = await listedWithHeartbeat(cp);
  return {
    store,
    gateways: n,
    setup,
    steady,
    moves,
    ramp: { heartbeat, window, heartbeatsPerSecHeld: heldRate(heartbeat), windowsPerSecHeld: heldRate(window) },
    listedWithHeartbeat: listed,
    receivedEveryMove: reached.filter((k) => k === flags.moves).length,
    errorCodes,
    errorMessages,
  };
}

function heldRate(steps: RampStep[]): number {
  let held = 0;
  for (const s of steps) {
    if (!s.held) break;
    held = s.achieved;
  }
  return held;
}

/** Open loop: `rate` calls/s spread over the fleet round-robin; latency from each call's intended start. */
async function ramp(kind: Extract<CallKind, 'heartbeat' | 'window'>, rates: number[], flags: Flags, fleet: SimulatedGateway[], stats: CallStats, meter: UsageMeter): Promise<RampStep[]> {
  const steps: RampStep[] = [];
  let next = 0;
  for (const rate of rates) {
    stats.reset();
    meter.restart();
    const latencies: number[] = [];
    const inFlight = new Set<Promise<void>>();
    const start = performance.now();
    const total = rate * flags['step-seconds'];
    let sent = 0;
    let abandoned = false;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      for (; sent < due; sent++) {
        const intended = start + (sent / rate) * 1000;
        const g = fleet[next++ % fleet.length]!;
        const before = stats.errors[kind];
        const p = (kind === 'heartbeat' ? g.heartbeat() : g.report()).then(() => {
          if (stats.errors[kind] === before) latencies.push(performance.now() - intended);
          inFlight.delete(p);
        });
        inFlight.add(p);
      }
      // Past 4 s of backlog the step has long failed: stop sending rather than pile up sockets.
      if (inFlight.size > rate * 4) {
        abandoned = true;
        break;
      }
      await sleep(5);
    }
    await Promise.race([Promise.all(inFlight), sleep(15_000)]);
    const seconds = (performance.now() - start) / 1000;
    const use = meter.read();
    const errors = stats.errors[kind];
    const p99 = quantile(latencies, 0.99);
    const step: RampStep = {
      rate,
      achieved: +(latencies.length / Math.max(seconds, flags['step-seconds'])).toFixed(1),
      p50: quantile(latencies, 0.5),
      p99,
      errors,
      cpCores: use.cores,
      cpCpuMsPerCall: latencies.length === 0 ? 0 : +((use.cores * seconds * 1000) / latencies.length).toFixed(2),
      held: !abandoned && errors === 0 && latencies.length >= 0.95 * total && p99 <= flags['p99-limit-ms'],
    };
    steps.push(step);
    process.stderr.write(`fleet-sim ramp ${kind}: ${JSON.stringify(step)}\n`);
    if (!step.held) break;
  }
  return steps;
}

async function listedWithHeartbeat(cp: FleetControlPlane): Promise<number> {
  let after: string | null = null;
  let count = 0;
  for (;;) {
    const r: { gateways: { edges: { node: { name: string; lastHeartbeatAt: string | null } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = await cp.gql(
      'query($after: String) { gateways(first: 100, after: $after) { edges { node { name lastHeartbeatAt } } pageInfo { hasNextPage endCursor } } }',
      { after },
    );
    count += r.gateways.edges.filter((e) => e.node.name.startsWith('sim-') && e.node.lastHeartbeatAt !== null).length;
    if (!r.gateways.pageInfo.hasNextPage) return count;
    after = r.gateways.pageInfo.endCursor;
  }
}

function table(results: StoreResult[], machine: Machine): string {
  const rows: [string, (r: StoreResult) => string][] = [
    ['gateways registered / subscribed', (r) => `${r.setup.registered} / ${r.setup.subscribed}`],
    ['listed with a heartbeat (control plane API)', (r) => String(r.listedWithHeartbeat)],
    ['steady: heartbeats/s, windows/s', (r) => `${r.steady.heartbeatsPerSec}, ${r.steady.windowsPerSec}`],
    ['steady: desired-state polls/s, p99 ms', (r) => `${r.steady.pollsPerSec}, ${r.steady.pollP99Ms}`],
    ['steady: heartbeat p50 / p99 ms', (r) => `${r.steady.heartbeatP50Ms} / ${r.steady.heartbeatP99Ms}`],
    ['steady: window p99 ms', (r) => String(r.steady.windowP99Ms)],
    ['steady: control plane CPU cores, RSS MiB (peak)', (r) => `${r.steady.cp.cores}, ${r.steady.cp.rssMiB} (${r.steady.cp.peakRssMiB})`],
    ['steady: PostgreSQL CPU cores, RSS MiB', (r) => (r.steady.pg ? `${r.steady.pg.cores}, ${r.steady.pg.rssMiB}` : '-')],
    ['alias move reached every gateway', (r) => `${r.moves.reachedAll} of ${r.moves.count}`],
    ['move → last gateway p50 / p99 ms', (r) => `${r.moves.lastGatewayP50Ms} / ${r.moves.lastGatewayP99Ms}`],
    ['move → each delivery p50 / p99 ms', (r) => `${r.moves.deliveryP50Ms} / ${r.moves.deliveryP99Ms}`],
    ['moves: control plane CPU ms per move, peak RSS MiB', (r) => `${r.moves.cp.cpuMsPerMove}, ${r.moves.cp.peakRssMiB}`],
    ['ramp: heartbeats/s held (p99 ms at the step)', (r) => rampCell(r.ramp.heartbeat)],
    ['ramp: windows/s held (p99 ms at the step)', (r) => rampCell(r.ramp.window)],
    ['errors (codes)', (r) => `${r.steady.errors} ${JSON.stringify(r.errorCodes)}`],
  ];
  const head = `| ${machine.cores} cores, load ${machine.loadavg1} | ${results.map((r) => r.store).join(' | ')} |\n|---|${results.map(() => '---').join('|')}|\n`;
  return head + rows.map(([name, cell]) => `| ${name} | ${results.map(cell).join(' | ')} |`).join('\n') + '\n';
}

function rampCell(steps: RampStep[]): string {
  return steps.map((s) => `${s.held ? '' : '✗'}${s.achieved}/${s.rate} (p99 ${s.p99}, ${s.cpCpuMsPerCall} ms CPU/call)`).join(' → ') || '-';
}

async function main(): Promise<void> {
  const flags = clusterBenchArgs(BENCH);
  if (flags === undefined) return;
  let postgres: Promise<PostgresServer> | undefined;
  const results: StoreResult[] = [];
  try {
    for (const store of flags.stores) {
      if (store !== 'sqlite' && store !== 'postgres') throw new Error(`--stores: unknown store ${store} (sqlite, postgres)`);
      results.push(await runStore(store, flags, () => (postgres ??= startPostgres())));
    }
  } finally {
    if (postgres) await (await postgres).stop();
  }
  const machine = benchMachine();
  const md = table(results, machine);
  const summary = { at: new Date().toISOString(), machine, flags, results };
  if (flags.out !== 'none') {
    mkdirSync(flags.out, { recursive: true });
    const base = join(flags.out, `fleet-sim-${summary.at.replace(/[:.]/g, '-').slice(0, 19)}Z`);
    writeFileSync(`${base}.json`, `${JSON.stringify(summary, null, 2)}\n`);
    writeFileSync(`${base}.md`, `# fleet-sim ${summary.at}\n\n\`node dist/bench/cluster/fleet-sim.js ${process.argv.slice(2).join(' ')}\`\n\n${md}`);
  }
  process.stdout.write(flags.json ? `${JSON.stringify(summary)}\n` : md);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`fleet-sim: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
