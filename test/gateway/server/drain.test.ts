import t from 'tap';
import { startSluice } from '../../helpers/cli.js';
import { binaryRequest, copyModels } from '../gateway-harness.js';

t.test('SIGTERM drains: readiness goes false, new calls get 503, in-flight calls finish, exit 0', async (t) => {
  const models = copyModels(t, ['weather', 'text-detection']);
  const gw = await startSluice(['gateway', '--models', models, '--port', '0', '--drain-timeout-ms', '60000']);
  t.teardown(() => {
    if (gw.proc.exitCode === null) gw.proc.kill('SIGKILL');
  });
  const url = gw.urls[0]!;
  // Large pages keep the detector busy for a while, so the drain has something to wait for.
  const side = 1280;
  const image = new Float32Array(3 * side * side).fill(0.25);
  const req = binaryRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, side, side], parameters: { binary_data_size: image.byteLength } }] }, [image]);
  const inFlight = [0, 1].map(() => fetch(`${url}/v2/models/text-detection/infer`, { method: 'POST', headers: req.headers, body: req.body }));
  for (;;) {
    const metrics = await (await fetch(`${url}/metrics`)).text();
    if (metrics.includes('sluice_inference_in_flight{model="text-detection",version="1"} 2')) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  gw.proc.kill('SIGTERM');
  let ready = 200;
  while (ready === 200) {
    ready = (await fetch(`${url}/v2/health/ready`)).status;
  }
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
  t.same(body.outputs[0]!.shape, [1, 1, side, side]);
  t.equal(await gw.exited, 0);
});
