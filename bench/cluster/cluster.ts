// A Sluice cluster on one machine, as real processes on 127.0.0.1 (issue 19): a PostgreSQL server,
// two `sluice control-plane --db` replicas on one database (each with its own data folder), three
// `sluice gateway` processes syncing from the replicas (A, B, A, ...) and Debian's nginx running the
// shipped deploy/nginx/sluice.conf in front of the gateways and the replicas. The weather model has
// two versions (the example and a healthy retrained candidate), production on v1.
// Shared by bench/cluster/run.ts and test/cluster/cluster.test.ts; it imports no test helper.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ensureExampleRepository } from '../../examples/repository.js';
import { writeCandidates } from '../../examples/rollout-candidates.js';
import { loadWeather, weatherFeatures } from '../../examples/weather-dataset.js';
import { renderNginxConf, SHIPPED_NGINX_CONF, startNginx, type RunningNginx } from './nginx.js';
import { freePorts } from './ports.js';
import { startPostgres, type PostgresServer } from './postgres.js';

const CLI = fileURLToPath(new URL('../../cli/sluice.js', import.meta.url));
const run = promisify(execFile);

/** One weather call as JSON (a real day of the Seattle data). */
export const WEATHER_BODY = JSON.stringify({ inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: weatherFeatures(loadWeather().days[0]!) }] });

/**
 * What the replicas share besides the database. Artifacts and the registry signing key live in
 * PostgreSQL (`--artifact-store postgres`, the key sealed under one KEK that every replica gets, as
 * SLUICE_KEK); only the audit checkpoint key still lives under `--data` (docs/deploy.md), so that
 * folder alone is linked to one place both replicas reach. Returns extra `sluice control-plane`
 * flags and environment.
 */
function replicaStorage(shared: string, data: string, kek: string): { args: string[]; env: NodeJS.ProcessEnv } {
  mkdirSync(join(shared, 'keys'), { recursive: true, mode: 0o700 });
  if (!existsSync(join(data, 'keys'))) symlinkSync(join(shared, 'keys'), join(data, 'keys'));
  return { args: ['--artifact-store', 'postgres'], env: { SLUICE_KEK: kek } };
}

