import t from 'tap';
import { MicroBatcher } from '../../bench/targets/micro-batcher.js';

t.test('concurrent calls run as batches of at most maxBatch, each answered with its own result', async (t) => {
  const batches: number[][] = [];
  const b = new MicroBatcher<number, number>(4, 50, async (items) => {
    batches.push(items);
    return items.map((x) => x * 10);
  });
  const results = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => b.submit(x)));
  t.same(results, [10, 20, 30, 40, 50, 60]);
  t.same(batches, [[1, 2, 3, 4], [5, 6]]);
});

t.test('a lone call runs after the delay without waiting for a full batch', async (t) => {
  const b = new MicroBatcher<string, string>(64, 1, async (items) => items.map((s) => s.toUpperCase()));
  t.equal(await b.submit('x'), 'X');
});

t.test('batches never overlap: calls arriving during a run wait for the next batch', async (t) => {
  let running = 0;
  let maxRunning = 0;
  const sizes: number[] = [];
  let started!: () => void;
  const firstStarted = new Promise<void>((r) => (started = r));
  const b = new MicroBatcher<number, number>(8, 0, async (items) => {
    started();
    running++;
    maxRunning = Math.max(maxRunning, running);
    sizes.push(items.length);
    await new Promise((r) => setTimeout(r, 5));
    running--;
    return items;
  });
  const first = b.submit(0);
  await firstStarted;
  const rest = Array.from({ length: 5 }, (_, i) => b.submit(i + 1));
  await Promise.all([first, ...rest]);
  t.equal(maxRunning, 1);
  t.same(sizes, [1, 5]);
});

t.test('a failed run rejects every call of its batch', async (t) => {
  const b = new MicroBatcher<number, number>(2, 0, async () => {
    throw new Error('session failed');
  });
  const r = await Promise.allSettled([b.submit(1), b.submit(2)]);
  t.same(r.map((x) => x.status), ['rejected', 'rejected']);
});

t.test('bad options are refused at construction', async (t) => {
  const run = async (x: number[]) => x;
  t.throws(() => new MicroBatcher(0, 1, run), RangeError);
  t.throws(() => new MicroBatcher(2.5, 1, run), RangeError);
  t.throws(() => new MicroBatcher(2, -1, run), RangeError);
});
