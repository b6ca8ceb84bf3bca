// One /v2/ws connection: many inference calls in flight, answered as each finishes. It only
// frames and paces; every call goes to the gateway's inference entry (`infer`).
//
// Memory per connection is bounded three ways: a message over maxMessageBytes closes the
// connection with 1009 and a reason (uWS itself cuts off, without a close frame, a message over
// twice that, before buffering all of it — it only reports the reason server-side); at most
// maxInFlight calls are accepted at once, more get a SLUICE_E_WS_TOO_MANY_IN_FLIGHT answer; and
// answers the client has not read are bounded: past pauseBufferedBytes unsent, new calls wait
// before running and finished answers wait in an outbox (both counted as in flight), and `drain`
// resumes them. A client that reads nothing and keeps sending past its in-flight limit, or whose
// unsent bytes would pass maxBufferedBytes, is closed with 1008 "slow reader". Across connections,
// with a front (admission.ts), each accepted call holds its message's bytes in the process's body
// budget until its answer is ready. (Lag shedding refuses the upgrade, not the calls of an open
// connection: those are already paced by maxInFlight and the pause on unread answers.)
import type { WebSocket } from 'uWebSockets.js';
import { SluiceError, toSluiceError } from '../../lib/errors.js';
import type { CancelSignal } from '../util/cancel-signal.js';
import { RingQueue } from '../util/ring-queue.js';
import type { Admission } from './admission.js';
import {
  WS_CLOSE, WsFramingError, encodeBinaryFrame, encodeErrorFrame, parseBinaryFrame, parseTextFrame, type WsCall,
} from './ws-frame-codec.js';

/** An answer as the inference entry encodes it: a JSON object text without `id`, plus binary parts. */
export interface WsAnswer {
  /** `{...}` — the OIP response object; the endpoint splices the call's `id` into it. */
  json: string;
  /** Output bytes, in the order of the outputs carrying binary_data_size (binary calls only). */
  binary?: readonly Uint8Array[];
}

export interface WsInferContext<Principal> {
  principal: Principal;
  /** The call came in a binary frame: answer outputs as binary data. */
  binary: boolean;
  /** Aborted when the connection closes before the answer is ready; this call's own. */
  signal: CancelSignal;
}

export type WsEvent = { type: 'open' | 'close' | 'framing-error' | 'slow-reader'; code?: number; reason?: string };

/** What a connection needs of its endpoint: the limits, the inference entry, the event sink. */
export interface WsConnectionOptions<Principal> {
  /** Largest message accepted; a larger one closes the connection with 1009 and a reason. */
  maxMessageBytes: number;
  /** Calls accepted and not yet answered, per connection. */
  maxInFlight: number;
  /** Unsent answer bytes at which new calls wait (resumed on drain). */
  pauseBufferedBytes: number;
  /** Unsent answer bytes at which the connection is closed with 1008. */
  maxBufferedBytes: number;
  /** The gateway's transport-independent inference entry. */
  infer(call: WsCall, context: WsInferContext<Principal>): Promise<WsAnswer>;
  /** Told about every closed connection and framing failure (for logs), never per call. */
  onEvent?(event: WsEvent): void;
  /** The gateway's front: the body budget held calls count in, and shedding while the loop lags. */
  admission?: Admission | undefined;
}

/**
 * One accepted call, from acceptance until its answer is ready. It is the call's inference
 * context and its own cancel signal (as HttpCall is for HTTP): the batcher's abort listener lands
 * here, not on a signal shared by the connection, so it costs no search among the connection's
 * other calls to remove and the connection's close aborts each running call once.
 */
export class WsPendingCall<Principal = unknown> implements WsInferContext<Principal>, CancelSignal {
  readonly call: WsCall;
  readonly principal: Principal;
  readonly binary: boolean;
  aborted = false;
  /** Bytes of the body budget this call holds (its message's size) until its answer is ready. */
  reserved = 0;
  #listeners: (() => void)[] | undefined = undefined;