export interface SluiceNode {
  name: string;
  port: number;
  url: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

/** Start `sluice <args>` and resolve once it prints `listening on`; rejects with its output if it exits first. */
function startNode(name: string, port: number, args: string[], env: NodeJS.ProcessEnv = {}): Promise<SluiceNode> {
  const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  // The last 64 KB of output, for a failure message; a long run must not keep it all.
  let out = '';
  const keep = (c: Buffer) => {
    out = (out + c.toString()).slice(-65_536);
  };
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${name} did not start in 120 s:\n${out}`));
    }, 120_000);
    proc.stdout!.on('data', (c: Buffer) => {
      keep(c);
      if (out.includes(`listening on http://127.0.0.1:${port}`)) {
        clearTimeout(timer);
        resolve({ name, port, url: `http://127.0.0.1:${port}`, proc, exited, output: () => out });
      }
    });
    proc.stderr!.on('data', keep);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening:\n${out}`));
    });
  });
}

export interface GqlAnswer {
  status: number;
  data?: any;
  errors?: Array<{ message?: string; extensions?: { code?: string } }>;
}

export interface ClusterOptions {
  /** An empty folder for everything the cluster writes. */
  dir: string;
  gateways?: number;
  /** Heartbeat interval the replicas ask of gateways; a gateway is stale after three missed. */
  heartbeatSeconds?: number;
}

export class Cluster {
  readonly admin = randomBytes(24).toString('hex');
  /** The key-encryption key every replica is given (64 hex digits), sealing the shared signing key. */
  private readonly kek = randomBytes(32).toString('hex');
  readonly replicas: SluiceNode[] = [];
  readonly gateways: SluiceNode[] = [];
  /** nginx's inference address (its first `listen`). */
  base = '';
  nginx: RunningNginx | undefined;
  pg: PostgresServer | undefined;
  private db = '';
  private readonly gatewayTokens: string[] = [];
  private replicaPorts: number[] = [];
  private gatewayPorts: number[] = [];

  private constructor(private readonly options: Required<ClusterOptions>) {}

  static async start(options: ClusterOptions): Promise<Cluster> {
    const cluster = new Cluster({ gateways: 3, heartbeatSeconds: 1, ...options });
    // A run that dies (a test timeout, a crash) must not leave its processes serving; PostgreSQL is
    // pg_ctl's daemon and cannot be stopped synchronously here.
    process.once('exit', cluster.killOnExit);
    try {
      await cluster.boot();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private async boot(): Promise<void> {
    const { dir, gateways } = this.options;
    this.pg = await startPostgres();
    this.db = await this.pg.createDatabase('sluice_cluster');
    const ports = await freePorts(2 + gateways + 2);
    this.replicaPorts = ports.slice(0, 2);
    this.gatewayPorts = ports.slice(2, 2 + gateways);
    // One replica after the other: the first creates the signing key in the shared folder and takes the leader lock.
    for (let i = 0; i < 2; i++) await this.startReplica(i);
    await this.uploadVersions(join(dir, 'candidates'));
    for (let i = 0; i < gateways; i++) {
      const created = await this.gql(0, 'mutation($n: String!) { createToken(input: { name: $n, role: GATEWAY }) { secret } }', { n: `gw-${i}` });
      if (created.errors) throw new Error(`gateway token: ${JSON.stringify(created.errors)}`);
      this.gatewayTokens.push(created.data.createToken.secret as string);
      await this.startGateway(i);
    }
    const [httpPort, cpPort] = ports.slice(2 + gateways) as [number, number];
    const conf = renderNginxConf(readFileSync(SHIPPED_NGINX_CONF, 'utf8'), {
      upstreams: { sluice_gateways: this.gatewayPorts.map((p) => `127.0.0.1:${p}`), sluice_control_plane: this.replicaPorts.map((p) => `127.0.0.1:${p}`) },
      listen: [httpPort, cpPort],
    });
    this.nginx = await startNginx(join(dir, 'nginx'), conf, [httpPort, cpPort]);
    this.base = `http://127.0.0.1:${httpPort}`;
    // Listening is not serving: a gateway answers 404 for weather until its first desired state is applied.
    const end = performance.now() + 120_000;
    for (;;) {
      const served = await Promise.all(this.gateways.map((_, i) => this.servedBy(i)));
      if (served.every((v) => v === 1)) break;
      if (performance.now() > end) throw new Error(`the gateways did not serve weather v1 within 120 s (${served.join(', ')})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Start replica `i` (0: A, 1: B) on its port and data folder, a first start or again after it died. */
  async startReplica(i: number): Promise<SluiceNode> {
    const data = join(this.options.dir, `replica-${'AB'[i]}`);
    mkdirSync(data, { recursive: true });
    const extra = replicaStorage(join(this.options.dir, 'replicas-shared'), data, this.kek);
    const port = this.replicaPorts[i]!;
    const node = await startNode(`replica ${'AB'[i]}`, port, ['control-plane', '--port', String(port), '--data', data, '--db', this.db, '--heartbeat-interval', String(this.options.heartbeatSeconds), ...extra.args], { SLUICE_ADMIN_TOKEN: this.admin, ...extra.env });
    this.replicas[i] = node;
    return node;
  }

  /** Start gateway `i` on its port and model folder, syncing from replica A (even i) or B (odd i). */
  async startGateway(i: number): Promise<SluiceNode> {
    const port = this.gatewayPorts[i]!;
    const replica = this.replicaPorts[i % 2]!;
    const node = await startNode(`gateway ${i}`, port, [
      'gateway', '--models', join(this.options.dir, `gateway-${i}`), '--port', String(port), '--name', `gw-${i}`,
      '--control-plane', `http://127.0.0.1:${replica}`, '--token', this.gatewayTokens[i]!, '--drain-timeout-ms', '10000',
    ]);
    this.gateways[i] = node;
    return node;
  }

  private async uploadVersions(candidates: string): Promise<void> {
    const examples = join(this.options.dir, 'examples');
    ensureExampleRepository(examples);
    const weather = join(examples, 'weather');
    const upload = (file: string, extra: string[] = []) =>
      run(process.execPath, [CLI, 'upload', '--control-plane', this.replicas[0]!.url, '--token', this.admin, '--model', 'weather', '--file', file, '--profile', join(weather, '1', 'profile.json'), '--log-level', 'silent', ...extra]);
    await upload(join(weather, '1', 'model.onnx'), ['--create-model', '--config', join(weather, 'config.json'), '--alias', 'production']);
    await upload(writeCandidates(candidates, 1000).healthy);
  }

  /** A GraphQL call on replica `i` as the admin; GraphQL errors are returned, not thrown. */
  async gql(i: number, query: string, variables: Record<string, unknown> = {}): Promise<GqlAnswer> {
    const res = await fetch(`${this.replicas[i]!.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.admin}` },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, ...((await res.json()) as object) };
  }

  /** Whether replica `i` holds the loops' leader lock (its /metrics). */
  async leads(i: number): Promise<boolean> {
    const text = await (await fetch(`${this.replicas[i]!.url}/metrics`)).text();
    const m = /^sluice_control_plane_leader (\d)/m.exec(text);
    if (!m) throw new Error('no sluice_control_plane_leader in /metrics');
    return m[1] === '1';
  }

  /** The version gateway `i` answers a weather call with, called directly (not through nginx); undefined when it does not answer 200. */
  async servedBy(i: number): Promise<number | undefined> {
    const res = await fetch(`${this.gateways[i]!.url}/v2/models/weather/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: WEATHER_BODY }).catch(() => undefined);
    if (res === undefined) return undefined;
    const body = (await res.json().catch(() => ({}))) as { model_version?: string };
    return res.status === 200 && body.model_version !== undefined ? Number(body.model_version) : undefined;
  }

  private readonly killOnExit = (): void => {
    for (const n of [...this.gateways, ...this.replicas]) if (n !== undefined && n.proc.exitCode === null) n.proc.kill('SIGKILL');
    this.nginx?.kill();
  };

  async stop(): Promise<void> {
    process.removeListener('exit', this.killOnExit);
    const nodes = [...this.gateways, ...this.replicas].filter((n) => n !== undefined && n.proc.exitCode === null && n.proc.signalCode === null);
    for (const n of nodes) n.proc.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.exited));
    await this.nginx?.stop();
    await this.pg?.stop();
  }
}
