// The five cluster scenarios of issue 19, each run against a started Cluster under an OpenLoopLoad
// through nginx. Each returns what it saw (the calls of its window, the control plane's answers)
// and its figures: bench/cluster/run.ts prints the figures, test/cluster/cluster.test.ts asserts
// the behaviours. Scenarios leave the cluster whole (a killed replica is started again), except the
// gateway kill, which comes last.
import type { Cluster } from './cluster.js';
import type { LoadCall, OpenLoopLoad } from './load.js';
import { triesAnswered } from './nginx.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `probe` gives a value; the bound only keeps a broken run from hanging. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, boundMs = 60_000, everyMs = 50): Promise<T> {
  const end = performance.now() + boundMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`never happened within ${boundMs} ms: ${what}`);
    await sleep(everyMs);
  }
}

async function production(cluster: Cluster, replica = 0): Promise<number> {
  const r = await cluster.gql(replica, '{ model(name: "weather") { aliases { name version { number } } } }');
  const alias = (r.data?.model?.aliases ?? []).find((a: { name: string }) => a.name === 'production');
  if (alias === undefined) throw new Error(`no production alias: ${JSON.stringify(r)}`);
  return alias.version.number as number;
}

async function setProduction(cluster: Cluster, replica: number, version: number): Promise<void> {
  const r = await cluster.gql(replica, 'mutation($v: Int!) { setAlias(input: { model: "weather", alias: "production", version: $v }) { name } }', { v: version });
  if (r.errors) throw new Error(`setAlias: ${JSON.stringify(r.errors)}`);
}

/** Every gateway, called directly, answers with `version`. */
async function allServe(cluster: Cluster, version: number): Promise<true | undefined> {
  const served = await Promise.all(cluster.gateways.map((_, i) => cluster.servedBy(i)));
  return served.every((v) => v === version) ? true : undefined;
}

export interface AliasMoveResult {
  /** Per move: from the mutation's answer to every gateway answering with the new version, ms. */
  ms: number[];
}

/** 1. Move `production` between v1 and v2 `moves` times (on replica A) and time each until every gateway serves it. */
export async function aliasMove(cluster: Cluster, moves = 4): Promise<AliasMoveResult> {
  const ms: number[] = [];
  let current = await production(cluster);
  for (let i = 0; i < moves; i++) {
    const next = current === 1 ? 2 : 1;
    await setProduction(cluster, 0, next);
    const answered = performance.now();
    await until(`every gateway serves v${next}`, () => allServe(cluster, next), 30_000, 20);
    ms.push(performance.now() - answered);
    current = next;
  }
  return { ms };
}

export interface RollingRestartResult {
  /** The calls through nginx that started between the first SIGTERM and the last gateway back in nginx's rotation. */
  calls: LoadCall[];
  /** Each gateway's exit code after SIGTERM (0: drained). */
  exitCodes: (number | null)[];
  /** Per gateway: SIGTERM until it has drained and exited, until its new process serves, and until nginx sends it calls again, ms. */
  drainMs: number[];
  backMs: number[];
  rejoinMs: number[];
}

/**
 * 2. SIGTERM each gateway in turn, wait for its drain and exit, start it again, wait until it
 * serves, and then until nginx sends it calls again before the next one stops. That last wait is
 * the rule of docs/deploy.md: nginx's passive health checks (`max_fails`, `fail_timeout`) count
 * the drain's 503s and the refused connections while the gateway is down, and keep it out of the
 * rotation for `fail_timeout` after its last failure, however soon it is back; stopping the next
 * gateway meanwhile leaves nginx with no live upstream (every call 502 at once).
 */
export async function rollingRestart(cluster: Cluster, load: OpenLoopLoad): Promise<RollingRestartResult> {
  const version = await production(cluster);
  const from = performance.now();
  const exitCodes: (number | null)[] = [];
  const drainMs: number[] = [];
  const backMs: number[] = [];
  const rejoinMs: number[] = [];
  for (let i = 0; i < cluster.gateways.length; i++) {
    const t0 = performance.now();
    cluster.gateways[i]!.proc.kill('SIGTERM');
    exitCodes.push(await cluster.gateways[i]!.exited);
    drainMs.push(performance.now() - t0);
    // Any 200 logged for this address from here on was answered by the new process.
    const logOffset = cluster.nginx!.accessLog().length;
    await cluster.startGateway(i);
    await until(`gateway ${i} serves v${version} again`, async () => ((await cluster.servedBy(i)) === version ? true : undefined));
    backMs.push(performance.now() - t0);
    const addr = `127.0.0.1:${cluster.gateways[i]!.port}`;
    await until(`nginx sends gateway ${i} calls again`, async () => (triesAnswered(cluster.nginx!.accessLog().slice(logOffset), addr) > 0 ? true : undefined), 30_000);
    rejoinMs.push(performance.now() - t0);
  }
  // Calls started just before the last start are answered by now or soon; give them their time.
  const to = performance.now();
  await sleep(1000);
  return { calls: load.startedIn(from, to), exitCodes, drainMs, backMs, rejoinMs };
}

