// The messages between the gateway's main thread (DriftHub) and the drift observers in the inference
// workers, on one BroadcastChannel. Workers never push on their own schedule: the hub asks for a
// flush every merge interval and each observer answers with its window's rotated state, so the hot
// path only updates histograms and a quiet worker sends nothing.
import type { DriftConfig } from '../models/config.js';

export const DRIFT_CHANNEL = 'sluice:drift';

export interface FlushMessage {
  type: 'drift-flush';
}

export interface SnapshotMessage {
  type: 'drift-snapshot';
  model: string;
  version: string;
  /** Folder of the model version: tells gateways in one process (tests) apart. */
  versionDir: string;
  config: DriftConfig;
  snapshot: Float64Array;
  /** Batches the observer could not use since its last snapshot (bad shape or dtype). */
  errors: number;
}

export type DriftMessage = FlushMessage | SnapshotMessage;
