// The /v2/ws endpoint: many inference calls in flight on one WebSocket, answered as each finishes.
// It only frames and paces; every call goes through the same entry point as HTTP (auth, routing,
// batching, metrics), handed in as `options.infer`.
//
// Memory per connection is bounded three ways: a message over maxMessageBytes closes the
// connection with 1009 and a reason (uWS itself cuts off, without a close frame, a message over
// twice that, before buffering all of it — it only reports the reason server-side); at most
// maxInFlight calls are accepted at once, more get a SLUICE_E_WS_TOO_MANY_IN_FLIGHT answer; and
// answers the client has not read are bounded: past pauseBufferedBytes unsent, new calls wait
// before running and finished answers wait in an outbox (both counted as in flight), and `drain`
// resumes them. A client that reads nothing and keeps sending past its in-flight limit, or whose
// unsent bytes would pass maxBufferedBytes, is closed with 1008 "slow reader".
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_socket_context_t } from 'uWebSockets.js';
import { SluiceError, toSluiceError } from '../../lib/errors.js';
import { RingQueue } from '../util/ring-queue.js';
import { statusLine } from './http-io.js';
import {
  WS_CLOSE, WsFramingError, encodeBinaryFrame, encodeErrorFrame, parseBinaryFrame, parseTextFrame, type WsCall,
} from './ws-frame-codec.js';

/** An answer as the inference entry encodes it: a JSON object text without `id`, plus binary parts. */
export interface WsAnswer {
  /** `{...}` — the OIP response object; the endpoint splices the call's `id` into it. */
  json: string;
  /** Output bytes, in the order of the outputs carrying binary_data_size (binary calls only). */
  binary?: Uint8Array[];
}

export interface WsInferContext<Principal> {
  principal: Principal;
  /** The call came in a binary frame: answer outputs as binary data. */
  binary: boolean;
  /** Aborted when the connection closes before the answer is ready. */
  signal: AbortSignal;
}

export interface WsEndpointOptions<Principal> {
  /** Largest message accepted; a larger one closes the connection with 1009 and a reason. */
  maxMessageBytes: number;
  /** Calls accepted and not yet answered, per connection. */
  maxInFlight: number;
  /** Unsent answer bytes at which new calls wait (resumed on drain). */
  pauseBufferedBytes: number;
  /** Unsent answer bytes at which the connection is closed with 1008. */
  maxBufferedBytes: number;
  /** Seconds without traffic before uWS closes the connection; 0 disables. */
  idleTimeoutSeconds: number;
  /**
   * Checks the upgrade request (headers are read before any await). Resolves with whatever the
   * inference entry needs to authorise calls; throws a SluiceError (401/403) to refuse the upgrade.
   */
  authenticate(headers: ReadonlyMap<string, string>): Principal | Promise<Principal>;
  /** The gateway's transport-independent inference entry. */
  infer(call: WsCall, context: WsInferContext<Principal>): Promise<WsAnswer>;
  /** Told about every closed connection and framing failure (for logs), never per call. */
  onEvent?(event: { type: 'open' | 'close' | 'framing-error' | 'slow-reader'; code?: number; reason?: string }): void;
}

export const WS_DEFAULTS = {
  maxMessageBytes: 64 * 1024 * 1024,
  maxInFlight: 4096,
  pauseBufferedBytes: 4 * 1024 * 1024,
  maxBufferedBytes: 64 * 1024 * 1024,
  idleTimeoutSeconds: 120,
} as const;

interface Held {
  call: WsCall;
  binary: boolean;
}

interface Outgoing {
  data: string | Uint8Array;
  binary: boolean;
}

/** Per-connection state (uWS user data). */
class WsConnection<Principal> {
  /** Accepted calls not started yet because the client is behind on reading. */
  readonly held = new RingQueue<Held>();
  /** Answers ready but not handed to uWS yet, for the same reason. */
  readonly outbox = new RingQueue<Outgoing>();
  readonly abort = new AbortController();
  inFlight = 0;
  open = true;
  ws: WebSocket<WsConnection<Principal>> | undefined;
  constructor(readonly principal: Principal) {}
}

export interface WsEndpoint {
  /** Open connections. */
  readonly connections: number;
  /** Ends every connection with 1001 (gateway shutting down). */
  closeAll(reason?: string): void;
}

