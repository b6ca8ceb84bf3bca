// The entry of one I/O thread (io-threads.ts starts them): its own uWS app listening on the
// gateway's port beside its siblings (SO_REUSEPORT: the kernel spreads connections), reading
// requests and WebSocket frames and writing answers. It holds no route logic: every request goes
// to the main thread as headers plus body chunks, and the main thread's handlers (the same ones a
// single-threaded gateway runs) answer through io-wire.ts. What the thread saves the main thread
// is the socket work: HTTP parsing, reads, writes and their syscalls, TLS, WebSocket framing.
import { parentPort, workerData } from 'node:worker_threads';
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp, type us_listen_socket, type us_socket_context_t, type WebSocket } from 'uWebSockets.js';
import { toSluiceError } from '../../lib/errors.js';
import type { CertificateFiles } from '../../lib/tls.js';
import { createUwsApp } from './uws-app.js';
import { Down, Outbox, ownBuffer, Up, type ControlDown, type ControlUp, type WireMessage, type WsRouteSpec } from './io-wire.js';

interface IoThreadData {
  tls?: CertificateFiles | undefined;
  wsRoutes: WsRouteSpec[];
}

interface Upgrading {
  res: HttpResponse;
  context: us_socket_context_t;
}

interface SocketData {
  id: number;
}

const data = workerData as IoThreadData;
const port = parentPort!;
const out = new Outbox(port);
/** Requests (and upgrades) waiting for the main thread's answer, by id. */
const pending = new Map<number, HttpResponse>();
const upgrading = new Map<number, Upgrading>();
const sockets = new Map<number, WebSocket<SocketData>>();
/** Last unsent-bytes figure told to the main thread, per socket (only sockets that had some). */
const told = new Map<number, number>();
let nextId = 1;

function headersOf(req: HttpRequest): string[] {
  const list: string[] = [];
  req.forEach((k, v) => list.push(k, v));
  return list;
}

/** Body or not, as uWS will deliver it: a length over 0 or a chunked transfer. */
function hasBody(req: HttpRequest): boolean {
  const length = req.getHeader('content-length');
  return (length !== '' && length !== '0') || req.getHeader('transfer-encoding') !== '';
}

function onRequest(res: HttpResponse, req: HttpRequest): void {
  const id = nextId++;
  pending.set(id, res);
  const body = hasBody(req);
  out.push([Up.Request, id, req.getMethod(), req.getUrl(), req.getQuery() ?? '', headersOf(req), body]);
  res.onAborted(() => {
    if (pending.delete(id)) out.push([Up.Abort, id]);
  });
  if (body) {
    res.onData((chunk, last) => {
      // uWS reuses the chunk's memory after this callback: copy it (and only while still wanted).
      if (pending.has(id)) {
        const copy = ownBuffer(chunk);
        out.push([Up.Data, id, copy, last], copy);
      }
    });
  }
}

function respond(m: WireMessage): void {
  const id = m[1] as number;
  const res = pending.get(id) ?? upgrading.get(id)?.res;
  if (res === undefined) return;
  pending.delete(id);
  upgrading.delete(id);
  const headers = m[3] as string[];
  res.cork(() => {
    res.writeStatus(m[2] as string);
    for (let i = 0; i < headers.length; i += 2) res.writeHeader(headers[i]!, headers[i + 1]!);
    if (m[6] === true) res.endWithoutBody();
    else res.end((m[4] ?? '') as string | ArrayBuffer, m[5] as boolean);
  });
}

function accept(m: WireMessage): void {
  const id = m[1] as number;
  const u = upgrading.get(id);
  if (u === undefined) return;
  upgrading.delete(id);
  u.res.cork(() => u.res.upgrade<SocketData>({ id }, m[2] as string, m[3] as string, m[4] as string, u.context));
}

/** Tell the main thread the socket's unsent bytes when they changed from or to something. */
function tellBuffered(id: number, ws: WebSocket<SocketData>): void {
  const now = ws.getBufferedAmount();
  const before = told.get(id) ?? 0;
  if (now === before) return;
  if (now === 0) told.delete(id);
  else told.set(id, now);
  out.push([Up.Buffered, id, now]);
}

