// fast-check generators of hostile inputs, one per fuzzed surface. Each mixes three kinds: noise
// (random JSON, random bytes), structure with every field drawn from valid and invalid values
// (so most inputs get past the first checks and reach the deeper ones), and valid inputs cut or
// corrupted at a random place.
import fc from 'fast-check';
import { DATATYPES } from '../../gateway/models/config.js';

/**
 * Any JS value up to `maxDepth`, with its size bounded explicitly: left to its defaults, fc.anything
 * nested inside records, arrays and oneofs now and then built one value large enough to exhaust a
 * 4 GiB heap (oipRequestObject, seed 2, input 441), so the long runs never finished.
 */
function hostile(maxDepth: number): fc.Arbitrary<unknown> {
  return fc.anything({ maxDepth, maxKeys: 4, size: 'xsmall', depthSize: 'xsmall' });
}

/** One tensor element as a client might send it: right, wrong type, out of range, nested. */
const element: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.double() },
  { weight: 3, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 2 ** 53, -(2 ** 64), 1e308, -0, 255, 256, -129, 65536) },
  { weight: 1, arbitrary: fc.constantFrom('NaN', 'Infinity', '-Infinity', '9223372036854775808', '-9223372036854775809', '18446744073709551616', '1e3', '') },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, {}, [], [[]], [1, [2]]) },
);

const dimension = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 5 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 2 ** 31, 2 ** 53, 1e20, 1.5, NaN, '3', null) },
);

const shape: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.array(dimension, { maxLength: 4 }) },
  { weight: 1, arbitrary: hostile(2) },
);

const datatype: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...DATATYPES) },
  { weight: 1, arbitrary: fc.constantFrom('fp32', 'FLOAT', 'BF16', '', 'FP32 ') },
  { weight: 1, arbitrary: hostile(1) },
);

/** Nested `data` for a shape: right element count most of the time, nested or flat, plus a hostile depth now and then. */
function dataFor(dims: unknown): fc.Arbitrary<unknown> {
  const count = Array.isArray(dims) && dims.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0 && d <= 5)
    ? dims.reduce((n: number, d: number) => n * d, 1)
    : 3;
  return fc.oneof(
    { weight: 6, arbitrary: fc.array(element, { minLength: count, maxLength: count }) },
    { weight: 2, arbitrary: fc.array(element, { maxLength: count + 2 }) },
    { weight: 1, arbitrary: fc.array(element, { minLength: count, maxLength: count }).map((flat) => nest(flat, dims)) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 2_000 }).map((depth) => deepArray(depth)) },
    { weight: 1, arbitrary: hostile(2) },
  );
}

function nest(flat: unknown[], dims: unknown): unknown {
  if (!Array.isArray(dims) || dims.length < 2) return flat;
  const inner = dims[dims.length - 1] as number;
  if (inner <= 0) return flat;
  const rows: unknown[] = [];
  for (let i = 0; i < flat.length; i += inner) rows.push(flat.slice(i, i + inner));
  return rows;
}

function deepArray(depth: number): unknown {
  let v: unknown = [1];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

const parameters: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ binary_data_output: fc.oneof(fc.boolean(), hostile(0)) }, { requiredKeys: [] }),
  hostile(1),
);

/** One entry of `inputs`: a JSON tensor. */
const jsonInput: fc.Arbitrary<unknown> = shape.chain((s) =>
  fc.record(
    { name: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('features', 'x', 'image', 'input') }, { weight: 1, arbitrary: hostile(0) }), datatype, shape: fc.constant(s), data: dataFor(s), parameters: hostile(1) },
    { requiredKeys: ['name', 'datatype', 'shape'] },
  ),
);

const outputs: fc.Arbitrary<unknown> = fc.oneof(
  fc.array(fc.record({ name: fc.oneof(fc.string({ maxLength: 12 }), hostile(0)), parameters: fc.oneof(fc.record({ binary_data: hostile(0) }), hostile(1)) }, { requiredKeys: [] }), { maxLength: 3 }),
  hostile(1),
);

