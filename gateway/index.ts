// The gateway: model repository + worker pool + batchers behind an Open Inference Protocol HTTP
// server on uWebSockets.js. startGateway wires the parts; extensions (the WebSocket endpoint,
// drift routes, control-plane sync) get the same parts through GatewayContext and add their own
// routes on the uWS app before it listens.
import uWS, { type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import { SluiceError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { RunningServer } from '../lib/server.js';
import type { BatcherClock } from './batching/batcher.js';
import { GatewayMetrics } from './metrics/metrics.js';
import { ModelRepository } from './models/repository.js';
import { createHttpApp } from './server/http-server.js';
import { driftRoutes, type DriftRoutesOptions } from './server/drift-routes.js';
import { InferenceService } from './inference/inference-service.js';
import { websocketEndpoint, type WebSocketOptions } from './server/ws-extension.js';
import { imagePreprocessor } from './preprocess/preprocessor.js';
import { controlPlaneSync } from './sync/control-plane-sync.js';
import { WorkerPool } from './workers/pool.js';

export interface GatewayOptions {
  host: string;
  /** 0 = a free port. */
  port: number;
  /** Triton-like model repository folder: <name>/config.json and <name>/<version>/model.onnx. */
  modelRepository: string;
  /** Largest request body accepted; larger ones get 413. */
  maxBodyBytes: number;
  /** How long close() waits for in-flight calls before failing them. */
  drainTimeoutMs: number;
  logger: Logger;
  /** Register with and sync from a control plane. */
  controlPlane?: { url: string; token: string; name?: string | undefined; region?: string | undefined; labels?: Record<string, string> | undefined };
  /** ORT worker threads (default: one per core). */
  workerThreads?: number | undefined;
  /** Module URLs each worker imports at start (registers batch observer factories, e.g. drift). */
  workerPreload?: string[] | undefined;
  /** Add routes or behaviour (WebSocket endpoint, drift routes, control-plane sync) before the server listens. */
  extensions?: GatewayExtension[] | undefined;
  /** Batcher clock (tests). */
  clock?: BatcherClock | undefined;
  /** Drift monitoring of versions whose config has `drift` (default on); false turns it off. */
  drift?: DriftRoutesOptions | false | undefined;
  /** The /v2/ws endpoint's per-connection limits (default on); false turns it off. */
  websocket?: WebSocketOptions | false | undefined;
}

/** What an extension gets: the parts of this gateway. */
export interface GatewayContext {
  app: TemplatedApp;
  inference: InferenceService;
  repository: ModelRepository;
  metrics: GatewayMetrics;
  pool: WorkerPool;
  logger: Logger;
  options: GatewayOptions;
}

/** Returns an optional close hook, run first on shutdown. */
export type GatewayExtension = (ctx: GatewayContext) => void | { close(): Promise<void> | void } | Promise<void | { close(): Promise<void> | void }>;

export interface Gateway extends RunningServer, GatewayContext {}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const logger = options.logger;
  const metrics = new GatewayMetrics();
  const pool = new WorkerPool({ threads: options.workerThreads, preload: options.workerPreload, logger });
  const repository = new ModelRepository({ root: options.modelRepository, pool, metrics, logger, clock: options.clock });
  const inference = new InferenceService(repository, metrics);
  // BYTES image inputs of models whose config has `preprocess` (gateway/preprocess).
  inference.setPreprocessor(imagePreprocessor());
  metrics.setQueueDepthSource(function* () {
    for (const v of repository.versions()) yield { model: v.name, version: v.version, depth: v.batcher.queueDepth };
  });
  let started = false;
  const app = createHttpApp({
    inference, repository, metrics, logger,
    maxBodyBytes: options.maxBodyBytes,
    isReady: () => started && !inference.draining,
  });
  const context: GatewayContext = { app, inference, repository, metrics, pool, logger, options };
  const closers: (() => Promise<void> | void)[] = [];
  try {
    const drift = options.drift === false ? [] : [driftRoutes(options.drift)];
    const websocket = options.websocket === false ? [] : [websocketEndpoint(options.websocket)];
    const cp = options.controlPlane;
    const sync = cp === undefined ? [] : [controlPlaneSync(cp)];
    for (const extension of [...drift, ...websocket, ...sync, ...(options.extensions ?? [])]) {
      const hook = await extension(context);
      if (hook) closers.push(() => hook.close());
    }
    await repository.loadAll();
  } catch (err) {
    await pool.close();
    throw err;
  }
  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(options.host, options.port, (socket) => {
      if (socket) resolve(socket);
      else reject(new SluiceError('SLUICE_E_CONFIG_INVALID', `cannot listen on ${options.host}:${options.port}`));
    });
  }).catch(async (err: unknown) => {
    await repository.close();
    await pool.close();
    throw err;
  });
  started = true;
  const port = uWS.us_socket_local_port(listenSocket);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Readiness goes false and new calls get 503 at once; queued calls run now rather than
      // after their batching delay; accepted calls finish (bounded by drainTimeoutMs).
      const idle = inference.drain(options.drainTimeoutMs);
      const flushed = repository.close();
      if (!(await idle)) logger.warn({ inFlight: inference.inFlight }, 'drain timed out; failing the remaining calls');
      for (const c of closers) await c();
      uWS.us_listen_socket_close(listenSocket);
      await Promise.race([flushed, new Promise((r) => setTimeout(r, options.drainTimeoutMs).unref())]);
      await pool.close();
      // uWS 20.30 has App#close (closes every socket) though its typings lag behind.
      (app as TemplatedApp & { close(): void }).close();
    })();
    return closing;
  };
  return { ...context, url: `http://${options.host}:${port}`, port, close };
}