export interface LeaderKillResult {
  killed: number;
  weightAtKill: number;
  /** SIGKILL of the leader until the other replica holds the lock, ms. */
  takeoverMs: number;
  /** SIGKILL until the rollout's next step (its weight moves past weightAtKill), ms; includes what was left of the step's pause. */
  nextStepMs: number;
  phase: string;
  /** The weights of the rollout's steps, in order, from the audit log. */
  stepWeights: number[];
  stepIndexes: number[];
  promotions: number;
  /** The calls through nginx from the kill to the end of the rollout. */
  calls: LoadCall[];
}

/** 3. Start a canary rollout, SIGKILL the leader replica once the first step is out, follow the rollout on the other replica. */
export async function leaderKillMidRollout(cluster: Cluster, load: OpenLoopLoad): Promise<LeaderKillResult> {
  const killed = await until('a replica leads', async () => ((await cluster.leads(0)) ? 0 : (await cluster.leads(1)) ? 1 : undefined));
  const other = 1 - killed;
  const stable = await production(cluster, other);
  const candidate = stable === 1 ? 2 : 1;
  const steps = [{ setWeight: 10 }, { pause: { seconds: 2 } }, { setWeight: 30 }, { pause: { seconds: 2 } }, { setWeight: 60 }, { pause: { seconds: 1 } }];
  const started = await cluster.gql(other, 'mutation($input: StartRolloutInput!) { startRollout(input: $input) { id } }', { input: { model: 'weather', candidate, strategy: 'CANARY', steps } });
  if (started.errors) throw new Error(`startRollout: ${JSON.stringify(started.errors)}`);
  const id = started.data.startRollout.id as string;
  const weight = async () => (await cluster.gql(other, 'query($id: ID!) { rollout(id: $id) { phase weight } }', { id })).data.rollout as { phase: string; weight: number };
  const weightAtKill = await until('the first step is out', async () => {
    const w = await weight();
    return w.weight >= 10 ? w.weight : undefined;
  });
  const killedAt = performance.now();
  cluster.replicas[killed]!.proc.kill('SIGKILL');
  await cluster.replicas[killed]!.exited;
  await until('the other replica leads', async () => ((await cluster.leads(other)) ? true : undefined), 30_000, 50);
  const takeoverMs = performance.now() - killedAt;
  // The dead replica comes back as a follower while the rollout goes on; the gateways that synced from it reconnect.
  const restarted = cluster.startReplica(killed);
  restarted.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
  await until('the rollout takes its next step', async () => ((await weight()).weight > weightAtKill || (await weight()).phase !== 'PROGRESSING' ? true : undefined), 60_000, 50);
  const nextStepMs = performance.now() - killedAt;
  const end = await until('the rollout ends', async () => {
    const w = await weight();
    return w.phase === 'PROMOTED' || w.phase === 'ABORTED' ? w : undefined;
  }, 90_000, 200);
  const to = performance.now();
  const audit = await cluster.gql(other, 'query($r: String!) { auditEvents(first: 100, filter: { resource: $r }) { edges { node { seq action after } } } }', { r: `rollout/${id}` });
  const events = (audit.data.auditEvents.edges as Array<{ node: { seq: number; action: string; after: any } }>).map((e) => e.node).sort((a, b) => a.seq - b.seq);
  const moves = events.filter((e) => e.action === 'rollout.step');
  await restarted;
  return {
    killed,
    weightAtKill,
    takeoverMs,
    nextStepMs,
    phase: end.phase,
    stepWeights: moves.map((e) => e.after.weight as number),
    stepIndexes: moves.map((e) => e.after.step as number),
    promotions: events.filter((e) => e.action === 'rollout.promote').length,
    calls: load.startedIn(killedAt, to),
  };
}

export interface GatewayKillResult {
  victim: number;
  /** Calls through nginx that were open when the gateway was killed (on any gateway: an upper bound of its own). */
  openAtKill: LoadCall[];
  /** Calls that failed after starting before the kill, and after it. */
  failedBefore: LoadCall[];
  failedAfter: LoadCall[];
  callsAfter: number;
  /** nginx tries at the dead gateway's address in the calls it logged after the kill, and those calls. */
  triesAtVictim: number;
  loggedAfter: number;
  /** SIGKILL until the control plane reports the gateway STALE, ms; and the other gateways' status then. */
  staleMs: number;
  othersStatus: string[];
}

