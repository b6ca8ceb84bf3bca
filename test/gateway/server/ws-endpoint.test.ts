// The /v2/ws endpoint's framing, pacing and limits on a real uWS server, with an inference entry
// that answers from the request itself (delay_ms, answer_bytes parameters) so each limit can be
// reached on purpose. The endpoint against the real gateway and ORT: ws-extension.test.ts.
import t, { type Test } from 'tap';
import uWS from 'uWebSockets.js';
import WebSocket from 'ws';
import { registerWsEndpoint, WS_DEFAULTS, type WsAnswer, type WsEndpointOptions } from '../../../gateway/server/ws-endpoint.js';
import { encodeBinaryFrame, type WsCall } from '../../../gateway/server/ws-frame-codec.js';
import { SluiceWsClient, WsCallError, WsClosedError } from '../../../gateway/client/index.js';
import { SluiceError } from '../../../lib/errors.js';
import { Batcher, type CancelSignal } from '../../../gateway/batching/batcher.js';
import type { WsPendingCall } from '../../../gateway/server/ws-connection.js';

interface Started {
  url: string;
  events: { type: string; code?: number; reason?: string }[];
  calls: WsCall[];
}

async function answerFor(call: WsCall, binary: boolean, signal: CancelSignal): Promise<WsAnswer> {
  const p = (call.request.parameters ?? {}) as { delay_ms?: number; answer_bytes?: number; fail?: string };
  if (p.delay_ms) await new Promise((r) => setTimeout(r, p.delay_ms));
  if (signal.aborted) throw new SluiceError('SLUICE_E_BATCH_CANCELLED', 'connection closed');
  if (p.fail) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `model ${p.fail} not found`);
  const pad = 'x'.repeat(p.answer_bytes ?? 0);
  const json = JSON.stringify({ model_name: call.model, model_version: call.version ?? '1', outputs: [], parameters: { pad } });
  return binary ? { json, binary: call.binary ? [call.binary] : [] } : { json };
}

async function start(t: Test, overrides: Partial<WsEndpointOptions<string>> = {}): Promise<Started> {
  const app = uWS.App();
  const events: Started['events'] = [];
  const calls: WsCall[] = [];
  const endpoint = registerWsEndpoint<string>(app, {
    ...WS_DEFAULTS,
    authenticate: (headers) => {
      if (headers.get('authorization') === 'Bearer wrong') throw new SluiceError('SLUICE_E_AUTH_INVALID', 'token not recognised');
      return headers.get('authorization') ?? 'anonymous';
    },
    infer: (call, ctx) => {
      calls.push(call);
      return answerFor(call, ctx.binary, ctx.signal);
    },
    onEvent: (e) => events.push(e),
    ...overrides,
  });
  const listen = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('listen failed')))));
  t.teardown(() => {
    endpoint.closeAll();
    uWS.us_listen_socket_close(listen);
  });
  return { url: `http://127.0.0.1:${uWS.us_socket_local_port(listen as unknown as uWS.us_socket)}`, events, calls };
}

async function client(t: Test, url: string): Promise<SluiceWsClient> {
  const c = await SluiceWsClient.connect(url);
  t.teardown(() => c.close());
  return c;
}

function nextMessage(c: SluiceWsClient): Promise<Record<string, unknown>> {
  return new Promise((resolve) => c.socket.once('message', (d: Buffer) => resolve(JSON.parse(d.toString()) as Record<string, unknown>)));
}

function closed(c: SluiceWsClient): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => c.socket.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
}

t.test('answers come back as each call finishes, not in the order sent', async (t) => {
  const s = await start(t);
  const c = await client(t, s.url);
  const order: string[] = [];
  const calls = [300, 150, 0].map((delay, i) =>
    c.infer('m', { id: `c${i}`, inputs: [], parameters: { delay_ms: delay } }).then((r) => order.push(r.id)));
  await Promise.all(calls);
  t.same(order, ['c2', 'c1', 'c0']);
});

t.test('the answer to a binary frame is a binary frame with the call\'s id and bytes', async (t) => {
  const s = await start(t);
  const c = await client(t, s.url);
  const r = await c.infer('m', { inputs: [{ name: 'x', datatype: 'FP32', shape: [2], data: new Float32Array([0.25, 8]) }] }, { binary: true, version: '3' });
  t.equal(r.model_version, '3');
  t.equal(s.calls[0]!.binary!.byteLength, 8);
  t.same(Array.from(new Float32Array(s.calls[0]!.binary!.buffer, 0, 2)), [0.25, 8]);
  t.same(s.calls[0]!.request.inputs, [{ name: 'x', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } }]);
});

t.test('a failed call answers with its id, code and status and the connection stays usable', async (t) => {
  const s = await start(t);
  const c = await client(t, s.url);
  const err = await c.infer('m', { id: 'f1', inputs: [], parameters: { fail: 'ghost' } }).catch((e: unknown) => e);
  t.type(err, WsCallError);
  t.match(err, { id: 'f1', code: 'SLUICE_E_MODEL_NOT_FOUND', status: 404, message: 'model ghost not found' });
  t.equal((await c.infer('m', { id: 'ok', inputs: [] })).id, 'ok');
});

