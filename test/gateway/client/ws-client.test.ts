// The client's own behaviour against a real uWS server running the /v2/ws endpoint (echo entry).
import t, { type Test } from 'tap';
import uWS from 'uWebSockets.js';
import { registerWsEndpoint, WS_DEFAULTS } from '../../../gateway/server/ws-endpoint.js';
import { SluiceWsClient, WsClosedError } from '../../../gateway/client/index.js';

async function server(t: Test): Promise<string> {
  const app = uWS.App();
  const endpoint = registerWsEndpoint<null>(app, {
    ...WS_DEFAULTS,
    authenticate: () => null,
    infer: async (call, ctx) => {
      await new Promise((r) => setTimeout(r, Number((call.request.parameters as { delay_ms?: number } | undefined)?.delay_ms ?? 0)));
      // Echo the inputs back as outputs, binary when the call was.
      const inputs = (call.request.inputs ?? []) as { name: string; datatype: string; shape: number[]; data?: unknown; parameters?: Record<string, unknown> }[];
      const outputs = inputs.map((i) => ({ name: `${i.name}_out`, datatype: i.datatype, shape: i.shape, ...(ctx.binary ? { parameters: i.parameters } : { data: i.data }) }));
      return { json: JSON.stringify({ model_name: call.model, model_version: call.version ?? '1', outputs }), binary: call.binary ? [call.binary] : [] };
    },
  });
  const listen = await new Promise<uWS.us_listen_socket>((resolve) => app.listen('127.0.0.1', 0, (l) => resolve(l as uWS.us_listen_socket)));
  t.teardown(() => {
    endpoint.closeAll();
    uWS.us_listen_socket_close(listen);
  });
  return `http://127.0.0.1:${uWS.us_socket_local_port(listen as unknown as uWS.us_socket)}`;
}

t.test('binary calls get typed arrays back; text calls get JSON numbers', async (t) => {
  const c = await SluiceWsClient.connect(await server(t));
  t.teardown(() => c.close());
  const f = new Float32Array([1, 2, 3, 4]);
  const b = await c.infer('m', { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: f }, { name: 'y', datatype: 'INT32', shape: [1], data: [9] }] }, { binary: true });
  t.type(b.outputs[0]!.data, Float32Array);
  t.same(Array.from(b.outputs[0]!.data as Float32Array), [1, 2, 3, 4]);
  t.same(Array.from(b.outputs[1]!.data as Int32Array), [9]);
  const j = await c.infer('m', { inputs: [{ name: 'x', datatype: 'FP32', shape: [2], data: new Float32Array([0.5, 1]) }] });
  t.same(j.outputs[0]!.data, [0.5, 1]);
});

t.test('ids are assigned per call, and a caller-chosen id already pending is refused locally', async (t) => {
  const c = await SluiceWsClient.connect(await server(t));
  t.teardown(() => c.close());
  const a = c.infer('m', { inputs: [], parameters: { delay_ms: 50 } });
  const b = c.infer('m', { inputs: [] });
  t.not((await a).id, (await b).id);
  const first = c.infer('m', { id: 'same', inputs: [], parameters: { delay_ms: 50 } });
  await t.rejects(c.infer('m', { id: 'same', inputs: [] }), /already pending/);
  t.equal((await first).id, 'same');
});

t.test('pending calls reject with the close code when the connection closes, later calls at once', async (t) => {
  const c = await SluiceWsClient.connect(await server(t));
  const pending = c.infer('m', { inputs: [], parameters: { delay_ms: 1000 } });
  await c.close(4000);
  const err = await pending.catch((e: unknown) => e);
  t.type(err, WsClosedError);
  t.equal((err as WsClosedError).closeCode, 4000);
  t.equal(c.inFlight, 0);
  await t.rejects(c.infer('m', { inputs: [] }), WsClosedError);
});

t.test('connecting to a closed port rejects', async (t) => {
  const url = await server(t);
  await t.rejects(SluiceWsClient.connect(url.replace(/:\d+$/, ':1')));
});
