// The front's decisions on plain numbers and a fake clock: the body budget, the body deadline
// sweep, the event-loop lag monitor, the connection cap, the image decode budget, and the drain's quiet.
import t from 'tap';
import { ADMIT_STEP, Admission, BodyBudget, BodyDeadlines, BodyRead, LagMonitor, MIN_ADMIT, MIN_BUSY, SMALL_BODY_BYTES, busyShare, cpuCapacity } from '../../../gateway/server/admission.js';
import { DecodeBudget } from '../../../gateway/preprocess/decode-budget.js';
import type { BatcherClock } from '../../../gateway/batching/clock.js';
import type { SluiceError } from '../../../lib/errors.js';

class FakeClock implements BatcherClock {
  time = 0;
  timers = new Map<number, { due: number; fn: () => void }>();
  #next = 1;
  now(): number {
    return this.time;
  }
  setTimer(fn: () => void, delayUs: number): unknown {
    const id = this.#next++;
    this.timers.set(id, { due: this.time + delayUs, fn });
    return id;
  }
  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Move to `time` without running timers (the event loop was busy). */
  stall(us: number): void {
    this.time += us;
  }
  /** Run the timers due by now, in order. */
  fire(): void {
    for (;;) {
      const due = [...this.timers].filter(([, x]) => x.due <= this.time).sort((a, b) => a[1].due - b[1].due)[0];
      if (due === undefined) return;
      this.timers.delete(due[0]);
      due[1].fn();
    }
  }
}

const MiB = 1024 * 1024;

t.test('the body budget reserves declared lengths and refuses past its limit', async (t) => {
  const budget = new BodyBudget(64 * MiB);
  t.ok(budget.tryReserve(40 * MiB), 'a large body within the large share');
  t.notOk(budget.tryReserve(20 * MiB), 'a second large body past 7/8 of the budget is refused');
  t.equal(budget.reserved, 40 * MiB, 'a refusal reserves nothing');
  t.ok(budget.tryReserve(16 * MiB - 1), 'large bodies may fill 7/8 exactly');
  t.notOk(budget.tryReserve(SMALL_BODY_BYTES + 1), 'a body just past the small size is held to 7/8');
  t.ok(budget.tryReserve(SMALL_BODY_BYTES), 'small bodies still fit in the last eighth');
  const refusal = budget.refusal(20 * MiB);
  t.equal(refusal.code, 'SLUICE_E_BUDGET_BODY_BUSY');
  t.equal(refusal.status, 503);
  t.equal(refusal.retryAfter, 1);
  budget.release(40 * MiB);
  t.ok(budget.tryReserve(20 * MiB), 'released bytes can be reserved again');
});

t.test('a body growing without content-length counts what it holds already', async (t) => {
  const budget = new BodyBudget(8 * MiB);
  t.ok(budget.tryReserve(SMALL_BODY_BYTES, 0));
  t.ok(budget.tryReserve(6 * MiB, SMALL_BODY_BYTES), 'grown past the small size: held to the large share (7 MiB)');
  t.notOk(budget.tryReserve(1 * MiB, 6 * MiB + SMALL_BODY_BYTES), 'growing past 7/8 is refused');
});

t.test('the body budget must be a positive integer', async (t) => {
  t.throws(() => new BodyBudget(0), { code: 'SLUICE_E_CONFIG_INVALID' });
  t.throws(() => new Admission({ maxConnections: 0 }), { code: 'SLUICE_E_CONFIG_INVALID' });
  t.throws(() => new Admission({ bodyTimeoutMs: -1 }), { code: 'SLUICE_E_CONFIG_INVALID' });
});

