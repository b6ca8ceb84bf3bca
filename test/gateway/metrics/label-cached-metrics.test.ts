import t from 'tap';
import { Registry } from 'prom-client';
import { LabelCachedHistogram, SampledMetric } from '../../../gateway/metrics/label-cached-metrics.js';
import { GatewayMetrics } from '../../../gateway/metrics/metrics.js';

t.test('a fast histogram exposes cumulative buckets, sum and count per label set, as prom-client does', async (t) => {
  const registry = new Registry();
  const h = new LabelCachedHistogram({ name: 'x_seconds', help: 'x', labelNames: ['model'], buckets: [0.5, 0.1, 1] });
  registry.registerMetric(h as never);
  const a = h.labels({ model: 'a' });
  for (const v of [0.05, 0.1, 0.2, 0.7, 3]) a.observe(v);
  h.labels({ model: 'b' }).observe(0.3);
  t.equal(h.labels({ model: 'a' }), a, 'one series per label set');
  a.observe(Number.NaN);
  const text = await registry.metrics();
  t.match(text, '# TYPE x_seconds histogram');
  t.match(text, 'x_seconds_bucket{le="0.1",model="a"} 2\n', 'a value equal to a bound counts in that bucket');
  t.match(text, 'x_seconds_bucket{le="0.5",model="a"} 3\n');
  t.match(text, 'x_seconds_bucket{le="1",model="a"} 4\n');
  t.match(text, 'x_seconds_bucket{le="+Inf",model="a"} 5\n', 'NaN is not counted');
  t.match(text, 'x_seconds_sum{model="a"} 4.05\n');
  t.match(text, 'x_seconds_count{model="a"} 5\n');
  t.match(text, 'x_seconds_bucket{le="0.5",model="b"} 1\n');
  h.remove({ model: 'b' });
  t.notMatch(await registry.metrics(), 'model="b"');
});

t.test('a sampled metric reads its values at scrape time', async (t) => {
  const registry = new Registry();
  let n = 1;
  registry.registerMetric(new SampledMetric({ name: 'y_total', help: 'y', type: 'counter', read: () => [{ labels: { k: 'v' }, value: n }] }) as never);
  t.match(await registry.metrics(), 'y_total{k="v"} 1\n');
  n = 7;
  t.match(await registry.metrics(), 'y_total{k="v"} 7\n');
});

t.test('two generations of one model version (a reload) share their series', async (t) => {
  const m = new GatewayMetrics();
  const old = m.forVersion('weather', '1');
  const next = m.forVersion('weather', '1');
  old.count('success');
  next.count('success');
  old.inFlight.inc();
  next.inFlight.inc();
  old.inFlight.dec();
  old.requestDuration.observe(0.001);
  next.requestDuration.observe(0.001);
  m.countUnrouted('client_error');
  const { body } = await m.render();
  t.match(body, 'sluice_inference_requests_total{model="weather",version="1",outcome="success"} 2\n');
  t.match(body, 'sluice_inference_requests_total{model="",version="",outcome="client_error"} 1\n');
  t.match(body, 'sluice_inference_in_flight{model="weather",version="1"} 1\n');
  t.match(body, 'sluice_inference_request_duration_seconds_count{model="weather",version="1"} 2\n');
  t.notMatch(body, 'sluice_inference_in_flight{model=""', 'unrouted calls have no in-flight series');
});
