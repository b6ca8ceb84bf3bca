import t from 'tap';
import {
  WsFramingError, encodeBinaryFrame, encodeErrorFrame, parseBinaryFrame, parseTextFrame, requestId, splitBinaryFrame,
} from '../../../gateway/server/ws-frame-codec.js';
import { SluiceError } from '../../../lib/errors.js';

const ab = (s: string | Uint8Array): ArrayBuffer => {
  const u = typeof s === 'string' ? new TextEncoder().encode(s) : s;
  return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
};

t.test('a text frame carries id, model_name, model_version and the OIP request', async (t) => {
  const call = parseTextFrame(ab('{"id":"a1","model_name":"weather","model_version":"2","inputs":[]}'));
  t.same([call.id, call.model, call.version, call.binary], ['a1', 'weather', '2', undefined]);
  t.same(call.request.inputs, []);
  t.equal(parseTextFrame(ab('{"id":7,"model_name":"m","model_version":3}')).id, '7', 'numeric ids become strings');
  t.equal(parseTextFrame(ab('{"id":7,"model_name":"m","model_version":3}')).version, '3');
});

t.test('a binary frame splits into header and tensor bytes copied into an aligned buffer of their own', async (t) => {
  const data = new Float32Array([1.5, -2, 3]);
  const frame = encodeBinaryFrame('{"id":"b","model_name":"m","inputs":[{"name":"x","datatype":"FP32","shape":[3],"parameters":{"binary_data_size":12}}]}',
    [new Uint8Array(data.buffer)]);
  const source = ab(frame);
  const call = parseBinaryFrame(source);
  t.equal(call.id, 'b');
  t.equal(call.binary!.byteOffset, 0);
  t.same(Array.from(new Float32Array(call.binary!.buffer, 0, 3)), [1.5, -2, 3]);
  new Uint8Array(source).fill(0);
  t.same(Array.from(new Float32Array(call.binary!.buffer, 0, 3)), [1.5, -2, 3], 'independent of the uWS message buffer');
  const { header, binary } = splitBinaryFrame(frame);
  t.match(header, /^\{"id":"b"/);
  t.equal(binary.byteLength, 12);
});

t.test('bad requests are SLUICE_E_WS_BAD_FRAME errors that keep the id when there is one', async (t) => {
  const cases: [string, RegExp, string | undefined][] = [
    ['not json', /not valid JSON/, undefined],
    ['[1,2]', /must be a JSON object/, undefined],
    ['{"model_name":"m"}', /has no id/, undefined],
    ['{"id":{"x":1},"model_name":"m"}', /id must be a non-empty string/, undefined],
    ['{"id":""}', /id must be a non-empty string/, undefined],
    [`{"id":"${'x'.repeat(300)}","model_name":"m"}`, /at most 256/, undefined],
    ['{"id":"q","model_name":""}', /model_name must be a non-empty string/, 'q'],
    ['{"id":"q"}', /model_name must be a non-empty string/, 'q'],
    ['{"id":"q","model_name":"m","model_version":[1]}', /model_version must be a string/, 'q'],
  ];
  for (const [text, message, id] of cases) {
    t.throws(() => parseTextFrame(ab(text)), { code: 'SLUICE_E_WS_BAD_FRAME', message }, text.slice(0, 40));
    try {
      parseTextFrame(ab(text));
    } catch (err) {
      t.equal((err as SluiceError).details?.id, id, `id of ${text.slice(0, 30)}`);
    }
  }
  // A binary frame with a good length prefix but a bad header is a bad request too, not bad framing.
  t.throws(() => parseBinaryFrame(ab(encodeBinaryFrame('{oops', []))), { code: 'SLUICE_E_WS_BAD_FRAME', message: /not valid JSON/ });
});

t.test('a binary frame whose length prefix cannot be followed is a framing error', async (t) => {
  t.throws(() => parseBinaryFrame(new ArrayBuffer(3)), WsFramingError);
  const zero = new Uint8Array(8);
  t.throws(() => parseBinaryFrame(ab(zero)), { name: 'WsFramingError', message: /header length 0/ });
  const long = encodeBinaryFrame('{"id":"x","model_name":"m"}', []);
  new DataView(long.buffer, long.byteOffset).setUint32(0, 1000, true);
  t.throws(() => parseBinaryFrame(ab(long)), { name: 'WsFramingError', message: /header length 1000 does not fit/ });
  t.throws(() => splitBinaryFrame(new Uint8Array(2)), WsFramingError);
  t.throws(() => splitBinaryFrame(long), WsFramingError);
});

t.test('error frames carry id (or null), message, code and status', async (t) => {
  const err = new SluiceError('SLUICE_E_MODEL_NOT_FOUND', 'model nope not found');
  t.same(JSON.parse(encodeErrorFrame('9', err)), { id: '9', error: 'model nope not found', code: 'SLUICE_E_MODEL_NOT_FOUND', status: 404 });
  t.equal(JSON.parse(encodeErrorFrame(undefined, err)).id, null);
  t.equal(requestId(null), undefined);
});
