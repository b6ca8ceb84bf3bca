// What the payload log costs a client (issue 18): two gateways up at once on the same weather
// repository, one without a payload log, one with `payload_log: { sample: 1, personal: ["features"] }`
// (every call copied, HMACed and written as a JSON line), in turns at closed loop over weather-json,
// for calls/s and server CPU per call (bench/load/weather-ab.ts).
//
//   node dist/bench/payload-log/run.js [--rounds 5] [--connections 64] [--duration-ms 3000]
import { join } from 'node:path';
import { runWeatherAb } from '../load/weather-ab.js';

await runWeatherAb({
  name: 'payload-log',
  variants: [
    { label: 'payload log off' },
    {
      label: 'payload log 1.0',
      config: (c) => ({ ...c, payload_log: { sample: 1, personal: ['features'], max_bytes: 256 * 1024 * 1024 } }),
      args: (scratch) => ['--payload-log-dir', join(scratch, 'log')],
    },
  ],
});
