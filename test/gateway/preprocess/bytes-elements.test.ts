import t from 'tap';
import { base64Elements, splitBytesElements } from '../../../gateway/preprocess/index.js';

function lengthPrefixed(...parts: Buffer[]): Buffer {
  return Buffer.concat(parts.flatMap((p) => {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(p.length);
    return [len, p];
  }));
}

t.test('binary BYTES data splits into length-prefixed elements without copying', async (t) => {
  const raw = lengthPrefixed(Buffer.from('abc'), Buffer.alloc(0), Buffer.from('hello'));
  const parts = splitBytesElements('image', raw);
  t.same(parts.map((p) => Buffer.from(p).toString()), ['abc', '', 'hello']);
  t.equal(parts[2]!.buffer, raw.buffer, 'a view into the request buffer');
});

t.test('a BYTES element longer than the data left, or a cut length prefix, is bad data naming the element', async (t) => {
  const raw = lengthPrefixed(Buffer.from('abc'), Buffer.from('hello'));
  t.throws(() => splitBytesElements('image', raw.subarray(0, raw.length - 1)), { code: 'SLUICE_E_PROTOCOL_BAD_DATA', message: /element 1 declares 5 bytes but 4 remain/ });
  t.throws(() => splitBytesElements('image', raw.subarray(0, 9)), { code: 'SLUICE_E_PROTOCOL_BAD_DATA', message: /element 1 has a truncated 4-byte length prefix/ });
});

t.test('JSON BYTES elements are base64, optionally as data URLs', async (t) => {
  const parts = base64Elements('image', [Buffer.from('png!').toString('base64'), `data:image/png;base64,${Buffer.from('jpg').toString('base64')}`]);
  t.same(parts.map((p) => Buffer.from(p).toString()), ['png!', 'jpg']);
  t.throws(() => base64Elements('image', [12]), { code: 'SLUICE_E_PROTOCOL_BAD_DATA', message: /element 0 must be a base64 string/ });
  t.throws(() => base64Elements('image', ['ok', 'not base64!']), { code: 'SLUICE_E_PROTOCOL_BAD_DATA', message: /element 1 is not valid base64/ });
});
