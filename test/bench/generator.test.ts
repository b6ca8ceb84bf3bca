// The load generator against real HTTP servers on 127.0.0.1 whose behaviour is known: what it
// counts, and that a slow server's stall shows in open-loop latencies (no coordinated omission).
import t, { type Test } from 'tap';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runLoad } from '../../bench/load/generator.js';
import { generateLoad } from '../../bench/load/spawn-generator.js';
import type { LoadJob } from '../../bench/load/job.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

async function serve(t: Test, handler: Handler): Promise<{ url: string; calls: () => number }> {
  let calls = 0;
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      calls++;
      handler(req, res, Buffer.concat(parts));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls: () => calls };
}

const ok: Handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"outputs":[]}');

function job(url: string, extra: Partial<LoadJob>): LoadJob {
  return { target: url, workload: 'weather-json', variants: 4, mode: 'closed', connections: 4, warmupMs: 100, durationMs: 400, timeoutMs: 5000, ...extra };
}

t.test('closed loop: every counted call is answered, latencies recorded, the body is the OIP call', async (t) => {
  let seen: { path?: string | undefined; type?: string | undefined; body?: unknown } = {};
  const s = await serve(t, (req, res, body) => {
    seen = { path: req.url, type: req.headers['content-type'], body: JSON.parse(body.toString()) };
    ok(req, res, body);
  });
  const r = await runLoad(job(s.url, {}));
  const p = r.phases[0]!;
  t.ok(p.ok > 0, 'calls were answered');
  t.equal(p.sent, p.ok, 'every counted call has an outcome: calls in flight at the end are not counted');
  t.equal(p.latency.count, p.ok);
  t.ok(s.calls() >= p.ok, 'the server saw at least the counted calls (warm-up too)');
  t.same(r.statuses, { '200': p.ok });
  t.equal(seen.path, '/v2/models/weather/infer');
  t.equal(seen.type, 'application/json');
  t.match(seen.body, { inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32' }] });
});

t.test('503 answers count as refused, 504 as expired, other errors as failed with the first one kept', async (t) => {
  let n = 0;
  const s = await serve(t, (_req, res) => {
    n++;
    if (n % 3 === 0) res.writeHead(503, { 'retry-after': '1' }).end('{"error":"queue full"}');
    else if (n % 3 === 1) res.writeHead(504).end('{"error":"deadline passed"}');
    else res.writeHead(400).end('{"error":"bad shape"}');
  });
  const r = await runLoad(job(s.url, { connections: 1 }));
  const p = r.phases[0]!;
  t.equal(p.ok, 0);
  t.ok(p.refused > 0 && p.expired > 0 && p.failed > 0);
  t.equal(p.refused + p.expired + p.failed, p.sent);
  t.equal(p.latency.count, 0, 'only answered calls are in the latency histogram');
  t.match(r.firstFailure, /^400 \{"error":"bad shape"\}/);
});

t.test('a server that never answers makes calls time out at the client deadline', async (t) => {
  const s = await serve(t, () => undefined);
  const r = await runLoad(job(s.url, { connections: 2, warmupMs: 0, durationMs: 600, timeoutMs: 150 }));
  const p = r.phases[0]!;
  t.equal(p.ok, 0);
  t.ok(p.timedOut >= 2, `timed out: ${p.timedOut}`);
});

t.test('open loop sends at the offered rate whatever the server does', async (t) => {
  const s = await serve(t, ok);
  const r = await runLoad(job(s.url, { mode: 'open', connections: 16, warmupMs: 0, durationMs: 1000, phases: [{ rate: 200, durationMs: 1000 }], timelineMs: 250 }));
  const p = r.phases[0]!;
  t.equal(p.sent, 200, 'one call every 5 ms for 1 s');
  t.equal(p.ok + p.refused + p.expired + p.failed + p.timedOut + p.unsent, p.sent, 'every call has an outcome');
  t.equal(r.timeline!.length, 4);
  t.same(r.timeline!.map((b) => b.sent), [50, 50, 50, 50]);
  t.ok(r.clientLag && r.clientLag.p50 >= 0);
});

t.test('open loop measures from the intended time: a server slower than the rate shows its queue in the tail', async (t) => {
  // One connection, 20 ms per call, 100 calls offered in 0.5 s: the last one cannot be answered
  // before 2 s, so its latency from its intended time is at least 1.5 s. A closed-loop client
  // would report ~20 ms for every call and hide the backlog.
  const s = await serve(t, (req, res, body) => setTimeout(() => ok(req, res, body), 20));
  const r = await runLoad(job(s.url, { mode: 'open', connections: 1, warmupMs: 0, durationMs: 500, phases: [{ rate: 200, durationMs: 500 }], timeoutMs: 10_000 }));
  const p = r.phases[0]!;
  t.equal(p.ok, 100);
  t.ok(p.latency.max >= 1500, `max ${p.latency.max} ms`);
  t.ok(p.latency.p50 >= 500, `p50 ${p.latency.p50} ms`);
});

t.test('phases are counted apart (overload, then recovery)', async (t) => {
  const s = await serve(t, ok);
  const r = await runLoad(job(s.url, { mode: 'open', connections: 8, warmupMs: 0, durationMs: 600, phases: [{ rate: 400, durationMs: 300 }, { rate: 100, durationMs: 300 }] }));
  t.same(r.phases.map((p) => p.sent), [120, 30]);
  t.same(r.phases.map((p) => p.rate), [400, 100]);
});

t.test('generateLoad runs the job in child processes and merges their histograms', async (t) => {
  const s = await serve(t, ok);
  const r = await generateLoad(job(s.url, { connections: 4 }), { processes: 2 });
  t.equal(r.connections, 4);
  t.ok(r.phases[0]!.ok > 0);
  t.equal(r.phases[0]!.latency.count, r.phases[0]!.ok);
  t.ok(r.clientCpu > 0, 'the children report their CPU');
});

t.test('over WebSocket, concurrent calls share sockets and are matched to their answers by id', async (t) => {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/v2/ws' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  let sockets = 0;
  let messages = 0;
  let distinct = 0;
  wss.on('connection', (ws) => {
    sockets++;
    const ids = new Set<string>();
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as { id: string; model_name: string };
      messages++;
      if (!ids.has(msg.id)) distinct++;
      ids.add(msg.id);
      // Answer out of order: odd ids a little later than even ones.
      const answer = JSON.stringify({ id: msg.id, model_name: msg.model_name, outputs: [] });
      if (parseInt(msg.id, 16) % 2) setTimeout(() => ws.send(answer), 2);
      else ws.send(answer);
    });
  });
  t.teardown(() => new Promise<void>((r) => {
    for (const c of wss.clients) c.terminate();
    wss.close(() => r());
  }));
  const port = (wss.address() as AddressInfo).port;
  const r = await runLoad(job(`http://127.0.0.1:${port}`, { transport: 'ws', connections: 100 }));
  const p = r.phases[0]!;
  t.ok(p.ok > 100, `answered ${p.ok}`);
  t.equal(p.failed + p.timedOut, 0);
  t.equal(sockets, 2, '100 concurrent calls need two sockets of 64');
  t.equal(distinct, messages, 'every call on a socket had its own id');
});
