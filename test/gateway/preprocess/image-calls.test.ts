// Encoded images sent to text-direction through the gateway (WebSocket and HTTP, binary and JSON):
// upright text and the same text rotated 180 degrees get opposite labels, and every broken image
// gets a 400 naming what was wrong.
import t from 'tap';
import { SluiceWsClient, WsCallError, type InferResult } from '../../../gateway/client/index.js';
import { binaryRequest, copyModels, readBinaryResponse, startTestGateway } from '../gateway-harness.js';
import { corrupted, pngBomb, rotated180, textLine, truncated } from './images.js';

const LABELS = ['0', '180'];

function labelsOf(probs: ArrayLike<number>): string[] {
  const out: string[] = [];
  for (let i = 0; i < probs.length; i += 2) out.push(LABELS[Number(probs[i]!) >= Number(probs[i + 1]!) ? 0 : 1]!);
  return out;
}

function probsOf(r: InferResult): ArrayLike<number> {
  return r.outputs.find((o) => o.name === 'softmax_0.tmp_0')!.data as ArrayLike<number>;
}

async function badImages(): Promise<[string, Buffer, string, RegExp][]> {
  const png = await textLine('broken image', 'png');
  return [
    ['zero bytes', Buffer.alloc(0), 'SLUICE_E_IMAGE_BAD', /is empty \(0 bytes\)/],
    ['not an image', Buffer.from('%PDF-1.7 this is a document'), 'SLUICE_E_IMAGE_BAD', /not a JPEG, PNG or WebP image/],
    ['truncated', truncated(png, 0.5), 'SLUICE_E_IMAGE_BAD', /png data is corrupt or truncated|png header is unreadable/],
    ['corrupt', corrupted(png, 12), 'SLUICE_E_IMAGE_BAD', /png/],
    ['decompression bomb', await pngBomb(100_000, 100_000), 'SLUICE_E_IMAGE_TOO_LARGE', /100000x100000 pixels exceeds the limit/],
  ];
}

