// The messages between the main thread and its I/O threads (io-threads.ts, io-thread-main.ts).
// Per-call messages are small arrays (a tag, then fields) gathered into one postMessage per event
// loop turn and per direction: a worker message costs a few µs on each side, so one per call
// would cost what the I/O threads save. Bodies travel as transferred ArrayBuffers, never cloned.
import type { MessagePort } from 'node:worker_threads';

/** I/O thread → main. */
export const enum Up {
  /** [Request, id, method, url, query, headers (flat k,v), hasBody] */
  Request = 1,
  /** [Data, id, chunk: ArrayBuffer, last] */
  Data = 2,
  /** [Abort, id] the client went away before the answer. */
  Abort = 3,
  /** [Upgrade, id, wsRoute, url, query, headers] a WebSocket upgrade request on ws route `wsRoute`. */
  Upgrade = 4,
  /** [Open, id] the upgrade `id` became an open socket. */
  Open = 5,
  /** [Message, id, data: ArrayBuffer, isBinary, bufferedAmount] */
  Message = 6,
  /** [Drain, id, bufferedAmount] */
  Drain = 7,
  /** [Close, id, code, reason: ArrayBuffer] */
  Close = 8,
  /** [Buffered, id, bufferedAmount] the socket's unsent bytes changed after sends. */
  Buffered = 9,
}

/** Main → I/O thread. */
export const enum Down {
  /** [Respond, id, status, headers (flat), body, closeConnection, withoutBody] */
  Respond = 1,
  /** [Accept, id, key, protocol, extensions] finish the upgrade `id`. */
  Accept = 2,
  /** [Send, id, data, isBinary] */
  Send = 3,
  /** [End, id, code, reason] */
  End = 4,
}

export type WireMessage = unknown[];

/** One WebSocket route as the I/O threads register it: the pattern and uWS's numeric options. */
export interface WsRouteSpec {
  pattern: string;
  options: Record<string, number | boolean>;
}

/** Control messages (objects, not batched): main → thread. */
export type ControlDown =
  | { type: 'listen'; host: string; port: number }
  | { type: 'stop' }
  | { type: 'close' }
  | { type: 'reload' };

/** Control answers: thread → main. */
export type ControlUp =
  | { type: 'listening' }
  | { type: 'reloaded' }
  | { type: 'failed'; code: string; message: string }
  /** An uncaught error: the thread closes its sockets and ends. */
  | { type: 'crashed'; message: string };

/** Gathers one turn's messages into one postMessage (with the buffers to transfer). */
export class Outbox {
  readonly #port: Pick<MessagePort, 'postMessage'>;
  #batch: WireMessage[] = [];
  #transfer: ArrayBuffer[] = [];
  #scheduled = false;
  readonly #flush = (): void => this.flush();

  constructor(port: Pick<MessagePort, 'postMessage'>) {
    this.#port = port;
  }

  push(message: WireMessage, transfer?: ArrayBuffer): void {
    this.#batch.push(message);
    if (transfer !== undefined) this.#transfer.push(transfer);
    if (!this.#scheduled) {
      this.#scheduled = true;
      // setImmediate runs after the poll phase: every socket read in this turn rides one message.
      setImmediate(this.#flush);
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    const transfer = this.#transfer;
    this.#batch = [];
    this.#transfer = [];
    this.#port.postMessage(batch, transfer);
  }
}

/** A copy of `bytes` in an ArrayBuffer of its own, to transfer (a view may share a pool slab). */
export function ownBuffer(bytes: Uint8Array | ArrayBuffer): ArrayBuffer {
  if (bytes instanceof ArrayBuffer) return bytes.slice(0);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}
