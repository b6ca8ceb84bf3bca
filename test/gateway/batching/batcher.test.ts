import t from 'tap';
import { Batcher, type BatcherClock, type BatcherOptions, type QueuedRequest } from '../../../gateway/batching/batcher.js';

/** A clock that moves only when the test says so. */
class FakeClock implements BatcherClock {
  time = 0;
  #timers = new Map<number, { due: number; fn: () => void }>();
  #next = 1;
  now(): number {
    return this.time;
  }
  setTimer(fn: () => void, delayUs: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { due: this.time + delayUs, fn });
    return id;
  }
  clearTimer(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  get pendingTimers(): number {
    return this.#timers.size;
  }
  /** Move time forward, firing due timers in order. */
  advance(us: number): void {
    const end = this.time + us;
    for (;;) {
      let nextId = -1;
      let nextDue = Infinity;
      for (const [id, timer] of this.#timers) if (timer.due <= end && timer.due < nextDue) [nextId, nextDue] = [id, timer.due];
      if (nextId < 0) break;
      const timer = this.#timers.get(nextId)!;
      this.#timers.delete(nextId);
      this.time = Math.max(this.time, timer.due);
      timer.fn();
    }
    this.time = end;
  }
}

interface Item {
  id: string;
}

/** Batches the batcher started, each answerable by the test. */
class FakeExecutor {
  batches: { ids: string[]; staged: boolean; inline: boolean; resolve: () => void; reject: (e: unknown) => void }[] = [];
  execute = (batch: readonly QueuedRequest<Item, string>[], staged: boolean, inline: boolean): Promise<string[]> =>
    new Promise((resolve, reject) => {
      const ids = batch.map((b) => b.payload.id);
      this.batches.push({ ids, staged, inline, resolve: () => resolve(ids.map((id) => `out-${id}`)), reject });
    });
  get ids(): string[][] {
    return this.batches.map((b) => b.ids);
  }
}

const base: BatcherOptions = {
  maxBatchSize: 8, maxQueueDelayUs: 1000, preferredBatchSizes: [], maxQueueSize: 100,
  priorityLevels: 1, defaultPriorityLevel: 1, defaultTimeoutUs: 0, instances: 1,
};

function setup(options: Partial<BatcherOptions> = {}) {
  const clock = new FakeClock();
  const exec = new FakeExecutor();
  const batcher = new Batcher<Item, string>({ ...base, ...options }, exec.execute, clock);
  const settled = new Map<string, string>();
  const add = (id: string, opts: { rows?: number; shape?: string; priority?: number; timeoutUs?: number; signal?: AbortSignal } = {}) => {
    const p = batcher.enqueue({ id }, { rows: opts.rows ?? 1, shapeKey: opts.shape ?? 'a', priority: opts.priority, timeoutUs: opts.timeoutUs, signal: opts.signal });
    p.then((v) => settled.set(id, v), (e: { code: string }) => settled.set(id, e.code));
    return p;
  };
  return { clock, exec, batcher, settled, add };
}

const tick = () => new Promise((r) => setImmediate(r));

t.test('requests wait up to max_queue_delay_us and then run together in one batch', async (t) => {
  const { clock, exec, add, batcher } = setup();
  void add('a');
  clock.advance(400);
  void add('b');
  void add('c');
  t.same(exec.ids, [], 'nothing runs before the delay');
  t.equal(batcher.queueDepth, 3);
  clock.advance(599);
  t.same(exec.ids, []);
  clock.advance(1);
  t.same(exec.ids, [['a', 'b', 'c']], 'the delay counts from the oldest request');
  t.equal(batcher.queueDepth, 0);
  t.equal(batcher.inFlight, 1);
});

t.test('a full batch (max_batch_size) starts at once without waiting for the delay', async (t) => {
  const { exec, add } = setup({ maxBatchSize: 4 });
  for (const id of ['a', 'b', 'c', 'd', 'e']) void add(id);
  t.same(exec.ids, [['a', 'b', 'c', 'd']]);
});

t.test('the largest preferred batch size starts at once and caps the batch', async (t) => {
  const { clock, exec, add } = setup({ maxBatchSize: 64, preferredBatchSizes: [2, 4], instances: 2 });
  for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) void add(id);
  t.same(exec.ids, [['a', 'b', 'c', 'd']], 'four requests make a preferred batch at once');
  clock.advance(1000);
  t.same(exec.ids, [['a', 'b', 'c', 'd'], ['e', 'f']], 'after the delay: the largest preferred size that can be formed');
});

