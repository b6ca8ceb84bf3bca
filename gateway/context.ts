// The contract between the gateway and its extensions (the WebSocket endpoint, drift routes,
// control-plane sync, a test's own routes): the parts an extension gets and the hook it returns.
// It lives apart from index.ts, which wires the extensions, so that an extension imports the
// contract without importing the module that imports it.
import type { TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../lib/log.js';
import type { CertificateFiles, ClientTlsFiles } from '../lib/tls.js';
import type { BatcherClock } from './batching/batcher.js';
import type { GatewayAccess, GatewayAccessOptions } from './access/access-policy.js';
import type { InferenceService } from './inference/inference-service.js';
import type { GatewayMetrics } from './metrics/metrics.js';
import type { ModelRepository } from './models/repository.js';
import type { WorkerPool } from './workers/pool.js';
import type { GpuDeviceSource } from './workers/gpu-devices.js';
import type { TracingOptions } from './tracing/tracing.js';

/** The settings every part of a gateway may read; index.ts adds the built-in extensions' own. */
export interface GatewaySettings {
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
  /** Serve https/wss with this certificate and key (uWS SSLApp); plain http/ws without. */
  tls?: CertificateFiles | undefined;
  /** Register with and sync from a control plane; `tls` is the CA it is trusted by and the client certificate shown to it (mutual TLS). */
  controlPlane?: {
    url: string; token: string; name?: string | undefined; region?: string | undefined; labels?: Record<string, string> | undefined; tls?: ClientTlsFiles | undefined; registryPublicKeyPem?: string | undefined;
    /** --advertise-url: where the other gateways reach this one (default: the listen address, unless a wildcard). */
    advertiseUrl?: string | undefined;
  };
  /** Threads serving HTTP/WebSocket (docs/io-threads.md); 1 (the default) serves them on the main thread. */
  ioThreads?: number | undefined;
  /** ORT worker threads (default: one per core). */
  workerThreads?: number | undefined;
  /** Module URLs each worker imports at start (registers batch observer factories, e.g. drift). */
  workerPreload?: string[] | undefined;
  /** Add routes or behaviour (WebSocket endpoint, drift routes, control-plane sync) before the server listens. */
  extensions?: GatewayExtension[] | undefined;
  /** Batcher clock (tests). */
  clock?: BatcherClock | undefined;
  /** Where the GPUs are listed from when a model asks for CUDA (default nvidia-smi on PATH). */
  gpus?: GpuDeviceSource | undefined;
  /** Who may call (server/access.ts): tokens, scopes, origins, rate limits, the repository API. */
  access?: GatewayAccessOptions | undefined;
  /** Serve /metrics also on this port, without a token (0 = a free port). */
  metricsPort?: number | undefined;
  /** Export traces of calls over OTLP/HTTP (docs/tracing.md); off when absent. */
  tracing?: TracingOptions | undefined;
}

/** What an extension gets: the parts of this gateway. */
export interface GatewayContext {
  app: TemplatedApp;
  inference: InferenceService;
  repository: ModelRepository;
  metrics: GatewayMetrics;
  pool: WorkerPool;
  logger: Logger;
  options: GatewaySettings;
  /** The route gate every extension's routes call first. */
  access: GatewayAccess;
}

/** Returns an optional close hook, run first on shutdown. */
export type GatewayExtension = (ctx: GatewayContext) => void | { close(): Promise<void> | void } | Promise<void | { close(): Promise<void> | void }>;
