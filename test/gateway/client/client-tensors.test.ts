import t from 'tap';
import { jsonData, tensorBytes, typedFromBytes } from '../../../gateway/client/client-tensors.js';

t.test('numeric tensors become their little-endian bytes and come back as the same typed array', async (t) => {
  const f = new Float32Array([1.5, -2, 1e-3]);
  const bytes = tensorBytes({ name: 'x', datatype: 'FP32', shape: [3], data: f });
  t.equal(bytes.byteLength, 12);
  t.same(Array.from(typedFromBytes('FP32', bytes) as Float32Array), Array.from(f));
  const i64 = tensorBytes({ name: 'l', datatype: 'INT64', shape: [2], data: [3, -4] });
  t.same(Array.from(typedFromBytes('INT64', i64) as BigInt64Array), [3n, -4n], 'plain numbers are converted to the datatype');
});

t.test('misaligned output bytes are copied before a typed array is made over them', async (t) => {
  const raw = Buffer.alloc(13);
  raw.writeFloatLE(2.5, 1);
  const view = typedFromBytes('FP32', raw.subarray(1, 5)) as Float32Array;
  t.same(Array.from(view), [2.5]);
});

t.test('BYTES tensors are length-prefixed in binary and base64 in JSON', async (t) => {
  const tensor = { name: 'image', datatype: 'BYTES' as const, shape: [2], data: [new Uint8Array([1, 2, 3]), 'hi'] };
  const bytes = tensorBytes(tensor);
  t.same(Array.from(bytes), [3, 0, 0, 0, 1, 2, 3, 2, 0, 0, 0, 104, 105]);
  t.same((typedFromBytes('BYTES', bytes) as Uint8Array[]).map((b) => Array.from(b)), [[1, 2, 3], [104, 105]]);
  t.same(jsonData(tensor), ['AQID', 'hi'], 'strings go as they are, bytes as base64');
});

t.test('JSON data: typed arrays become number arrays, INT64 numbers, BOOL booleans', async (t) => {
  t.same(jsonData({ name: 'a', datatype: 'FP32', shape: [2], data: new Float32Array([0.5, 2]) }), [0.5, 2]);
  t.same(jsonData({ name: 'a', datatype: 'INT64', shape: [1], data: new BigInt64Array([7n]) }), [7]);
  t.same(jsonData({ name: 'a', datatype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) }), [true, false]);
  t.same(jsonData({ name: 'a', datatype: 'FP32', shape: [2], data: [1, 2] }), [1, 2]);
});
