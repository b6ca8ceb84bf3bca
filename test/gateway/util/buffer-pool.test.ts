import t from 'tap';
import { MessageChannel } from 'node:worker_threads';
import { BufferPool } from '../../../gateway/util/buffer-pool.js';

const KB64 = 64 * 1024;

t.test('a buffer given back is handed out again for the same size, and only for that size', async (t) => {
  const pool = new BufferPool();
  const a = pool.take(KB64);
  t.equal(a.byteLength, KB64);
  pool.give(a);
  t.equal(pool.idleBytes, KB64);
  t.not(pool.take(KB64 + 8), a, 'another size gets a fresh buffer');
  t.equal(pool.take(KB64), a, 'the same size gets the idle one back');
  t.equal(pool.idleBytes, 0);
  t.not(pool.take(KB64), a, 'a buffer is handed to one taker at a time');
});

t.test('giving a buffer back twice does not hand it to two takers', async (t) => {
  const pool = new BufferPool();
  const a = pool.take(KB64);
  pool.give(a);
  pool.give(a);
  t.equal(pool.idleBytes, KB64);
  const first = pool.take(KB64);
  const second = pool.take(KB64);
  t.equal(first, a);
  t.not(second, a);
});

t.test('buffers the pool did not hand out are kept only when adopted', async (t) => {
  const pool = new BufferPool();
  const stranger = new ArrayBuffer(KB64);
  pool.give(stranger);
  t.equal(pool.idleBytes, 0, "a stranger (e.g. Node's shared Buffer slab) is never kept");
  pool.give(stranger, true);
  t.equal(pool.take(KB64), stranger, 'an adopted buffer (moved back from a worker) is reused');
});

t.test('small, detached and surplus buffers are left to the garbage collector', async (t) => {
  const pool = new BufferPool(2 * KB64, 1);
  const small = pool.take(1024);
  pool.give(small);
  t.equal(pool.idleBytes, 0, 'small buffers are not kept');
  const moved = pool.take(KB64);
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(moved, [moved]);
  port1.close();
  port2.close();
  t.equal(moved.byteLength, 0, 'transferred away');
  pool.give(moved);
  t.equal(pool.idleBytes, 0, 'a detached buffer is not kept');
  const [x, y, z] = [pool.take(KB64), pool.take(KB64), pool.take(2 * KB64)];
  pool.give(x);
  pool.give(y);
  t.equal(pool.idleBytes, KB64, 'at most maxPerSize idle buffers of one size');
  pool.give(z);
  t.equal(pool.idleBytes, KB64, 'at most maxBytes idle in all');
});
