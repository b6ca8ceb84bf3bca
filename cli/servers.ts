// The long-running commands: `gateway`, `control-plane`, and `serve` (both on this machine, with the
// example model repository), each stopped by SIGINT/SIGTERM after draining.
import type { KekProvider } from '../control-plane/services/artifact-crypto.js';
import type { ArtifactStoreKind } from '../control-plane/store/blob-store.js';
import { join, resolve } from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import type { Logger } from '../lib/log.js';
import type { RunningServer } from '../lib/server.js';
import { readServerTls, type ClientTlsFiles, type ServerTlsFiles } from '../lib/tls.js';
import { SluiceError } from '../lib/errors.js';
import { startControlPlane, type ControlPlaneServer } from '../control-plane/index.js';
import { startGateway, type Gateway, type GatewayOptions } from '../gateway/index.js';
import { readTokenFile } from '../gateway/access/token-file.js';
import { checkIoThreads, defaultIoThreads } from '../gateway/server/io-threads.js';
import type { GatewayAccessOptions } from '../gateway/access/access-policy.js';
import { ensureExampleRepository } from '../examples/repository.js';
import { shown, type Screen } from './screen.js';
import { makeExecutor } from './runner-commands.js';
import type { BudgetSettings } from '../gateway/server/admission.js';
import type { TraceSettings } from '../lib/trace-export.js';

export interface GatewayRun {
  host: string;
  port: number;
  models: string;
  maxBodyBytes: number;
  /** `--io-threads` (docs/io-threads.md); the core count decides when absent. */
  ioThreads?: number | undefined;
  /** The front's budgets (docs/budgets.md); defaults when absent. */
  budgets?: BudgetSettings | undefined;
  drainTimeoutMs: number;
  tls?: ServerTlsFiles | undefined;
  controlPlane?: GatewayOptions['controlPlane'] | undefined;
  /** Who may call (issue 17). */
  access?: GatewayAccessOptions | undefined;
  metricsPort?: number | undefined;
  /** `--otlp-endpoint` / `--trace-sample-ratio` (docs/tracing.md). */
  tracing?: TraceSettings | undefined;
  /** `--payload-log-dir` / `--payload-log-key`. */
  payloadLog?: { dir: string; keyFile?: string | undefined } | undefined;
}

export interface ControlPlaneRun {
  host: string;
  port: number;
  data: string;
  db?: string | undefined;
  drainTimeoutMs: number;
  /** --heartbeat-interval: seconds between the heartbeats asked of gateways (default 10). */
  heartbeatIntervalSeconds?: number | undefined;
  /** https, and with `clientCaFile` mutual TLS. */
  tls?: ServerTlsFiles | undefined;
  /** --kek-file: encrypt artifacts and the signing key at rest; SLUICE_KEK (64 hex digits) is read when absent. */
  kekFile?: string | undefined;
  /** --artifact-store and --signing-key-file (docs/data-at-rest.md). */
  artifactStore?: ArtifactStoreKind | undefined;
  signingKeyFile?: string | undefined;
  /** `sluice serve`: register this model repository at first start and mint the local gateway's token. */
  local?: { models: string };
  /** The first admin token (--admin-token-file, SLUICE_ADMIN_TOKEN); generated when undefined. */
  adminToken?: string | undefined;
  /** Audit checkpoints and denial counting (docs/audit.md). */
  audit?: AuditRun | undefined;
  /** `--otlp-endpoint` / `--trace-sample-ratio` (docs/tracing.md). */
  tracing?: TraceSettings | undefined;
}

export interface AuditRun {
  checkpointFile?: string | undefined;
  checkpointKey?: string | undefined;
  checkpointEvents?: number | undefined;
  checkpointSeconds?: number | undefined;
  denialWindowSeconds?: number | undefined;
}

/** Where a generated admin token is written off a terminal: a new file per first start, never overwritten. */
export function adminTokenFile(data: string): string {
  return join(resolve(data), 'keys', `admin-token-${new Date().toISOString().replace(/[:.]/g, '-')}`);
}

/** The entries whose value is defined (optional options stay absent under exactOptionalPropertyTypes). */
function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** The KEK from --kek-file, else from SLUICE_KEK, else none (artifacts stay plaintext). */
async function kekOf(file: string | undefined): Promise<{ kek?: KekProvider }> {
  const { LocalKek } = await import('../control-plane/services/artifact-crypto.js');
  if (file !== undefined) return { kek: LocalKek.fromFile(resolve(file)) };
  if (process.env.SLUICE_KEK) return { kek: LocalKek.fromEnv('SLUICE_KEK') };
  return {};
}

