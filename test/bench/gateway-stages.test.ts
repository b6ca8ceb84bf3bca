import t from 'tap';
import { parseMetricSums, stageBreakdown } from '../../bench/targets/gateway-stages.js';

const scrape = (batchSum: number, batches: number, reqSum: number, reqs: number, queueSum: number) => `# HELP sluice_inference_batch_size Rows per batch
# TYPE sluice_inference_batch_size histogram
sluice_inference_batch_size_bucket{model="weather",version="1",le="1"} 3
sluice_inference_batch_size_sum{model="weather",version="1"} ${batchSum}
sluice_inference_batch_size_count{model="weather",version="1"} ${batches}
sluice_inference_request_duration_seconds_sum{model="weather",version="1",outcome="ok"} ${reqSum}
sluice_inference_request_duration_seconds_count{model="weather",version="1",outcome="ok"} ${reqs}
sluice_inference_request_duration_seconds_sum{model="weather",version="1",outcome="queue_full"} 0.5
sluice_inference_request_duration_seconds_count{model="weather",version="1",outcome="queue_full"} 10
sluice_inference_queue_duration_seconds_sum{model="weather",version="1"} ${queueSum}
sluice_inference_queue_duration_seconds_count{model="weather",version="1"} ${reqs + 10}
process_cpu_seconds_total 12.5
`;

t.test('histogram sums and counts are added over label sets', async (t) => {
  const m = parseMetricSums(scrape(30, 10, 2, 100, 1));
  t.same(m.sluice_inference_batch_size, [30, 10]);
  t.same(m.sluice_inference_request_duration_seconds, [2.5, 110]);
  t.notOk('process_cpu_seconds_total' in m, 'plain counters are not histograms');
});

t.test('the breakdown is the mean of each stage between two scrapes', async (t) => {
  const before = parseMetricSums(scrape(30, 10, 2, 100, 1));
  const after = parseMetricSums(scrape(30 + 400, 10 + 50, 2 + 0.8, 100 + 400, 1 + 0.4));
  const s = stageBreakdown(before, after)!;
  t.equal(s.meanBatch, 8);
  t.equal(s.calls, 400);
  t.equal(Math.round(s.requestMs * 1000) / 1000, 2);
  t.equal(Math.round(s.queueMs * 1000) / 1000, 1);
  t.equal(s.decodeMs, 0, 'a stage without samples is 0, not NaN');
});

t.test('no batch between the scrapes means no breakdown', async (t) => {
  const m = parseMetricSums(scrape(30, 10, 2, 100, 1));
  t.equal(stageBreakdown(m, m), null);
});
