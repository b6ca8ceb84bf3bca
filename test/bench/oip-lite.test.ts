import t from 'tap';
import { BadInferRequest, decodeInfer, encodeInfer } from '../../bench/targets/oip-lite.js';
import { inferCall, workloadRows } from '../../bench/workloads.js';

t.test('the baselines decode the benchmark JSON call to the row it was built from', async (t) => {
  const [row] = workloadRows('weather-json', 1);
  const call = inferCall('weather-json', row!);
  const d = decodeInfer(JSON.parse(call.body.toString()), undefined, 'features', 5);
  t.equal(d.batch, 1);
  t.same(Array.from(d.data), Array.from(row!));
  t.equal(d.binaryOutputs.size, 0);
});

t.test('the baselines decode the binary-extension call byte for byte and see the binary output request', async (t) => {
  const [row] = workloadRows('text-direction-binary', 1);
  const call = inferCall('text-direction-binary', row!);
  const d = decodeInfer(call.body, Number(call.headers['inference-header-content-length']), 'x', 3 * 48 * 192);
  t.equal(d.batch, 1);
  t.same(Buffer.from(d.data.buffer), Buffer.from(row!.buffer));
  t.same([...d.binaryOutputs], ['softmax_0.tmp_0']);
});

t.test('calls that do not match the model are refused with BadInferRequest', async (t) => {
  t.throws(() => decodeInfer({ inputs: [{ name: 'other', shape: [1, 5], datatype: 'FP32', data: [1, 2, 3, 4, 5] }] }, undefined, 'features', 5), BadInferRequest);
  t.throws(() => decodeInfer({ inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [1, 2] }] }, undefined, 'features', 5), BadInferRequest);
  t.throws(() => decodeInfer({ inputs: [{ name: 'features', shape: [1, 5], datatype: 'INT64', data: [1, 2, 3, 4, 5] }] }, undefined, 'features', 5), BadInferRequest);
  t.throws(() => decodeInfer(Buffer.from('{}'), 99, 'features', 5), BadInferRequest, 'header longer than body');
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', parameters: { binary_data_size: 20 } }] }));
  t.throws(() => decodeInfer(Buffer.concat([header, Buffer.alloc(16)]), header.length, 'features', 5), BadInferRequest, 'short binary data');
});

t.test('outputs are encoded as OIP JSON, or as binary with a header length that adds up', async (t) => {
  const outputs = [
    { name: 'probabilities', datatype: 'FP32' as const, shape: [1, 2], data: Float32Array.from([0.25, 0.75]) },
    { name: 'label', datatype: 'INT64' as const, shape: [1], data: BigInt64Array.from([1n]) },
  ];
  const json = JSON.parse(String(encodeInfer('weather', outputs, new Set()).body));
  t.same(json.outputs, [
    { name: 'probabilities', datatype: 'FP32', shape: [1, 2], data: [0.25, 0.75] },
    { name: 'label', datatype: 'INT64', shape: [1], data: [1] },
  ]);
  const bin = encodeInfer('weather', outputs, new Set(['probabilities']));
  const body = bin.body as Buffer;
  const hl = Number(bin.headers['inference-header-content-length']);
  const header = JSON.parse(body.toString('utf8', 0, hl));
  t.same(header.outputs, [{ name: 'probabilities', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } }]);
  t.equal(body.length, hl + 8);
  t.same(Array.from(new Float32Array(body.buffer.slice(body.byteOffset + hl, body.byteOffset + hl + 8))), [0.25, 0.75]);
});