t.test('a batch runs when an instance frees up; with all instances busy requests queue', async (t) => {
  const { clock, exec, add, batcher } = setup({ maxBatchSize: 2, instances: 1 });
  void add('a');
  void add('b');
  void add('c');
  void add('d');
  void add('e');
  t.same(exec.ids, [['a', 'b']]);
  clock.advance(5000);
  t.same(exec.ids, [['a', 'b']], 'the only instance is busy');
  exec.batches[0]!.resolve();
  await tick();
  t.same(exec.ids, [['a', 'b'], ['c', 'd']], 'the next batch starts when the instance is free');
  t.equal(batcher.queueDepth, 1);
});

t.test('staged batches are formed ahead while every instance is busy, up to stagedBatches of them', async (t) => {
  const { exec, add, batcher } = setup({ maxBatchSize: 2, instances: 1, stagedBatches: 1 });
  for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) void add(id);
  t.same(exec.ids, [['a', 'b'], ['c', 'd']], 'one batch runs and one more waits behind it');
  t.equal(batcher.inFlight, 2);
  t.equal(batcher.queueDepth, 2, 'the rest stay in the queue, where priorities and deadlines still apply');
  t.same(exec.batches.map((b) => b.staged), [false, true], 'the executor is told which batch was formed ahead');
  exec.batches[0]!.resolve();
  await tick();
  t.same(exec.ids, [['a', 'b'], ['c', 'd'], ['e', 'f']], 'a finished batch makes room for the next staged one');
  t.equal(exec.batches[2]!.staged, true, 'formed while c,d still holds the instance');
});

t.test('without staging no batch is marked staged', async (t) => {
  const { exec, add } = setup({ maxBatchSize: 2, instances: 2 });
  for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) void add(id);
  t.same(exec.ids, [['a', 'b'], ['c', 'd']]);
  exec.batches[1]!.resolve();
  await tick();
  t.same(exec.batches.map((b) => b.staged), [false, false, false]);
});

t.test("a finished batch frees its instance before its callers hear back: the next batch starts first", async (t) => {
  const order: string[] = [];
  const { exec, add } = setup({ maxBatchSize: 2, instances: 1 });
  for (const id of ['a', 'b', 'c', 'd']) void add(id).then(() => order.push(`answered ${id}`));
  const started = exec.batches.length;
  exec.batches[0]!.resolve();
  // Synchronously with the result, before any caller's continuation.
  await Promise.resolve();
  order.push(`batches ${exec.batches.length}`);
  await tick();
  t.equal(started, 1);
  t.same(order.slice(0, 1), ['batches 2'], 'c,d was dispatched before a or b was answered');
  t.same(order.slice(1), ['answered a', 'answered b']);
});

t.test('a staged batch still waits for a full batch or the queue delay', async (t) => {
  const { clock, exec, add } = setup({ maxBatchSize: 4, instances: 1, stagedBatches: 1 });
  for (const id of ['a', 'b', 'c', 'd', 'e']) void add(id);
  t.same(exec.ids, [['a', 'b', 'c', 'd']]);
  clock.advance(999);
  t.same(exec.ids, [['a', 'b', 'c', 'd']], 'a lone request is not staged before its delay');
  clock.advance(1);
  t.same(exec.ids, [['a', 'b', 'c', 'd'], ['e']]);
});

t.test('a staged request keeps its deadline: it is answered at the deadline while its batch waits', async (t) => {
  const { clock, exec, add, settled, batcher } = setup({ maxBatchSize: 1, instances: 1, stagedBatches: 1, maxQueueDelayUs: 0 });
  void add('a');
  void add('b', { timeoutUs: 500 });
  t.same(exec.ids, [['a'], ['b']]);
  clock.advance(500);
  await tick();
  t.equal(settled.get('b'), 'SLUICE_E_BATCH_TIMEOUT', 'answered at its deadline, not when its batch runs');
  t.equal(batcher.inFlight, 2, 'the staged batch is still held by the executor, which may skip it');
});

