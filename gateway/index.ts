// The gateway: model repository + worker pool + batchers behind an Open Inference Protocol HTTP
// server on uWebSockets.js. startGateway wires the parts; extensions (the WebSocket endpoint,
// drift routes, control-plane sync) get the same parts through GatewayContext (context.ts) and add
// their own routes on the uWS app before it listens.
import { SluiceError } from '../lib/errors.js';
import type { RunningServer } from '../lib/server.js';
import type { GatewayContext, GatewayExtension, GatewaySettings } from './context.js';
import { InferenceService } from './inference/inference-service.js';
import { GatewayMetrics } from './metrics/metrics.js';
import { ModelRepository } from './models/repository.js';
import { imagePreprocessor } from './preprocess/preprocessor.js';
import { DecodeBudget } from './preprocess/decode-budget.js';
import { Admission, type BudgetSettings } from './server/admission.js';
import { driftRoutes, type DriftRoutesOptions } from './server/drift-routes.js';
import { explainRoutes } from './server/explain-routes.js';
import { GatewayAccess } from './access/access-policy.js';
import { createHttpApp, metricsRoute } from './server/http-server.js';
import { HttpCall, route } from './server/http-io.js';
import { ServingApp } from './server/uws-app.js';
import { IoThreads, type Front } from './server/io-threads.js';
import { websocketEndpoint, type WebSocketOptions } from './server/ws-extension.js';
import { controlPlaneSync } from './sync/control-plane-sync.js';
import { payloadLog, type PayloadLogOptions } from './payload-log/payload-log.js';
import { WorkerPool } from './workers/pool.js';
import { Tracing } from './tracing/tracing.js';
import { raiseListenBacklog } from './server/listen-backlog.js';

export type { GatewayContext, GatewayExtension, GatewaySettings } from './context.js';

export interface GatewayOptions extends GatewaySettings {
  /** Drift monitoring of versions whose config has `drift` (default on); false turns it off. */
  drift?: DriftRoutesOptions | false | undefined;
  /** The /v2/ws endpoint's per-connection limits (default on); false turns it off. */
  websocket?: WebSocketOptions | false | undefined;
  /** The front's budgets (docs/budgets.md); unset fields take BUDGET_DEFAULTS. */
  budgets?: Partial<BudgetSettings> | undefined;
  /** Sampled calls of models whose config has `payload_log`, to this folder (default off: docs/payload-log.md). */
  payloadLog?: PayloadLogOptions | undefined;
}

export interface Gateway extends RunningServer, GatewayContext {
  /** The --metrics-port listener's /metrics URL, when there is one. */
  metricsUrl?: string;
  /** Put the TLS files' current certificate in service for new connections (SIGHUP); the port stays open. */
  reloadTls(): Promise<void>;
}

type CloseHook = () => Promise<void> | void;

/**
 * A drained gateway keeps its port until no call has come for this long (within its drain
 * timeout): nginx stops sending once it has counted three of the drain's 503s, within
 * milliseconds under load, so the port and connections close with nobody writing on them.
 */
const QUIET_MS = 250;

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { logger } = options;
  // First: a TLS file that cannot be used stops the start before any worker exists.
  const serving = new ServingApp(options.tls);
  const metrics = new GatewayMetrics();
  const pool = new WorkerPool({ threads: options.workerThreads, preload: options.workerPreload, logger });
  const repository = new ModelRepository({ root: options.modelRepository, pool, metrics, logger, clock: options.clock, gpus: options.gpus });
  const inference = new InferenceService(repository, metrics);
  // Built before any worker would need closing: a bad endpoint or ratio stops the start here.
  const tracing = options.tracing === undefined ? undefined : new Tracing(options.tracing);
  inference.tracing = tracing;
  const admission = new Admission(options.budgets);
  metrics.setFrontSource(() => ({ refused: admission.refused, open: admission.open, bodyBytes: admission.bodies.reserved, lagSeconds: admission.lag.lagUs() / 1e6, admittedShare: admission.lag.admitShare }));
  // BYTES image inputs of models whose config has `preprocess` (gateway/preprocess).
  inference.setPreprocessor(imagePreprocessor(new DecodeBudget(admission.settings.maxConcurrentDecodes, admission.settings.maxPixelsPerRequest)));
  metrics.setQueueDepthSource(function* () {
    for (const v of repository.versions()) yield { model: v.name, version: v.version, depth: v.batcher.queueDepth };
  });
  metrics.setProviderSource(function* () {
    for (const v of repository.versions()) if (v.state === 'READY' && v.executionProvider !== undefined) yield { model: v.name, version: v.version, provider: v.executionProvider };
  });
  metrics.setDeviceSource(() => ({
    placements: repository.gpus.placements(),
    devices: repository.gpus.devices ?? [],
  }));
  let started = false;
  const access = new GatewayAccess(options.access);
  const app = createHttpApp({
    app: serving.app,
    inference, repository, metrics, logger, access,
    maxBodyBytes: options.maxBodyBytes,
    isReady: () => started && !inference.draining,
    admission,
  });
  const context: GatewayContext = { app, inference, repository, metrics, pool, logger, options, access };
  let closers: CloseHook[];
  try {
    closers = await startExtensions(context, extensionsOf(options));
    // Decided once the extensions are in: a control-plane sync is a token source.
    access.decide([options.host]);
    if (options.access?.insecure === true && !access.required) logger.warn({ host: options.host }, 'serving without caller authentication (--insecure)');
    await repository.loadAll();
  } catch (err) {
    await pool.close();
    throw err;
  }
  // --io-threads N > 1: the same routes, served from N I/O threads (docs/io-threads.md).
  const front: Front = (options.ioThreads ?? 1) > 1 ? new IoThreads({ serving, threads: options.ioThreads!, logger, metrics }) : serving;
  const port = await front.listen(options.host, options.port).catch(async (err: unknown) => {
    await repository.close();
    await pool.close();
    throw err;
  });
  const metricsListener = options.metricsPort === undefined ? undefined : await listenMetrics(metrics, options.tls, options.host, options.metricsPort).catch(async (err: unknown) => {
    await front.close();
    await repository.close();
    await pool.close();
    throw err;
  });
  raiseListenBacklog(port, admission.settings.listenBacklog, logger);
  inference.peers.listening(front.scheme, options.host, port, logger);
  if (metricsListener !== undefined) closers.push(() => metricsListener.close());
  if (tracing !== undefined) closers.push(() => tracing.close());
  started = true;
  admission.start();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= shutDown(context, front, serving, admission, [...closers, () => admission.close()]));
  const metricsUrl = metricsListener && `${metricsListener.scheme}://${options.host}:${metricsListener.port}/metrics`;
  const reloadTls = async (): Promise<void> => {
    await front.reload();
    raiseListenBacklog(port, admission.settings.listenBacklog, logger);
    await metricsListener?.reload();
  };
  return { ...context, url: `${front.scheme}://${options.host}:${port}`, port, ...(metricsUrl ? { metricsUrl } : {}), close, reloadTls };
}

