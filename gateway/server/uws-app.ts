// The gateway's uWS app, plain or TLS, and the one place that knows how to swap its certificate.
//
// uWS 20.30's SSLApp reads its certificate once, when the app is built, and has no call that
// replaces the default context (addServerName only adds contexts for SNI names, which a client
// calling an IP address never sends). So a reload builds a second SSLApp from the new files,
// registers the same routes on it (every registration made through `app` is recorded for this),
// listens on the same port beside the first (uSockets sets SO_REUSEPORT unless told otherwise),
// and then closes the old listen socket. The port never stops accepting; connections already open
// finish on the old app with the old certificate. The kernel only lets two sockets share a port
// that was named explicitly, so a gateway started on port 0 cannot reload (it says so).
import { createServer } from 'node:net';
import uWS, { type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import { SluiceError } from '../../lib/errors.js';
import { readServerTls, type CertificateFiles } from '../../lib/tls.js';

/** A plain uWS app, or an SSLApp serving `tls`'s certificate and key (checked first, so a bad file is named). */
export function createUwsApp(tls?: CertificateFiles): TemplatedApp {
  if (tls === undefined) return uWS.App();
  readServerTls(tls);
  try {
    return uWS.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile });
  } catch (err) {
    throw new SluiceError('SLUICE_E_TLS_FILE_INVALID', `uWS refused --tls-cert ${tls.certFile} / --tls-key ${tls.keyFile}`, { cause: err, details: { flag: 'tls-cert' } });
  }
}

/** Methods of TemplatedApp that add a route; recorded so a reloaded app gets the same ones. */
const REGISTRATIONS = new Set<PropertyKey>(['get', 'post', 'options', 'del', 'patch', 'put', 'head', 'connect', 'trace', 'any', 'ws']);

export type Registration = [method: string, args: unknown[]];

/** One listening uWS app whose TLS certificate can be replaced without closing the port. */
export class ServingApp {
  /** Register routes here (before or after listen): they go to the app in service and to any later one. */
  readonly app: TemplatedApp;
  readonly tls: CertificateFiles | undefined;
  #current: TemplatedApp;
  /** Every app built so far; the old ones still carry their open connections until close(). */
  readonly #apps: TemplatedApp[] = [];
  readonly #routes: Registration[] = [];
  #socket: us_listen_socket | undefined;
  #host = '';
  #port = 0;

  constructor(tls?: CertificateFiles) {
    this.tls = tls;
    this.#current = createUwsApp(tls);
    this.#apps.push(this.#current);
    this.app = new Proxy(this.#current, {
      get: (_target, prop) => {
        if (REGISTRATIONS.has(prop)) {
          return (...args: unknown[]) => {
            this.#routes.push([prop as string, args]);
            (this.#current as unknown as Record<string, (...a: unknown[]) => unknown>)[prop as string]!(...args);
            return this.app;
          };
        }
        if (prop === 'close') return () => this.close();
        const value = (this.#current as unknown as Record<PropertyKey, unknown>)[prop];
        return typeof value === 'function' ? value.bind(this.#current) : value;
      },
    });
  }

  /** Every route registered so far, in order (io-threads.ts runs them on the main thread for its I/O threads). */
  get registrations(): readonly Registration[] {
    return this.#routes;
  }

  get scheme(): 'http' | 'https' {
    return this.tls === undefined ? 'http' : 'https';
  }

  /** Listen on host:port (0 = a free port); resolves with the port. */
  async listen(host: string, port: number): Promise<number> {
    if (port !== 0) await portIsFree(host, port);
    this.#socket = await listenOn(this.#current, host, port);
    this.#host = host;
    this.#port = uWS.us_socket_local_port(this.#socket);
    return this.#port;
  }

  /**
   * Put the certificate and key now in the TLS files in service: new connections get them, open
   * ones keep the old. On any failure the old app keeps serving and the error says why.
   */
  async reload(): Promise<void> {
    if (this.tls === undefined) throw new SluiceError('SLUICE_E_TLS_RELOAD', 'this server does not use TLS');
    if (this.#socket === undefined) throw new SluiceError('SLUICE_E_TLS_RELOAD', 'the server is not listening');
    const next = createUwsApp(this.tls);
    for (const [method, args] of this.#routes) (next as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!(...args);
    let socket: us_listen_socket;
    try {
      socket = await listenOn(next, this.#host, this.#port);
    } catch (err) {
      (next as TemplatedApp & { close(): void }).close();
      throw new SluiceError('SLUICE_E_TLS_RELOAD', `cannot listen beside the serving socket on ${this.#host}:${this.#port} (a port given as 0 cannot be shared; give --port)`, { cause: err });
    }
    uWS.us_listen_socket_close(this.#socket);
    this.#socket = socket;
    this.#current = next;
    this.#apps.push(next);
  }

  /** Stop accepting (the open connections stay). */
  stopListening(): void {
    if (this.#socket !== undefined) uWS.us_listen_socket_close(this.#socket);
    this.#socket = undefined;
  }

  /** Close every socket of every app built. */
  close(): void {
    this.stopListening();
    // uWS 20.30 has App#close (closes every socket) though its typings lag behind.
    for (const app of this.#apps) (app as TemplatedApp & { close(): void }).close();
  }
}

/**
 * uSockets sets SO_REUSEPORT (the reload above needs it), so a second gateway started on a port
 * another one serves would bind beside it and silently take half its connections. A plain Node
 * listener (no SO_REUSEPORT) on the port first: it fails with EADDRINUSE whenever anyone holds it.
 */
export function portIsFree(host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      reject(new SluiceError('SLUICE_E_CONFIG_INVALID', `cannot listen on ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'another process is listening there' : (err.code ?? err.message)}`, { cause: err, details: { flag: 'port' } }));
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

function listenOn(app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> {
  return new Promise<us_listen_socket>((resolve, reject) => {
    // Without LIBUS_LISTEN_EXCLUSIVE_PORT, uSockets sets SO_REUSEPORT: a reload can listen beside it.
    app.listen(host, port, (socket) => {
      if (socket) resolve(socket);
      else reject(new SluiceError('SLUICE_E_CONFIG_INVALID', `cannot listen on ${host}:${port}`));
    });
  });
}
