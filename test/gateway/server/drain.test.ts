import t from 'tap';
import { drainingGateway, PAGE_SIDE } from './drain-harness.js';

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
