import t from 'tap';
import { ArrivalSchedule } from '../../bench/load/schedule.js';

t.test('calls are intended at start + i / rate', async (t) => {
  const s = new ArrivalSchedule(200, 1000);
  t.equal(s.intendedAt(0), 1000);
  t.equal(s.intendedAt(1), 1005);
  t.equal(s.intendedAt(200), 2000);
});

t.test('due() hands out every call whose time has come, each with its own intended time', async (t) => {
  const s = new ArrivalSchedule(1000, 0);
  const got: number[] = [];
  t.equal(s.due(0, (at) => got.push(at)), 1, 'the first call is due at the start');
  // A timer that fires 5 ms late: the backlog goes out at once, not spread over the next 5 ms.
  t.equal(s.due(5.5, (at) => got.push(at)), 5);
  t.same(got, [0, 1, 2, 3, 4, 5]);
  t.equal(s.issued, 6);
  t.equal(s.due(5.9, () => t.fail('nothing is due yet')), 0);
});

t.test('a stalled sender does not lower the offered rate', async (t) => {
  const s = new ArrivalSchedule(100, 0);
  let n = 0;
  s.due(10_000, () => n++);
  t.equal(n, 1001, 'ten seconds at 100/s, both ends included');
});

t.test('untilNext() is the wait to the next intended time, never negative', async (t) => {
  const s = new ArrivalSchedule(10, 0);
  s.due(0, () => undefined);
  t.equal(s.untilNext(30), 70);
  t.equal(s.untilNext(150), 0);
});

t.test('a rate that is not a positive number is refused', async (t) => {
  for (const r of [0, -5, Number.NaN, Infinity]) t.throws(() => new ArrivalSchedule(r, 0), RangeError, String(r));
});