/** 4. SIGKILL one gateway under load, watch nginx route around it and the control plane mark it stale; run it last, the gateway stays dead. */
export async function gatewayKill(cluster: Cluster, load: OpenLoopLoad, victim = cluster.gateways.length - 1): Promise<GatewayKillResult> {
  const status = async (i: number) => (await cluster.gql(0, 'query($n: String!) { gateway(name: $n) { status } }', { n: `gw-${i}` })).data.gateway.status as string;
  await until('every gateway is connected', async () => ((await Promise.all(cluster.gateways.map((_, i) => status(i)))).every((s) => s === 'CONNECTED') ? true : undefined), 30_000, 200);
  const logOffset = cluster.nginx!.accessLog().length;
  // Kill while calls are open, so there are in-flight calls to lose (a weather call takes a few ms).
  await until('a call in flight', async () => (load.inFlightNow > 0 ? true : undefined), 3000, 1).catch(() => undefined);
  const killedAt = performance.now();
  cluster.gateways[victim]!.proc.kill('SIGKILL');
  await cluster.gateways[victim]!.exited;
  await until(`gw-${victim} is stale`, async () => ((await status(victim)) === 'STALE' ? true : undefined), 60_000, 100);
  const staleMs = performance.now() - killedAt;
  const othersStatus = await Promise.all(cluster.gateways.map((_, i) => i).filter((i) => i !== victim).map(status));
  // A few more seconds of calls, past nginx's fail_timeout (5 s), so the log shows it trying the gateway again.
  await sleep(Math.max(0, 6000 - staleMs));
  const to = performance.now();
  await sleep(1000);
  const addr = `127.0.0.1:${cluster.gateways[victim]!.port}`;
  const logged = cluster.nginx!.accessLog().slice(logOffset).split('\n').filter((l) => l.includes('/v2/models/weather/infer'));
  const before = load.calls.filter((c) => c.start < killedAt);
  const after = load.startedIn(killedAt, to);
  const result: GatewayKillResult = {
    victim,
    openAtKill: load.openAt(killedAt),
    failedBefore: before.filter((c) => c.end > killedAt && (c.status < 200 || c.status > 299)),
    failedAfter: after.filter((c) => c.status < 200 || c.status > 299),
    callsAfter: after.length,
    triesAtVictim: logged.filter((l) => l.includes(addr)).length,
    loggedAfter: logged.length,
    staleMs,
    othersStatus,
  };
  return result;
}

export interface PostgresOutageResult {
  /** Calls through nginx that started while PostgreSQL was down. */
  calls: LoadCall[];
  /** Each write tried on a replica during the outage: its HTTP status and SLUICE_E_* code. */
  refusals: Array<{ status: number; code: string | undefined }>;
  /** Writes that were answered without an error during the outage (must be none). */
  accepted: number;
  /** Outage-time model names found stored after it (must be none). */
  stored: string[];
  /** PostgreSQL back until a replica leads again, until a write succeeds, ms. */
  leaderBackMs: number;
  writeBackMs: number;
  /** After it: an alias move until every gateway serves it, ms. */
  aliasAfterMs: number;
  auditOk: boolean;
}

/** 5. Stop PostgreSQL for `outageMs`: gateways keep serving, writes are refused with a code, nothing is half-stored, all resumes. */
export async function postgresOutage(cluster: Cluster, load: OpenLoopLoad, outageMs = 10_000): Promise<PostgresOutageResult> {
  await cluster.pg!.halt();
  const from = performance.now();
  const refusals: PostgresOutageResult['refusals'] = [];
  let accepted = 0;
  try {
    for (let i = 0; performance.now() - from < outageMs; i++) {
      const w = await cluster.gql(i % 2, 'mutation($input: CreateModelInput!) { createModel(input: $input) { name } }', { input: { name: `outage-${i}` } });
      if (w.errors === undefined) accepted++;
      else refusals.push({ status: w.status, code: w.errors[0]?.extensions?.code });
      await sleep(500);
    }
  } finally {
    await cluster.pg!.resume();
  }
  const to = performance.now();
  const resumed = performance.now();
  await until('a replica leads again', async () => ((await cluster.leads(0)) || (await cluster.leads(1)) ? true : undefined), 30_000, 50);
  const leaderBackMs = performance.now() - resumed;
  await until('a write succeeds', async () => ((await cluster.gql(0, 'mutation { createModel(input: { name: "after-outage" }) { name } }')).data?.createModel ? true : undefined), 30_000, 50);
  const writeBackMs = performance.now() - resumed;
  const models = (await cluster.gql(1, '{ models(first: 100) { edges { node { name } } } }')).data.models.edges.map((e: { node: { name: string } }) => e.node.name) as string[];
  const auditOk = (await cluster.gql(1, '{ verifyAudit { ok } }')).data.verifyAudit.ok as boolean;
  const current = await production(cluster);
  const next = current === 1 ? 2 : 1;
  await setProduction(cluster, 1, next);
  const moved = performance.now();
  await until(`every gateway serves v${next} after the outage`, () => allServe(cluster, next), 60_000, 20);
  return {
    calls: load.startedIn(from, to),
    refusals,
    accepted,
    stored: models.filter((n) => n.startsWith('outage-')),
    leaderBackMs,
    writeBackMs,
    aliasAfterMs: performance.now() - moved,
    auditOk,
  };
}
