import t from 'tap';
import { EXPLORE, InlineGate, InlineLoad } from '../../../gateway/batching/inline.js';
import type { BatcherClock } from '../../../gateway/batching/clock.js';

/** Only now() is read by the inline decision. */
function fakeClock(): BatcherClock & { time: number } {
  return { time: 0, now() { return this.time; }, setTimer: () => 0, clearTimer: () => undefined };
}

/** The gate, its gateway load and clock, with one lone worker run measured (c = 40 µs, h = 80 µs). */
function setup(maxUs = 2000, computeUs = 40, hopUs = 80) {
  const clock = fakeClock();
  const load = new InlineLoad(clock);
  const gate = new InlineGate(load, maxUs);
  gate.ranInWorker(computeUs + hopUs, computeUs, 1);
  return { clock, load, gate };
}

/** Ask the gate for `n` lone calls (each alone in the gateway); how many it ran inline. */
function lone(s: ReturnType<typeof setup>, n: number, gapUs = 200): number {
  let inline = 0;
  for (let i = 0; i < n; i++) {
    s.load.arrive();
    if (s.gate.admit(1)) {
      inline++;
      s.gate.ranInline(40, 1);
    }
    s.clock.time += 40;
    s.load.depart();
    s.clock.time += gapUs;
  }
  return inline;
}

t.test('before any lone worker run is measured nothing runs inline', async (t) => {
  const load = new InlineLoad(fakeClock());
  const gate = new InlineGate(load, 2000);
  load.arrive();
  t.equal(gate.admit(1), false);
  t.ok(Number.isNaN(gate.costs.computeUs) && Number.isNaN(gate.costs.hopUs));
});

t.test('a closed-loop caller (never a second call in flight) runs inline, one call in EXPLORE going to a worker', async (t) => {
  const s = setup();
  const n = EXPLORE * 10;
  t.equal(lone(s, n), n - 10, 'every EXPLORE-th eligible call is sent to a worker to keep h and λ measured');
  t.equal(s.gate.inlineRuns, n - 10);
  t.equal(s.load.rate, 0, 'no call ever arrived while another was in flight');
});

/** Ask the gate `n` times about a batch of `rows` rows and `calls` calls (load as it stands); how many it admitted. */
function asks(s: ReturnType<typeof setup>, n: number, rows: number, calls: number, queued = 0): number {
  let yes = 0;
  for (let i = 0; i < n; i++) if (s.gate.admit(rows, calls, queued)) yes++;
  return yes;
}

t.test('calls in flight elsewhere count against a run: their answers would wait for the loop', async (t) => {
  // c = 800 µs, h = 300 µs, λ = 0.5 per ms: the arrivals alone cost λ·c²/2 = 160 µs < h, and one
  // more call in flight adds min(1, λ·c = 0.4) · c/2 = 160 µs: 320 µs ≥ h.
  const s = setup(2000, 800, 300);
  collide(s, 50, 2000, 1);
  t.ok(Math.abs(s.load.rate - 0.0005) < 1e-4, `λ ${s.load.rate} per µs`);
  s.load.arrive();
  t.ok(asks(s, 32, 1, 1) > 0, 'alone in the gateway it runs inline');
  s.load.arrive();
  t.equal(asks(s, 32, 1, 1), 0, 'with another call in flight it does not');
  t.ok(asks(s, 32, 1, 1, 1) > 0, 'unless that call is queued behind it (it waits for this version anyway)');
  s.load.depart();
  s.load.depart();
});

t.test('a batch\'s calls share the hop it saves: a batch runs inline where a lone call of its compute would not', async (t) => {
  // Worker batches of 16 rows: c = 160 µs per batch, h = 100 µs. At λ = 20 per ms a 16-call batch
  // costs λ·c²/2 + min(0, ·) = 256 µs against 16 · 100 µs saved; one call of the same compute saves 100.
  const s = setup(2000, 160, 100);
  for (let i = 0; i < 64; i++) s.gate.ranInWorker(260, 160, 16);
  collide(s, 50, 1000, 20);
  t.ok(Math.abs(s.load.rate - 0.02) < 1e-3, `λ ${s.load.rate} per µs`);
  for (let i = 0; i < 16; i++) s.load.arrive();
  t.ok(asks(s, 32, 16, 16) >= 30, 'the batch of 16 runs inline (one in EXPLORE still goes to a worker)');
  t.equal(asks(s, 32, 16, 1), 0, 'one call of 16 rows does not: it alone saves one hop');
  t.equal(asks(s, 32, 256, 256), 0, '256 rows: 2560 µs of compute, past inline_max_us');
  for (let i = 0; i < 16; i++) s.load.depart();
});

