import t from 'tap';
import { AnswerStore, EXPIRED, UNKNOWN } from '../../../gateway/feedback/answer-store.js';

t.test('an answer is found by its key until its TTL, then told expired, then unknown once its tombstone ages out', async (t) => {
  const store = new AnswerStore({ capacity: 8, ttlMs: 1000 });
  const at = store.record('a', 2, 0);
  store.predictions[at] = 3;
  store.predictions[store.rowAt(store.find('a', 0), 1)] = 4;
  const slot = store.find('a', 999);
  t.ok(slot >= 0, 'found before the TTL');
  t.equal(store.rowsOf(slot), 2);
  t.same([store.predictions[store.rowAt(slot, 0)], store.predictions[store.rowAt(slot, 1)]], [3, 4]);
  t.equal(store.find('a', 1000), EXPIRED, 'at the TTL: expired, even before anything pushes it out');
  t.equal(store.find('b', 10), UNKNOWN);
  store.record('b', 1, 1500); // the expired answer leaves and leaves a tombstone
  t.equal(store.size, 1);
  t.equal(store.find('a', 1500), EXPIRED, 'its tombstone says expired');
  store.record('c', 1, 2600); // one more TTL: b leaves, a's tombstone goes
  t.equal(store.find('a', 2600), UNKNOWN, 'a tombstone lasts one TTL');
  t.equal(store.find('b', 2600), EXPIRED);
});

t.test('a full store pushes out its oldest answers (by rows), which are then told expired', async (t) => {
  const store = new AnswerStore({ capacity: 4, ttlMs: 60_000 });
  store.record('a', 2, 1);
  store.record('b', 1, 2);
  store.record('c', 1, 3);
  t.equal(store.size, 3);
  store.record('d', 2, 4); // needs 2 rows: a (2 rows) goes
  t.equal(store.find('a', 5), EXPIRED);
  t.ok(store.find('b', 5) >= 0);
  store.record('e', 3, 6); // b, c, d go
  t.same(['b', 'c', 'd'].map((k) => store.find(k, 7)), [EXPIRED, EXPIRED, EXPIRED]);
  const e = store.find('e', 7);
  t.equal(store.rowsOf(e), 3);
  t.same([0, 1, 2].map((r) => store.rowAt(e, r)).sort(), [...new Set([0, 1, 2].map((r) => store.rowAt(e, r)))].sort(), 'its rows wrap around the ring without overlap');
  t.equal(store.record('huge', 5, 8), -1, 'an answer with more rows than the store is not kept');
  t.equal(store.find('huge', 8), UNKNOWN);
});

t.test('feedback marks are per answer and a reused key moves to the newest answer', async (t) => {
  const store = new AnswerStore({ capacity: 4, ttlMs: 60_000 });
  store.record('k', 1, 1);
  const first = store.find('k', 1);
  store.markGiven(first);
  t.ok(store.given(first));
  store.record('k', 1, 2);
  const second = store.find('k', 2);
  t.not(second, first);
  t.notOk(store.given(second), 'the newer answer under the key has had no feedback');
  store.record('x', 1, 3);
  store.record('y', 1, 4);
  store.record('z', 1, 5); // the first k answer leaves; the key stays with the second
  t.equal(store.find('k', 5), second);
  t.same([...store.keys()].sort(), ['k', 'x', 'y', 'z']);
});

t.test('an answer named by its sequence number is found only with its check, and is expired once pushed out', async (t) => {
  const store = new AnswerStore({ capacity: 2, ttlMs: 60_000 });
  store.record(undefined, 1, 1, 11, 12);
  const first = store.lastSeq;
  t.ok(store.findSeq(first, 11, 12, 2) >= 0);
  t.equal(store.findSeq(first, 11, 13, 2), UNKNOWN, 'a wrong check');
  t.equal(store.findSeq(first + 1, 11, 12, 2), UNKNOWN, 'a number not given yet');
  t.equal(store.findSeq(first, 11, 12, 60_001), EXPIRED, 'past the TTL');
  store.record(undefined, 1, 3, 21, 22);
  store.record('k', 1, 4);
  t.equal(store.findSeq(first, 11, 12, 5), EXPIRED, 'pushed out by newer answers');
  t.equal(store.findSeq(store.lastSeq, 0, 0, 5), UNKNOWN, 'a keyed answer is not found by number');
  t.same([...store.keys()], ['k'], 'no key kept for numbered answers');
});
