// `--io-threads N` (docs/io-threads.md): the gateway's HTTP/WebSocket front on N worker threads,
// each a uWS app listening on the same port (SO_REUSEPORT; uWS 20.30 has no
// addChildAppDescriptor). The main thread keeps everything else — routes, gates, batchers, the
// worker pool, drift, metrics — and runs the very handlers a single-threaded gateway runs, on
// stand-ins for uWS's request and response (io-router.ts). A thread that dies is logged, counted,
// its calls fail as aborted, and it is started again on the same port; the others serve meanwhile.
import { createServer } from 'node:net';
import { usableCores } from '../../lib/cpu-limit.js';
import { Worker } from 'node:worker_threads';
import { Counter } from 'prom-client';
import type { WebSocketBehavior } from 'uWebSockets.js';
import { SluiceError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { CertificateFiles } from '../../lib/tls.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { RelayedRequest, RelayedResponse, RelayedSocket, RouteTable } from './io-router.js';
import { Outbox, Up, type ControlDown, type ControlUp, type WireMessage } from './io-wire.js';
import { portIsFree, type ServingApp } from './uws-app.js';

export interface IoThreadsOptions {
  /** The app the gateway registered its routes on (never listened on itself). */
  serving: ServingApp;
  threads: number;
  logger: Logger;
  metrics: GatewayMetrics;
  /** Delay before a dead thread is started again (default 200 ms). */
  restartDelayMs?: number | undefined;
}

/** What the gateway needs of its front: one ServingApp, or these threads. */
export interface Front {
  readonly scheme: 'http' | 'https';
  listen(host: string, port: number): Promise<number>;
  reload(): Promise<void>;
  stopListening(): void;
  close(): void | Promise<void>;
}

/**
 * The default of --io-threads (figures in docs/io-threads.md). Below 4 cores, 1: the cores are
 * already full, and moving the I/O to a thread does not lower the CPU a call costs in all (weather
 * JSON on 2 cores: 105 µs with one thread, 136 with two), so there is nothing to gain. From 4, 2:
 * an I/O thread spends 1.1-1.5x what the main thread then spends per call (56-74 vs 50 µs), so two
 * keep the main thread saturated; more only help once the main thread gets cheaper.
 */
export function defaultIoThreads(cores = usableCores()): number {
  return cores < 4 ? 1 : 2;
}

/** The `--io-threads` value checked, or a coded error naming the flag. */
export function checkIoThreads(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--io-threads must be an integer from 1 to 256, got ${n}`, { details: { flag: 'io-threads' } });
  }
  return n;
}

interface Upgraded {
  behavior: WebSocketBehavior<unknown>;
  data: unknown;
}

/** One I/O thread as the main thread sees it: its worker, its outbox and the calls it holds. */
class IoThread {
  readonly index: number;
  readonly worker: Worker;
  readonly out: Outbox;
  readonly calls = new Map<number, RelayedResponse>();
  readonly upgraded = new Map<number, Upgraded>();
  readonly sockets = new Map<number, { socket: RelayedSocket; behavior: WebSocketBehavior<unknown> }>();
  #control: ((m: ControlUp) => void) | undefined;
  readonly #relayed: { inc(): void };

  constructor(index: number, worker: Worker, readonly table: RouteTable, relayed: { inc(): void }, readonly logger: Logger) {
    this.index = index;
    this.worker = worker;
    this.out = new Outbox(worker);
    this.#relayed = relayed;
    worker.on('message', (m: WireMessage[] | ControlUp) => {
      if (Array.isArray(m)) this.#batch(m);
      else if (m.type === 'crashed') this.logger.error({ thread: index, error: m.message }, 'io thread failed; closing its connections');
      else this.#control?.(m);
    });
  }

  #busyCounted = 0;

  /** Event-loop active seconds since the last call (what the busy counter adds). */
  busySeconds(): number {
    const total = this.worker.performance.eventLoopUtilization().active / 1000;
    // A thread not yet online reads as 0 and then from its own start: never count backwards.
    const delta = Math.max(0, total - this.#busyCounted);
    this.#busyCounted = total;
    return delta;
  }

  /** Send a control message and wait for its answer (a `failed` answer rejects with its code). */
  ask(message: ControlDown, expect: ControlUp['type']): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#control = (m) => {
        this.#control = undefined;
        if (m.type === expect) resolve();
        else if (m.type === 'failed') reject(new SluiceError(m.code as 'SLUICE_E_CONFIG_INVALID', m.message));
      };
      this.worker.postMessage(message);
    });
  }

  #batch(batch: WireMessage[]): void {
    for (const m of batch) {
      try {
        this.#one(m);
      } catch (err) {
        // A handler that throws is a bug; uWS would crash the process, one call failing is enough here.
        this.logger.error({ err, thread: this.index }, 'io thread call failed');
        const res = this.calls.get(m[1] as number);
        if (res !== undefined && !res.ended) res.writeStatus('500 Internal Server Error').writeHeader('Content-Type', 'application/json').end('{"error":"internal error","code":"SLUICE_E_INTERNAL"}');
      }
    }
  }

  #one(m: WireMessage): void {
    const id = m[1] as number;
    switch (m[0] as Up) {
      case Up.Request: {
        this.#relayed.inc();
        const res = new RelayedResponse(id, this.out, m[6] as boolean, this.calls);
        const req = new RelayedRequest(m[2] as string, m[3] as string, m[4] as string, m[5] as string[]);
        const match = this.table.match(req.getMethod(), req.getUrl());
        if (match === undefined) {
          res.writeStatus('404 Not Found').end();
          return;
        }
        req.params = match.params;
        this.calls.set(id, res);
        match.handler(res as never, req as never);
        return;
      }
      case Up.Data:
        this.calls.get(id)?.data(m[2] as ArrayBuffer, m[3] as boolean);
        return;
      case Up.Abort:
        this.calls.get(id)?.abort();
        this.upgraded.delete(id);
        return;
      case Up.Upgrade: {
        this.#relayed.inc();
        const route = this.table.ws[m[2] as number]!;
        const res = new RelayedResponse(id, this.out, false, this.calls, (r) => this.upgraded.set(id, { behavior: route.behavior, data: r.upgradedWith }));
        const req = new RelayedRequest('get', m[3] as string, m[4] as string, m[5] as string[]);
        this.calls.set(id, res);
        if (route.behavior.upgrade) route.behavior.upgrade(res as never, req as never, id as never);
        else res.upgrade({}, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), id);
        return;
      }
      case Up.Open: {
        const u = this.upgraded.get(id);
        if (u === undefined) return;
        this.upgraded.delete(id);
        const socket = new RelayedSocket(id, this.out, u.data);
        this.sockets.set(id, { socket, behavior: u.behavior });
        u.behavior.open?.(socket as never);
        return;
      }
      case Up.Message: {
        const s = this.sockets.get(id);
        if (s === undefined) return;
        this.#relayed.inc();
        s.socket.buffered = m[4] as number;
        s.behavior.message?.(s.socket as never, m[2] as ArrayBuffer, m[3] as boolean);
        return;
      }
      case Up.Drain: {
        const s = this.sockets.get(id);
        if (s === undefined) return;
        s.socket.buffered = m[2] as number;
        s.behavior.drain?.(s.socket as never);
        return;
      }
      case Up.Buffered: {
        const s = this.sockets.get(id);
        if (s !== undefined) s.socket.buffered = m[2] as number;
        return;
      }
      case Up.Close: {
        const s = this.sockets.get(id);
        if (s === undefined) return;
        this.sockets.delete(id);
        s.socket.closed = true;
        s.behavior.close?.(s.socket as never, m[2] as number, m[3] as ArrayBuffer);
        return;
      }
    }
  }

  /** The thread is gone: its calls were aborted by the client's side of things, its sockets closed (1006). */
  lost(): void {
    for (const res of [...this.calls.values()]) res.abort();
    this.calls.clear();
    this.upgraded.clear();
    for (const { socket, behavior } of [...this.sockets.values()]) {
      socket.closed = true;
      behavior.close?.(socket as never, 1006, new ArrayBuffer(0));
    }
    this.sockets.clear();
  }
}

/** The gateway's front on N I/O threads. */
export class IoThreads implements Front {
  readonly #o: IoThreadsOptions;
  readonly #threads: (IoThread | undefined)[];
  readonly #tls: CertificateFiles | undefined;
  #table: RouteTable | undefined;
  #host = '';
  #port = 0;
  #closing = false;
  readonly #relayed: Counter<'thread'>;
  readonly #restarts: Counter<'thread'>;

  constructor(o: IoThreadsOptions) {
    this.#o = o;
    this.#threads = new Array<IoThread | undefined>(checkIoThreads(o.threads)).fill(undefined);
    this.#tls = o.serving.tls;
    const registers = [o.metrics.registry];
    this.#relayed = new Counter({ name: 'sluice_io_thread_calls_total', help: 'HTTP requests, WebSocket upgrades and messages each I/O thread relayed to the main thread', labelNames: ['thread'], registers });
    this.#restarts = new Counter({ name: 'sluice_io_thread_restarts_total', help: 'I/O threads that died and were started again', labelNames: ['thread'], registers });
    const threads = this.#threads;
    // Busy time as a counter, so rate() over any window is the thread's utilization (0..1).
    new Counter({
      name: 'sluice_io_thread_busy_seconds_total', help: 'Seconds each I/O thread spent running (event-loop active time)', labelNames: ['thread'], registers,
      collect() {
        for (const t of threads) if (t !== undefined) this.labels({ thread: String(t.index) }).inc(t.busySeconds());
      },
    });
  }

  get scheme(): 'http' | 'https' {
    return this.#tls === undefined ? 'http' : 'https';
  }

  get threads(): number {
    return this.#threads.length;
  }

  /** The worker of thread `index` while it runs (tests end one to see it reported and started again). */
  worker(index: number): Worker | undefined {
    return this.#threads[index]?.worker;
  }

  /** Pick the port (a free one for 0: the kernel shares only a port named explicitly), then start every thread on it. */
  async listen(host: string, port: number): Promise<number> {
    if (port === 0) port = await freePort(host);
    else await portIsFree(host, port);
    this.#host = host;
    this.#port = port;
    this.#table = new RouteTable(this.#o.serving.registrations);
    try {
      await Promise.all(this.#threads.map((_, i) => this.#start(i)));
    } catch (err) {
      await this.close();
      throw err;
    }
    return port;
  }

  async #start(index: number): Promise<void> {
    const table = this.#table!;
    const worker = new Worker(new URL('./io-thread-main.js', import.meta.url), {
      workerData: { tls: this.#tls, wsRoutes: table.ws.map((w) => w.spec) },
      name: `sluice-io-${index}`,
    });
    const thread = new IoThread(index, worker, table, this.#relayed.labels({ thread: String(index) }), this.#o.logger);
    this.#threads[index] = thread;
    worker.on('error', (err) => this.#o.logger.error({ err, thread: index }, 'io thread failed'));
    worker.on('exit', (code) => this.#exited(thread, code));
    await thread.ask({ type: 'listen', host: this.#host, port: this.#port }, 'listening');
  }

  #exited(thread: IoThread, code: number): void {
    thread.lost();
    if (this.#threads[thread.index] === thread) this.#threads[thread.index] = undefined;
    if (this.#closing) return;
    this.#restarts.inc({ thread: String(thread.index) });
    this.#o.logger.error({ thread: thread.index, code }, 'io thread exited; starting it again');
    setTimeout(() => {
      if (this.#closing) return;
      this.#start(thread.index).catch((err: unknown) => this.#o.logger.error({ err, thread: thread.index }, 'io thread could not start again'));
    }, this.#o.restartDelayMs ?? 200).unref();
  }

  /** New TLS files in service on every thread (each builds its new app beside the old, as ServingApp does). */
  async reload(): Promise<void> {
    if (this.#tls === undefined) throw new SluiceError('SLUICE_E_TLS_RELOAD', 'this server does not use TLS');
    await Promise.all(this.#threads.map((t) => t?.ask({ type: 'reload' }, 'reloaded')));
  }

  stopListening(): void {
    for (const t of this.#threads) t?.worker.postMessage({ type: 'stop' } satisfies ControlDown);
  }

  /** Close every socket of every thread; resolves once the threads have ended. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#threads.map((t) => {
      if (t === undefined) return undefined;
      t.out.flush();
      return new Promise<void>((resolve) => {
        t.worker.once('exit', () => resolve());
        t.worker.postMessage({ type: 'close' } satisfies ControlDown);
        // Never terminate(): ending a thread with uWS sockets open aborts the process. A thread
        // that has not ended after 5 s is left to the process's exit.
        setTimeout(() => {
          this.#o.logger.warn({ thread: t.index }, 'io thread did not end within 5 s of close');
          resolve();
        }, 5000).unref();
      });
    }));
  }
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
