// The attacks of issue 17 ("budgets that hold") on a real gateway over 127.0.0.1, with raw `net`
// sockets for slow bodies: bodies declaring 64 MiB and trickling a byte at a time, more calls than
// the connection cap, WebSocket calls against the same body budget, a lagging event loop, and
// images past the decode budget. Each one was unbounded before (docs/budgets.md).
import net from 'node:net';
import t from 'tap';
import { SluiceWsClient, WsCallError } from '../../../gateway/client/index.js';
import { admissionOf } from '../../../gateway/server/admission.js';
import { DecodeBudget, imagePlans, imagesToTensor } from '../../../gateway/preprocess/index.js';
import { eventually } from '../../helpers/wait.js';
import { copyModels, startTestGateway, weatherRows } from '../gateway-harness.js';
import { textLine } from '../preprocess/images.js';

const MiB = 1024 * 1024;

interface RawReply {
  status: number;
  headers: Map<string, string>;
  body: { code?: string };
}

/** A request on its own socket whose body is sent by the test, byte by byte if it likes. */
class SlowCall {
  readonly socket: net.Socket;
  readonly reply: Promise<RawReply>;
  /** Resolves when the connection closes (the server closed it, or the test did). */
  readonly closed: Promise<true>;
  answered = false;

  constructor(port: number, path: string, declared: number, first: string) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('error', () => {});
    this.socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n${first}`);
    this.closed = new Promise((resolve) => this.socket.on('close', () => resolve(true)));
    this.reply = new Promise((resolve) => {
      let data = Buffer.alloc(0);
      let reply: RawReply | undefined;
      this.socket.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        const end = data.indexOf('\r\n\r\n');
        if (end < 0 || reply !== undefined) return;
        const [statusLine, ...lines] = data.subarray(0, end).toString().split('\r\n');
        const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        const length = Number(headers.get('content-length') ?? 0);
        if (data.length < end + 4 + length) return;
        reply = { status: Number(statusLine!.split(' ')[1]), headers, body: JSON.parse(data.subarray(end + 4, end + 4 + length).toString() || '{}') };
        this.answered = true;
        resolve(reply);
      });
      this.socket.on('close', () => {
        if (!reply) resolve({ status: 0, headers: new Map(), body: {} });
      });
    });
  }

  send(bytes: string): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }
}

const weatherCall = (): string => JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: Array.from(weatherRows(1, 1)) }] });

t.test('budgets on a gateway serving weather', async (t) => {
  const models = copyModels(t, ['weather']);
  const gw = await startTestGateway(t, models, {
    maxBodyBytes: 64 * MiB,
    // Lag shedding is its own test below: a test process shares its event loop with its gateway.
    budgets: { bodyBudgetBytes: 160 * MiB, bodyTimeoutMs: 1000, maxConnections: 12, maxEventLoopLagMs: 0 },
  });
  const admission = admissionOf(gw.app)!;
  const infer = `${gw.url}/v2/models/weather/infer`;

  t.test('slow bodies declaring 64 MiB: past the budget refused at once, the rest cut off at the deadline', async (t) => {
    const before = process.memoryUsage().arrayBuffers;
    const calls = Array.from({ length: 8 }, () => new SlowCall(gw.port, '/v2/models/weather/infer', 64 * MiB, '{'));
    // 7/8 of 160 MiB holds two 64 MiB bodies: the other six are refused before a byte is read.
    await eventually('six refusals', async () => (calls.filter((c) => c.answered).length >= 6 ? true : undefined), 20_000);
    const refused = calls.filter((c) => c.answered);
    const admitted = calls.filter((c) => !c.answered);
    t.equal(refused.length, 6);
    for (const c of refused) {
      const r = await c.reply;
      t.equal(r.status, 503);
      t.equal(r.body.code, 'SLUICE_E_BUDGET_BODY_BUSY');
      t.equal(r.headers.get('retry-after'), '1');
      t.ok(await c.closed, 'the connection is closed (its body is still on the wire)');
    }
    t.equal(admission.bodies.reserved, 128 * MiB, 'the two admitted bodies hold their declared length in the budget');
    const grown = process.memoryUsage().arrayBuffers - before;
    t.ok(grown < 16 * MiB, `buffers hold what arrived, not what was declared (${(grown / MiB).toFixed(1)} MiB for 8 x 64 MiB declared)`);
    // A small call still gets through: large bodies cannot take the last eighth.
    const ok = await fetch(infer, { method: 'POST', body: weatherCall() });
    t.equal(ok.status, 200, 'a small call is served while the budget is held');
    // A byte every 100 ms: uWS's idle timer would never fire; the body deadline does.
    const trickle = setInterval(() => admitted.forEach((c) => c.send(' ')), 100);
    const replies = await Promise.all(admitted.map((c) => c.reply));
    clearInterval(trickle);
    t.same(replies.map((r) => [r.status, r.body.code]), [[408, 'SLUICE_E_BUDGET_BODY_TIMEOUT'], [408, 'SLUICE_E_BUDGET_BODY_TIMEOUT']]);
    t.same(await Promise.all(admitted.map((c) => c.closed)), [true, true], 'and their connections closed');
    t.equal(admission.bodies.reserved, 0, 'the budget is whole again');
    t.equal(admission.open, 0, 'no call is left open');
    t.same({ ...admission.refused }, { overloaded: 0, connections: 0, body_budget: 6, body_timeout: 2 });
  });

  t.test('past the connection cap a call gets 503 and a closed connection; health still answers', async (t) => {
    const held = Array.from({ length: 12 }, () => new SlowCall(gw.port, '/v2/models/weather/infer', Buffer.byteLength(weatherCall()), '{'));
    await eventually('twelve open calls', async () => (admission.open === 12 ? true : undefined), 20_000);
    const extra = new SlowCall(gw.port, '/v2/models/weather/infer', Buffer.byteLength(weatherCall()), weatherCall());
    const r = await extra.reply;
    t.equal(r.status, 503);
    t.equal(r.body.code, 'SLUICE_E_BUDGET_CONNECTIONS');
    t.equal(r.headers.get('retry-after'), '1');
    t.ok(await extra.closed);
    t.equal((await fetch(`${gw.url}/v2/health/live`)).status, 200, 'health is not capped');
    // The held calls were admitted: they are served once their bodies arrive.
    for (const c of held) c.send(weatherCall().slice(1));
    const replies = await Promise.all(held.map((c) => c.reply.then((x) => x.status)));
    t.same(replies, Array(12).fill(200));
    for (const c of held) c.socket.destroy();
    await eventually('no open call', async () => (admission.open === 0 ? true : undefined), 10_000);
    t.equal((await fetch(infer, { method: 'POST', body: weatherCall() })).status, 200);
  });
});

t.test('WebSocket calls count in the same body budget as HTTP bodies', async (t) => {
  const models = copyModels(t, ['weather']);
  const gw = await startTestGateway(t, models, { maxBodyBytes: 64 * MiB, budgets: { bodyBudgetBytes: 160 * MiB, maxEventLoopLagMs: 0 } });
  const admission = admissionOf(gw.app)!;
  const client = await SluiceWsClient.connect(gw.url);
  t.teardown(() => client.close());
  const slow = [0, 1].map(() => new SlowCall(gw.port, '/v2/models/weather/infer', 64 * MiB, '{'));
  await eventually('two held bodies', async () => (admission.bodies.reserved === 128 * MiB ? true : undefined), 20_000);
  const big = { inputs: [{ name: 'features', datatype: 'FP32' as const, shape: [1, 5], data: Array.from(weatherRows(1, 2)) }], parameters: { note: 'x'.repeat(13 * MiB) } };
  const refused = await client.infer('weather', big).then(() => undefined, (err: unknown) => err as WsCallError);
  t.equal(refused?.code, 'SLUICE_E_BUDGET_BODY_BUSY', '13 MiB more would pass the large share of the budget');
  t.equal(refused?.status, 503);
  const small = await client.infer('weather', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: Array.from(weatherRows(1, 3)) }] });
  t.equal(small.outputs.length, 2, 'small calls on the same connection are served');
  // The slow clients go away: an aborted call gives its reservation back.
  for (const c of slow) c.socket.destroy();
  await eventually('the budget free', async () => (admission.bodies.reserved === 0 ? true : undefined), 10_000);
  const after = await client.infer('weather', big);
  t.equal(after.outputs.length, 2, 'with the budget free again the same call is served');
  t.equal(admission.bodies.reserved, 0, 'an answered WebSocket call gives its bytes back');
});

t.test('a lagging event loop sheds new calls before their body is parsed, and recovers', async (t) => {
  const models = copyModels(t, ['weather']);
  // minBusy 0: on a machine loaded by others this process may get little CPU while it busy-waits,
  // and lag without CPU is not shed (admission.test.ts checks that rule with a fake clock).
  const gw = await startTestGateway(t, models, { budgets: { maxEventLoopLagMs: 100, minBusy: 0 } });
  const busy = (ms: number): void => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };
  const badJson = (): SlowCall => new SlowCall(gw.port, '/v2/models/weather/infer', 9, '{not json');
  // Two turns of the loop of 300 ms each, the call arriving during the second: the tick before
  // the call is read has seen both late.
  const shed = await new Promise<SlowCall>((resolve) => {
    setImmediate(() => {
      busy(300);
      setImmediate(() => {
        const call = badJson();
        busy(300);
        resolve(call);
      });
    });
  });
  const r = await shed.reply;
  t.equal(r.status, 503);
  t.equal(r.body.code, 'SLUICE_E_BUDGET_OVERLOADED', 'refused before its body was parsed');
  t.equal(r.headers.get('retry-after'), '1');
  shed.socket.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const again = await badJson().reply;
  t.equal(again.body.code, 'SLUICE_E_HTTP_BAD_JSON', 'once the loop keeps time calls are read again');
  t.equal(admissionOf(gw.app)!.refused.overloaded, 1);
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /sluice_front_refused_total\{reason="overloaded"\} 1/);
  t.match(metrics, /^sluice_front_admitted_share 1$/m, 'an idle gateway on time admits every new call again');
});

t.test('image decoding: pixels per request, and concurrent decodes past the budget', async (t) => {
  const png = await textLine('Sluice budget line', 'png'); // 352x64 = 22,528 pixels
  const models = copyModels(t, ['text-direction']);
  const gw = await startTestGateway(t, models, { budgets: { maxPixelsPerRequest: 50_000, maxEventLoopLagMs: 0 } });
  const client = await SluiceWsClient.connect(gw.url);
  t.teardown(() => client.close());
  const two = await client.infer('text-direction', { inputs: [{ name: 'image', datatype: 'BYTES', shape: [2], data: [png, png] }] }, { binary: true });
  t.same(two.outputs[0]!.shape, [2, 2], 'two images (45,056 pixels) decode');
  const three = await client.infer('text-direction', { inputs: [{ name: 'image', datatype: 'BYTES', shape: [3], data: [png, png, png] }] }, { binary: true })
    .then(() => undefined, (err: unknown) => err as WsCallError);
  t.equal(three?.code, 'SLUICE_E_BUDGET_PIXELS', 'three (67,584 pixels) are refused from their headers');
  t.equal(three?.status, 413);

  const plan = imagePlans(gw.repository.model('text-direction')!.versions.get('1')!.config, gw.repository.model('text-direction')!.versions.get('1')!.inputs).get('image')!;
  const budget = new DecodeBudget(2, 10_000_000);
  const held = budget.acquire(2);
  await t.rejects(imagesToTensor([png], plan, budget), { code: 'SLUICE_E_BUDGET_DECODE_BUSY' }, 'no decode slot free: refused, not queued');
  budget.release(held);
  const tensor = await imagesToTensor([png, png, png], plan, budget);
  t.same(tensor.shape.slice(0, 1), [3], 'three images decode on the two slots');
  t.equal(budget.running, 0, 'and give them back');
});
