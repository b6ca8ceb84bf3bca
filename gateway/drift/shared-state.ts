// How a worker's drift window reaches the main thread: the window's state lives in a
// SharedArrayBuffer, updated in place under a seqlock, and the main thread copies it whenever it
// likes. No message per batch, and nothing depends on the worker's event loop, which piscina blocks
// in Atomics.wait between tasks (a flush request would wait for the next task).
//
// Layout: Int32 control words, then the Float64 state (gateway/drift/layout.ts).
//   ctl[0] seq: odd while the worker writes (a seqlock: the reader retries a torn read)
//   ctl[1] requested epoch: the main thread bumps it to rotate the window
//   ctl[2] published epoch: the epoch the published state belongs to
//   ctl[3] batches the observer skipped (tensors that do not match the profile)
import type { DriftWindow } from './window.js';

const CONTROL_BYTES = 16;
const SEQ = 0;
const REQUESTED = 1;
const PUBLISHED = 2;
const SKIPPED = 3;

export function sharedStateBuffer(stateLength: number): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_BYTES + 8 * stateLength);
}

/**
 * The worker side: one writer per observer. The observer's window keeps its state right in the
 * shared buffer (`state`), so publishing costs two atomic increments around the batch's updates.
 */
export class SharedStateWriter {
  readonly buffer: SharedArrayBuffer;
  /** Where the observer's DriftWindow keeps its state. */
  readonly state: Float64Array;
  readonly #ctl: Int32Array;
  #epoch = 0;

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#ctl = new Int32Array(buffer, 0, 4);
    this.state = new Float64Array(buffer, CONTROL_BYTES);
  }

  /** Open a batch's updates; starts the window over when the main thread asked for a new epoch. */
  begin(window: DriftWindow): void {
    const requested = Atomics.load(this.#ctl, REQUESTED);
    Atomics.add(this.#ctl, SEQ, 1);
    if (requested !== this.#epoch) {
      window.reset();
      this.#epoch = requested;
    }
  }

  /** Close what begin() opened: the state is consistent again. */
  end(skipped: number): void {
    Atomics.store(this.#ctl, PUBLISHED, this.#epoch);
    Atomics.store(this.#ctl, SKIPPED, skipped);
    Atomics.add(this.#ctl, SEQ, 1);
  }
}

/** The main-thread side of one worker's shared state. */
export class SharedStateReader {
  readonly #ctl: Int32Array;
  readonly #state: Float64Array;
  readonly copy: Float64Array;

  constructor(buffer: SharedArrayBuffer) {
    this.#ctl = new Int32Array(buffer, 0, 4);
    this.#state = new Float64Array(buffer, CONTROL_BYTES);
    this.copy = new Float64Array(this.#state.length);
  }

  /** Copy the published state into `this.copy`; returns its epoch, or -1 if every try was torn. */
  read(): number {
    for (let tries = 0; tries < 1000; tries++) {
      const seq = Atomics.load(this.#ctl, SEQ);
      if (seq & 1) continue;
      this.copy.set(this.#state);
      const epoch = Atomics.load(this.#ctl, PUBLISHED);
      if (Atomics.load(this.#ctl, SEQ) === seq) return epoch;
    }
    return -1;
  }

  requestEpoch(epoch: number): void {
    Atomics.store(this.#ctl, REQUESTED, epoch);
  }

  get skipped(): number {
    return Atomics.load(this.#ctl, SKIPPED);
  }
}