t.test('body deadlines: reads finished first, last or in the middle leave the others tracked, in order', async (t) => {
  const clock = new FakeClock();
  const deadlines = new BodyDeadlines(1000, clock);
  const expired: string[] = [];
  const reads = new Map<string, BodyRead>();
  const add = (name: string): void => {
    const r = new (class extends BodyRead {
      override expire(): void {
        expired.push(name);
      }
    })();
    r.startedUs = clock.now();
    reads.set(name, r);
    deadlines.add(r);
    clock.stall(10);
  };
  for (const n of ['a', 'b', 'c', 'd', 'e', 'f']) add(n);
  t.equal(deadlines.pending, 6);
  deadlines.delete(reads.get('a')!);
  deadlines.delete(reads.get('f')!);
  deadlines.delete(reads.get('c')!);
  deadlines.delete(reads.get('c')!);
  deadlines.add(reads.get('b')!);
  t.equal(deadlines.pending, 3, 'a second delete or add of the same read changes nothing');
  clock.stall(1_000_000 - 30);
  t.equal(deadlines.sweep(), 2, 'b and d are past the deadline, e is 10 µs short of it');
  t.same(expired, ['b', 'd']);
  add('g');
  clock.stall(1_000_000);
  t.equal(deadlines.sweep(), 2);
  t.same(expired, ['b', 'd', 'e', 'g']);
  t.equal(deadlines.pending, 0);
  deadlines.close();
});

t.test('the deadline sweep expires bodies older than the timeout, however many chunks came', async (t) => {
  const clock = new FakeClock();
  const deadlines = new BodyDeadlines(1000, clock);
  const expired: [string, SluiceError][] = [];
  const read = (name: string): BodyRead => {
    const r = new (class extends BodyRead {
      override expire(err: SluiceError): void {
        expired.push([name, err]);
      }
    })();
    r.startedUs = clock.now();
    return r;
  };
  const slow = read('slow');
  deadlines.add(slow);
  t.equal(clock.timers.size, 1, 'one sweep timer for all reads');
  clock.stall(600_000);
  const later = read('later');
  deadlines.add(later);
  t.equal(clock.timers.size, 1, 'still one timer');
  // Chunks arriving change nothing: the deadline runs from the headers.
  clock.stall(399_999);
  t.equal(deadlines.sweep(), 0, 'not yet');
  clock.stall(1);
  t.equal(deadlines.sweep(), 1);
  t.same(expired.map(([n]) => n), ['slow']);
  t.equal(expired[0]![1].code, 'SLUICE_E_BUDGET_BODY_TIMEOUT');
  t.equal(expired[0]![1].status, 408);
  const done = read('done');
  deadlines.add(done);
  deadlines.delete(done);
  clock.stall(1_000_000);
  clock.fire();
  t.same(expired.map(([n]) => n), ['slow', 'later'], 'the timer sweeps; a finished read is never expired');
  t.equal(deadlines.pending, 0);
  t.equal(clock.timers.size, 0, 'no timer while nothing is pending');
  deadlines.close();
});

t.test('one stall of the event loop sheds nothing; lag that lasts does, and ends', async (t) => {
  const clock = new FakeClock();
  const lag = new LagMonitor(200, clock, 20);
  // The ticks a busy gateway's timer would run (utilization 1).
  const run = (us: number) => {
    clock.stall(us);
    lag.tick(clock.time, 1);
  };
  run(120_000);
  t.notOk(lag.overloaded());
  // One 500 ms stall: the requests read during it see the tick overdue, the tick then sees it late.
  clock.stall(500_000);
  t.notOk(lag.overloaded(), 'overdue alone is one sign');
  lag.tick(clock.time, 1);
  t.equal(lag.lagUs(), 480_000);
  t.notOk(lag.overloaded(), 'one late tick is one sign');
  run(20_000);
  t.notOk(lag.overloaded(), 'back on time');
  // Sustained: every turn of the loop takes 300 ms.
  run(300_000);
  clock.stall(300_000);
  t.ok(lag.overloaded(), 'a late tick and the next one overdue');
  lag.tick(clock.time, 1);
  t.ok(lag.overloaded(), 'two late ticks in a row');
  run(20_000);
  run(20_000);
  t.notOk(lag.overloaded(), 'recovers once two ticks are on time');
  lag.start();
  t.equal(clock.timers.size, 1, 'a running monitor has one timer');
  lag.stop();
  t.equal(clock.timers.size, 0);
  const off = new LagMonitor(0, clock);
  clock.stall(10_000_000);
  t.notOk(off.overloaded(), '0 never sheds');
});

