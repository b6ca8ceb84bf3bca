// What the main thread and the ORT workers send each other. Plain, structured-clone-friendly
// objects; tensor data travels in ArrayBuffers that are transferred, never cloned.
import type { OrtType } from '../models/tensors.js';

/** Everything a worker needs to open (or re-open, after a crash) the session of one model version. */
export interface SessionSpec {
  /** Unique per loaded model version generation, e.g. `weather/1#3`. */
  key: string;
  model: string;
  version: string;
  /** Folder of the version (model.onnx, drift profile, ...). */
  versionDir: string;
  modelPath: string;
  intraOpThreads: number;
  executionProviders: ('cpu' | 'cuda')[];
  /** The GPU CUDA sessions are created on: the config's device_id, or where placement put an 'auto' one. */
  deviceId: number;
  /** The model's config.json after validation, as JSON text (cheap to clone on every task). */
  configJson: string;
}

export interface WireTensor {
  name: string;
  type: OrtType;
  dims: number[];
  /** Numeric data; for 'string' tensors an array of strings. */
  data: ArrayBufferView | string[];
}

export interface LoadTask {
  op: 'load';
  spec: SessionSpec;
}

export interface RunTask {
  op: 'run';
  spec: SessionSpec;
  inputs: WireTensor[];
  /** Outputs to fetch; all when empty. */
  outputs: string[];
  /** A warm-up run on synthetic inputs: batch observers (drift) skip it. */
  warmup?: boolean;
  /**
   * Wall-clock time (ms since the epoch) after which every request in the batch has been answered
   * at its deadline: a batch that waited past it (in the pool's queue, or staged in a worker behind
   * the running batch) is skipped, not run.
   */
  notAfter?: number;
}

export type WorkerTask = LoadTask | RunTask;

export interface TensorMetadata {
  name: string;
  type: string;
  /** Symbolic dimensions are -1. */
  shape: number[];
}

export interface LoadResult {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** Execution providers the session ended up with (CUDA falls back to CPU). */
  executionProviders: string[];
}

export interface RunResult {
  outputs: WireTensor[];
  /** The batch's input buffers, moved back for reuse (gateway/util/buffer-pool.ts). */
  recycled: ArrayBuffer[];
  /** Time inside session.run, in seconds. */
  computeSeconds: number;
}

/** Broadcast to every worker when a model version is unloaded. */
export interface ReleaseMessage {
  release: string;
}

export const SESSION_CHANNEL = 'sluice:sessions';

/** Given to every worker at start. */
export interface WorkerData {
  /** Module URLs to import before the first task. */
  preload: string[];
}
