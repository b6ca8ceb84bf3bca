import t from 'tap';
import { drainingGateway, KeepAliveConnection, PAGE_SIDE } from './drain-harness.js';

t.test('SIGTERM drains: readiness goes false, new calls get 503, in-flight calls finish, exit 0', async (t) => {
  const { gw, url, inFlight, ready } = await drainingGateway(t);
  t.equal(ready, 503, 'not ready while draining');
  const refused = await fetch(`${url}/v2/models/weather/infer`, {
    method: 'POST', body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [0, 1, 2, 3, 4] }] }),
  });
  t.equal(refused.status, 503);
  t.equal(((await refused.json()) as { code: string }).code, 'SLUICE_E_HTTP_DRAINING');
  t.equal(refused.headers.get('retry-after'), '1');
  const finished = await Promise.all(inFlight);
  t.same(finished.map((r) => r.status), [200, 200], 'in-flight calls finish');
  const body = (await finished[0]!.json()) as { outputs: { shape: number[] }[] };
  t.same(body.outputs[0]!.shape, [1, 1, PAGE_SIDE, PAGE_SIDE]);
  t.equal(await gw.exited, 0);
});

t.test('a keep-alive connection used during the drain is told Connection: close and closed cleanly; an idle one is closed, not reset', async (t) => {
  const weather = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [0, 1, 2, 3, 4] }] });
  let used: KeepAliveConnection | undefined;
  let idle: KeepAliveConnection | undefined;
  const { gw, inFlight } = await drainingGateway(t, [], async (url) => {
    [used, idle] = await Promise.all([KeepAliveConnection.open(url), KeepAliveConnection.open(url)]);
    const before = await used.post('/v2/models/weather/infer', weather);
    t.equal(before.status, 200, 'a call before SIGTERM is answered');
    t.not(before.headers.connection, 'close', 'and its connection is kept alive');
  });
  const during = await used!.post('/v2/models/weather/infer', weather);
  t.equal(during.status, 503);
  t.equal((JSON.parse(during.body) as { code: string }).code, 'SLUICE_E_HTTP_DRAINING');
  t.equal(during.headers.connection, 'close', 'the drain tells the client to stop reusing the connection');
  t.equal(await used!.ended, 'fin', 'and closes it cleanly after the answer');
  const finished = await Promise.all(inFlight);
  t.same(finished.map((r) => r.status), [200, 200], 'in-flight calls finish');
  t.equal(await gw.exited, 0);
  t.equal(await idle!.ended, 'fin', 'the connection idle through the drain is closed at the exit, not reset');
});