t.test('a request records its deadline on the batcher clock for the executor', async (t) => {
  const stamps: number[] = [];
  const clock = new FakeClock();
  clock.time = 1000;
  const batcher = new Batcher<Item, string>({ ...base, maxQueueDelayUs: 0, instances: 2 }, async (batch) => {
    for (const b of batch) stamps.push(b.deadline);
    return batch.map(() => 'ok');
  }, clock);
  await batcher.enqueue({ id: 'a' }, { rows: 1, shapeKey: 'a', timeoutUs: 250 });
  await batcher.enqueue({ id: 'b' }, { rows: 1, shapeKey: 'a' });
  t.same(stamps, [1250, Infinity]);
});

t.test('every request gets its own result from the batch', async (t) => {
  const { exec, add } = setup({ maxBatchSize: 2 });
  const a = add('a');
  const b = add('b');
  exec.batches[0]!.resolve();
  t.equal(await a, 'out-a');
  t.equal(await b, 'out-b');
});

t.test('rows, not requests, fill a batch', async (t) => {
  const { clock, exec, add } = setup({ maxBatchSize: 8 });
  void add('a', { rows: 5 });
  void add('b', { rows: 2 });
  void add('c', { rows: 3 });
  clock.advance(1000);
  t.same(exec.ids, [['a', 'b']], 'c would overflow max_batch_size');
});

t.test('requests with different non-batch shapes are never mixed', async (t) => {
  const { clock, exec, add } = setup({ instances: 4 });
  void add('a1', { shape: 'a' });
  void add('a2', { shape: 'a' });
  void add('b1', { shape: 'b' });
  void add('a3', { shape: 'a' });
  clock.advance(1000);
  t.same(exec.ids, [['a1', 'a2'], ['b1'], ['a3']]);
});

t.test('higher priority (level 1) requests go first', async (t) => {
  const { exec, add } = setup({ maxBatchSize: 2, priorityLevels: 3, defaultPriorityLevel: 3 });
  void add('busy1');
  void add('busy2');
  t.same(exec.ids, [['busy1', 'busy2']], 'the only instance is now busy');
  void add('low1');
  void add('low2', { priority: 3 });
  void add('mid', { priority: 2 });
  void add('high', { priority: 1 });
  exec.batches[0]!.resolve();
  await tick();
  t.same(exec.ids[1], ['high', 'mid'], 'priority picks which requests fill the next batch');
  exec.batches[1]!.resolve();
  await tick();
  t.same(exec.ids[2], ['low1', 'low2']);
});

t.test('an invalid priority is refused with a coded error', async (t) => {
  const { add } = setup({ priorityLevels: 2 });
  await t.rejects(add('x', { priority: 3 }), { code: 'SLUICE_E_PROTOCOL_BAD_PARAMETER' });
  await t.rejects(add('y', { priority: 1.5 }), { code: 'SLUICE_E_PROTOCOL_BAD_PARAMETER' });
});

t.test('past max_queue_size a request is refused at once with 503 and Retry-After', async (t) => {
  const { add, exec } = setup({ maxQueueSize: 2, maxBatchSize: 8 });
  void add('a');
  void add('b');
  await t.rejects(add('c'), { code: 'SLUICE_E_BATCH_QUEUE_FULL', status: 503, retryAfter: 1 });
  t.same(exec.ids, [], 'the refused request is not queued');
});

t.test('checkRoom refuses as enqueue would once the queue is full (image calls ask before decoding)', async (t) => {
  const { add, batcher } = setup({ maxQueueSize: 2, maxBatchSize: 8 });
  t.doesNotThrow(() => batcher.checkRoom());
  void add('a');
  t.doesNotThrow(() => batcher.checkRoom());
  void add('b');
  t.throws(() => batcher.checkRoom(), { code: 'SLUICE_E_BATCH_QUEUE_FULL', status: 503, retryAfter: 1 });
});

t.test('an expired request is answered at its deadline while the batch in front of it runs, and never runs', async (t) => {
  const { clock, exec, add, settled } = setup({ maxBatchSize: 1, instances: 1, maxQueueDelayUs: 0 });
  void add('slow');
  void add('impatient', { timeoutUs: 5000 });
  t.same(exec.ids, [['slow']]);
  clock.advance(5000);
  await tick();
  t.equal(settled.get('impatient'), 'SLUICE_E_BATCH_TIMEOUT', 'answered at the deadline, the slow batch still running');
  exec.batches[0]!.resolve();
  await tick();
  t.same(exec.ids, [['slow']], 'the expired request never ran');
  t.equal(settled.get('slow'), 'out-slow');
});

