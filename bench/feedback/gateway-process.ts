// A gateway for the feedback benchmark over one weather repository (its config decides whether
// answers are kept for feedback).
//
//   node dist/bench/feedback/gateway-process.js --models DIR
import { parseArgs } from 'node:util';
import { createLogger } from '../../lib/log.js';
import { startGateway } from '../../gateway/index.js';

const { values: args } = parseArgs({ options: { models: { type: 'string' } } });
const gw = await startGateway({
  host: '127.0.0.1',
  port: 0,
  modelRepository: args.models!,
  maxBodyBytes: 8 * 1024 * 1024,
  drainTimeoutMs: 5000,
  logger: createLogger('bench-feedback', 'warn'),
});
process.on('SIGTERM', () => {
  void gw.close().then(() => process.exit(0));
});
console.log(`gateway listening on ${gw.url}`);
