// The /v2/ws endpoint on a uWS app: the upgrade (authentication before any await) and the uWS
// handlers, each handing over to the connection's WsConnection (ws-connection.ts), which frames,
// paces and bounds the calls in flight.
import type { HttpRequest, HttpResponse, TemplatedApp, us_socket_context_t } from 'uWebSockets.js';
import { toSluiceError, type SluiceError } from '../../lib/errors.js';
import { selectWsProtocol } from '../access/access-policy.js';
import { statusLine } from './http-io.js';
import { WsConnection, type WsConnectionOptions } from './ws-connection.js';
import { WS_CLOSE } from './ws-frame-codec.js';

export type { WsAnswer, WsEvent, WsInferContext } from './ws-connection.js';
export { WsConnection, WsPendingCall } from './ws-connection.js';

export interface WsEndpointOptions<Principal> extends WsConnectionOptions<Principal> {
  /** Seconds without traffic before uWS closes the connection; 0 disables. */
  idleTimeoutSeconds: number;
  /**
   * Checks the upgrade request (headers are read before any await). Resolves with whatever the
   * inference entry needs to authorise calls; throws a SluiceError (401/403) to refuse the upgrade.
   */
  authenticate(headers: ReadonlyMap<string, string>): Principal | Promise<Principal>;
}

export const WS_DEFAULTS = {
  maxMessageBytes: 64 * 1024 * 1024,
  maxInFlight: 4096,
  pauseBufferedBytes: 4 * 1024 * 1024,
  maxBufferedBytes: 64 * 1024 * 1024,
  idleTimeoutSeconds: 120,
} as const;

export interface WsEndpoint {
  /** Open connections. */
  readonly connections: number;
  /** Ends every connection with 1001 (gateway shutting down). */
  closeAll(reason?: string): void;
}

/**
 * The uWS user data of a socket. uWS copies the own properties of the object given to upgrade()
 * into a fresh plain object, so a class instance loses its prototype and # fields on the way: the
 * connection travels as a property.
 */
interface SocketData<Principal> {
  connection: WsConnection<Principal>;
}

function headersOf(req: HttpRequest): Map<string, string> {
  const headers = new Map<string, string>();
  req.forEach((k, v) => headers.set(k, v));
  return headers;
}

function refuseUpgrade(res: HttpResponse, err: SluiceError): void {
  res.cork(() => {
    res.writeStatus(statusLine(err.status)).writeHeader('content-type', 'application/json');
    if (err.status === 401) res.writeHeader('www-authenticate', 'Bearer');
    if (err.retryAfter !== undefined) res.writeHeader('retry-after', String(err.retryAfter));
    res.end(JSON.stringify(err.toJSON()));
  });
}

function upgrade<Principal>(options: WsEndpointOptions<Principal>, res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
  // The front first (shedding, connection cap), before anything of the request is read.
  const refusal = options.admission?.front();
  if (refusal !== undefined) {
    refuseUpgrade(res, refusal);
    return;
  }
  // HttpRequest is only valid in this synchronous part: copy what the upgrade needs first.
  const key = req.getHeader('sec-websocket-key');
  // Echo one offered subprotocol, never the entry that carries a browser's token.
  const protocol = selectWsProtocol(req.getHeader('sec-websocket-protocol'));
  const extensions = req.getHeader('sec-websocket-extensions');
  const headers = headersOf(req);
  let aborted = false;
  res.onAborted(() => (aborted = true));
  const finish = (principal: Principal): void => {
    if (aborted) return;
    res.cork(() => res.upgrade<SocketData<Principal>>({ connection: new WsConnection(principal, options) }, key, protocol, extensions, context));
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

/** Registers `pattern` (default /v2/ws) on `app`. */
export function registerWsEndpoint<Principal>(app: TemplatedApp, options: WsEndpointOptions<Principal>, pattern = '/v2/ws'): WsEndpoint {
  const live = new Set<WsConnection<Principal>>();
  app.ws<SocketData<Principal>>(pattern, {
    // uWS closes silently (1006 at the client) past maxPayloadLength; the slack up to twice the
    // limit lets a slightly too large message get a clear 1009 with the sizes in the reason.
    maxPayloadLength: options.maxMessageBytes * 2,
    // uWS drops (silently) past maxBackpressure; keep it above our own limit so we decide first.
    maxBackpressure: options.maxBufferedBytes + options.maxMessageBytes * 2,
    closeOnBackpressureLimit: 0,
    idleTimeout: options.idleTimeoutSeconds,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => upgrade(options, res, req, context),
    open(ws) {
      const conn = ws.getUserData().connection;
      conn.opened(ws);
      live.add(conn);
      if (options.admission !== undefined) options.admission.open++;
      options.onEvent?.({ type: 'open' });
    },
    message(ws, message, isBinary) {
      ws.getUserData().connection.received(message, isBinary, performance.now());
    },
    drain(ws) {
      ws.getUserData().connection.drained();
    },
    close(ws, code, message) {
      const conn = ws.getUserData().connection;
      live.delete(conn);
      if (options.admission !== undefined) options.admission.open--;
      conn.closed();
      options.onEvent?.({ type: 'close', code, reason: Buffer.from(message).toString() });
    },
  });
  return {
    get connections() {
      return live.size;
    },
    closeAll(reason = 'gateway shutting down') {
      for (const conn of [...live]) conn.end(WS_CLOSE.GOING_AWAY, reason);
    },
  };
}