t.test('after an overload the front admits a share of new calls, spaced evenly, that grows back to all', async (t) => {
  const clock = new FakeClock();
  const a = new Admission({ maxEventLoopLagMs: 50 }, clock);
  const lag = a.lag;
  const run = (us: number) => {
    clock.stall(us);
    lag.tick(clock.time, 1);
  };
  run(20_000);
  clock.stall(400_000);
  lag.tick(clock.time, 1);
  t.equal(lag.admitShare, 1, 'one stall halves nothing');
  run(20_000);
  // Overload: every tick 100 ms late.
  for (let i = 0; i < 3; i++) run(120_000);
  t.equal(lag.admitShare, 1 / 4, 'halved on each tick that finds two late ticks in a row');
  for (let i = 0; i < 10; i++) run(120_000);
  t.equal(lag.admitShare, MIN_ADMIT, 'never below the floor');
  // On time again: not overloaded, but the front still admits only the share, 1 call in 64 here.
  run(20_000);
  run(20_000);
  t.notOk(lag.overloaded());
  const share = lag.admitShare;
  t.ok(Math.abs(share - (MIN_ADMIT + 2 * ADMIT_STEP)) < 1e-12, 'up a step on each tick on time');
  const verdicts = Array.from({ length: 1000 }, () => a.front());
  const admitted = verdicts.filter((v) => v === undefined).length;
  t.ok(Math.abs(admitted - 1000 * share) <= 1, `admitted ${admitted} of 1000 at a share of ${share}`);
  t.equal(verdicts.find((v) => v !== undefined)?.code, 'SLUICE_E_BUDGET_OVERLOADED');
  const gaps = verdicts.flatMap((v, i) => (v === undefined ? [i] : [])).slice(1).map((i, k, all) => (k === 0 ? null : i - all[k - 1]!)).filter((g) => g !== null);
  t.ok(gaps.every((g) => Math.abs(g - 1 / share) <= 1), 'admitted calls are spaced evenly, not in a burst');
  t.equal(a.refused.overloaded, 1000 - admitted);
  // A tick between half the bound and the bound holds the share; ticks under half of it raise it.
  run(20_000 + 40_000);
  t.equal(lag.admitShare, share, 'lag under the bound but past half of it holds the share');
  for (let i = 0; i < 1 / ADMIT_STEP; i++) run(20_000);
  t.equal(lag.admitShare, 1, 'all again within a second of ticks on time');
  t.equal(a.front(), undefined);
  // The load drops: the first tick on time that finds the gateway no longer busy admits all at once.
  for (let i = 0; i < 10; i++) run(120_000);
  t.equal(lag.admitShare, MIN_ADMIT);
  for (let i = 0; i < 10 && lag.utilization >= MIN_BUSY; i++) {
    clock.stall(20_000);
    lag.tick(clock.time, 0.3);
  }
  t.equal(lag.admitShare, 1, 'not busy and on time: every call admitted again');
  a.close();
});

t.test('lag while the gateway is not busy (starved of CPU by other processes) sheds nothing', async (t) => {
  const clock = new FakeClock();
  const lag = new LagMonitor(200, clock, 20);
  for (let i = 0; i < 3; i++) {
    clock.stall(320_000);
    lag.tick(clock.time, 0.3);
  }
  clock.stall(300_000);
  t.ok(lag.lagUs() > 200_000);
  t.notOk(lag.overloaded(), 'late ticks, but the loop was mostly waiting');
  lag.tick(clock.time, 1);
  clock.stall(300_000);
  t.ok(lag.overloaded(), 'the same lag with a busy loop sheds');
  t.equal(lag.utilization, 1);
});