t.test('every malformed request gets an error message (with the id when it has one) and the connection survives', async (t) => {
  const s = await start(t);
  const c = await client(t, s.url);
  const bad: [string | Uint8Array, unknown, RegExp][] = [
    ['this is not json', null, /not valid JSON/],
    ['"a string"', null, /must be a JSON object/],
    ['{"model_name":"m"}', null, /has no id/],
    ['{"id":"k1"}', 'k1', /model_name must be/],
    ['{"id":"k2","model_name":"m","model_version":{}}', 'k2', /model_version must be a string/],
    [encodeBinaryFrame('{"id":"k3","model_name":', []), null, /not valid JSON/],
    [encodeBinaryFrame('{"id":"k4"}', [new Uint8Array(4)]), 'k4', /model_name must be/],
  ];
  for (const [frame, id, message] of bad) {
    const reply = nextMessage(c);
    c.sendRaw(frame);
    const m = await reply;
    t.equal(m.id, id);
    t.equal(m.code, 'SLUICE_E_WS_BAD_FRAME');
    t.equal(m.status, 400);
    t.match(m.error, message);
  }
  t.equal((await c.infer('m', { id: 'after', inputs: [] })).id, 'after', 'still serving calls');
  t.equal(s.calls.length, 1, 'no malformed request reached the inference entry');
});

t.test('a binary frame with unparseable framing closes the connection with 1002 and a reason', async (t) => {
  for (const frame of [new Uint8Array([1, 2]), encodeBinaryFrame('{}', []).subarray(0, 5)]) {
    const s = await start(t);
    const c = await client(t, s.url);
    const pending = c.infer('m', { inputs: [], parameters: { delay_ms: 200 } });
    const done = closed(c);
    c.sendRaw(frame, true);
    const { code, reason } = await done;
    t.equal(code, 1002);
    t.match(reason, /binary frame/);
    const err = await pending.catch((e: unknown) => e);
    t.type(err, WsClosedError, 'the pending call learns the connection closed');
    t.equal((err as WsClosedError).closeCode, 1002);
  }
});

t.test('a message over the size limit closes the connection with 1009 and the sizes', async (t) => {
  const s = await start(t, { maxMessageBytes: 1024 });
  const c = await client(t, s.url);
  const done = closed(c);
  c.sendRaw(JSON.stringify({ id: 'big', model_name: 'm', inputs: [], pad: 'y'.repeat(1500) }));
  const { code, reason } = await done;
  t.equal(code, 1009);
  t.match(reason, /message of 15\d\d bytes exceeds the limit of 1024/);
  t.equal(s.calls.length, 0);
});

t.test('a message far over the size limit is cut off by uWS before it is buffered', async (t) => {
  const s = await start(t, { maxMessageBytes: 1024 });
  const c = await client(t, s.url);
  const done = closed(c);
  c.sendRaw(encodeBinaryFrame('{"id":"huge","model_name":"m"}', [new Uint8Array(1024 * 1024)]));
  t.equal((await done).code, 1006, 'no close frame: uWS drops the socket');
  t.equal(s.calls.length, 0);
});