  constructor(call: WsCall, principal: Principal, binary: boolean) {
    this.call = call;
    this.principal = principal;
    this.binary = binary;
  }

  get signal(): CancelSignal {
    return this;
  }

  /** Abort listeners registered on this call (the batcher's one while it is queued). */
  get listenerCount(): number {
    return this.#listeners?.length ?? 0;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    (this.#listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    const i = listeners.indexOf(listener);
    if (i >= 0) listeners.splice(i, 1);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) for (const l of listeners) l();
  }
}

interface Outgoing {
  data: string | Uint8Array;
  binary: boolean;
}

/** Per-connection state and behaviour, reached from its socket's uWS user data. */
export class WsConnection<Principal> {
  readonly principal: Principal;
  readonly #options: WsConnectionOptions<Principal>;
  #ws: WebSocket<unknown> | undefined = undefined;
  #open = true;
  /** Accepted and not yet answered (held, running or in the outbox). */
  #inFlight = 0;
  /** Accepted calls not started yet because the client is behind on reading. */
  readonly #held = new RingQueue<WsPendingCall<Principal>>();
  /** Answers ready but not handed to uWS yet, for the same reason. */
  readonly #outbox = new RingQueue<Outgoing>();
  /** Calls handed to the inference entry whose answer is not ready: aborted on close. */
  readonly #running = new Set<WsPendingCall<Principal>>();

  constructor(principal: Principal, options: WsConnectionOptions<Principal>) {
    this.principal = principal;
    this.#options = options;
  }

  /** Calls handed to the inference entry and not answered yet. */
  get runningCalls(): number {
    return this.#running.size;
  }

  opened(ws: WebSocket<unknown>): void {
    this.#ws = ws;
  }

  received(message: ArrayBuffer, isBinary: boolean, receivedAt: number): void {
    const ws = this.#ws!;
    const limit = this.#options.maxMessageBytes;
    if (message.byteLength > limit) {
      ws.end(WS_CLOSE.MESSAGE_TOO_BIG, `message of ${message.byteLength} bytes exceeds the limit of ${limit}`);
      return;
    }
    let call: WsCall;
    try {
      call = isBinary ? parseBinaryFrame(message) : parseTextFrame(message);
    } catch (err) {
      if (err instanceof WsFramingError) {
        this.#options.onEvent?.({ type: 'framing-error', code: WS_CLOSE.PROTOCOL_ERROR, reason: err.message });
        ws.end(WS_CLOSE.PROTOCOL_ERROR, err.message.slice(0, 120));
        return;
      }
      const e = toSluiceError(err);
      this.#send(encodeErrorFrame(e.details?.id as string | undefined, e), false);
      return;
    }
    call.receivedAt = receivedAt;
    this.#accept(call, isBinary, message.byteLength);
  }

  /** uWS `drain`: the client read some answers. */
  drained(): void {
    this.#resume();
  }

