// GroundTruth on a fake clock: answer TTLs and accuracy windows over time, for a classifier whose
// version object is the data a loaded version carries (config, outputs, folder).
import t from 'tap';
import { isSluiceError } from '../../../lib/errors.js';
import { parseModelConfig } from '../../../gateway/models/config.js';
import { GatewayMetrics } from '../../../gateway/metrics/metrics.js';
import { TrafficWindows } from '../../../gateway/routing/traffic.js';
import { GroundTruth } from '../../../gateway/feedback/ground-truth.js';
import { parseFeedbackBody } from '../../../gateway/feedback/feedback-items.js';
import type { PredictingVersion } from '../../../gateway/feedback/prediction.js';
import { predictionSpec, RowReading, type PredictionSpec } from '../../../gateway/feedback/prediction.js';
import type { Tensor } from '../../../gateway/models/tensors.js';

function version(config: Record<string, unknown>, outputs: PredictingVersion['outputs']): PredictingVersion {
  return { name: 'm', version: '1', dir: '/nonexistent', config: parseModelConfig('m', { max_batch_size: 8, ...config }), outputs, batched: true };
}

const SCORES = [{ name: 'scores', datatype: 'FP32' as const, dims: [3] }];

function scores(rows: number[][]): Tensor[] {
  return [{ name: 'scores', datatype: 'FP32', shape: [rows.length, 3], data: Float32Array.from(rows.flat()) }];
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return isSluiceError(err) ? err.code : String(err);
  }
}

t.test('the prediction is read from the outputs: class index, argmax of scores, or a value; config overrides', async (t) => {
  const weather = predictionSpec(version({}, [{ name: 'probabilities', datatype: 'FP32', dims: [5] }, { name: 'label', datatype: 'INT64', dims: [] }]));
  t.match(weather, { output: 'label', task: 'classification', reading: RowReading.Index });
  t.match(predictionSpec(version({}, SCORES)), { output: 'scores', reading: RowReading.Argmax, width: 3 });
  t.match(predictionSpec(version({}, [{ name: 'y', datatype: 'FP32', dims: [1] }])), { task: 'regression', reading: RowReading.Value });
  t.match(predictionSpec(version({ feedback: { output: 'probabilities' } }, [{ name: 'probabilities', datatype: 'FP32', dims: [5] }, { name: 'label', datatype: 'INT64', dims: [] }])), { output: 'probabilities', reading: RowReading.Argmax });
  t.type(predictionSpec(version({ feedback: false }, SCORES)), 'string', 'feedback: false');
  t.type(predictionSpec(version({ feedback: { task: 'regression' } }, SCORES)), 'string', 'no output fits the task asked for');
  t.type(predictionSpec(version({}, [{ name: 'map', datatype: 'FP32', dims: [3, 4] }])), 'string', 'an image-like output reads as nothing');
  t.match(predictionSpec(version({ parameters: { labels: 'a,b,c' } }, SCORES)), { classes: 3 });
  t.same((predictionSpec(version({ parameters: { labels: ['x', 'y', 'z'] } }, SCORES)) as PredictionSpec).labels(), ['x', 'y', 'z']);
});

t.test('on a fake clock: answers expire after the TTL and accuracy moves from window to window', async (t) => {
  let now = Date.parse('2030-01-01T00:00:00Z');
  const v = version({ feedback: { ttl_seconds: 60, window_seconds: 100 }, parameters: { labels: ['x', 'y', 'z'] } }, SCORES);
  const traffic = new TrafficWindows();
  const gt = new GroundTruth({ repository: { model: (n) => (n === 'm' ? { versions: new Map([['1', v]]) } : undefined) }, metrics: new GatewayMetrics(), traffic, now: () => now });
  const vf = gt.of(v)!;
  t.equal(gt.of(v), vf, 'kept per loaded version');
  const a = gt.record(vf, undefined, scores([[0.1, 0.7, 0.2]]), 1)!;
  const b = gt.record(vf, 'order-1', scores([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8]]), 2);
  t.equal(b, 'order-1');
  t.same(gt.give('m', undefined, parseFeedbackBody({ id: a, label: 'y' })), [{ id: a, model_name: 'm', model_version: '1', rows: 1, correct: 1 }]);
  now += 59_000;
  t.same(gt.give('m', '1', parseFeedbackBody({ id: 'order-1', labels: ['x', 1] })).map((r) => r.correct), [1], 'argmax x right, z predicted for y');
  t.match(gt.report('m', '1'), { task: 'classification', output: 'scores', current: { count: 3, correct: 2 }, previous: null });

  const c = gt.record(vf, undefined, scores([[1, 0, 0]]), 1)!;
  now += 60_000;
  t.equal(codeOf(() => gt.give('m', undefined, parseFeedbackBody({ id: c, label: 0 }))), 'SLUICE_E_FEEDBACK_EXPIRED', 'at its TTL');
  t.equal(codeOf(() => gt.give('m', undefined, parseFeedbackBody({ id: 'order-9', label: 0 }))), 'SLUICE_E_FEEDBACK_UNKNOWN_ID');
  t.equal(codeOf(() => gt.give('m', undefined, parseFeedbackBody({ id: a, label: 0 }))), 'SLUICE_E_FEEDBACK_EXPIRED', 'expiry comes before the duplicate check');

  const d = gt.record(vf, undefined, scores([[0, 0, 1]]), 1)!;
  gt.give('m', undefined, parseFeedbackBody({ id: d, label: 0 }));
  const report = gt.report('m', '1')!;
  t.match(report.previous, { count: 3, correct: 2, started: '2030-01-01T00:00:00.000Z', ended: '2030-01-01T00:01:40.000Z' }, 'the first window closed');
  t.match(report.current, { count: 1, correct: 0, accuracy: 0 });
  const [w] = traffic.take(now);
  t.same(w!.feedback, { count: 4, correct: 2, absError: 0, squaredError: 0 }, 'the traffic window carries what was joined in it');
  t.equal(w!.calls, 0, 'a window with feedback and no calls is still sent');
});
