import t from 'tap';
import { LatencyHistogram } from '../../bench/load/histogram.js';

t.test('percentiles of 1..1000 ms are exact to three significant digits', async (t) => {
  const h = new LatencyHistogram();
  for (let ms = 1; ms <= 1000; ms++) h.recordMs(ms);
  const s = h.summary();
  t.equal(s.count, 1000);
  t.ok(Math.abs(s.p50 - 500) <= 0.5, `p50 ${s.p50}`);
  t.ok(Math.abs(s.p90 - 900) <= 0.9, `p90 ${s.p90}`);
  t.ok(Math.abs(s.p99 - 990) <= 1, `p99 ${s.p99}`);
  t.ok(Math.abs(s.p999 - 999) <= 1, `p99.9 ${s.p999}`);
  t.ok(Math.abs(s.max - 1000) <= 1, `max ${s.max}`);
  t.ok(Math.abs(s.mean - 500.5) <= 1, `mean ${s.mean}`);
});

t.test('sub-millisecond latencies keep microsecond resolution', async (t) => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 99; i++) h.recordMs(0.25);
  h.recordMs(0.875);
  t.equal(h.percentileMs(50), 0.25);
  t.equal(h.percentileMs(100), 0.875);
});

t.test('an empty histogram reports zeros, not NaN', async (t) => {
  t.same(new LatencyHistogram().summary(), { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
});

t.test('a tail of a few slow calls shows in p99.9 but not p50', async (t) => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 9990; i++) h.recordMs(2);
  for (let i = 0; i < 10; i++) h.recordMs(5000);
  t.equal(h.percentileMs(50), 2);
  t.equal(h.percentileMs(99), 2);
  t.ok(h.percentileMs(99.95) >= 4990, 'the 0.1% tail is visible');
});

t.test('encode/decode round-trips, and merged histograms add their counts', async (t) => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  for (let i = 1; i <= 100; i++) a.recordMs(i);
  for (let i = 101; i <= 200; i++) b.recordMs(i);
  const back = LatencyHistogram.decode(a.encode());
  t.same(back.summary(), a.summary());
  back.add(LatencyHistogram.decode(b.encode()));
  t.equal(back.count, 200);
  t.ok(Math.abs(back.percentileMs(50) - 100) <= 0.1);
  t.ok(Math.abs(back.percentileMs(100) - 200) <= 0.2);
});