  /** uWS `close`: drop what waits and abort every running call. */
  closed(): void {
    this.#open = false;
    this.#ws = undefined;
    const admission = this.#options.admission;
    while (this.#held.length > 0) {
      const held = this.#held.shift()!;
      admission?.bodies.release(held.reserved);
    }
    while (this.#outbox.length > 0) this.#outbox.shift();
    for (const pending of this.#running) pending.abort();
    this.#running.clear();
  }

  end(code: number, reason: string): void {
    this.#ws?.end(code, reason);
  }

  #accept(call: WsCall, binary: boolean, bytes: number): void {
    const o = this.#options;
    const ws = this.#ws!;
    if (this.#inFlight >= o.maxInFlight) {
      const unsent = ws.getBufferedAmount();
      if (unsent >= o.pauseBufferedBytes) {
        this.#slowReader(`slow reader: ${this.#inFlight} calls waiting, ${unsent} bytes of answers unsent`);
        return;
      }
      const err = new SluiceError('SLUICE_E_WS_TOO_MANY_IN_FLIGHT', `more than ${o.maxInFlight} calls in flight on this connection; wait for answers`, {
        details: { limit: o.maxInFlight },
      });
      this.#send(encodeErrorFrame(call.id, err), false);
      return;
    }
    // Refused calls are answered with an error frame; the connection and its other calls go on.
    const admission = o.admission;
    if (admission !== undefined) {
      const refusal = admission.bodies.tryReserve(bytes) ? undefined : admission.bodyRefusal(bytes);
      if (refusal !== undefined) {
        this.#send(encodeErrorFrame(call.id, refusal), false);
        return;
      }
    }
    this.#inFlight++;
    const pending = new WsPendingCall(call, this.principal, binary);
    if (admission !== undefined) pending.reserved = bytes;
    if (this.#held.length > 0 || this.#outbox.length > 0 || ws.getBufferedAmount() >= o.pauseBufferedBytes) this.#held.push(pending);
    else this.#run(pending);
  }

  #run(pending: WsPendingCall<Principal>): void {
    this.#running.add(pending);
    this.#options.infer(pending.call, pending).then(
      (result) => {
        this.#running.delete(pending);
        this.#options.admission?.bodies.release(pending.reserved);
        this.#answer(pending, result);
      },
      (err: unknown) => {
        this.#running.delete(pending);
        this.#options.admission?.bodies.release(pending.reserved);
        this.#deliver(encodeErrorFrame(pending.call.id, toSluiceError(err)), false);
      },
    );
  }

  #answer(pending: WsPendingCall<Principal>, result: WsAnswer): void {
    const id = JSON.stringify(pending.call.id);
    // Splice the id in front of the entry's own fields: `{"id":"7",` + `"model_name":...}`.
    const json = result.json.length > 2 ? `{"id":${id},${result.json.slice(1)}` : `{"id":${id}}`;
    // Outputs asked for as binary_data in a text call still need a binary frame to travel in.
    if (pending.binary || (result.binary !== undefined && result.binary.length > 0)) this.#deliver(encodeBinaryFrame(json, result.binary ?? []), true);
    else this.#deliver(json, false);
  }

  /** Delivers the answer of an in-flight call, through the outbox while the client is behind. */
  #deliver(data: string | Uint8Array, binary: boolean): void {
    if (!this.#open) return;
    if (this.#outbox.length > 0 || this.#ws!.getBufferedAmount() >= this.#options.pauseBufferedBytes) {
      this.#outbox.push({ data, binary });
      return;
    }
    if (this.#send(data, binary)) this.#inFlight--;
    this.#resume();
  }

  /**
   * Hands a frame to uWS, or closes the connection when the client has left too much unread. Error
   * frames for refused requests come straight here (they are small and not counted in flight).
   */
  #send(data: string | Uint8Array, binary: boolean): boolean {
    const ws = this.#ws;
    if (!this.#open || !ws) return false;
    const unsent = ws.getBufferedAmount();
    const limit = this.#options.maxBufferedBytes;
    // One answer larger than the limit still goes to a client that has read everything else.
    if (unsent > 0 && unsent + data.length > limit) {
      this.#slowReader(`slow reader: ${unsent} bytes of answers unsent (limit ${limit})`);
      return false;
    }
    ws.cork(() => ws.send(data, binary));
    return true;
  }

  /** Sends waiting answers, then starts held calls, while the client keeps up with reading. */
  #resume(): void {
    const pause = this.#options.pauseBufferedBytes;
    while (this.#open && this.#outbox.length > 0 && this.#ws!.getBufferedAmount() < pause) {
      const out = this.#outbox.shift()!;
      if (this.#send(out.data, out.binary)) this.#inFlight--;
    }
    while (this.#open && this.#outbox.length === 0 && this.#held.length > 0 && this.#ws!.getBufferedAmount() < pause) {
      this.#run(this.#held.shift()!);
    }
  }

  #slowReader(reason: string): void {
    this.#options.onEvent?.({ type: 'slow-reader', code: WS_CLOSE.POLICY_VIOLATION, reason });
    this.#ws!.end(WS_CLOSE.POLICY_VIOLATION, reason);
  }
}
