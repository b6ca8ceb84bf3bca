// The gateway process of bench/load/weather-ab.ts, over one repository whose config decides what
// is measured (feedback on or off, payload_log); with --payload-log-dir the payload log extension is on.
//
//   node dist/bench/load/ab-gateway.js --models DIR [--payload-log-dir DIR]
import { parseArgs } from 'node:util';
import { createLogger } from '../../lib/log.js';
import { startGateway } from '../../gateway/index.js';

const { values: args } = parseArgs({ options: { models: { type: 'string' }, 'payload-log-dir': { type: 'string' } } });
const gw = await startGateway({
  host: '127.0.0.1',
  port: 0,
  modelRepository: args.models!,
  maxBodyBytes: 8 * 1024 * 1024,
  drainTimeoutMs: 5000,
  logger: createLogger('bench-ab', 'warn'),
  ...(args['payload-log-dir'] !== undefined ? { payloadLog: { dir: args['payload-log-dir'] } } : {}),
});
process.on('SIGTERM', () => {
  void gw.close().then(() => process.exit(0));
});
console.log(`gateway listening on ${gw.url}`);
