import t from 'tap';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { binaryRequest, postJson, readBinaryResponse, startTestGateway, writeTypesModel } from '../gateway-harness.js';
import { floatToHalf, halfToFloat } from '../../../gateway/models/tensors.js';

t.test('FP16 and INT64 tensors through a model whose signature comes from the ONNX file', async (t) => {
  const root = join(t.testdir(), 'models');
  mkdirSync(root);
  writeTypesModel(root);
  writeTypesModel(root, { max_batch_size: 0 }, 'unbatched');
  const gw = await startTestGateway(t, root);
  const infer = `${gw.url}/v2/models/types/infer`;

  t.test('metadata is read from the model when config.json lists no inputs or outputs', async (t) => {
    const res = await fetch(`${gw.url}/v2/models/types`);
    t.match(await res.json(), {
      inputs: [{ name: 'half', datatype: 'FP16', shape: [-1, 3] }, { name: 'long', datatype: 'INT64', shape: [-1, 2] }],
      outputs: [
        { name: 'half_out', datatype: 'FP16', shape: [-1, 3] },
        { name: 'half_as_float', datatype: 'FP32', shape: [-1, 3] },
        { name: 'long_plus_one', datatype: 'INT64', shape: [-1, 2] },
      ],
    });
  });

  t.test('JSON FP16 numbers are converted to half floats and back; INT64 numbers become 64-bit integers', async (t) => {
    const half = [0.5, -2.25, 1000, 1.1, 65504, -0.0001];
    const res = await postJson(infer, {
      inputs: [
        { name: 'half', datatype: 'FP16', shape: [2, 3], data: half },
        { name: 'long', datatype: 'INT64', shape: [2, 2], data: [1, -7, 9007199254740991, '9223372036854775806'] },
      ],
    });
    t.equal(res.status, 200);
    const out = Object.fromEntries((res.body.outputs as { name: string; datatype: string; data: (number | string)[] }[]).map((o) => [o.name, o]));
    const rounded = half.map((v) => halfToFloat(floatToHalf(v)));
    t.same(out.half_out!.data, rounded, 'FP16 out as JSON numbers');
    t.equal(out.half_out!.datatype, 'FP16');
    t.same(out.half_as_float!.data, rounded, 'the model saw the same half values');
    t.equal(out.long_plus_one!.datatype, 'INT64');
    // 64-bit integers are written as exact JSON numbers; JSON.parse rounds the ones beyond 2^53 here.
    t.same(out.long_plus_one!.data, [2, -6, 9007199254740992, 9223372036854775807]);
  });

  t.test('binary FP16 and INT64 travel as raw bytes both ways', async (t) => {
    const half = new Uint16Array([floatToHalf(1.5), floatToHalf(-3), floatToHalf(0.25)]);
    const long = new BigInt64Array([2n ** 62n, -5n]);
    const req = binaryRequest({
      inputs: [
        { name: 'half', datatype: 'FP16', shape: [1, 3], parameters: { binary_data_size: 6 } },
        { name: 'long', datatype: 'INT64', shape: [1, 2], parameters: { binary_data_size: 16 } },
      ],
      parameters: { binary_data_output: true },
    }, [half, long]);
    const res = await fetch(infer, { method: 'POST', headers: req.headers, body: req.body });
    t.equal(res.status, 200);
    const { header, binary } = await readBinaryResponse(res);
    const sizes = (header.outputs as { parameters: { binary_data_size: number } }[]).map((o) => o.parameters.binary_data_size);
    t.same(sizes, [6, 12, 16]);
    const bytes = binary.buffer.slice(binary.byteOffset, binary.byteOffset + binary.byteLength);
    t.same(Array.from(new Uint16Array(bytes, 0, 3)), Array.from(half));
    t.same(Array.from(new Float32Array(bytes.slice(6, 18))), [1.5, -3, 0.25]);
    t.same(Array.from(new BigInt64Array(bytes.slice(18, 34))), [2n ** 62n + 1n, -4n]);
  });

  t.test('a model that does not batch (max_batch_size 0) takes the full shape, batch dimension included', async (t) => {
    const meta = await fetch(`${gw.url}/v2/models/unbatched`);
    t.match(await meta.json(), { inputs: [{ name: 'half', shape: [-1, 3] }, { name: 'long', shape: [-1, 2] }] });
    const calls = await Promise.all([1, 2, 3].map((n) => postJson(`${gw.url}/v2/models/unbatched/infer`, {
      inputs: [
        { name: 'half', datatype: 'FP16', shape: [n, 3], data: new Array(n * 3).fill(n) },
        { name: 'long', datatype: 'INT64', shape: [n, 2], data: new Array(n * 2).fill(n) },
      ],
      outputs: [{ name: 'long_plus_one' }],
    })));
    t.same(calls.map((c) => c.status), [200, 200, 200]);
    t.same(calls.map((c) => (c.body.outputs as { data: number[] }[])[0]!.data), [[2, 2], [3, 3, 3, 3], [4, 4, 4, 4, 4, 4]]);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    t.match(metrics, /sluice_inference_batch_size_count\{model="unbatched",version="1"\} 3\n/, 'each call ran alone');
  });

  t.test('integers that do not fit the datatype are refused', async (t) => {
    const half = { name: 'half', datatype: 'FP16', shape: [1, 3], data: [1, 2, 3] };
    for (const data of [[1.5, 2], [1, '99999999999999999999'], [true, 1]]) {
      const res = await postJson(infer, { inputs: [half, { name: 'long', datatype: 'INT64', shape: [1, 2], data }] });
      t.equal(res.status, 400, JSON.stringify(data));
      t.equal(res.body.code, 'SLUICE_E_PROTOCOL_BAD_DATA', JSON.stringify(data));
    }
    const missing = await postJson(infer, { inputs: [half] });
    t.equal(missing.status, 400);
    t.equal(missing.body.code, 'SLUICE_E_PROTOCOL_BAD_INPUT');
  });
});
