// The accept queue of the gateway's listening socket (gateway/server/listen-backlog.ts,
// native/listen_backlog.cc), read back from the kernel with `ss` (iproute2): for a listening socket
// its Send-Q column is the backlog the kernel enforces.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { native } from '../../../native/index.js';
import { FULL_BACKLOG, cpuCapacity, listenBacklogFor } from '../../../gateway/server/admission.js';
import { copyModels, startTestGateway } from '../gateway-harness.js';

const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));

/** The backlog of each listening TCP socket on the port, as the kernel reports it. */
function backlogs(port: number): number[] {
  const out = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
  return out.trim().split('\n').filter(Boolean).map((line) => Number(line.trim().split(/\s+/)[2]));
}

function listening(backlog: number): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen({ host: '127.0.0.1', port: 0, backlog }, () => resolve(server));
  });
}

t.test('the addon sets the backlog of a socket already listening, and only on that port', async (t) => {
  const a = await listening(100);
  const b = await listening(100);
  t.teardown(() => { a.close(); b.close(); });
  const portA = (a.address() as { port: number }).port;
  const portB = (b.address() as { port: number }).port;
  t.same(backlogs(portA), [100]);
  t.equal(native().raiseListenBacklog(portA, 1500), 1, 'one socket changed');
  t.same(backlogs(portA), [Math.min(1500, somaxconn)]);
  t.same(backlogs(portB), [100], 'the other port keeps its backlog');
  t.equal(native().raiseListenBacklog(1, 1500), 0, 'no listener on a port: nothing changed');
});

t.test('bad arguments are refused by the addon', async (t) => {
  t.throws(() => (native().raiseListenBacklog as (...a: unknown[]) => number)('80', 10), TypeError);
  t.throws(() => native().raiseListenBacklog(0, 10), RangeError);
  t.throws(() => native().raiseListenBacklog(80, 0), RangeError);
});

t.test('the gateway listens with the accept queue --listen-backlog asks for, not uSockets\' 512', async (t) => {
  const root = copyModels(t, ['weather']);
  const gw = await startTestGateway(t, root);
  t.same(backlogs(gw.port), [Math.min(listenBacklogFor(cpuCapacity()), somaxconn)], 'the default: 4096, scaled down under a CPU quota below one core');
  const small = await startTestGateway(t, root, { budgets: { listenBacklog: 700 } });
  t.same(backlogs(small.port), [700]);
});

t.test('the default accept queue holds about as many connections as the CPU the gateway may use accepts in a given time', async (t) => {
  t.equal(listenBacklogFor(1), FULL_BACKLOG, 'a core or more: 4096');
  t.equal(listenBacklogFor(4), FULL_BACKLOG);
  t.equal(listenBacklogFor(0.5), 2048);
  t.equal(listenBacklogFor(0.25), 1024, 'a quarter-core quota: a quarter of it');
  t.equal(listenBacklogFor(0.01), 128, 'never below 128');
});

t.test('with I/O threads every thread\'s socket gets it', async (t) => {
  const root = copyModels(t, ['weather']);
  const gw = await startTestGateway(t, root, { ioThreads: 2, budgets: { listenBacklog: 900 } });
  t.same(backlogs(gw.port), [900, 900]);
});

t.test('a backlog out of range refuses to start with SLUICE_E_CONFIG_INVALID', async (t) => {
  const root = copyModels(t, ['weather']);
  for (const listenBacklog of [-1, 70_000, 1.5]) {
    await t.rejects(startTestGateway(t, root, { budgets: { listenBacklog } }), { code: 'SLUICE_E_CONFIG_INVALID', details: { flag: 'listen-backlog' } }, `${listenBacklog}`);
  }
});