/** `--metrics-port`: /metrics alone on its own listener (same TLS files), open to scrapers (Triton's habit). */
async function listenMetrics(
  metrics: GatewayMetrics,
  tls: GatewayOptions['tls'],
  host: string,
  port: number,
): Promise<{ port: number; scheme: string; reload(): Promise<void>; close(): void }> {
  const serving = new ServingApp(tls);
  route(serving.app, 'get', ['/metrics'], (call) => metricsRoute(metrics, call));
  serving.app.any('/*', (res, req) => new HttpCall(res).error(new SluiceError('SLUICE_E_HTTP_NOT_FOUND', `no route for ${req.getUrl()} on the metrics port`)));
  const bound = await serving.listen(host, port);
  return { port: bound, scheme: serving.scheme, reload: () => serving.reload(), close: () => serving.close() };
}

/** The built-in extensions the options ask for, then the caller's own. */
function extensionsOf(options: GatewayOptions): GatewayExtension[] {
  const list: GatewayExtension[] = [];
  if (options.drift !== false) list.push(driftRoutes(options.drift));
  list.push(explainRoutes());
  if (options.websocket !== false) list.push(websocketEndpoint(options.websocket));
  if (options.controlPlane !== undefined) list.push(controlPlaneSync(options.controlPlane));
  if (options.payloadLog !== undefined) list.push(payloadLog(options.payloadLog));
  if (options.extensions) list.push(...options.extensions);
  return list;
}

async function startExtensions(context: GatewayContext, extensions: GatewayExtension[]): Promise<CloseHook[]> {
  const closers: CloseHook[] = [];
  for (const extension of extensions) {
    const hook = await extension(context);
    if (hook) closers.push(() => hook.close());
  }
  return closers;
}

/**
 * Readiness goes false and new calls get 503 at once; every answer to a call the front admitted
 * (all but health and /metrics) now closes its connection (`Connection: close`), so keep-alive
 * clients move to fresh connections while the gateway can still answer; queued calls run now
 * rather than after their batching delay; accepted calls finish (bounded by drainTimeoutMs); once
 * no call has come for QUIET_MS, extensions, the listen socket, the workers and every open socket
 * close, in that order. A connection that stayed idle through the whole drain is closed at the end
 * without a word (HTTP/1.1 has none for an idle one): a client that writes on it at that instant
 * sees it close, and nginx resends that call.
 */
async function shutDown(context: GatewayContext, front: Front, serving: ServingApp, admission: Admission, closers: CloseHook[]): Promise<void> {
  const { inference, repository, pool, logger, options } = context;
  admission.drain(options.drainTimeoutMs);
  const idle = inference.drain(options.drainTimeoutMs);
  const flushed = repository.close();
  if (!(await idle)) logger.warn({ inFlight: inference.inFlight }, 'drain timed out; failing the remaining calls');
  else await admission.quiet(QUIET_MS);
  for (const c of closers) await c();
  front.stopListening();
  await Promise.race([flushed, new Promise((r) => setTimeout(r, options.drainTimeoutMs).unref())]);
  await pool.close();
  await front.close();
  if (front !== serving) serving.close();
}
