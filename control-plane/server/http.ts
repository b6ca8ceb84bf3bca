// The control plane's HTTP server (node:http, or node:https with TLS files: its traffic is control
// traffic, not the data plane's hot path). With a client CA, every connection must present a
// certificate that chains to it (mutual TLS), checked in the handshake before any route runs.
// Routes: /graphql (yoga), /graphiql/<asset> (when GraphiQL is on), /artifacts/<sha256>,
// /metrics (Prometheus: firing alerts, webhook deliveries), /health, /health/live, /health/ready,
// and the console at / and /console/* (docs/console.md).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { SluiceError } from '../../lib/errors.js';
import { nextRequestId, type Logger } from '../../lib/log.js';
import { readServerTls, type ServerTlsFiles } from '../../lib/tls.js';
import type { ControlPlaneServices } from '../services/control-plane.js';
import { isStoreUnavailable, toStoreError } from '../store/db.js';
import { serveArtifact, sendError } from './artifact-download.js';
import { ConsoleAssets } from './console.js';
import type { createGraphQL } from './graphql.js';
import { GRAPHIQL_ASSET_PREFIX, serveGraphiQLAsset } from './graphiql.js';
import { isMultipart, readGraphQLUpload } from './graphql-upload.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const HOST_HEADER = /^[A-Za-z0-9.:[\]-]{1,255}$/;

export interface HttpServerOptions {
  host: string;
  port: number;
  /** Base of absolute URLs handed to clients (download URLs); default: the Host the client called. */
  publicUrl?: string | undefined;
  services: ControlPlaneServices;
  graphql: ReturnType<typeof createGraphQL>;
  /** Serve GraphiQL's assets under /graphiql/ (the page itself is yoga's GET /graphql). */
  graphiql: boolean;
  /** Largest plain field of a multipart upload (its `operations` and `map`). */
  maxBodyBytes: number;
  logger: Logger;
  /** Serve https with these files; with `clientCaFile`, mutual TLS. */
  tls?: ServerTlsFiles | undefined;
  /** The built console (default dist/console). */
  consoleDir?: string | undefined;
}

export interface ListeningServer {
  server: Server | HttpsServer;
  url: string;
  port: number;
  /** Re-read the TLS files and use them for new connections (open ones keep theirs); the old stay on any error. */
  reloadTls(): void;
}

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : nextRequestId();
}

export async function listen(options: HttpServerOptions): Promise<ListeningServer> {
  const { services, graphql, logger } = options;
  const consoleAssets = new ConsoleAssets(options.consoleDir);
  let url = '';
  const scheme = options.tls === undefined ? 'http' : 'https';
  // Absolute URLs use the address the caller reached us by, so they work behind port forwarding
  // and when listening on 0.0.0.0; publicUrl overrides it behind a proxy that rewrites Host.
  const baseUrlOf = (req: IncomingMessage) => {
    if (options.publicUrl) return options.publicUrl.replace(/\/+$/, '');
    const host = req.headers.host;
    return host && HOST_HEADER.test(host) ? `${scheme}://${host}` : url;
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const requestId = requestIdOf(req);
    const clientAddress = req.socket.remoteAddress ?? 'unknown';
    res.setHeader('x-request-id', requestId);
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/graphql' && isMultipart(req)) {
      void readGraphQLUpload(services, req, res, { requestId, clientAddress }, { maxBodyBytes: options.maxBodyBytes }).then((upload) => {
        if (upload) void graphql.handle(req, res, { requestId, clientAddress, baseUrl: baseUrlOf(req), upload });
      });
      return;
    }
    if (path === '/graphql') {
      void graphql.handle(req, res, { requestId, clientAddress, baseUrl: baseUrlOf(req) });
      return;
    }
    if (options.graphiql && path.startsWith(GRAPHIQL_ASSET_PREFIX) && (req.method === 'GET' || req.method === 'HEAD')) {
      serveGraphiQLAsset(req, res, path.slice(GRAPHIQL_ASSET_PREFIX.length), logger);
      return;
    }
    const artifact = /^\/artifacts\/([^/]+)$/.exec(path);
    if (artifact) {
      if (req.method === 'GET' || req.method === 'HEAD') void serveArtifact(services, req, res, artifact[1]!, { requestId, clientAddress }, logger);
      else sendError(res, new SluiceError('SLUICE_E_HTTP_METHOD_NOT_ALLOWED', `${req.method} ${path}: artifacts are read with GET or HEAD`));
      return;
    }
    if (req.method === 'GET' && path === '/metrics') {
      services.metrics.render().then(
        (m) => res.writeHead(200, { 'content-type': m.contentType }).end(m.body),
        (err: unknown) => {
          logger.warn({ err }, 'metrics scrape failed');
          sendError(res, new SluiceError('SLUICE_E_STORE_FAILED', 'metrics unavailable'));
        },
      );
      return;
    }
    if (req.method === 'GET' && (path === '/health' || path === '/health/live')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (req.method === 'GET' && path === '/health/ready') {
      services.store.db
        .selectFrom('audit_chain_head')
        .select('seq')
        .executeTakeFirst()
        .then(
          () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}'),
          (err: unknown) => {
            logger.warn({ err }, 'readiness check failed');
            sendError(res, isStoreUnavailable(err) ? toStoreError(err) : new SluiceError('SLUICE_E_STORE_FAILED', 'database unavailable'));
          },
        );
      return;
    }
    if (ConsoleAssets.owns(path)) {
      consoleAssets.serve(req, res, path);
      return;
    }
    sendError(res, new SluiceError('SLUICE_E_HTTP_NOT_FOUND', `no route ${req.method} ${path}`));
  };
  const server = options.tls === undefined ? createServer(handle) : createHttpsServer(secureOptions(options.tls), handle);
  // A refused handshake (a client certificate from another CA, none under mutual TLS, plaintext on
  // the TLS port) never reaches a route: the log is the only place an operator sees it.
  if (options.tls !== undefined) {
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => logger.warn({ reason: err.code ?? err.message, client: socket.remoteAddress }, 'TLS handshake refused'));
  }
  // Slow-loris protection: a client must send its headers within 10 s and its body within 5 min.
  server.headersTimeout = 10_000;
  server.requestTimeout = 300_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  url = `${scheme}://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  const reloadTls = () => {
    if (options.tls === undefined) throw new SluiceError('SLUICE_E_TLS_RELOAD', 'this server does not use TLS');
    const m = readServerTls(options.tls);
    (server as HttpsServer).setSecureContext({ cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}) });
  };
  return { server, url, port, reloadTls };
}

/** The https server's options: the certificate, and for mutual TLS the CA every client must chain to. */
function secureOptions(files: ServerTlsFiles) {
  const m = readServerTls(files);
  return { cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca, requestCert: true, rejectUnauthorized: true } : {}) };
}