t.test('calls past the in-flight limit are refused one by one with 429 while the others complete', async (t) => {
  const s = await start(t, { maxInFlight: 4 });
  const c = await client(t, s.url);
  const results = await Promise.allSettled(
    Array.from({ length: 6 }, (_, i) => c.infer('m', { id: `n${i}`, inputs: [], parameters: { delay_ms: 100 } })));
  t.same(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected']);
  t.match((results[4] as PromiseRejectedResult).reason, { id: 'n4', code: 'SLUICE_E_WS_TOO_MANY_IN_FLIGHT', status: 429 });
  t.equal((await c.infer('m', { id: 'later', inputs: [] })).id, 'later', 'accepted again once answers went out');
});

t.test('1,000 concurrent calls on one connection are all answered', async (t) => {
  const s = await start(t);
  const c = await client(t, s.url);
  const ids = await Promise.all(Array.from({ length: 1000 }, (_, i) =>
    c.infer('m', { id: `p${i}`, inputs: [], parameters: { delay_ms: (i * 7) % 50 } }).then((r) => r.id)));
  t.equal(new Set(ids).size, 1000);
  t.equal(c.inFlight, 0);
});

t.test('a client that stops reading but keeps sending is closed with 1008 "slow reader", not buffered for', async (t) => {
  const s = await start(t, { maxInFlight: 16, pauseBufferedBytes: 64 * 1024, maxBufferedBytes: 256 * 1024 });
  const c = await client(t, s.url);
  c.socket.pause();
  const done = closed(c);
  // 400 answers of 200 KB = 80 MB: far more than the kernel's socket buffers take, so the gateway
  // holds calls, reaches the in-flight limit while nothing is read, and gives up on the client.
  const calls = Array.from({ length: 400 }, (_, i) => c.infer('m', { id: `s${i}`, inputs: [], parameters: { answer_bytes: 200_000 } }).catch((e: unknown) => e));
  // Resume reading only once the gateway gave up on this client, so the outcome does not depend on timing.
  while (!s.events.some((e) => e.type === 'slow-reader')) await new Promise((r) => setTimeout(r, 20));
  c.socket.resume();
  const { code, reason } = await done;
  t.equal(code, 1008);
  t.match(reason, /^slow reader: 16 calls waiting, \d+ bytes of answers unsent$/);
  const outcomes = await Promise.all(calls);
  t.ok(outcomes.some((o) => o instanceof WsClosedError), 'calls not answered before the close reject with it');
  t.ok(s.events.some((e) => e.type === 'slow-reader'));
  const fresh = await client(t, s.url);
  t.equal((await fresh.infer('m', { id: 'next', inputs: [] })).id, 'next', 'the gateway still serves other connections');
});

t.test('calls wait while answers are unread past the pause threshold, so a late reader still gets every answer', async (t) => {
  const s = await start(t, { pauseBufferedBytes: 64 * 1024, maxBufferedBytes: 1024 * 1024 });
  const c = await client(t, s.url);
  c.socket.pause();
  const calls = Array.from({ length: 200 }, (_, i) => c.infer('m', { id: `r${i}`, inputs: [], parameters: { answer_bytes: 50_000 } }));
  await new Promise((r) => setTimeout(r, 300));
  c.socket.resume();
  const answers = await Promise.all(calls);
  t.equal(answers.length, 200, '10 MB of answers paced by drain through a 1 MB limit');
  t.notOk(s.events.some((e) => e.type === 'slow-reader'));
});

t.test('the upgrade runs the same authentication: a refused token gets 401 and no connection', async (t) => {
  const s = await start(t);
  const err = await SluiceWsClient.connect(s.url, { token: 'wrong' }).catch((e: unknown) => e);
  t.match(err, { message: /upgrade refused: HTTP 401/ });
  const c = await SluiceWsClient.connect(s.url, { token: 'fine' });
  t.teardown(() => c.close());
  await c.infer('m', { inputs: [] });
  t.equal(s.calls.length, 1);
});

t.test('closing the endpoint ends connections with 1001 going away', async (t) => {
  const app = uWS.App();
  const endpoint = registerWsEndpoint<string>(app, { ...WS_DEFAULTS, authenticate: () => 'x', infer: (call, ctx) => answerFor(call, ctx.binary, ctx.signal) });
  const listen = await new Promise<uWS.us_listen_socket>((resolve) => app.listen('127.0.0.1', 0, (l) => resolve(l as uWS.us_listen_socket)));
  const port = uWS.us_socket_local_port(listen as unknown as uWS.us_socket);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v2/ws`);
  await new Promise((r) => ws.once('open', r));
  t.equal(endpoint.connections, 1);
  const done = new Promise<number>((r) => ws.once('close', (code: number) => r(code)));
  endpoint.closeAll();
  uWS.us_listen_socket_close(listen);
  t.equal(await done, 1001);
  t.equal(endpoint.connections, 0);
});

t.test('1,000 calls in flight on one connection each carry their own cancel handle', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  // A real batcher that runs one request at a time and holds it until the test releases it.
  const releases: (() => void)[] = [];
  const batcher = new Batcher<string, string>({
    maxBatchSize: 1, maxQueueDelayUs: 0, preferredBatchSizes: [], maxQueueSize: 2000,
    priorityLevels: 1, defaultPriorityLevel: 1, defaultTimeoutUs: 0, instances: 1,
  }, (batch) => new Promise((resolve) => releases.push(() => resolve(batch.map(() => 'ok')))));
  const handles: WsPendingCall[] = [];
  const s = await start(t, {
    infer: async (call, ctx) => {
      handles.push(ctx.signal as WsPendingCall);
      await batcher.enqueue(call.id!, { rows: 1, shapeKey: '', signal: ctx.signal });
      return { json: '{}' };
    },
  });
  const c = await SluiceWsClient.connect(s.url);
  const calls = Array.from({ length: 1000 }, (_, i) => c.infer('m', { id: `q${i}`, inputs: [] }).then(() => 'answered', () => 'failed'));
  while (batcher.queueDepth < 999) await new Promise((r) => setTimeout(r, 10));
  t.equal(new Set(handles).size, 1000, 'one handle per call, none shared');
  t.same(new Set(handles.map((h) => h.listenerCount)), new Set([1]), 'each handle holds only its own call\'s listener');
  // Answering one call removes its listener from its own handle; the other 999 are not searched.
  releases.shift()!();
  t.equal(await calls[0], 'answered');
  t.equal(handles[0]!.listenerCount, 0, 'the answered call let go of its listener');
  t.equal(handles.filter((h) => h.listenerCount === 1).length, 999, 'the others keep theirs');
  // The client leaves: every queued call is cancelled through its own handle, once.
  c.close();
  while (batcher.queueDepth > 0) await new Promise((r) => setTimeout(r, 10));
  t.ok(handles.slice(2).every((h) => h.aborted && h.listenerCount === 0), 'every queued call was aborted and let go');
  releases.shift()?.();
  await new Promise((r) => setImmediate(r));
  t.same(warnings.map((w) => w.name), [], 'no MaxListenersExceededWarning or any other warning');
});
