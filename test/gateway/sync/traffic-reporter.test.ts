import t from 'tap';
import { createLogger } from '../../../lib/log.js';
import type { WireTrafficWindow } from '../../../lib/sync-wire.js';
import { TrafficWindows } from '../../../gateway/routing/traffic.js';
import { TrafficReporter } from '../../../gateway/sync/traffic-reporter.js';

const logger = createLogger('test', 'silent');

/** A reporter over `windows` whose sends fail while `plane.up` is false, and the batches that got through. */
function reporterBehindPlane(windows: TrafficWindows): { reporter: TrafficReporter; sent: WireTrafficWindow[][]; plane: { up: boolean } } {
  const sent: WireTrafficWindow[][] = [];
  const plane = { up: false };
  const reporter = new TrafficReporter({
    windows, logger,
    send: async (w) => {
      if (!plane.up) throw new Error('control plane down');
      sent.push(w);
    },
  });
  return { reporter, sent, plane };
}

t.test('windows of a failed send are kept and merged into the next one; windows without calls are never sent', async (t) => {
  const windows = new TrafficWindows();
  const { reporter, sent, plane } = reporterBehindPlane(windows);
  await reporter.flush();
  t.equal(sent.length, 0, 'nothing to send: no send at all');

  const v1 = windows.of('weather', '1');
  v1.call(1, false);
  v1.call(1, true);
  await reporter.flush(Date.parse('2030-01-01T00:00:01Z'));
  t.equal(reporter.pending, 1, 'kept after the failed send');
  v1.call(2, false);
  windows.of('weather', '2').mirrored(3, false, true, true);
  plane.up = true;
  await reporter.flush(Date.parse('2030-01-01T00:00:02Z'));
  t.equal(sent.length, 1);
  const [w1, w2] = sent[0]!;
  t.match(w1, { version: 1, calls: 3, errors: 1, end: '2030-01-01T00:00:02.000Z' }, 'the two windows of version 1 merged');
  t.equal(w1!.latency.reduce((a, b) => a + b, 0), 3);
  t.match(w2, { version: 2, calls: 0, mirrored: { calls: 1, agreed: 1 } });
  t.equal(reporter.pending, 0);
  await reporter.flush();
  t.equal(sent.length, 1, 'nothing new: nothing sent');
});

t.test('refusals of windows kept while sends fail are added to the next ones', async (t) => {
  const windows = new TrafficWindows();
  const { reporter, sent, plane } = reporterBehindPlane(windows);
  const v1 = windows.of('weather', '1');
  v1.refuse();
  v1.refuse();
  await reporter.flush(Date.parse('2030-01-01T00:00:01Z'));
  v1.call(1, false);
  v1.refuse();
  windows.of('weather', '2').call(1, false);
  plane.up = true;
  await reporter.flush(Date.parse('2030-01-01T00:00:02Z'));
  const [w1, w2] = sent[0]!;
  t.match(w1, { version: 1, calls: 1, errors: 0, refused: 3 });
  t.notOk('refused' in w2!, 'a window that refused nothing has no refused field');
});

t.test('the windows kept while sends fail are bounded', async (t) => {
  const windows = new TrafficWindows();
  const reporter = new TrafficReporter({ windows, logger, maxPending: 3, send: async () => { throw new Error('down'); } });
  for (let v = 1; v <= 5; v++) windows.of('m', String(v)).call(1, false);
  await reporter.flush();
  t.equal(reporter.pending, 3);
});