t.test('a running request whose deadline passes is answered at the deadline too', async (t) => {
  const { clock, exec, add, settled } = setup({ maxQueueDelayUs: 0 });
  void add('a', { timeoutUs: 100 });
  t.same(exec.ids, [['a']]);
  clock.advance(100);
  await tick();
  t.equal(settled.get('a'), 'SLUICE_E_BATCH_TIMEOUT');
  exec.batches[0]!.resolve();
  await tick();
  t.equal(settled.get('a'), 'SLUICE_E_BATCH_TIMEOUT', 'the late result is discarded');
});

t.test('timeout_us may only shorten default_timeout_us', async (t) => {
  const { clock, add, settled } = setup({ defaultTimeoutUs: 1000, maxQueueDelayUs: 1_000_000 });
  void add('longer', { timeoutUs: 50_000 });
  void add('shorter', { timeoutUs: 200 });
  void add('default');
  clock.advance(200);
  await tick();
  t.equal(settled.get('shorter'), 'SLUICE_E_BATCH_TIMEOUT');
  t.notOk(settled.has('longer'));
  clock.advance(800);
  await tick();
  t.equal(settled.get('longer'), 'SLUICE_E_BATCH_TIMEOUT', 'capped at the default');
  t.equal(settled.get('default'), 'SLUICE_E_BATCH_TIMEOUT');
});

t.test('a request whose client aborted is dropped from the queue before it runs', async (t) => {
  const { clock, exec, add, settled, batcher } = setup();
  const gone = new AbortController();
  void add('a');
  void add('b', { signal: gone.signal });
  void add('c');
  gone.abort();
  await tick();
  t.equal(settled.get('b'), 'SLUICE_E_BATCH_CANCELLED');
  t.equal(batcher.queueDepth, 2);
  clock.advance(1000);
  t.same(exec.ids, [['a', 'c']]);
  const already = new AbortController();
  already.abort();
  await t.rejects(add('d', { signal: already.signal }), { code: 'SLUICE_E_BATCH_CANCELLED' });
});

t.test('a failed batch fails each of its requests with a coded error, and the next batch still runs', async (t) => {
  const { clock, exec, add } = setup({ maxBatchSize: 2 });
  const a = add('a');
  const b = add('b');
  void add('c');
  exec.batches[0]!.reject(new Error('boom'));
  await t.rejects(a, { code: 'SLUICE_E_MODEL_RUN_FAILED' });
  await t.rejects(b, { code: 'SLUICE_E_MODEL_RUN_FAILED' });
  clock.advance(1000);
  t.same(exec.ids[1], ['c']);
});

t.test('a model without batching (max_batch_size 0) runs one request per batch', async (t) => {
  const { exec, add } = setup({ maxBatchSize: 0, instances: 3, maxQueueDelayUs: 0 });
  void add('a');
  void add('b');
  t.same(exec.ids, [['a'], ['b']]);
});

t.test('close() runs what is queued without waiting for the delay, refuses new requests, and resolves once idle', async (t) => {
  const { exec, add, batcher, clock } = setup({ maxQueueDelayUs: 1_000_000 });
  void add('a');
  let closed = false;
  const done = batcher.close().then(() => (closed = true));
  t.same(exec.ids, [['a']]);
  await t.rejects(add('late'), { code: 'SLUICE_E_MODEL_NOT_READY' });
  await tick();
  t.notOk(closed, 'waits for the running batch');
  exec.batches[0]!.resolve();
  await done;
  t.ok(closed);
  t.equal(clock.pendingTimers, 0, 'no timer left behind');
});

t.test('options are validated once, naming the option', async (t) => {
  t.throws(() => new Batcher({ ...base, instances: 0 }, async () => []), { code: 'SLUICE_E_CONFIG_INVALID', message: /instances/ });
  t.throws(() => new Batcher({ ...base, stagedBatches: -1 }, async () => []), { code: 'SLUICE_E_CONFIG_INVALID', message: /stagedBatches/ });
  t.throws(() => new Batcher({ ...base, preferredBatchSizes: [4, 2] }, async () => []), { message: /preferredBatchSizes/ });
});

// Adaptive, work-conserving batching (issue 20): the wait for a free instance is chosen from the
// arrival rate and the learned batch cost, max_queue_delay_us staying the upper bound.

