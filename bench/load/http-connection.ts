// One keep-alive HTTP/1.1 connection of the load generator, one call in flight at a time (no
// pipelining: neither the gateway's clients nor its baselines' do). Each call is written as one
// pre-built buffer (request line, headers and body), so the client's cost per call is one write and
// one parse. With `tls`, the connection is a node:tls socket (bench/tls: the cost of TLS).
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { ResponseParser, type HttpResponse } from './response-parser.js';
import type { CallDone, CallSlot } from './call-slot.js';

export class HttpConnection implements CallSlot {
  readonly #host: string;
  readonly #port: number;
  readonly #tls: { ca?: Buffer | undefined } | undefined;
  #socket: Socket | null = null;
  #parser: ResponseParser;
  #done: CallDone | null = null;
  /** performance.now() when the call in flight must be given up (Infinity when idle). */
  deadline = Infinity;
  /** performance.now() when the call in flight was intended to start. */
  intendedAt = 0;

  constructor(host: string, port: number, tls?: { ca?: Buffer | undefined }) {
    this.#host = host;
    this.#port = port;
    this.#tls = tls;
    this.#parser = new ResponseParser((res) => this.#finish(null, res));
  }

  get busy(): boolean {
    return this.#done !== null;
  }

  send(request: Buffer, deadline: number, done: CallDone): void {
    this.#done = done;
    this.deadline = deadline;
    if (this.#socket === null) this.#socket = this.#open();
    this.#socket.write(request);
  }

  /** Give up the call in flight (its deadline passed): the socket is closed, the next call reconnects. */
  abandon(reason: Error): void {
    this.#drop();
    this.#finish(reason, null);
  }

  close(): void {
    this.#drop();
    this.#done = null;
  }

  #open(): Socket {
    const socket = this.#tls === undefined
      ? connect({ host: this.#host, port: this.#port, noDelay: true })
      // tls.connect hands its options to net's connect, which takes noDelay (the typings lack it).
      : tlsConnect({ host: this.#host, port: this.#port, noDelay: true, ...(this.#tls.ca ? { ca: this.#tls.ca } : {}) } as ConnectionOptions);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#parser.feed(chunk);
      } catch (err) {
        this.#drop();
        this.#finish(err as Error, null);
      }
    });
    const onEnd = (err?: Error) => {
      if (this.#socket !== socket) return;
      this.#drop();
      this.#finish(err ?? new Error('connection closed by server'), null);
    };
    socket.on('error', onEnd);
    socket.on('close', () => onEnd());
    return socket;
  }

  #drop(): void {
    const s = this.#socket;
    this.#socket = null;
    this.#parser.reset();
    if (s) s.destroy();
  }

  #finish(err: Error | null, res: HttpResponse | null): void {
    const done = this.#done;
    if (done === null) return;
    this.#done = null;
    this.deadline = Infinity;
    if (res !== null && /close/i.test(res.headers.connection ?? '')) this.#drop();
    done(err, res);
  }
}