t.test('windows carry feedback and drift; merging adds the feedback and keeps the later drift snapshot', async (t) => {
  const windows = new TrafficWindows();
  let psi = 0.05;
  windows.driftSource = (model, version) => (model === 'weather' && version === '1' ? [{ feature: 'temp_max', rows: 120, psi, level: psi >= 0.2 ? 'alert' : 'ok' }] : undefined);
  const { reporter, sent, plane } = reporterBehindPlane(windows);
  const v1 = windows.of('weather', '1');
  v1.feedback(3, 2, 0, 0);
  await reporter.flush(Date.parse('2030-01-01T00:00:01Z'));
  t.equal(reporter.pending, 1, 'a window with only feedback is a window');
  psi = 0.3;
  v1.call(1, false);
  v1.feedback(2, 1, 0, 0);
  windows.of('linear', '1').feedback(2, 0, 3, 5);
  plane.up = true;
  await reporter.flush(Date.parse('2030-01-01T00:00:02Z'));
  const [w1, w2] = sent[0]!;
  t.match(w1, { model: 'weather', calls: 1, feedback: { count: 5, correct: 3, absError: 0, squaredError: 0 } }, 'feedback counts added up');
  t.same(w1!.drift, [{ feature: 'temp_max', rows: 120, psi: 0.3, level: 'alert' }], 'the later drift snapshot kept');
  t.match(w2, { model: 'linear', calls: 0, feedback: { count: 2, correct: 0, absError: 3, squaredError: 5 } });
  t.notOk('drift' in w2!, 'no drift monitor: no drift field');
  windows.of('weather', '1').call(1, false);
  await reporter.flush(Date.parse('2030-01-01T00:00:03Z'));
  t.notOk('feedback' in sent[1]![0]!, 'no feedback in the window: no feedback field');
});

t.test('windows carry the drift bins when there are some; merging keeps the later window\'s bins', async (t) => {
  const windows = new TrafficWindows();
  let counts: number[] | undefined = [3, 4];
  windows.driftBinsSource = (model) => (model !== 'weather' ? undefined : counts === undefined ? [] : [{ feature: 'temp_max', counts }]);
  const { reporter, sent, plane } = reporterBehindPlane(windows);
  windows.of('weather', '1').call(1, false);
  await reporter.flush(Date.parse('2030-01-01T00:00:01Z'));
  counts = [30, 40];
  windows.of('weather', '1').call(1, false);
  windows.of('linear', '1').call(1, false);
  plane.up = true;
  await reporter.flush(Date.parse('2030-01-01T00:00:02Z'));
  const [w1, w2] = sent[0]!;
  t.same(w1!.driftBins, [{ feature: 'temp_max', counts: [30, 40] }], 'the later bins kept, not added');
  t.notOk('driftBins' in w2!, 'no drift monitor: no driftBins field');
  counts = undefined;
  windows.of('weather', '1').call(1, false);
  await reporter.flush(Date.parse('2030-01-01T00:00:03Z'));
  t.notOk('driftBins' in sent[1]![0]!, 'a window too small to publish: no driftBins field');
});

t.test('windows carry slice counts and the attribution snapshot; merging adds the counts and keeps the later snapshot', async (t) => {
  const windows = new TrafficWindows();
  let pending: { slice: string; calls: number; outcome: number; labelled: number; errors: number }[] | undefined = [{ slice: 'north', calls: 2, outcome: 1, labelled: 2, errors: 1 }];
  let shift = 0.1;
  windows.explained.slices = () => {
    const out = pending;
    pending = undefined;
    return out;
  };
  windows.explained.attribution = (model) => (model === 'weather' ? { rows: 4, shift, features: [{ feature: 'temp_max', share: 0.5, referenceShare: 0.4 }] } : undefined);
  const { reporter, sent, plane } = reporterBehindPlane(windows);
  windows.of('weather', '1').call(1, false);
  await reporter.flush(Date.parse('2030-01-01T00:00:01Z'));
  pending = [{ slice: 'north', calls: 1, outcome: 0, labelled: 3, errors: 2 }, { slice: 'south', calls: 1, outcome: 1, labelled: 0, errors: 0 }];
  shift = 0.4;
  windows.of('weather', '1').call(1, false);
  plane.up = true;
  await reporter.flush(Date.parse('2030-01-01T00:00:02Z'));
  const w = sent[0]![0]!;
  t.same(w.slices, [{ slice: 'north', calls: 3, outcome: 1, labelled: 5, errors: 3 }, { slice: 'south', calls: 1, outcome: 1, labelled: 0, errors: 0 }], 'slice counts added up');
  t.equal(w.attribution!.shift, 0.4, 'the later attribution snapshot kept');
  windows.of('weather', '1').call(1, false);
  await reporter.flush(Date.parse('2030-01-01T00:00:03Z'));
  t.notOk('slices' in sent[1]![0]!, 'no slice counts since the last window: no slices field');
});