/** Run one batch of `rows` requests alone on the free instance and answer it after `costUs`. */
async function teachCost(s: ReturnType<typeof setup>, prefix: string, rows: number, costUs: number) {
  const before = s.exec.batches.length;
  for (let i = 0; i < rows; i++) void s.add(`${prefix}${i}`);
  const batch = s.exec.batches[before]!;
  s.clock.advance(costUs);
  batch.resolve();
  await tick();
}

t.test('adaptive: a request that finds the instance idle runs at once, before any batch was measured', async (t) => {
  const { exec, add, batcher } = setup({ adaptive: true });
  void add('a');
  t.same(exec.ids, [['a']], 'no wait for a batch that will not fill');
  t.equal(batcher.costModel, undefined);
});

t.test('adaptive: at low load (arrivals farther apart than a batch costs) every request runs at once', async (t) => {
  const s = setup({ adaptive: true });
  await teachCost(s, 'w', 1, 100);
  for (const id of ['a', 'b', 'c']) {
    s.clock.advance(900);
    void s.add(id);
    t.equal(s.exec.batches.at(-1)!.ids[0], id, `${id} runs the moment it arrives`);
    s.clock.advance(100);
    s.exec.batches.at(-1)!.resolve();
    await tick();
  }
  t.equal(s.batcher.queueDepth, 0);
});

t.test('adaptive: batches form while the instance is busy and run the moment it frees', async (t) => {
  const s = setup({ adaptive: true, maxBatchSize: 64 });
  void s.add('a');
  for (const id of ['b', 'c', 'd']) void s.add(id);
  t.same(s.exec.ids, [['a']], 'the others queue behind the running batch');
  s.clock.advance(300);
  s.exec.batches[0]!.resolve();
  await tick();
  t.same(s.exec.ids, [['a'], ['b', 'c', 'd']], 'they run together as soon as the instance is free');
});

t.test('a call whose deadline the rows ahead of it would use up (more than half) is refused at once, by the cost curve', async (t) => {
  // Learn fixed 100 µs + 10 µs per row (as the cost-curve test), batches of at most 4 rows.
  const s = setup({ adaptive: true, maxBatchSize: 4, priorityLevels: 2, defaultPriorityLevel: 2 });
  void s.add('a');
  for (const id of ['b', 'c', 'd', 'e']) void s.add(id);
  s.clock.advance(110);
  s.exec.batches[0]!.resolve();
  await tick();
  s.clock.advance(140);
  s.exec.batches[1]!.resolve();
  await tick();
  // A queue just filled: 20 calls, nothing has stood long. The first full batch of 4 runs at once.
  for (let i = 0; i < 20; i++) void s.add(`q${i}`);
  t.same(s.exec.ids[2], ['q0', 'q1', 'q2', 'q3'], 'a full batch runs, 16 rows wait');
  // 17 rows with the newcomer's: 5 batches of fixed 100 µs + 17 × 10 µs = 670 µs on one instance.
  void s.add('late', { timeoutUs: 1200 });
  void s.add('fits', { timeoutUs: 1400 });
  void s.add('urgent', { timeoutUs: 300, priority: 1 });
  await tick();
  t.equal(s.settled.get('late'), 'SLUICE_E_BATCH_QUEUE_LATE', '670 µs of work ahead is more than half a 1200 µs deadline');
  t.notOk(s.settled.has('fits'), 'and less than half of 1400 µs: admitted');
  t.notOk(s.settled.has('urgent'), 'a higher level sees only its own rows ahead (one batch, 110 µs)');
  await t.rejects(s.batcher.enqueue({ id: 'again' }, { rows: 1, shapeKey: 'a', timeoutUs: 1200 }), { code: 'SLUICE_E_BATCH_QUEUE_LATE', status: 503, retryAfter: 1, details: { drain_ms: 1, timeout_ms: 1 } });
});

t.test('adaptive: the batch cost curve (fixed + per row) is learned from the batches run', async (t) => {
  const s = setup({ adaptive: true, maxBatchSize: 64 });
  void s.add('a');
  for (const id of ['b', 'c', 'd', 'e']) void s.add(id);
  s.clock.advance(110);
  s.exec.batches[0]!.resolve();
  await tick();
  t.same(s.exec.ids[1], ['b', 'c', 'd', 'e']);
  s.clock.advance(140);
  s.exec.batches[1]!.resolve();
  await tick();
  const model = s.batcher.costModel!;
  t.ok(Math.abs(model.fixedUs - 100) < 1e-6, `fixed cost ${model.fixedUs} µs`);
  t.ok(Math.abs(model.perRowUs - 10) < 1e-6, `per-row cost ${model.perRowUs} µs`);
});

