// The messages between drift observers in the inference workers and the gateway's DriftHub, on one
// process-wide BroadcastChannel. An observer announces its shared state once when it starts and
// says goodbye when its session is released; everything in between goes through the shared buffer.

export const DRIFT_CHANNEL = 'sluice:drift';

export interface AttachMessage {
  type: 'drift-attach';
  /** Unique per observer (thread id and a counter). */
  id: string;
  model: string;
  version: string;
  /** Folder of the model version: tells gateways in one process (tests) apart. */
  versionDir: string;
  buffer: SharedArrayBuffer;
}

export interface DetachMessage {
  type: 'drift-detach';
  id: string;
}

export type DriftMessage = AttachMessage | DetachMessage;
