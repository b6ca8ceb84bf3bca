import t from 'tap';
import { gcFigures } from '../../../bench/load/measured-round.js';
import { parseMetricSums } from '../../../bench/targets/gateway-stages.js';

const scrape = (minor: [number, number], major: [number, number]) =>
  parseMetricSums([
    '# TYPE sluice_nodejs_gc_duration_seconds histogram',
    `sluice_nodejs_gc_duration_seconds_sum{kind="minor"} ${minor[0]}`,
    `sluice_nodejs_gc_duration_seconds_count{kind="minor"} ${minor[1]}`,
    `sluice_nodejs_gc_duration_seconds_sum{kind="major"} ${major[0]}`,
    `sluice_nodejs_gc_duration_seconds_count{kind="major"} ${major[1]}`,
  ].join('\n'));

t.test('gc figures: collections per 1,000 calls and pause µs per call between two scrapes, every kind counted', async (t) => {
  const gc = gcFigures(scrape([0.01, 10], [0.02, 1]), scrape([0.03, 30], [0.05, 2]), 20_000)!;
  t.equal(gc.per1kCalls, 1.05, '21 collections in 20,000 calls');
  t.equal(Math.round(gc.pauseUsPerCall * 1000) / 1000, 2.5, '50 ms of pauses over 20,000 calls');
});

t.test('gc figures: none for a server without the metric or a window without answers', async (t) => {
  t.equal(gcFigures({}, {}, 1000), undefined);
  t.equal(gcFigures(scrape([0, 0], [0, 0]), scrape([0.1, 3], [0, 0]), 0), undefined);
});
