// A model whose batches kill their worker: backoff after each crash, UNAVAILABLE with the reason
// after CRASH_LOOP.limit crashes, and the other models serve throughout. Before this, every call
// to such a model took a worker down and piscina respawned it, without end.
import { readFileSync, writeFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { CRASH_LOOP } from '../../../gateway/models/loaded-version.js';
import { copyModels, postJson, startTestGateway } from '../gateway-harness.js';

const row = { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], data: [1, 12, 4, 3, 40] }] };

t.test('a model that crashes its worker on every batch backs off, then is marked unavailable; others keep serving', async (t) => {
  const models = copyModels(t, ['weather']);
  cpSync(join(models, 'weather'), join(models, 'crashy'), { recursive: true });
  const config = JSON.parse(readFileSync(join(models, 'crashy', 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(models, 'crashy', 'config.json'), JSON.stringify({ ...config, name: 'crashy' }));
  const gw = await startTestGateway(t, models, { workerThreads: 2, workerPreload: [new URL('./crash-loop-observer.js', import.meta.url).href] });
  const crashy = () => postJson(`${gw.url}/v2/models/crashy/infer`, row);
  const weather = () => postJson(`${gw.url}/v2/models/weather/infer`, row);
  const crashes = async () => Number(/sluice_worker_crashes_total\{model="crashy",version="1"\} (\d+)/.exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1] ?? 0);

  // Called one after the other: each call's batch waits out the backoff of the crash before it.
  const crashedAt: number[] = [];
  for (let n = 1; n <= CRASH_LOOP.limit; n++) {
    const reply = await crashy();
    crashedAt.push(performance.now());
    t.equal(reply.body.code, 'SLUICE_E_WORKER_CRASHED', `call ${n} ran and its worker died`);
    t.equal(await crashes(), n, `${n} worker crash(es) so far`);
  }
  for (let n = 1; n < CRASH_LOOP.limit; n++) {
    const backoff = CRASH_LOOP.backoffMs * 2 ** (n - 1);
    // Measured at the client, after crash n's answer travelled: a fifth of slack for that trip.
    t.ok(crashedAt[n]! - crashedAt[n - 1]! >= backoff * 0.8, `crash ${n + 1} came about ${backoff} ms or more after crash ${n}: the version backed off`);
  }
  const refused = await crashy();
  t.equal(refused.status, 503, `after ${CRASH_LOOP.limit} crashes the version is refused`);
  t.equal(refused.body.code, 'SLUICE_E_MODEL_UNAVAILABLE');
  t.equal((await weather()).status, 200, 'weather serves');

  for (let i = 0; i < 10; i++) {
    const r = await crashy();
    t.equal(r.status, 503);
    t.equal(r.body.code, 'SLUICE_E_MODEL_UNAVAILABLE');
  }
  t.equal(await crashes(), CRASH_LOOP.limit, 'no worker died for the refused calls');
  t.equal(gw.pool.threads.length, 2, 'the pool is whole');

  const unavailable = await crashy();
  t.match(unavailable.body.error, /crashed 3 times/, 'the refusal says why');
  const ready = await fetch(`${gw.url}/v2/models/crashy/versions/1/ready`);
  t.equal(ready.status, 503);
  t.equal(((await ready.json()) as { code: string }).code, 'SLUICE_E_MODEL_UNAVAILABLE', 'readiness says unavailable');
  const metadata = await fetch(`${gw.url}/v2/models/crashy`);
  t.equal(((await metadata.json()) as { code: string }).code, 'SLUICE_E_MODEL_UNAVAILABLE', 'metadata of the routed version says unavailable');
  const index = (await postJson(`${gw.url}/v2/repository/index`, {})).body as unknown as { name: string; state: string; reason?: string }[];
  const entry = index.find((e) => e.name === 'crashy');
  t.equal(entry?.state, 'UNAVAILABLE');
  t.match(entry?.reason, /worker crashed 3 times/);
  t.same(index.find((e) => e.name === 'weather')?.state, 'READY');

  const weatherAfter = await Promise.all(Array.from({ length: 8 }, weather));
  t.same(weatherAfter.map((r) => r.status), new Array(8).fill(200), 'weather keeps serving');

  const reload = await fetch(`${gw.url}/v2/repository/models/crashy/load`, { method: 'POST' });
  t.equal(reload.status, 200, 'loading it again gives it a new start');
  t.equal((await crashy()).body.code, 'SLUICE_E_WORKER_CRASHED', 'the reloaded version runs again (and crashes again)');
});
