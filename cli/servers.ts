// The long-running commands: `gateway`, `control-plane`, and `serve` (both on this machine, with the
// example model repository), each stopped by SIGINT/SIGTERM after draining.
import { join, resolve } from 'node:path';
import { readdirSync } from 'node:fs';
import type { Logger } from '../lib/log.js';
import type { RunningServer } from '../lib/server.js';
import { SluiceError } from '../lib/errors.js';
import { startControlPlane, type ControlPlaneServer } from '../control-plane/index.js';
import { startGateway } from '../gateway/index.js';
import { ensureExampleRepository } from '../examples/repository.js';
import { shown, type Screen } from './screen.js';
import { makeExecutor } from './runner-commands.js';

export interface GatewayRun {
  host: string;
  port: number;
  models: string;
  maxBodyBytes: number;
  drainTimeoutMs: number;
  /** `--payload-log-dir` / `--payload-log-key`. */
  payloadLog?: { dir: string; keyFile?: string | undefined } | undefined;
  controlPlane?: { url: string; token: string; name?: string | undefined; region?: string | undefined; labels?: Record<string, string> | undefined; registryPublicKeyPem?: string | undefined } | undefined;
}

export interface ControlPlaneRun {
  host: string;
  port: number;
  data: string;
  db?: string | undefined;
  drainTimeoutMs: number;
  /** `sluice serve`: register this model repository at first start and mint the local gateway's token. */
  local?: { models: string };
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

export async function runGateway(run: GatewayRun, logger: Logger): Promise<RunningServer> {
  const gw = await startGateway({
    host: run.host,
    port: run.port,
    modelRepository: resolve(run.models),
    maxBodyBytes: run.maxBodyBytes,
    drainTimeoutMs: run.drainTimeoutMs,
    logger: logger.child({ service: 'gateway' }),
    ...(run.controlPlane ? { controlPlane: run.controlPlane } : {}),
    ...(run.payloadLog ? { payloadLog: { dir: resolve(run.payloadLog.dir), keyFile: run.payloadLog.keyFile === undefined ? undefined : resolve(run.payloadLog.keyFile) } } : {}),
  });
  logger.info({ service: 'gateway', models: resolve(run.models) }, `gateway listening on ${gw.url}`);
  return gw;
}

export async function runControlPlane(run: ControlPlaneRun, logger: Logger): Promise<ControlPlaneServer> {
  const cp = await startControlPlane({
    host: run.host,
    port: run.port,
    dataDir: resolve(run.data),
    drainTimeoutMs: run.drainTimeoutMs,
    logger: logger.child({ service: 'control-plane' }),
    ...(run.db !== undefined ? { db: run.db } : {}),
    ...(run.local ? { seedRepository: resolve(run.local.models), localGateway: true, localRunner: true } : {}),
  });
  logger.info({ service: 'control-plane' }, `control plane listening on ${cp.url}`);
  return cp;
}

export interface ServeRun {
  host: string;
  gatewayPort: number;
  controlPlanePort: number;
  data: string;
  models?: string | undefined;
  maxBodyBytes: number;
  drainTimeoutMs: number;
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
  const cp = await runControlPlane({ host: run.host, port: run.controlPlanePort, data: run.data, drainTimeoutMs: run.drainTimeoutMs, local: { models } }, logger);
  let gw: RunningServer;
  try {
    if (cp.localGatewayToken === undefined) throw new SluiceError('SLUICE_E_INTERNAL', 'the control plane minted no token for the local gateway');
    gw = await runGateway(
      { host: run.host, port: run.gatewayPort, models, maxBodyBytes: run.maxBodyBytes, drainTimeoutMs: run.drainTimeoutMs, controlPlane: { url: cp.url, token: cp.localGatewayToken, name: 'local' } },
      logger,
    );
  } catch (err) {
    await cp.close();
    throw err;
  }
  let runner: RunningServer;
  try {
    runner = await startLocalRunner(cp.url, cp.localRunnerToken, logger);
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
  });
  return [runner, gw, cp];
}

/** `sluice serve`'s training runner: in this process, local executor, no labels, one job at a time, its own runner token. */
async function startLocalRunner(url: string, token: string | undefined, logger: Logger): Promise<RunningServer> {
  if (token === undefined) throw new SluiceError('SLUICE_E_INTERNAL', 'the control plane minted no token for the local runner');
  const { TrainingRunner } = await import('../control-plane/runner/runner.js');
  const runner = new TrainingRunner({ controlPlane: url, token, executor: await makeExecutor('local'), labels: [], concurrency: 1, name: 'local', logger: logger.child({ service: 'runner' }) });
  await runner.start();
  return { url, port: 0, close: () => runner.stop() };
}

/** The model folders of a repository, for the first screen. */
export function listModels(dir: string): string[] {
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