/** An OIP request object (JSON data only). */
export const oipRequestObject: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    id: fc.oneof(fc.string({ maxLength: 40 }), hostile(0)),
    parameters,
    inputs: fc.oneof({ weight: 8, arbitrary: fc.array(jsonInput, { maxLength: 3 }) }, { weight: 1, arbitrary: hostile(2) }),
    outputs,
  },
  { requiredKeys: ['inputs'] },
);

/** A valid-looking request text cut short or with bytes changed. */
function corruptText(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(text, fc.nat(), fc.string({ maxLength: 4 }), fc.boolean()).map(([s, at, insert, cut]) => {
    const p = s.length === 0 ? 0 : at % s.length;
    return cut ? s.slice(0, p) : s.slice(0, p) + insert + s.slice(p + 1);
  });
}

/** Bodies of a JSON infer call, as text or as the raw UTF-8 (or not UTF-8) bytes a socket delivers. */
export const oipJsonBody: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  { weight: 6, arbitrary: oipRequestObject.map((o) => JSON.stringify(o)) },
  { weight: 2, arbitrary: corruptText(oipRequestObject.map((o) => JSON.stringify(o))) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 50_000 }).map((n) => `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":${'['.repeat(n)}1${']'.repeat(n)}}]}`) },
);

/** An input under the binary extension: a header with `binary_data_size`, bytes after the header. */
const binaryInput: fc.Arbitrary<Record<string, unknown>> = fc.record({
  name: fc.constantFrom('features', 'x', 'image', 'b'),
  datatype,
  shape,
  parameters: fc.oneof(
    { weight: 8, arbitrary: fc.record({ binary_data_size: fc.oneof({ weight: 6, arbitrary: fc.nat(96) }, { weight: 1, arbitrary: fc.constantFrom(-1, 1.5, '4', 2 ** 32, 2 ** 53, NaN) }) }) },
    { weight: 1, arbitrary: hostile(1) },
  ),
});

/** BYTES elements in binary form, with length prefixes sometimes lying. */
const bytesElements: fc.Arbitrary<Uint8Array> = fc.array(fc.tuple(fc.uint8Array({ maxLength: 12 }), fc.oneof(fc.constant(undefined), fc.nat(), fc.constant(0xffffffff))), { maxLength: 4 }).map((els) => {
  const parts: Buffer[] = [];
  for (const [bytes, lie] of els) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(lie ?? bytes.byteLength);
    parts.push(len, Buffer.from(bytes));
  }
  return new Uint8Array(Buffer.concat(parts));
});

export interface BinaryCall {
  header: string | Uint8Array;
  binary: Uint8Array;
  /** Where the binary bytes start in their buffer (misaligned views take the copy path). */
  offset: number;
}

/** Binary-extension calls: JSON header plus bytes; sizes consistent most of the time. */
export const oipBinaryCall: fc.Arbitrary<BinaryCall> = fc
  .record({
    inputs: fc.array(binaryInput, { minLength: 1, maxLength: 3 }),
    extra: fc.oneof(fc.constant(undefined), oipRequestObject),
    tail: fc.oneof(fc.uint8Array({ maxLength: 64 }), bytesElements),
    mode: fc.constantFrom('consistent', 'random', 'short', 'long'),
    offset: fc.nat(7),
  })
  .chain(({ inputs, extra, tail, mode, offset }) => {
    const sizes = inputs.map((i) => ((i.parameters as { binary_data_size?: unknown } | null)?.binary_data_size));
    const declared = sizes.reduce((n: number, s) => n + (typeof s === 'number' && Number.isInteger(s) && s >= 0 && s < 4096 ? s : 0), 0);
    const length = mode === 'consistent' ? declared : mode === 'short' ? Math.max(0, declared - 1) : mode === 'long' ? declared + 1 : tail.byteLength;
    return fc.uint8Array({ minLength: length, maxLength: length }).map((bytes) => {
      const body = mode === 'random' ? tail : bytes;
      const header = JSON.stringify({ ...(extra ?? {}), inputs });
      return { header, binary: body, offset };
    });
  });

