// Owner-tagged answer ids: a gateway under a control plane ends the ids it makes with its tag, finds
// its own answers by them (the random part must still match), and never looks another gateway's id
// up by sequence number; a standalone gateway makes ids as before.
import t from 'tap';
import { parseModelConfig } from '../../../gateway/models/config.js';
import { GatewayMetrics } from '../../../gateway/metrics/metrics.js';
import { TrafficWindows } from '../../../gateway/routing/traffic.js';
import { GroundTruth } from '../../../gateway/feedback/ground-truth.js';
import { parseFeedbackBody } from '../../../gateway/feedback/feedback-items.js';
import { ownerTag, parseGeneratedId } from '../../../gateway/feedback/owner-ids.js';
import type { PredictingVersion } from '../../../gateway/feedback/prediction.js';
import type { Tensor } from '../../../gateway/models/tensors.js';

const v: PredictingVersion = {
  name: 'm', version: '1', dir: '/nonexistent', batched: true,
  config: parseModelConfig('m', { max_batch_size: 8 }),
  outputs: [{ name: 'scores', datatype: 'FP32', dims: [3] }],
};
const row: Tensor[] = [{ name: 'scores', datatype: 'FP32', shape: [1, 3], data: Float32Array.from([0.1, 0.7, 0.2]) }];

function groundTruth(): GroundTruth {
  return new GroundTruth({ repository: { model: (n) => (n === 'm' ? { versions: new Map([['1', v]]) } : undefined) }, metrics: new GatewayMetrics(), traffic: new TrafficWindows() });
}

t.test('a tag is 8 hex digits of the name, the same on every gateway, different per name', async (t) => {
  t.match(ownerTag('gw-0'), /^[0-9a-f]{8}$/);
  t.equal(ownerTag('gw-0'), ownerTag('gw-0'));
  t.not(ownerTag('gw-0'), ownerTag('gw-1'));
});

t.test('parsing: untagged and tagged gateway ids, and caller ids that only look alike', async (t) => {
  t.same(parseGeneratedId('6f874506cb57dcc5-0'), { check0: 0x6f874506 | 0, check1: 0xcb57dcc5 | 0, seq: 0, owner: undefined });
  t.same(parseGeneratedId('6f874506cb57dcc5-z1-0a1b2c3d'), { check0: 0x6f874506 | 0, check1: 0xcb57dcc5 | 0, seq: parseInt('z1', 36), owner: '0a1b2c3d' });
  for (const id of ['order-1042', '6f874506cb57dcc5', '6f874506cb57dcc5-0-0a1b2c3', '6F874506CB57DCC5-0', '6f874506cb57dcc5-0-0a1b2c3d-x', '']) {
    t.equal(parseGeneratedId(id), undefined, JSON.stringify(id));
  }
});

t.test('a standalone gateway makes untagged ids; a tagged one ends its ids with its tag and finds them', async (t) => {
  const standalone = groundTruth();
  const plain = standalone.record(standalone.of(v)!, undefined, row, 1)!;
  t.equal(parseGeneratedId(plain)?.owner, undefined);
  t.equal(standalone.give('m', undefined, parseFeedbackBody({ id: plain, label: 1 }))[0]!.correct, 1);

  const gt = groundTruth();
  gt.setOwner(ownerTag('gw-0'));
  t.equal(gt.owner, ownerTag('gw-0'));
  const id = gt.record(gt.of(v)!, undefined, row, 1)!;
  t.equal(parseGeneratedId(id)?.owner, ownerTag('gw-0'));
  t.ok(gt.holds('m', undefined, id));
  t.equal(gt.give('m', undefined, parseFeedbackBody({ id, label: 1 }))[0]!.correct, 1);
});

t.test('the random part must match, and another gateway\'s id is never looked up by sequence', async (t) => {
  const gt = groundTruth();
  gt.setOwner(ownerTag('gw-0'));
  const id = gt.record(gt.of(v)!, undefined, row, 1)!;
  const flipped = `${id[0] === '0' ? '1' : '0'}${id.slice(1)}`;
  t.throws(() => gt.give('m', undefined, parseFeedbackBody({ id: flipped, label: 1 })), { code: 'SLUICE_E_FEEDBACK_UNKNOWN_ID' });
  const asOther = id.replace(/-[0-9a-f]{8}$/, `-${ownerTag('gw-1')}`);
  t.notOk(gt.holds('m', undefined, asOther), 'same random part and sequence, another owner: not ours');
  t.throws(() => gt.give('m', undefined, parseFeedbackBody({ id: asOther, label: 1 })), { code: 'SLUICE_E_FEEDBACK_UNKNOWN_ID' });
  t.throws(() => gt.give('m', undefined, parseFeedbackBody({ id: id.replace(/-[0-9a-f]{8}$/, ''), label: 1 })), { code: 'SLUICE_E_FEEDBACK_UNKNOWN_ID' }, 'nor untagged');
  t.equal(gt.give('m', undefined, parseFeedbackBody({ id, label: 1 })).length, 1, 'the real id still works');
});

t.test('holds(): caller ids by key, not for unknown models, and errors name items by their place in the caller\'s batch', async (t) => {
  const gt = groundTruth();
  gt.record(gt.of(v)!, 'order-1', row, 1);
  t.ok(gt.holds('m', undefined, 'order-1'));
  t.ok(gt.holds('m', '1', 'order-1'));
  t.notOk(gt.holds('m', undefined, 'order-2'));
  t.notOk(gt.holds('other', undefined, 'order-1'), 'a model not served here');
  try {
    gt.give('m', undefined, parseFeedbackBody({ feedback: [{ id: 'order-2', label: 1 }] }), [7]);
    t.fail('unknown id accepted');
  } catch (err) {
    t.match(err, { code: 'SLUICE_E_FEEDBACK_UNKNOWN_ID', details: { item: 7 } });
  }
});
