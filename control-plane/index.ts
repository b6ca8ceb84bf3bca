import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../lib/log.js';
import type { RunningServer } from '../lib/server.js';

export interface ControlPlaneOptions {
  host: string;
  port: number;
  /** Folder for the SQLite file, artifacts and keys. */
  dataDir: string;
  /** postgres://… to use PostgreSQL instead of SQLite. */
  db?: string;
  logger: Logger;
}

/** The control plane's HTTP server. Until the GraphQL API lands it answers health checks only. */
export async function startControlPlane(options: ControlPlaneOptions): Promise<RunningServer> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/health' || req.url === '/health/live')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no route ${req.method} ${req.url}` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.host}:${port}`;
  return {
    url,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
