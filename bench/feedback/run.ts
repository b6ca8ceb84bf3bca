// What answer ids and the feedback store cost a client (issue 16): two gateways up at once on the
// same weather repository, one with `feedback: false`, one as shipped (every answer gets a UUID and
// its prediction goes into the version's answer ring), in turns at closed loop over weather-json
// (no caller ids: the generated-id path), for calls/s and server CPU per call (bench/load/weather-ab.ts).
//
//   node dist/bench/feedback/run.js [--rounds 5] [--connections 64] [--duration-ms 3000]
import { runWeatherAb } from '../load/weather-ab.js';

await runWeatherAb({
  name: 'feedback',
  variants: [
    { label: 'feedback off', config: (c) => ({ ...c, feedback: false }) },
    { label: 'feedback on' },
  ],
});