t.test('image calls on text-direction', async (t) => {
  const models = copyModels(t, ['text-direction', 'weather']);
  const gw = await startTestGateway(t, models, {});
  const client = await SluiceWsClient.connect(gw.url);
  t.teardown(() => client.close());
  const upright = await textLine('Sluice reads this line', 'png');
  const flipped = await rotated180(upright);
  const jpeg = await textLine('Another line of text', 'jpeg');
  const jpegFlipped = await rotated180(jpeg);

  t.test('over WebSocket binary frames: upright and rotated images in one call get 0 and 180', async (t) => {
    const r = await client.infer('text-direction', {
      inputs: [{ name: 'image', datatype: 'BYTES', shape: [4], data: [upright, flipped, jpeg, jpegFlipped] }],
    }, { binary: true });
    t.same(r.outputs[0]!.shape, [4, 2]);
    t.same(labelsOf(probsOf(r)), ['0', '180', '0', '180']);
  });

  t.test('over WebSocket text frames with base64 images, one call per image', async (t) => {
    const [a, b] = await Promise.all([upright, flipped].map((img) =>
      client.infer('text-direction', { inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [img.toString('base64')] }] })));
    t.same([...labelsOf(probsOf(a!)), ...labelsOf(probsOf(b!))], ['0', '180']);
    const sentAsBytes = await client.infer('text-direction', { inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [jpegFlipped] }] });
    t.same(labelsOf(probsOf(sentAsBytes)), ['180'], 'the client base64-encodes Uint8Array elements in text frames');
    const dataUrl = `data:image/png;base64,${flipped.toString('base64')}`;
    t.same(labelsOf(probsOf(await client.infer('text-direction', { inputs: [{ name: 'image', datatype: 'BYTES', shape: [1, 1], data: [dataUrl] }] }))), ['180']);
  });

  t.test('over HTTP with the binary extension and with JSON base64', async (t) => {
    const lp = (b: Buffer): Buffer => Buffer.concat([Buffer.from(Uint32Array.of(b.length).buffer), b]);
    const req = binaryRequest({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: upright.length + flipped.length + 8 } }] },
      [lp(upright), lp(flipped)]);
    const res = await fetch(`${gw.url}/v2/models/text-direction/infer`, { method: 'POST', headers: req.headers, body: req.body });
    t.equal(res.status, 200);
    const { header } = await readBinaryResponse(res);
    t.same(labelsOf((header.outputs as { data: number[] }[])[0]!.data), ['0', '180']);
    const json = await fetch(`${gw.url}/v2/models/text-direction/infer`, {
      method: 'POST', body: JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [jpegFlipped.toString('base64')] }] }),
    });
    t.same(labelsOf(((await json.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data), ['180']);
  });

  t.test('a raw image/* body is a single-image call', async (t) => {
    const labels: string[] = [];
    for (const [type, body] of [['image/png', upright], ['image/png', flipped], ['image/jpeg', jpeg], ['image/jpeg', jpegFlipped]] as const) {
      const res = await fetch(`${gw.url}/v2/models/text-direction/infer`, { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(body) });
      t.equal(res.status, 200, type);
      const out = ((await res.json()) as { outputs: { shape: number[]; data: number[] }[] }).outputs[0]!;
      t.same(out.shape, [1, 2]);
      labels.push(...labelsOf(out.data));
    }
    t.same(labels, ['0', '180', '0', '180']);
    const versioned = await fetch(`${gw.url}/v2/models/text-direction/versions/1/infer`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(flipped) });
    t.same(labelsOf(((await versioned.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data), ['180']);
  });

  t.test('a raw image body for a model without preprocess gets 415, broken ones 400', async (t) => {
    const res = await fetch(`${gw.url}/v2/models/weather/infer`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(upright) });
    t.equal(res.status, 415);
    t.equal(((await res.json()) as { code: string }).code, 'SLUICE_E_HTTP_UNSUPPORTED_MEDIA_TYPE');
    for (const [what, bytes, code] of await badImages()) {
      const bad = await fetch(`${gw.url}/v2/models/text-direction/infer`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(bytes) });
      t.equal(bad.status, 400, what);
      t.equal(((await bad.json()) as { code: string }).code, code, what);
    }
  });

  t.test('the model input x still takes tensors directly', async (t) => {
    const r = await client.infer('text-direction', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: new Float32Array(3 * 48 * 192) }] }, { binary: true });
    t.same(r.outputs[0]!.shape, [1, 2]);
  });

  t.test('each broken image gets a 400 over WebSocket naming what is wrong, and the connection survives', async (t) => {
    for (const [what, bytes, code, message] of await badImages()) {
      const err = await client.infer('text-direction', { id: what, inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [bytes] }] }, { binary: true })
        .catch((e: unknown) => e);
      t.type(err, WsCallError, what);
      t.match(err, { id: what, code, status: 400, message }, what);
    }
    const mixed = await client.infer('text-direction', { inputs: [{ name: 'image', datatype: 'BYTES', shape: [2], data: [upright, Buffer.from('junk')] }] }, { binary: true })
      .catch((e: unknown) => e);
    t.match(mixed, { code: 'SLUICE_E_IMAGE_BAD', message: /input image\[1\] is not a JPEG/ }, 'the bad element is named');
    t.same(labelsOf(probsOf(await client.infer('text-direction', { inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [flipped] }] }, { binary: true }))), ['180']);
  });

  t.test('each broken image gets a 400 over HTTP with its code', async (t) => {
    for (const [what, bytes, code] of await badImages()) {
      const req = binaryRequest({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: bytes.length + 4 } }] },
        [Buffer.from(Uint32Array.of(bytes.length).buffer), bytes]);
      const res = await fetch(`${gw.url}/v2/models/text-direction/infer`, { method: 'POST', headers: req.headers, body: req.body });
      t.equal(res.status, 400, what);
      t.equal(((await res.json()) as { code: string }).code, code, what);
    }
  });

  t.test('image inputs are checked like any other input', async (t) => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ name: 'image', datatype: 'FP32', shape: [1], data: [1] }, 'SLUICE_E_PROTOCOL_BAD_DATATYPE', /takes encoded images as BYTES/],
      [{ name: 'image', datatype: 'BYTES', shape: [1, 2], data: ['a', 'b'] }, 'SLUICE_E_PROTOCOL_BAD_SHAPE', /\[N\] or \[N,1\]/],
    ];
    for (const [input, code, message] of cases) {
      const err = await client.infer('text-direction', { inputs: [input as never] }).catch((e: unknown) => e);
      t.match(err, { code, message });
    }
    const tooMany = Array.from({ length: 65 }, () => upright);
    t.match(await client.infer('text-direction', { inputs: [{ name: 'image', datatype: 'BYTES', shape: [65], data: tooMany }] }, { binary: true }).catch((e: unknown) => e),
      { code: 'SLUICE_E_PROTOCOL_BAD_SHAPE', message: /batch size 65/ }, 'more images than max_batch_size');
    t.match(await client.infer('weather', { inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [upright] }] }, { binary: true }).catch((e: unknown) => e),
      { code: 'SLUICE_E_PROTOCOL_BAD_INPUT', message: /unexpected input image/ }, 'a model without preprocess takes no images');
  });
});

