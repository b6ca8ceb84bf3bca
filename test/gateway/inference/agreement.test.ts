import t from 'tap';
import { answersAgree, answersAgreeAt } from '../../../gateway/inference/agreement.js';
import type { Tensor } from '../../../gateway/models/tensors.js';

function fp32(name: string, shape: number[], data: number[]): Tensor {
  return { name, datatype: 'FP32', shape, data: Float32Array.from(data) };
}

t.test('classifier outputs agree when every row has the same argmax, whatever the probabilities', async (t) => {
  const a = [fp32('p', [2, 3], [0.1, 0.7, 0.2, 0.5, 0.3, 0.2])];
  t.ok(answersAgree(a, [fp32('p', [2, 3], [0.3, 0.4, 0.3, 0.9, 0.05, 0.05])], 0, true));
  t.notOk(answersAgree(a, [fp32('p', [2, 3], [0.3, 0.4, 0.3, 0.2, 0.05, 0.75])], 0, true), 'the second row changed class');
});

t.test('regressor outputs agree within the tolerance, absolute or relative', async (t) => {
  const a = [fp32('y', [3, 1], [1, 1000, 0])];
  t.ok(answersAgree(a, [fp32('y', [3, 1], [1.0005, 1000.9, 0.0009])], 0.001, true), 'absolute for small values, relative for large ones');
  t.notOk(answersAgree(a, [fp32('y', [3, 1], [1.01, 1000, 0])], 0.001, true));
  const labels: Tensor = { name: 'label', datatype: 'INT64', shape: [2], data: BigInt64Array.of(2n, 4n) };
  t.ok(answersAgree([labels], [{ ...labels, data: BigInt64Array.of(2n, 4n) }], 0, true), 'a batched scalar output (one label per row) is compared element by element');
  t.notOk(answersAgree([labels], [{ ...labels, data: BigInt64Array.of(2n, 3n) }], 0, true));
});

t.test('every output both answers carry must agree; answers with nothing in common do not', async (t) => {
  const p = fp32('p', [1, 2], [0.2, 0.8]);
  const y = fp32('y', [1, 1], [5]);
  t.notOk(answersAgree([p, y], [p, fp32('y', [1, 1], [6])], 0.01, true));
  t.ok(answersAgree([p], [p, y], 0, true), 'an output only one side has is not compared');
  t.notOk(answersAgree([p], [y], 0, true));
  t.notOk(answersAgree([p], [fp32('p', [2, 2], [0.2, 0.8, 0.2, 0.8])], 0, true), 'different shapes');
});

t.test('a copy run with others is compared against its own rows of the joint answer', async (t) => {
  const joint = [fp32('p', [3, 2], [0.9, 0.1, 0.2, 0.8, 0.6, 0.4]), fp32('y', [3, 1], [1, 2, 3])];
  t.ok(answersAgreeAt([fp32('p', [1, 2], [0.7, 0.3]), fp32('y', [1, 1], [1])], joint, 0, 0));
  t.ok(answersAgreeAt([fp32('p', [2, 2], [0.3, 0.7, 0.9, 0.1]), fp32('y', [2, 1], [2, 3])], joint, 1, 0), 'rows 1 and 2');
  t.notOk(answersAgreeAt([fp32('p', [1, 2], [0.7, 0.3])], joint, 1, 0), 'row 1 is the other class');
  t.notOk(answersAgreeAt([fp32('y', [2, 1], [3, 4])], joint, 2, 0), 'rows past the joint answer');
});
