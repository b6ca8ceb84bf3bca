// The gateway process of bench/load/weather-ab.ts, over one repository whose config decides what
// is measured (feedback on or off, payload_log); with --payload-log-dir the payload log extension is on.
//
//   node dist/bench/load/ab-gateway.js --models DIR [--payload-log-dir DIR]
import { parseArgs } from 'node:util';
import { announce, startBenchGateway } from '../targets/bench-gateway.js';

const { values: args } = parseArgs({ options: { models: { type: 'string' }, 'payload-log-dir': { type: 'string' } } });
announce(await startBenchGateway('bench-ab', {
  modelRepository: args.models!,
  ...(args['payload-log-dir'] !== undefined ? { payloadLog: { dir: args['payload-log-dir'] } } : {}),
}));