/**
 * Let the batcher see a fast stream (nine requests 50 µs apart) and batches that each cost
 * `costUs`, then leave it idle with nothing queued.
 */
async function loadUp(s: ReturnType<typeof setup>, costUs: number) {
  void s.add('w0');
  for (let i = 1; i < 9; i++) {
    s.clock.advance(50);
    void s.add(`w${i}`);
  }
  let answered = 0;
  while (answered < s.exec.batches.length || s.batcher.queueDepth > 0) {
    s.clock.advance(costUs);
    const open = s.exec.batches.slice(answered);
    answered = s.exec.batches.length;
    for (const b of open) b.resolve();
    await tick();
  }
  s.clock.advance(10);
}

t.test('adaptive: when arrivals come faster than a batch runs, a free instance waits for company, at most the batch cost', async (t) => {
  const s = setup({ adaptive: true, maxBatchSize: 64, maxQueueDelayUs: 1000 });
  await loadUp(s, 400);
  const cost = s.batcher.costModel!.fixedUs;
  t.ok(cost > 300 && cost < 1000, `a batch costs ${cost} µs, less than max_queue_delay_us`);
  const before = s.exec.batches.length;
  void s.add('s1');
  t.equal(s.exec.batches.length, before, 's1 does not run at once: more are expected before a batch would finish');
  for (const id of ['s2', 's3', 's4']) {
    s.clock.advance(50);
    void s.add(id);
  }
  t.equal(s.exec.batches.length, before, 'the stream is held while it gathers');
  s.clock.advance(Math.ceil(cost) - 150 - 1);
  t.equal(s.exec.batches.length, before, 'held up to the cost of one batch');
  s.clock.advance(1);
  t.same(s.exec.ids.at(-1), ['s1', 's2', 's3', 's4'], 'they run together one batch cost after the oldest, before max_queue_delay_us');
});

t.test('adaptive: max_queue_delay_us stays the upper bound on the wait', async (t) => {
  const s = setup({ adaptive: true, maxBatchSize: 64, maxQueueDelayUs: 1000 });
  await loadUp(s, 50_000); // a batch costs far more than the delay
  const before = s.exec.batches.length;
  for (let i = 0; i < 5; i++) {
    void s.add(`r${i}`);
    s.clock.advance(10);
  }
  t.equal(s.exec.batches.length, before);
  s.clock.advance(1000 - 50 - 1);
  t.equal(s.exec.batches.length, before, 'not before the delay');
  s.clock.advance(1);
  t.same(s.exec.ids.at(-1), ['r0', 'r1', 'r2', 'r3', 'r4'], 'exactly max_queue_delay_us after the oldest');
});

t.test('adaptive: a full preferred batch still starts at once, and priorities still order the batch', async (t) => {
  const s = setup({ adaptive: true, maxBatchSize: 64, preferredBatchSizes: [4], priorityLevels: 2, defaultPriorityLevel: 2 });
  await loadUp(s, 400);
  const before = s.exec.batches.length;
  void s.add('low1');
  s.clock.advance(10);
  void s.add('low2');
  s.clock.advance(10);
  void s.add('high', { priority: 1 });
  t.equal(s.exec.batches.length, before, 'three rows wait for a fourth');
  s.clock.advance(10);
  void s.add('low3');
  t.same(s.exec.ids.at(-1), ['high', 'low1', 'low2', 'low3'], 'four rows at once, level 1 first');
});

t.test('adaptive: a deadline shorter than the batch it would run in is refused at once; the request never runs', async (t) => {
  // The adaptive wait is capped by one batch's cost, so a deadline shorter than the wait is shorter
  // than its own run: it could only end 504, and is refused before it waits (the drain-time rule).
  const s = setup({ adaptive: true, maxBatchSize: 64, maxQueueDelayUs: 1000 });
  await loadUp(s, 50_000);
  const before = s.exec.batches.length;
  void s.add('a', { timeoutUs: 200 });
  s.clock.advance(10);
  void s.add('b');
  await tick();
  t.equal(s.settled.get('a'), 'SLUICE_E_BATCH_QUEUE_LATE');
  t.equal(s.exec.batches.length, before);
  s.clock.advance(1000);
  t.same(s.exec.ids.at(-1), ['b'], 'only the admitted request ran');
});

