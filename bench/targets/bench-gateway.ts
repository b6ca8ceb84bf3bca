// The in-process gateway that a bench's own server process starts (bench/load/ab-gateway.ts,
// bench/shadow/gateway-process.ts): loopback, a free port, bodies to 8 MiB, quiet logs; `announce`
// makes SIGTERM a drain and prints the line the parent (server-process.ts) waits for.
import { createLogger } from '../../lib/log.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../gateway/index.js';

export function startBenchGateway(name: string, options: Pick<GatewayOptions, 'modelRepository'> & Partial<GatewayOptions>): Promise<Gateway> {
  return startGateway({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 8 * 1024 * 1024,
    drainTimeoutMs: 5000,
    logger: createLogger(name, 'warn'),
    ...options,
  });
}

export function announce(gw: Gateway): void {
  process.on('SIGTERM', () => {
    void gw.close().then(() => process.exit(0));
  });
  console.log(`gateway listening on ${gw.url}`);
}
