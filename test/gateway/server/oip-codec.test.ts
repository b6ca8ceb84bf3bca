import t from 'tap';
import { decodeInferenceRequest, decodeRawBinaryRequest, encodeInferenceResponse } from '../../../gateway/server/oip-codec.js';
import { floatToHalf, halfToFloat } from '../../../gateway/models/tensors.js';

t.test('binary inputs become typed-array views over the received bytes when aligned', async (t) => {
  const body = new Uint8Array(64);
  const values = new Float32Array(body.buffer, 8, 4);
  values.set([1, 2, 3, 4]);
  const decoded = decodeInferenceRequest(
    '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"parameters":{"binary_data_size":16}}]}',
    body.subarray(8, 24),
  );
  const data = decoded.inputs[0]!.data as Float32Array;
  t.same(Array.from(data), [1, 2, 3, 4]);
  t.equal(data.buffer, body.buffer, 'a view, not a copy');
  const odd = decodeInferenceRequest(
    '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}}]}',
    new Uint8Array(new Float32Array([5, 6]).buffer.slice(0)).subarray(0, 8),
  );
  t.same(Array.from(odd.inputs[0]!.data as Float32Array), [5, 6]);
  const shifted = new Uint8Array(9);
  shifted.set(new Uint8Array(new Float32Array([7, 8]).buffer), 1);
  const copied = decodeInferenceRequest(
    '{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}}]}',
    shifted.subarray(1),
  );
  t.same(Array.from(copied.inputs[0]!.data as Float32Array), [7, 8], 'misaligned bytes are copied, not misread');
});

t.test('BYTES inputs: JSON strings and length-prefixed binary elements', async (t) => {
  const json = decodeInferenceRequest({ inputs: [{ name: 's', datatype: 'BYTES', shape: [2], data: ['héllo', ''] }] });
  t.same((json.inputs[0]!.data as Uint8Array[]).map((b) => Buffer.from(b).toString()), ['héllo', '']);
  const bin = Buffer.alloc(4 + 3 + 4 + 1);
  bin.writeUInt32LE(3, 0);
  bin.write('abc', 4);
  bin.writeUInt32LE(1, 7);
  bin.write('z', 11);
  const decoded = decodeInferenceRequest({ inputs: [{ name: 's', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: 12 } }] }, bin);
  t.same((decoded.inputs[0]!.data as Uint8Array[]).map((b) => Buffer.from(b).toString()), ['abc', 'z']);
  t.throws(() => decodeInferenceRequest({ inputs: [{ name: 's', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: 6 } }] }, bin.subarray(0, 6)), {
    code: 'SLUICE_E_PROTOCOL_BAD_BINARY', message: /goes past/,
  });
});

t.test('BOOL and small integer types are range-checked', async (t) => {
  const b = decodeInferenceRequest({ inputs: [{ name: 'b', datatype: 'BOOL', shape: [2], data: [true, false] }] });
  t.same(Array.from(b.inputs[0]!.data as Uint8Array), [1, 0]);
  t.throws(() => decodeInferenceRequest({ inputs: [{ name: 'b', datatype: 'BOOL', shape: [1], data: [1] }] }), { code: 'SLUICE_E_PROTOCOL_BAD_DATA' });
  t.throws(() => decodeInferenceRequest({ inputs: [{ name: 'i', datatype: 'UINT8', shape: [1], data: [256] }] }), { code: 'SLUICE_E_PROTOCOL_BAD_DATA' });
  t.throws(() => decodeInferenceRequest({ inputs: [{ name: 'i', datatype: 'INT16', shape: [1], data: [1.5] }] }), { code: 'SLUICE_E_PROTOCOL_BAD_DATA' });
  t.throws(() => decodeInferenceRequest({ inputs: [{ name: 'b', datatype: 'BOOL', shape: [1], parameters: { binary_data_size: 1 } }] }, new Uint8Array([7])), { code: 'SLUICE_E_PROTOCOL_BAD_DATA' });
});

t.test('half-float conversion rounds to nearest even and keeps specials', async (t) => {
  t.equal(floatToHalf(1), 0x3c00);
  t.equal(floatToHalf(-2), 0xc000);
  t.equal(floatToHalf(65504), 0x7bff);
  t.equal(floatToHalf(1e6), 0x7c00, 'overflow to infinity');
  t.equal(floatToHalf(2 ** -24), 0x0001, 'smallest subnormal');
  t.equal(floatToHalf(1 + 2 ** -11), 0x3c00, 'a tie rounds to even');
  t.ok(Number.isNaN(halfToFloat(floatToHalf(NaN))));
  for (let h = 0; h < 0x7c00; h += 97) t.equal(floatToHalf(halfToFloat(h)), h, `round trip ${h}`);
});