t.test('adaptive: with another instance free a request runs at once; on the last free one it waits for company', async (t) => {
  const s = setup({ adaptive: true, maxBatchSize: 64, instances: 2 });
  await loadUp(s, 400);
  const before = s.exec.batches.length;
  void s.add('a');
  t.same(s.exec.ids.at(-1), ['a'], 'a takes a free instance at once');
  s.clock.advance(10);
  void s.add('b');
  t.equal(s.exec.batches.length, before + 1, 'b, with only one instance left, waits');
});

t.test('adaptive: a staged batch (every instance busy) keeps the fixed delay', async (t) => {
  const s = setup({ adaptive: true, maxBatchSize: 64, stagedBatches: 1, maxQueueDelayUs: 1000 });
  void s.add('a');
  void s.add('b');
  t.same(s.exec.ids, [['a']]);
  s.clock.advance(999);
  t.same(s.exec.ids, [['a']]);
  s.clock.advance(1);
  t.same(s.exec.batches.map((b) => [b.ids, b.staged]), [[['a'], false], [['b'], true]]);
});

t.test('background work waits below every priority level and runs only when no call waits', async (t) => {
  const { exec, add, batcher } = setup({ maxBatchSize: 4, instances: 1, priorityLevels: 2, defaultPriorityLevel: 2, backgroundQueueRows: 100 });
  const background = (id: string, rows: number) => {
    const p = batcher.enqueue({ id }, { rows, shapeKey: 'explain', background: true });
    p.catch(() => undefined);
    return p;
  };
  void add('a', { rows: 4 });
  void background('bg1', 4);
  void background('bg2', 4);
  void add('b', { priority: 2 });
  void add('c', { priority: 1 });
  t.same(exec.ids, [['a']], 'a full batch runs; the rest wait for the instance');
  exec.batches[0]!.resolve();
  await tick();
  t.same(exec.ids[1], ['c', 'b'], 'calls of every level go before background work queued earlier, and never share its batch');
  exec.batches[1]!.resolve();
  await tick();
  t.same(exec.ids[2], ['bg1'], 'background work runs once no call waits');
  t.equal(batcher.backgroundRows, 4);
});

t.test('background work has its own bound in rows and takes no room from calls', async (t) => {
  const { add, batcher, settled } = setup({ maxBatchSize: 4, instances: 1, maxQueueSize: 2, backgroundQueueRows: 10 });
  void add('running', { rows: 4 });
  const refusals: string[] = [];
  for (const id of ['bg1', 'bg2', 'bg3']) {
    batcher.enqueue({ id }, { rows: 4, shapeKey: 'explain', background: true }).catch((e: { code: string }) => refusals.push(`${id}:${e.code}`));
  }
  await tick();
  t.same(refusals, ['bg3:SLUICE_E_EXPLAIN_QUEUE_FULL'], 'past backgroundQueueRows (8 + 4 > 10) background work is refused');
  t.equal(batcher.backgroundRows, 8);
  void add('a');
  void add('b');
  void add('c');
  await tick();
  t.equal(settled.get('c'), 'SLUICE_E_BATCH_QUEUE_FULL', 'calls still get their whole max_queue_size (2), background work aside');
  t.notOk(settled.has('a'));
  t.throws(() => batcher.checkRoom(), { code: 'SLUICE_E_BATCH_QUEUE_FULL' }, 'checkRoom counts calls only: two are queued');
});

t.test('without backgroundQueueRows background work is refused', async (t) => {
  const { batcher } = setup();
  await t.rejects(batcher.enqueue({ id: 'bg' }, { rows: 1, shapeKey: 'explain', background: true }), { code: 'SLUICE_E_EXPLAIN_QUEUE_FULL' });
});

t.test('background work leaves one instance to calls when there are several', async (t) => {
  const { exec, add, batcher } = setup({ maxBatchSize: 4, instances: 2, backgroundQueueRows: 100 });
  for (const id of ['bg1', 'bg2']) batcher.enqueue({ id }, { rows: 4, shapeKey: 'explain', background: true }).catch(() => undefined);
  t.same(exec.ids, [['bg1']], 'one background batch runs; the other instance stays free');
  void add('a', { rows: 4 });
  t.same(exec.ids, [['bg1'], ['a']], 'a call takes the free instance at once');
  exec.batches[0]!.resolve();
  await tick();
  t.same(exec.ids[2], ['bg2'], 'the next background batch runs when the first is done');
});