t.test('never when the measured compute passes inline_max_us', async (t) => {
  const s = setup(500, 900, 300);
  t.equal(lone(s, 32), 0);
  const cheap = setup(1000, 900, 300);
  t.ok(lone(cheap, 32) > 0, 'the same costs under a higher bound do run inline');
});

t.test('inline_max_us 0 and a version marked off never run inline', async (t) => {
  const zero = setup(0);
  t.equal(zero.gate.off, 'inline_max_us is 0');
  t.equal(lone(zero, 32), 0);
  const crashed = setup();
  crashed.gate.off = 'its worker crashed';
  t.equal(lone(crashed, 32), 0);
});

/** Busy periods of `busyUs` during which `arrivals` more calls arrive, `periods` times. */
function collide(s: ReturnType<typeof setup>, periods: number, busyUs: number, arrivals: number): void {
  for (let p = 0; p < periods; p++) {
    s.load.arrive();
    for (let a = 0; a < arrivals; a++) {
      s.clock.time += busyUs / (arrivals + 1);
      s.load.arrive();
    }
    s.clock.time += busyUs / (arrivals + 1);
    for (let a = 0; a <= arrivals; a++) s.load.depart();
    s.clock.time += 100;
  }
}

t.test('λ counts arrivals per µs of busy time, and inline runs do not count as busy time', async (t) => {
  const s = setup();
  collide(s, 10, 1000, 1);
  t.ok(Math.abs(s.load.rate - 1 / 1000) < 1e-4, `one collision per 1000 µs busy: ${s.load.rate}`);
  const before = s.load.rate;
  s.load.arrive();
  s.load.ranInline(5000);
  s.clock.time += 5000;
  s.load.depart();
  t.ok(Math.abs(s.load.rate - before) < 1e-5, 'an inline run (loop blocked, arrivals unseen) adds no busy time');
});

t.test('open-loop traffic that would collide keeps a costly model off the main thread (λ·c²/2 ≥ h)', async (t) => {
  // c = 800 µs, h = 300 µs: λ·c²/2 ≥ h once λ ≥ 0.94 per ms.
  const s = setup(2000, 800, 300);
  collide(s, 50, 1000, 2);
  t.ok(s.load.rate > 0.001, `λ ${s.load.rate} per µs`);
  t.equal(lone(s, 16, 1000), 0, 'no lone call runs inline at that collision rate');
  const cheap = setup(2000, 40, 80);
  collide(cheap, 50, 1000, 2);
  t.ok(lone(cheap, 16, 1000) > 0, 'a 40 µs model still does: λ·c²/2 is tiny beside its hop');
});

t.test('after the collisions stop, λ decays and inline runs resume', async (t) => {
  const s = setup(2000, 800, 300);
  collide(s, 50, 1000, 2);
  t.equal(lone(s, 16, 1000), 0);
  s.clock.time += 20_000_000;
  collide(s, 10, 1000, 0);
  t.ok(lone(s, 16, 1000) > 0, 'a quiet stretch brings λ down');
});

t.test('c and h follow the runs: worker runs give both, inline runs give c', async (t) => {
  const s = setup(2000, 100, 100);
  for (let i = 0; i < 200; i++) s.gate.ranInWorker(500, 200, 1);
  t.ok(Math.abs(s.gate.costs.computeUs - 200) < 1, `c ${s.gate.costs.computeUs}`);
  t.ok(Math.abs(s.gate.costs.hopUs - 300) < 1, `h ${s.gate.costs.hopUs}`);
  for (let i = 0; i < 200; i++) s.gate.ranInline(50, 1);
  t.ok(Math.abs(s.gate.costs.computeUs - 50) < 1);
  t.ok(Math.abs(s.gate.costs.hopUs - 300) < 1, 'h is only measured on worker runs');
  for (let i = 0; i < 200; i++) s.gate.ranInWorker(5000, 100, 1, true);
  t.ok(Math.abs(s.gate.costs.computeUs - 100) < 1, 'a staged batch gives c');
  t.ok(Math.abs(s.gate.costs.hopUs - 300) < 1, 'but not h: it waited behind a running batch');
});

t.test('a call of many more rows than the lone calls measured is judged by its size', async (t) => {
  // c = 40 µs per 1-row call; 64 rows read as 2560 µs, past the 2000 µs bound.
  const s = setup(2000, 40, 80);
  s.load.arrive();
  t.equal(s.gate.admit(64), false, '64 rows: too costly for the main thread');
  t.equal(s.gate.admit(8), true, '8 rows: 320 µs, still cheaper than its share of the loop');
  s.load.depart();
});