t.test('responses: JSON numbers, booleans, 64-bit integers, strings for non-finite, binary parts with their sizes', async (t) => {
  const encoded = encodeInferenceResponse({
    model: 'm', version: '2', id: 'q"1',
    outputs: [
      { name: 'f', datatype: 'FP32', shape: [4], data: new Float32Array([0.5, NaN, -Infinity, Infinity]), binary: false },
      { name: 'b', datatype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]), binary: false },
      { name: 'l', datatype: 'INT64', shape: [1], data: new BigInt64Array([-(2n ** 62n)]), binary: false },
      { name: 'h', datatype: 'FP16', shape: [1], data: new Uint16Array([floatToHalf(0.75)]), binary: false },
      { name: 'raw', datatype: 'INT32', shape: [2], data: new Int32Array([1, 2]), binary: true },
    ],
  });
  const header = JSON.parse(encoded.header) as { id: string; outputs: { data?: unknown[]; parameters?: unknown }[] };
  t.equal(header.id, 'q"1');
  t.same(header.outputs[0]!.data, [0.5, 'NaN', '-Infinity', 'Infinity']);
  t.same(header.outputs[1]!.data, [true, false]);
  t.match(encoded.header, /"data":\[-4611686018427387904\]/, 'exact digits for int64');
  t.same(header.outputs[3]!.data, [0.75]);
  t.same(header.outputs[4]!.parameters, { binary_data_size: 8 });
  t.equal(encoded.binaryLength, 8);
  const raw = Buffer.concat(encoded.binary);
  t.same(Array.from(new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + 8))), [1, 2]);
});

t.test('responses: the cached fixed parts follow each model, version, output name, datatype and shape', async (t) => {
  const answer = (model: string, version: string, name: string, datatype: 'FP32' | 'INT32', shape: number[]) => {
    const data = datatype === 'FP32' ? new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5) : new Int32Array(shape.reduce((a, b) => a * b, 1)).fill(3);
    return JSON.parse(encodeInferenceResponse({ model, version, outputs: [{ name, datatype, shape, data, binary: false }] }).header) as {
      model_name: string; model_version: string; outputs: { name: string; datatype: string; shape: number[]; data: number[] }[];
    };
  };
  // The same names again and again, and more distinct ones than the caches keep (4096): each answer stays its own.
  for (let i = 0; i < 5000; i++) {
    const model = `m${i % 3 === 0 ? 'x' : i}`;
    const version = String(i % 7);
    const name = i % 2 === 0 ? 'out' : `o"${i}`;
    const datatype = i % 5 === 0 ? 'INT32' : 'FP32';
    const shape = i % 4 === 0 ? [] : i % 4 === 1 ? [2] : i % 4 === 2 ? [1, 2] : [1, 1, 2];
    const got = answer(model, version, name, datatype, shape);
    const want = { model_name: model, model_version: version, outputs: [{ name, datatype, shape, data: Array(shape.reduce((a, b) => a * b, 1)).fill(datatype === 'INT32' ? 3 : 0.5) }] };
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      t.same(got, want, `answer ${i}`);
      return;
    }
  }
  t.pass('5000 answers, each with its own model, version, output name, datatype and shape');
});

t.test('non-finite FP values round-trip through JSON as "NaN", "Infinity", "-Infinity"', async (t) => {
  for (const datatype of ['FP16', 'FP32', 'FP64'] as const) {
    const decoded = decodeInferenceRequest({ inputs: [{ name: 'x', datatype, shape: [3], data: ['NaN', 'Infinity', '-Infinity'] }] });
    const data = decoded.inputs[0]!.data as Float32Array | Float64Array | Uint16Array;
    const values = datatype === 'FP16' ? Array.from(data, halfToFloat) : Array.from(data);
    t.ok(Number.isNaN(values[0]), `${datatype} NaN`);
    t.same(values.slice(1), [Infinity, -Infinity], `${datatype} infinities`);
  }
  t.throws(() => decodeInferenceRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: ['nan'] }] }), { code: 'SLUICE_E_PROTOCOL_BAD_DATA' }, 'only the exact spellings');
});

t.test('an empty outputs list asks for all outputs', async (t) => {
  const decoded = decodeInferenceRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }], outputs: [] });
  t.equal(decoded.outputs, undefined);
});

t.test('a raw binary body becomes the one input, its variable dimension from the byte count', async (t) => {
  const features = { name: 'features', datatype: 'FP32' as const, dims: [5] };
  const body = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).buffer);
  const decoded = decodeRawBinaryRequest([features], true, body);
  t.same(decoded.inputs[0]!.shape, [2, 5]);
  t.same(Array.from(decoded.inputs[0]!.data as Float32Array), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  t.same(decodeRawBinaryRequest([features], false, body.subarray(0, 20)).inputs[0]!.shape, [5], 'fixed shape of a model that does not batch');
  t.throws(() => decodeRawBinaryRequest([features], true, body.subarray(0, 12)), { code: 'SLUICE_E_PROTOCOL_BAD_BINARY' }, 'not whole rows');
  t.throws(() => decodeRawBinaryRequest([features], false, body), { code: 'SLUICE_E_PROTOCOL_BAD_BINARY' }, 'more than the fixed shape');
  t.throws(() => decodeRawBinaryRequest([features, { ...features, name: 'other' }], true, body), { code: 'SLUICE_E_PROTOCOL_BAD_BINARY' }, 'two inputs');
  t.throws(() => decodeRawBinaryRequest([{ name: 'image', datatype: 'BYTES', dims: [1] }], true, body), { code: 'SLUICE_E_PROTOCOL_BAD_BINARY' }, 'BYTES');
  t.throws(() => decodeRawBinaryRequest([{ ...features, dims: [-1] }], true, body), { code: 'SLUICE_E_PROTOCOL_BAD_BINARY' }, 'two variable dims');
  t.throws(() => decodeRawBinaryRequest([features], true, new Uint8Array(0)), { code: 'SLUICE_E_PROTOCOL_BAD_BINARY' }, 'an empty body');
});