/** Sets the batcher's inline hook to record what it is asked and answer `answer` (changeable). */
function recordingHook(s: ReturnType<typeof setup>, answer: boolean) {
  const hook = { asked: [] as [number, number, number][], answer };
  s.batcher.inline = (rows, calls, queued) => {
    hook.asked.push([rows, calls, queued]);
    return hook.answer;
  };
  return hook;
}

t.test('inline: a batch sent to a free instance is offered with its rows, calls and the queue behind it', async (t) => {
  const s = setup({ maxBatchSize: 2, maxQueueDelayUs: 1000, instances: 1 });
  const hook = recordingHook(s, true);
  void s.add('a', { rows: 2 });
  t.same(hook.asked, [[2, 1, 0]], 'a full batch of one call of two rows');
  t.same(s.exec.batches.map((b) => b.inline), [true], 'runs inline on a yes');
  void s.add('b');
  void s.add('c');
  void s.add('d');
  s.exec.batches[0]!.resolve();
  await tick();
  t.same(s.exec.ids[1], ['b', 'c'], 'the next batch takes two calls');
  t.same(hook.asked[1], [2, 2, 1], 'offered with its two calls and the one left queued');
  hook.answer = false;
  s.exec.batches[1]!.resolve();
  await tick();
  s.clock.advance(1000);
  t.same(s.exec.batches.map((b) => b.inline), [true, true, false], 'a no sends the batch to a worker');
});

t.test('inline: a staged batch (every instance busy) is never offered', async (t) => {
  const s = setup({ maxBatchSize: 1, maxQueueDelayUs: 0, instances: 1, stagedBatches: 1 });
  const hook = recordingHook(s, false);
  void s.add('a');
  void s.add('b');
  t.same(s.exec.batches.map((b) => b.staged), [false, true]);
  t.equal(hook.asked.length, 1, 'only the batch on the free instance was offered');
});

t.test('inline: background work is never run inline', async (t) => {
  const s = setup({ maxBatchSize: 4, instances: 2, backgroundQueueRows: 100 });
  const hook = recordingHook(s, true);
  s.batcher.enqueue({ id: 'bg' }, { rows: 4, shapeKey: 'explain', background: true }).catch(() => undefined);
  t.same(s.exec.ids, [['bg']]);
  t.equal(hook.asked.length, 0);
  t.equal(s.exec.batches[0]!.inline, false);
});

t.test('inline: an inline run does not teach the adaptive cost curve (it has no worker hop)', async (t) => {
  const s = setup({ adaptive: true, maxBatchSize: 64 });
  s.batcher.inline = () => true;
  void s.add('a');
  s.clock.advance(50);
  s.exec.batches[0]!.resolve();
  await tick();
  t.equal(s.batcher.costModel, undefined, 'nothing learned from the inline run');
  s.batcher.inline = () => false;
  void s.add('b');
  s.clock.advance(120);
  s.exec.batches[1]!.resolve();
  await tick();
  t.ok(Math.abs(s.batcher.costModel!.fixedUs - 120) < 1e-6, 'the worker run is learned');
});

t.test('a call with a deadline is refused at once when the queue has stood longer than half of it', async (t) => {
  const s = setup({ maxBatchSize: 1, instances: 1, priorityLevels: 2, defaultPriorityLevel: 2 });
  void s.add('running');
  void s.add('waiting');
  t.same(s.exec.ids, [['running']], 'one runs, one waits behind it');
  s.clock.advance(600);
  await t.rejects(s.add('late', { timeoutUs: 1000 }), { code: 'SLUICE_E_BATCH_QUEUE_LATE', status: 503, retryAfter: 1 }, 'the queue stood 600 µs of a 1000 µs deadline');
  void s.add('patient', { timeoutUs: 2000 });
  void s.add('no-deadline');
  void s.add('urgent', { timeoutUs: 1000, priority: 1 });
  await tick();
  t.notOk(s.settled.has('patient'), 'a deadline twice as long is admitted');
  t.notOk(s.settled.has('no-deadline'), 'a call without a deadline is admitted (max_queue_size still bounds it)');
  t.notOk(s.settled.has('urgent'), 'a higher priority level has no queue standing in front of it');
  s.exec.batches[0]!.resolve();
  await tick();
  t.same(s.exec.ids[1], ['urgent'], 'and it runs next');
});
