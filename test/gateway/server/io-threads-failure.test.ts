// --io-threads when things go wrong or end (the routes themselves: io-threads.test.ts): a thread
// that dies is reported and started again while the others serve, bad flag values are refused
// with a coded error, and a SIGTERM drains through the threads as it does with one.
import t from 'tap';
import { request as httpRequest, Agent } from 'node:http';
import { GatewayMetrics } from '../../../gateway/metrics/metrics.js';
import { readBody, route } from '../../../gateway/server/http-io.js';
import { checkIoThreads, defaultIoThreads, IoThreads } from '../../../gateway/server/io-threads.js';
import { ServingApp } from '../../../gateway/server/uws-app.js';
import { createLogger } from '../../../lib/log.js';
import { isSluiceError } from '../../../lib/errors.js';
import { runSluice } from '../../helpers/cli.js';
import { drainingGateway, KeepAliveConnection } from './drain-harness.js';

const WEATHER = (rows: number[]) => JSON.stringify({ inputs: [{ name: 'features', shape: [rows.length / 5, 5], datatype: 'FP32', data: rows }] });

t.test('a thread that dies is reported, its calls end, the others serve, and it is started again', async (t) => {
  const serving = new ServingApp();
  const metrics = new GatewayMetrics();
  let aborted = 0;
  route(serving.app, 'post', ['/slow'], (call, req) => {
    call.addEventListener('abort', () => aborted++);
    // Calls 0-15 are held 3 s (in flight when the thread dies); later ones answer at once.
    readBody(call, req, { limit: 1024 }).then((b) => setTimeout(() => call.send(200, 'text/plain', `echo ${b.toString()}`), Number(b.toString()) < 100 ? 3000 : 0), (err: unknown) => call.error(err));
  });
  const front = new IoThreads({ serving, threads: 2, logger: createLogger('test', 'silent'), metrics, restartDelayMs: 50 });
  const port = await front.listen('127.0.0.1', 0);
  t.teardown(() => front.close());
  const agent = new Agent({ keepAlive: false });
  const slow = (i: number) => new Promise<string>((resolve) => {
    const req = httpRequest(`http://127.0.0.1:${port}/slow`, { method: 'POST', agent }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve(text));
    });
    req.on('error', () => resolve('failed'));
    req.end(String(i));
  });
  const inFlight = Array.from({ length: 16 }, (_, i) => slow(i));
  // Every call reached the main thread first: a connection still in the dying thread's accept
  // queue is reset by the kernel without the main thread ever hearing of it.
  const relayed = async () => [...(await metrics.render()).body.matchAll(/sluice_io_thread_calls_total\{thread="\d"\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  while ((await relayed()) < 16) await new Promise((r) => setTimeout(r, 10));
  // A message the thread cannot handle (headers that are not a list) throws inside it: a bug, as a crash would be.
  const exited = new Promise((resolve) => front.worker(0)!.once('exit', resolve));
  front.worker(0)!.postMessage([[1, 1, '200 OK', null, 'x', false, false]]);
  await exited;
  const results = await Promise.all(inFlight);
  const failed = results.filter((r) => r === 'failed').length;
  t.ok(failed > 0 && failed < 16, `the dead thread's calls failed (${failed}), the other's were answered`);
  t.equal(aborted, failed, 'the main thread saw each of them as aborted');
  for (const [i, r] of results.entries()) if (r !== 'failed') t.equal(r, `echo ${i}`);
  // Started again on the same port: both threads answer new connections.
  while (front.worker(0) === undefined) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  const rendered = (await metrics.render()).body;
  t.match(rendered, /sluice_io_thread_restarts_total\{thread="0"\} 1/);
  const before = Number(/sluice_io_thread_calls_total\{thread="0"\} (\d+)/.exec(rendered)?.[1] ?? 0);
  // The thread exists before it listens again: until it does, the kernel sends every connection to
  // the other one. Every call is answered meanwhile; within 400 the restarted thread has some.
  const servedBy0 = async () => Number(/sluice_io_thread_calls_total\{thread="0"\} (\d+)/.exec((await metrics.render()).body)?.[1] ?? 0);
  let unanswered = 0;
  let calls = 0;
  while (calls < 400 && (calls < 40 || (await servedBy0()) === before)) {
    if ((await slow(100 + calls)) !== `echo ${100 + calls}`) unanswered++;
    calls++;
  }
  t.equal(unanswered, 0, `every call after the restart is answered (${calls} calls)`);
  t.ok((await servedBy0()) > before, 'the restarted thread serves');
});

t.test('--io-threads: bad values are refused with a coded error; the default follows the core count', async (t) => {
  for (const bad of [0, -1, 1.5, 1000]) {
    const err = (() => {
      try {
        checkIoThreads(bad);
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    t.ok(isSluiceError(err) && err.code === 'SLUICE_E_CONFIG_INVALID' && err.details?.flag === 'io-threads', `${bad} refused`);
  }
  t.equal(defaultIoThreads(2), 1);
  t.equal(defaultIoThreads(4), 2);
  t.equal(defaultIoThreads(16), 2);
  const run = await runSluice(['gateway', '--models', t.testdir(), '--port', '0', '--io-threads', '0']);
  t.not(run.code, 0);
  t.match(run.stderr + run.stdout, /SLUICE_E_CONFIG_INVALID/);
});

t.test('SIGTERM drains through the I/O threads: 503 for new calls (Connection: close), in-flight calls finish, exit 0', async (t) => {
  let kept: KeepAliveConnection | undefined;
  const { gw, url, inFlight, ready } = await drainingGateway(t, ['--io-threads', '2'], async (url) => {
    kept = await KeepAliveConnection.open(url);
    t.equal((await kept.post('/v2/models/weather/infer', WEATHER([0, 1, 2, 3, 4]))).status, 200, 'a call on a kept-alive connection before SIGTERM');
  });
  t.equal(ready, 503, 'not ready while draining');
  const refused = await fetch(`${url}/v2/models/weather/infer`, { method: 'POST', body: WEATHER([0, 1, 2, 3, 4]) });
  t.equal(refused.status, 503);
  t.equal(((await refused.json()) as { code: string }).code, 'SLUICE_E_HTTP_DRAINING');
  const during = await kept!.post('/v2/models/weather/infer', WEATHER([0, 1, 2, 3, 4]));
  t.equal(during.status, 503);
  t.equal(during.headers.connection, 'close', 'the I/O thread passes the drain\'s Connection: close on');
  t.equal(await kept!.ended, 'fin', 'and closes the connection cleanly after the answer');
  const finished = await Promise.all(inFlight);
  t.same(finished.map((r) => r.status), [200, 200], 'in-flight calls finish');
  t.equal(await gw.exited, 0);
});