/** `key=value` entries of `--labels`. */
export function parseLabels(list: string[] | undefined): Record<string, string> | undefined {
  if (list === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--labels entries are key=value, got "${item}"`, { details: { flag: 'labels' } });
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export async function runGateway(run: GatewayRun, logger: Logger): Promise<Gateway> {
  const gw = await startGateway({
    host: run.host,
    port: run.port,
    modelRepository: resolve(run.models),
    maxBodyBytes: run.maxBodyBytes,
    ioThreads: checkIoThreads(run.ioThreads ?? defaultIoThreads()),
    budgets: run.budgets,
    drainTimeoutMs: run.drainTimeoutMs,
    tls: run.tls,
    logger: logger.child({ service: 'gateway' }),
    ...(run.controlPlane ? { controlPlane: run.controlPlane } : {}),
    access: run.access,
    metricsPort: run.metricsPort,
    tracing: run.tracing,
    ...(run.payloadLog ? { payloadLog: { dir: resolve(run.payloadLog.dir), keyFile: run.payloadLog.keyFile === undefined ? undefined : resolve(run.payloadLog.keyFile) } } : {}),
  });
  logger.info({ service: 'gateway', models: resolve(run.models), auth: gw.access.required, metrics: gw.metricsUrl }, `gateway listening on ${gw.url}`);
  if (run.tls) logCertificate(run.tls, logger.child({ service: 'gateway' }));
  return gw;
}

export async function runControlPlane(run: ControlPlaneRun, logger: Logger): Promise<ControlPlaneServer> {
  const cp = await startControlPlane({
    host: run.host,
    port: run.port,
    dataDir: resolve(run.data),
    drainTimeoutMs: run.drainTimeoutMs,
    tls: run.tls,
    logger: logger.child({ service: 'control-plane' }),
    ...(run.db !== undefined ? { db: run.db } : {}),
    ...(run.adminToken !== undefined ? { adminToken: run.adminToken } : {}),
    ...defined({
      auditCheckpointFile: run.audit?.checkpointFile,
      auditCheckpointKeyFile: run.audit?.checkpointKey,
      auditCheckpointEvents: run.audit?.checkpointEvents,
      auditCheckpointSeconds: run.audit?.checkpointSeconds,
      denialWindowSeconds: run.audit?.denialWindowSeconds,
      artifactStore: run.artifactStore,
      signingKeyFile: run.signingKeyFile === undefined ? undefined : resolve(run.signingKeyFile),
      heartbeatIntervalSeconds: run.heartbeatIntervalSeconds,
    }),
    ...(await kekOf(run.kekFile)),
    ...(run.tracing !== undefined ? { tracing: run.tracing } : {}),
    ...(run.local ? { seedRepository: resolve(run.local.models), localGateway: true, localRunner: true } : {}),
  });
  logger.info({ service: 'control-plane' }, `control plane listening on ${cp.url}`);
  if (run.tls) logCertificate(run.tls, logger.child({ service: 'control-plane' }));
  return cp;
}

export interface ServeRun {
  host: string;
  gatewayPort: number;
  controlPlanePort: number;
  data: string;
  models?: string | undefined;
  maxBodyBytes: number;
  ioThreads?: number | undefined;
  budgets?: BudgetSettings | undefined;
  drainTimeoutMs: number;
  access?: GatewayAccessOptions | undefined;
  metricsPort?: number | undefined;
  tracing?: TraceSettings | undefined;
  /** Both servers' certificate (and the control plane's client CA: mutual TLS). */
  tls?: ServerTlsFiles | undefined;
  /** What the local gateway and runner trust and present to the control plane. */
  clientTls?: ClientTlsFiles | undefined;
  adminToken?: string | undefined;
}

/** `sluice serve`: build the example repository when needed, then the control plane, then a gateway synced to it. */
export async function serve(run: ServeRun, logger: Logger, screen: Screen): Promise<RunningServer[]> {
  const models = run.models ?? join(run.data, 'models');
  if (run.models === undefined) {
    const building = performance.now();
    const built = ensureExampleRepository(models, (model) => screen.progress(`building the example models into ${shown(models)} (first start only): ${model}`, { dir: models, model }));
    if (built) screen.progress(`example models built in ${((performance.now() - building) / 1000).toFixed(1)} s`, { dir: models });
  }
  screen.progress('starting the control plane and the gateway', {});
  const cp = await runControlPlane({ host: run.host, port: run.controlPlanePort, data: run.data, drainTimeoutMs: run.drainTimeoutMs, tls: run.tls, local: { models }, adminToken: run.adminToken, tracing: run.tracing }, logger);
  let gw: RunningServer;
  try {
    if (cp.localGatewayToken === undefined) throw new SluiceError('SLUICE_E_INTERNAL', 'the control plane minted no token for the local gateway');
    gw = await runGateway(
      {
        host: run.host, port: run.gatewayPort, models, maxBodyBytes: run.maxBodyBytes, ioThreads: run.ioThreads, budgets: run.budgets, drainTimeoutMs: run.drainTimeoutMs, tls: run.tls,
        controlPlane: { url: cp.url, token: cp.localGatewayToken, name: 'local', tls: run.clientTls }, access: run.access, metricsPort: run.metricsPort, tracing: run.tracing,
      },
      logger,
    );
  } catch (err) {
    await cp.close();
    throw err;
  }
  let runner: RunningServer;
  try {
    runner = await startLocalRunner(cp.url, cp.localRunnerToken, run.clientTls, logger, run.tracing);
  } catch (err) {
    await Promise.all([gw.close(), cp.close()]);
    throw err;
  }
  screen.ready({
    seconds: performance.now() / 1000,
    gateway: gw.url,
    controlPlane: cp.url,
    data: run.data,
    models,
    modelNames: listModels(models),
    firstAdminToken: cp.firstAdminToken,
    firstAdminTokenFile: adminTokenFile(run.data),
  });
  return [runner, gw, cp];
}

/** `sluice serve`'s training runner: in this process, local executor, no labels, one job at a time, its own runner token. */
async function startLocalRunner(url: string, token: string | undefined, tls: ClientTlsFiles | undefined, logger: Logger, tracing: TraceSettings | undefined): Promise<RunningServer> {
  if (token === undefined) throw new SluiceError('SLUICE_E_INTERNAL', 'the control plane minted no token for the local runner');
  const { TrainingRunner } = await import('../control-plane/runner/runner.js');
  const runner = new TrainingRunner({ controlPlane: url, token, tls, executor: await makeExecutor('local'), labels: [], concurrency: 1, name: 'local', logger: logger.child({ service: 'runner' }), tracing });
  await runner.start();
  return { url, port: 0, close: () => runner.stop() };
}

/** The model folders of a repository, for the first screen; none while a control plane has yet to fill a folder it will create. */
export function listModels(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

/** Stop every server on SIGINT/SIGTERM: stop accepting, drain, exit 0 (1 if draining failed or timed out). */
export function shutdownOnSignals(servers: RunningServer[], logger: Logger, drainTimeoutMs: number): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ drainTimeoutMs }, 'drain timed out');
      process.exit(1);
    }, drainTimeoutMs + 2_000);
    timer.unref();
    Promise.all(servers.map((s) => s.close())).then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/**
 * SIGHUP: every server re-reads its TLS certificate and key for new connections. A file that
 * cannot be used is logged and the old certificate keeps serving (the process does not stop).
 */
/**
 * A standalone gateway's `--token-file` is read again on SIGHUP: the new tokens replace the old at
 * once (a removed line is a revoked token). A file that cannot be read or parsed leaves the old
 * tokens in force and is logged with its code.
 */
export function reloadTokensOnHangup(gw: Gateway, file: string, logger: Logger): void {
  process.on('SIGHUP', () => {
    try {
      const tokens = readTokenFile(file);
      gw.access.update(tokens);
      logger.info({ service: 'gateway', tokenFile: file, tokens: tokens.length }, 'token file reloaded');
    } catch (err) {
      logger.error({ service: 'gateway', err, tokenFile: file }, 'token file not reloaded; the old tokens stay in force');
    }
  });
}

export function reloadTlsOnHangup(servers: RunningServer[], tls: ServerTlsFiles, logger: Logger): void {
  process.on('SIGHUP', () => {
    for (const s of servers) {
      if (s.reloadTls === undefined) continue;
      Promise.resolve()
        .then(() => s.reloadTls!())
        .then(
          () => logCertificate(tls, logger.child({ url: s.url }), 'TLS certificate reloaded'),
          (err: unknown) => logger.error({ err, url: s.url }, 'TLS reload failed; the old certificate still serves'),
        );
    }
  });
}

const EXPIRY_WARNING_MS = 14 * 24 * 3600 * 1000;

/** The certificate in service (serial, end of validity), as a warning when it has ended or ends within 14 days. */
function logCertificate(tls: ServerTlsFiles, logger: Logger, message = 'TLS certificate in service'): void {
  const m = readServerTls(tls);
  const fields = { serial: m.serial, validTo: m.validTo.toISOString(), certFile: tls.certFile };
  const left = m.validTo.getTime() - Date.now();
  if (left <= 0) logger.warn(fields, `${message}: it has EXPIRED; clients will refuse it`);
  else if (left < EXPIRY_WARNING_MS) logger.warn(fields, `${message}: it expires in ${Math.ceil(left / 86_400_000)} days`);
  else logger.info(fields, message);
}
