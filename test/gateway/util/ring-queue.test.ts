import t from 'tap';
import { RingQueue } from '../../../gateway/util/ring-queue.js';

t.test('keeps FIFO order across growth and wrap-around', async (t) => {
  const q = new RingQueue<number>(2);
  const out: number[] = [];
  for (let i = 0; i < 5; i++) q.push(i);
  out.push(q.shift()!, q.shift()!);
  for (let i = 5; i < 40; i++) q.push(i);
  t.equal(q.length, 38);
  t.equal(q.peek(), 2);
  while (q.length > 0) out.push(q.shift()!);
  t.same(out, Array.from({ length: 40 }, (_, i) => i));
  t.equal(q.shift(), undefined);
  t.equal(q.peek(), undefined);
});