t.test('busy is measured against the CPU quota: at half a core a half-core gateway is fully busy', async (t) => {
  t.equal(cpuCapacity(undefined), 1, 'no quota: one core');
  t.equal(cpuCapacity(0.5), 0.5);
  t.equal(cpuCapacity(4), 1, 'a quota of many cores still gives the loop one');
  // 10 ms of CPU in 20 ms, loop always busy.
  t.equal(busyShare(1, 10_000, 20_000, cpuCapacity(undefined)), 0.5, 'without a quota that is half busy: starved, not shedding');
  t.equal(busyShare(1, 10_000, 20_000, cpuCapacity(0.5)), 1, 'at its quota of half a core it is as busy as it can be');
  t.equal(busyShare(0.3, 10_000, 20_000, cpuCapacity(0.5)), 0.3, 'a mostly idle loop is not busy whatever the CPU');
  const clock = new FakeClock();
  const lag = new LagMonitor(50, clock, 20);
  for (let i = 0; i < 10; i++) {
    clock.stall(20_000);
    lag.tick(clock.time, busyShare(1, 10_000, 20_000, cpuCapacity(0.5)));
  }
  t.ok(lag.utilization >= MIN_BUSY, 'the monitor counts it busy, so its lag sheds');
});

t.test('the front caps open calls and sheds under lag, with coded 503s', async (t) => {
  const clock = new FakeClock();
  const a = new Admission({ maxConnections: 2, maxEventLoopLagMs: 100 }, clock);
  t.equal(a.front(), undefined);
  a.open = 2;
  const capped = a.front();
  t.equal(capped?.code, 'SLUICE_E_BUDGET_CONNECTIONS');
  t.equal(capped?.status, 503);
  t.equal(capped?.retryAfter, 1);
  a.open = 1;
  a.lag.tick(clock.time);
  clock.stall(150_000);
  a.lag.tick(clock.time);
  clock.stall(150_000);
  const shed = a.front();
  t.equal(shed?.code, 'SLUICE_E_BUDGET_OVERLOADED');
  t.equal(shed?.retryAfter, 1);
  t.same(a.refused, { overloaded: 1, connections: 1, body_budget: 0, body_timeout: 0 });
  a.close();
});

t.test('the decode budget refuses past its concurrent decodes and pixels per request', async (t) => {
  const budget = new DecodeBudget(3, 1000);
  t.equal(budget.acquire(2), 2);
  t.equal(budget.acquire(5), 1, 'a request with more images than free slots decodes on what is free');
  t.throws(() => budget.acquire(1), { code: 'SLUICE_E_BUDGET_DECODE_BUSY' });
  budget.release(1);
  t.equal(budget.acquire(1), 1);
  t.equal(budget.running, 3);
  t.doesNotThrow(() => budget.checkPixels(1000, 'image'));
  t.throws(() => budget.checkPixels(1001, 'image'), { code: 'SLUICE_E_BUDGET_PIXELS' });
  t.throws(() => new DecodeBudget(0, 1), { code: 'SLUICE_E_CONFIG_INVALID' });
});

t.test('a drain: answers close their connections; quiet() waits until no call came for its span, within the drain timeout', async (t) => {
  const clock = new FakeClock();
  const front = new Admission({}, clock);
  t.equal(front.closeConnections, false, 'connections are kept alive while serving');
  front.drain(10_000);
  t.equal(front.closeConnections, true, 'answers close their connections once draining');
  let quiet = false;
  void front.quiet(250).then(() => (quiet = true));
  const settle = () => new Promise((r) => setImmediate(r));
  // A call at 200 ms: the quiet now ends at 450 ms, not 250.
  clock.stall(200_000);
  t.equal(front.front(), undefined);
  clock.stall(100_000);
  clock.fire();
  await settle();
  t.equal(quiet, false, 'not quiet 100 ms after a call');
  clock.stall(150_000);
  clock.fire();
  await settle();
  t.equal(quiet, true, 'quiet 250 ms after the last call');

  // Calls that never stop: the drain timeout ends the wait.
  const busy = new Admission({}, clock);
  busy.drain(1000);
  let ended = false;
  void busy.quiet(250).then(() => (ended = true));
  for (let ms = 0; ms < 1000; ms += 100) {
    t.equal(busy.front(), undefined);
    clock.stall(100_000);
    clock.fire();
    await settle();
    if (ms + 100 < 1000) t.equal(ended, false, `still calls at ${ms + 100} ms`);
  }
  t.equal(ended, true, 'the wait ends with the drain timeout');
});