export interface RawBinaryCall {
  /** The model's one input (server side: always a valid signature). */
  signature: { name: string; datatype: (typeof DATATYPES)[number]; dims: number[] }[];
  batched: boolean;
  body: Uint8Array;
}

/** Raw binary calls (Inference-Header-Content-Length: 0) against random valid signatures. */
export const rawBinaryCall: fc.Arbitrary<RawBinaryCall> = fc.record({
  signature: fc.array(fc.record({ name: fc.constant('x'), datatype: fc.constantFrom(...DATATYPES), dims: fc.array(fc.constantFrom(-1, 1, 2, 3, 5), { maxLength: 3 }) }), { minLength: 1, maxLength: 2 }),
  batched: fc.boolean(),
  body: fc.oneof(fc.uint8Array({ maxLength: 160 }), fc.nat(40).map((n) => new Uint8Array(n * 4))),
});

/** One binary-surface input: an extension call or a raw one. */
export type BinaryInput = { kind: 'extension'; call: BinaryCall } | { kind: 'raw'; call: RawBinaryCall };

export const binaryInputs: fc.Arbitrary<BinaryInput> = fc.oneof(
  { weight: 3, arbitrary: oipBinaryCall.map((call) => ({ kind: 'extension' as const, call })) },
  { weight: 1, arbitrary: rawBinaryCall.map((call) => ({ kind: 'raw' as const, call })) },
);

/** The /v2/ws header fields around an OIP request. */
const wsHeader: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    oipRequestObject,
    fc.record(
      {
        id: fc.oneof({ weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 16 }) }, { weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(257), 1, 1.5, NaN, null, true) }),
        model_name: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('weather', 'text-direction', 'nope') }, { weight: 1, arbitrary: hostile(0) }),
        model_version: fc.oneof(fc.constantFrom('1', '', '2', 1), hostile(0)),
        type: fc.oneof({ weight: 6, arbitrary: fc.constant('infer') }, { weight: 1, arbitrary: fc.constantFrom('feedback', 'other') }, { weight: 1, arbitrary: hostile(0) }),
      },
      { requiredKeys: [] },
    ),
  )
  .map(([request, fields]) => ({ ...request, ...fields }));

export interface WsFrame {
  binary: boolean;
  bytes: Uint8Array;
}

function withPrefix(length: number, header: Uint8Array, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + header.byteLength + tail.byteLength);
  new DataView(out.buffer).setUint32(0, length, true);
  out.set(header, 4);
  out.set(tail, 4 + header.byteLength);
  return out;
}

/** /v2/ws messages: text frames, and binary frames whose length prefix is right or lies. */
export const wsFrames: fc.Arbitrary<WsFrame> = fc.oneof(
  { weight: 4, arbitrary: wsHeader.map((h) => ({ binary: false, bytes: Buffer.from(JSON.stringify(h)) })) },
  { weight: 1, arbitrary: corruptText(wsHeader.map((h) => JSON.stringify(h))).map((s) => ({ binary: false, bytes: Buffer.from(s) })) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 2 }).map((s) => ({ binary: false, bytes: Buffer.from(s) })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ binary: false, bytes })) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(wsHeader, oipBinaryCall, fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat() }, { weight: 1, arbitrary: fc.constant(0) }))
      .map(([h, call, lie]) => {
        const header = Buffer.from(JSON.stringify({ ...h, inputs: JSON.parse(call.header as string).inputs }));
        return { binary: true, bytes: withPrefix(lie ?? header.byteLength, header, call.binary) };
      }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ binary: true, bytes })) },
);