function onBatch(batch: WireMessage[]): void {
  for (const m of batch) {
    switch (m[0] as Down) {
      case Down.Respond:
        respond(m);
        break;
      case Down.Accept:
        accept(m);
        break;
      case Down.Send: {
        const ws = sockets.get(m[1] as number);
        if (ws === undefined) break;
        ws.cork(() => ws.send(m[2] as string | ArrayBuffer, m[3] as boolean));
        tellBuffered(m[1] as number, ws);
        break;
      }
      case Down.End:
        sockets.get(m[1] as number)?.end(m[2] as number, m[3] as string);
        break;
    }
  }
}

function register(app: TemplatedApp): void {
  data.wsRoutes.forEach((spec, index) => {
    app.ws<SocketData>(spec.pattern, {
      ...spec.options,
      upgrade: (res, req, context) => {
        const id = nextId++;
        upgrading.set(id, { res, context });
        res.onAborted(() => {
          if (upgrading.delete(id)) out.push([Up.Abort, id]);
        });
        out.push([Up.Upgrade, id, index, req.getUrl(), req.getQuery() ?? '', headersOf(req)]);
      },
      open: (ws) => {
        const id = ws.getUserData().id;
        sockets.set(id, ws);
        out.push([Up.Open, id]);
      },
      message: (ws, message, isBinary) => {
        const id = ws.getUserData().id;
        const copy = ownBuffer(message);
        out.push([Up.Message, id, copy, isBinary, ws.getBufferedAmount()], copy);
      },
      drain: (ws) => {
        const id = ws.getUserData().id;
        const amount = ws.getBufferedAmount();
        if (amount === 0) told.delete(id);
        else told.set(id, amount);
        out.push([Up.Drain, id, amount]);
      },
      close: (ws, code, message) => {
        const id = ws.getUserData().id;
        sockets.delete(id);
        told.delete(id);
        const reason = ownBuffer(message);
        out.push([Up.Close, id, code, reason], reason);
      },
    });
  });
  app.any('/*', onRequest);
}

let app: TemplatedApp;
const apps: TemplatedApp[] = [];
let socket: us_listen_socket | undefined;
let host = '';
let listenPort = 0;

function listenOn(target: TemplatedApp): Promise<us_listen_socket> {
  return new Promise((resolve, reject) => {
    target.listen(host, listenPort, (s) => (s ? resolve(s) : reject(new Error(`cannot listen on ${host}:${listenPort}`))));
  });
}

function control(message: ControlDown): void {
  const reply = (m: ControlUp): void => port.postMessage(m);
  const failed = (err: unknown): void => {
    const e = toSluiceError(err);
    reply({ type: 'failed', code: e.code, message: e.message });
  };
  switch (message.type) {
    case 'listen':
      host = message.host;
      listenPort = message.port;
      listenOn(app).then((s) => {
        socket = s;
        reply({ type: 'listening' });
      }, failed);
      break;
    case 'reload': {
      // As ServingApp.reload: a new app with the new certificate beside the old, then the old socket closes.
      let next: TemplatedApp;
      try {
        next = createUwsApp(data.tls);
      } catch (err) {
        failed(err);
        break;
      }
      register(next);
      listenOn(next).then((s) => {
        if (socket !== undefined) uWS.us_listen_socket_close(socket);
        socket = s;
        app = next;
        apps.push(next);
        reply({ type: 'reloaded' });
      }, (err: unknown) => {
        (next as TemplatedApp & { close(): void }).close();
        failed(err);
      });
      break;
    }
    case 'stop':
      if (socket !== undefined) uWS.us_listen_socket_close(socket);
      socket = undefined;
      break;
    case 'close':
      out.flush();
      closeAll();
      break;
  }
}

/**
 * Close every listen socket and connection, then the port: the loop empties and the thread ends.
 * (A thread ended any other way — terminate(), process.exit() — with uWS sockets open makes Node
 * abort the whole process: "uv_loop_close() while having open handles".)
 */
function closeAll(): void {
  if (socket !== undefined) uWS.us_listen_socket_close(socket);
  socket = undefined;
  // uWS 20.30 has App#close (every socket) though its typings lag.
  for (const a of apps) (a as TemplatedApp & { close(): void }).close();
  port.close();
}

// A bug here must not take the process down: say what happened, close this thread's sockets (its
// clients see their connections close) and end; the main thread starts a new thread in its place.
process.on('uncaughtException', (err) => {
  try {
    port.postMessage({ type: 'crashed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies ControlUp);
  } finally {
    closeAll();
  }
});

app = createUwsApp(data.tls);
apps.push(app);
register(app);
port.on('message', (m: WireMessage[] | ControlDown) => {
  if (Array.isArray(m)) onBatch(m);
  else control(m);
});
