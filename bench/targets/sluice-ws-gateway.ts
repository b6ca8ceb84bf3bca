// Sluice with its /v2/ws endpoint, for the WebSocket scenarios: the same startGateway as
// `sluice gateway`, plus the WebSocket extension (which the CLI does not add yet). Started by the
// runner: node sluice-ws-gateway.js --models DIR
import { startGateway } from '../../gateway/index.js';
import { websocketEndpoint } from '../../gateway/server/ws-gateway.js';
import { createLogger } from '../../lib/log.js';
import { childArgs, required } from './args.js';

const args = childArgs(process.argv.slice(2));
const logger = createLogger('sluice', 'warn');
const gw = await startGateway({
  host: '127.0.0.1',
  port: Number(args.get('port') ?? 0),
  modelRepository: required(args, 'models'),
  maxBodyBytes: 64 * 1024 * 1024,
  drainTimeoutMs: 5000,
  logger,
  extensions: [websocketEndpoint()],
});
process.stdout.write(`sluice (with /v2/ws) listening on ${gw.url}\n`);
const stop = () => void gw.close().then(() => process.exit(0), () => process.exit(1));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
