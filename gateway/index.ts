// The gateway: model repository + worker pool + batchers behind an Open Inference Protocol HTTP
// server on uWebSockets.js. startGateway wires the parts; extensions (the WebSocket endpoint,
// drift routes, control-plane sync) get the same parts through GatewayContext (context.ts) and add
// their own routes on the uWS app before it listens.
import uWS, { type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import { SluiceError } from '../lib/errors.js';
import type { RunningServer } from '../lib/server.js';
import type { GatewayContext, GatewayExtension, GatewaySettings } from './context.js';
import { InferenceService } from './inference/inference-service.js';
import { GatewayMetrics } from './metrics/metrics.js';
import { ModelRepository } from './models/repository.js';
import { imagePreprocessor } from './preprocess/preprocessor.js';
import { driftRoutes, type DriftRoutesOptions } from './server/drift-routes.js';
import { createHttpApp } from './server/http-server.js';
import { websocketEndpoint, type WebSocketOptions } from './server/ws-extension.js';
import { controlPlaneSync } from './sync/control-plane-sync.js';
import { payloadLog, type PayloadLogOptions } from './payload-log/payload-log.js';
import { WorkerPool } from './workers/pool.js';

export type { GatewayContext, GatewayExtension, GatewaySettings } from './context.js';

export interface GatewayOptions extends GatewaySettings {
  /** Drift monitoring of versions whose config has `drift` (default on); false turns it off. */
  drift?: DriftRoutesOptions | false | undefined;
  /** The /v2/ws endpoint's per-connection limits (default on); false turns it off. */
  websocket?: WebSocketOptions | false | undefined;
  /** Sampled calls of models whose config has `payload_log`, to this folder (default off: docs/payload-log.md). */
  payloadLog?: PayloadLogOptions | undefined;
}

export interface Gateway extends RunningServer, GatewayContext {}

type CloseHook = () => Promise<void> | void;

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { logger } = options;
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
  let closers: CloseHook[];
  try {
    closers = await startExtensions(context, extensionsOf(options));
    await repository.loadAll();
  } catch (err) {
    await pool.close();
    throw err;
  }
  const listenSocket = await listen(app, options.host, options.port).catch(async (err: unknown) => {
    await repository.close();
    await pool.close();
    throw err;
  });
  started = true;
  const port = uWS.us_socket_local_port(listenSocket);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= shutDown(context, listenSocket, closers));
  return { ...context, url: `http://${options.host}:${port}`, port, close };
}

/** The built-in extensions the options ask for, then the caller's own. */
function extensionsOf(options: GatewayOptions): GatewayExtension[] {
  const list: GatewayExtension[] = [];
  if (options.drift !== false) list.push(driftRoutes(options.drift));
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

function listen(app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> {
  return new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (socket) resolve(socket);
      else reject(new SluiceError('SLUICE_E_CONFIG_INVALID', `cannot listen on ${host}:${port}`));
    });
  });
}

/**
 * Readiness goes false and new calls get 503 at once; queued calls run now rather than after their
 * batching delay; accepted calls finish (bounded by drainTimeoutMs); then extensions, the listen
 * socket, the workers and every open socket close, in that order.
 */
async function shutDown(context: GatewayContext, listenSocket: us_listen_socket, closers: CloseHook[]): Promise<void> {
  const { inference, repository, pool, logger, app, options } = context;
  const idle = inference.drain(options.drainTimeoutMs);
  const flushed = repository.close();
  if (!(await idle)) logger.warn({ inFlight: inference.inFlight }, 'drain timed out; failing the remaining calls');
  for (const c of closers) await c();
  uWS.us_listen_socket_close(listenSocket);
  await Promise.race([flushed, new Promise((r) => setTimeout(r, options.drainTimeoutMs).unref())]);
  await pool.close();
  // uWS 20.30 has App#close (closes every socket) though its typings lag behind.
  (app as TemplatedApp & { close(): void }).close();
}
