import type { Logger } from '../lib/log.js';
import type { RunningServer } from '../lib/server.js';

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
  controlPlane?: { url: string; token: string; name?: string | undefined };
}

export async function startGateway(options: GatewayOptions): Promise<RunningServer> {
  throw new Error(`gateway not built yet (${options.modelRepository})`);
}