function headersOf(req: HttpRequest): Map<string, string> {
  const headers = new Map<string, string>();
  req.forEach((k, v) => headers.set(k, v));
  return headers;
}

/** Registers `pattern` (default /v2/ws) on `app`. */
export function registerWsEndpoint<Principal>(app: TemplatedApp, options: WsEndpointOptions<Principal>, pattern = '/v2/ws'): WsEndpoint {
  const live = new Set<WsConnection<Principal>>();
  const { maxInFlight, pauseBufferedBytes, maxBufferedBytes } = options;

  function refuseUpgrade(res: HttpResponse, err: SluiceError): void {
    res.cork(() => {
      res.writeStatus(statusLine(err.status)).writeHeader('content-type', 'application/json');
      if (err.status === 401) res.writeHeader('www-authenticate', 'Bearer');
      res.end(JSON.stringify(err.toJSON()));
    });
  }

  function upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
    // HttpRequest is only valid in this synchronous part: copy what the upgrade needs first.
    const key = req.getHeader('sec-websocket-key');
    const protocol = req.getHeader('sec-websocket-protocol');
    const extensions = req.getHeader('sec-websocket-extensions');
    const headers = headersOf(req);
    let aborted = false;
    res.onAborted(() => (aborted = true));
    const finish = (principal: Principal): void => {
      if (aborted) return;
      res.cork(() => res.upgrade(new WsConnection(principal), key, protocol, extensions, context));
    };
    const refuse = (err: unknown): void => {
      if (!aborted) refuseUpgrade(res, toSluiceError(err));
    };
    try {
      const principal = options.authenticate(headers);
      if (principal instanceof Promise) principal.then(finish, refuse);
      else finish(principal);
    } catch (err) {
      refuse(err);
    }
  }

  /**
   * Hands a frame to uWS, or closes the connection when the client has left too much unread. Error
   * frames for refused requests come straight here (they are small and not counted in flight).
   */
  function send(conn: WsConnection<Principal>, data: string | Uint8Array, binary: boolean): boolean {
    const ws = conn.ws;
    if (!conn.open || !ws) return false;
    const unsent = ws.getBufferedAmount();
    // One answer larger than the limit still goes to a client that has read everything else.
    if (unsent > 0 && unsent + data.length > maxBufferedBytes) {
      slowReader(conn, `slow reader: ${unsent} bytes of answers unsent (limit ${maxBufferedBytes})`);
      return false;
    }
    ws.cork(() => ws.send(data, binary));
    return true;
  }

  /** Delivers the answer of an in-flight call, through the outbox while the client is behind. */
  function deliver(conn: WsConnection<Principal>, data: string | Uint8Array, binary: boolean): void {
    if (!conn.open) return;
    if (conn.outbox.length > 0 || conn.ws!.getBufferedAmount() >= pauseBufferedBytes) {
      conn.outbox.push({ data, binary });
      return;
    }
    if (send(conn, data, binary)) conn.inFlight--;
    resume(conn);
  }

  function slowReader(conn: WsConnection<Principal>, reason: string): void {
    options.onEvent?.({ type: 'slow-reader', code: WS_CLOSE.POLICY_VIOLATION, reason });
    conn.ws!.end(WS_CLOSE.POLICY_VIOLATION, reason);
  }

  function answer(conn: WsConnection<Principal>, id: string, result: WsAnswer, binary: boolean): void {
    // Splice the id in front of the entry's own fields: `{"id":"7",` + `"model_name":...}`.
    const json = result.json.length > 2 ? `{"id":${JSON.stringify(id)},${result.json.slice(1)}` : `{"id":${JSON.stringify(id)}}`;
    // Outputs asked for as binary_data in a text call still need a binary frame to travel in.
    if (binary || (result.binary !== undefined && result.binary.length > 0)) deliver(conn, encodeBinaryFrame(json, result.binary ?? []), true);
    else deliver(conn, json, false);
  }

  function run(conn: WsConnection<Principal>, call: WsCall, binary: boolean): void {
    const id = call.id!;
    options.infer(call, { principal: conn.principal, binary, signal: conn.abort.signal }).then(
      (result) => answer(conn, id, result, binary),
      (err: unknown) => deliver(conn, encodeErrorFrame(id, toSluiceError(err)), false),
    );
  }

  /** Sends waiting answers, then starts held calls, while the client keeps up with reading. */
  function resume(conn: WsConnection<Principal>): void {
    while (conn.open && conn.outbox.length > 0 && conn.ws!.getBufferedAmount() < pauseBufferedBytes) {
      const out = conn.outbox.shift()!;
      if (send(conn, out.data, out.binary)) conn.inFlight--;
    }
    while (conn.open && conn.outbox.length === 0 && conn.held.length > 0 && conn.ws!.getBufferedAmount() < pauseBufferedBytes) {
      const next = conn.held.shift()!;
      run(conn, next.call, next.binary);
    }
  }

  function accept(conn: WsConnection<Principal>, call: WsCall, binary: boolean): void {
    if (conn.inFlight >= maxInFlight) {
      const unsent = conn.ws!.getBufferedAmount();
      if (unsent >= pauseBufferedBytes) {
        slowReader(conn, `slow reader: ${conn.inFlight} calls waiting, ${unsent} bytes of answers unsent`);
        return;
      }
      const err = new SluiceError('SLUICE_E_WS_TOO_MANY_IN_FLIGHT', `more than ${maxInFlight} calls in flight on this connection; wait for answers`, {
        details: { limit: maxInFlight },
      });
      send(conn, encodeErrorFrame(call.id, err), false);
      return;
    }
    conn.inFlight++;
    if (conn.held.length > 0 || conn.outbox.length > 0 || conn.ws!.getBufferedAmount() >= pauseBufferedBytes) conn.held.push({ call, binary });
    else run(conn, call, binary);
  }

  app.ws<WsConnection<Principal>>(pattern, {
    // uWS closes silently (1006 at the client) past maxPayloadLength; the slack up to twice the
    // limit lets a slightly too large message get a clear 1009 with the sizes in the reason.
    maxPayloadLength: options.maxMessageBytes * 2,
    // uWS drops (silently) past maxBackpressure; keep it above our own limit so we decide first.
    maxBackpressure: maxBufferedBytes + options.maxMessageBytes * 2,
    closeOnBackpressureLimit: 0,
    idleTimeout: options.idleTimeoutSeconds,
    sendPingsAutomatically: true,
    upgrade,
    open(ws) {
      const conn = ws.getUserData();
      conn.ws = ws;
      live.add(conn);
      options.onEvent?.({ type: 'open' });
    },
    message(ws, message, isBinary) {
      const receivedAt = performance.now();
      const conn = ws.getUserData();
      if (message.byteLength > options.maxMessageBytes) {
        ws.end(WS_CLOSE.MESSAGE_TOO_BIG, `message of ${message.byteLength} bytes exceeds the limit of ${options.maxMessageBytes}`);
        return;
      }
      let call: WsCall;
      try {
        call = isBinary ? parseBinaryFrame(message) : parseTextFrame(message);
      } catch (err) {
        if (err instanceof WsFramingError) {
          options.onEvent?.({ type: 'framing-error', code: WS_CLOSE.PROTOCOL_ERROR, reason: err.message });
          ws.end(WS_CLOSE.PROTOCOL_ERROR, err.message.slice(0, 120));
          return;
        }
        const e = toSluiceError(err);
        send(conn, encodeErrorFrame(e.details?.id as string | undefined, e), false);
        return;
      }
      call.receivedAt = receivedAt;
      accept(conn, call, isBinary);
    },
    drain(ws) {
      resume(ws.getUserData());
    },
    close(ws, code, message) {
      const conn = ws.getUserData();
      conn.open = false;
      conn.ws = undefined;
      live.delete(conn);
      while (conn.held.length > 0) conn.held.shift();
      while (conn.outbox.length > 0) conn.outbox.shift();
      conn.abort.abort();
      options.onEvent?.({ type: 'close', code, reason: Buffer.from(message).toString() });
    },
  });

  return {
    get connections() {
      return live.size;
    },
    closeAll(reason = 'gateway shutting down') {
      for (const conn of [...live]) conn.ws?.end(WS_CLOSE.GOING_AWAY, reason);
    },
  };
}
