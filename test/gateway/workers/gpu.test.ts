// The GPU suite: runs only where ONNX Runtime can create a CUDA session (a GPU host with
// onnxruntime-node's CUDA provider installed, README "ONNX Runtime on a GPU"); skipped elsewhere
// with the reason. Real gateway, real CUDA sessions: answers match the CPU's, the provider in use
// is cuda, a device that does not exist fails the load under require_provider, and with two GPUs
// or more, versions are placed across them (workers/gpu-devices.ts).
import t from 'tap';
import ort from 'onnxruntime-node';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probeProvider } from '../../../gateway/workers/provider-probe.js';
import { nvidiaSmiDevices } from '../../../gateway/workers/gpu-devices.js';
import { eventually } from '../../helpers/wait.js';
import { copyModels, getJson, postJson, startTestGateway } from '../gateway-harness.js';
import { exampleModels } from '../../helpers/paths.js';

ort.env.logLevel = 'fatal';
const cuda = await probeProvider('cuda');
const devices = await nvidiaSmiDevices().devices();
const skip = cuda.ok ? false : `no CUDA session can be created here (${cuda.error}); this suite runs on a GPU host with onnxruntime-node's CUDA provider`;

const CALL = { inputs: [{ name: 'features', shape: [2, 5], datatype: 'FP32', data: [0, 28.9, 14.4, 2.1, 200, 12.2, 8.3, 2.8, 4.1, 40] }] };

function repository(t: Parameters<typeof copyModels>[0], extra: Record<string, unknown>): string {
  const root = copyModels(t, ['weather']);
  const file = join(root, 'weather', 'config.json');
  const config = JSON.parse(readFileSync(join(exampleModels(), 'weather', 'config.json'), 'utf8')) as Record<string, unknown>;
  delete config.drift;
  writeFileSync(file, JSON.stringify({ ...config, ...extra }));
  return root;
}

t.test('weather on CUDA answers as on the CPU and reports cuda as its provider', { skip }, async (t) => {
  const onGpu = await startTestGateway(t, repository(t, { execution_providers: ['cuda'], require_provider: true }), { workerThreads: 1, drift: false });
  const onCpu = await startTestGateway(t, repository(t, {}), { workerThreads: 1, drift: false });
  const gpu = await postJson(`${onGpu.url}/v2/models/weather/infer`, CALL);
  const cpu = await postJson(`${onCpu.url}/v2/models/weather/infer`, CALL);
  t.equal(gpu.status, 200);
  const outputs = (r: typeof gpu) => r.body.outputs as { name: string; data: number[] }[];
  const probs = (r: typeof gpu) => outputs(r).find((o) => o.name === 'probabilities')!.data;
  probs(gpu).forEach((p, i) => t.ok(Math.abs(p - probs(cpu)[i]!) < 1e-4, `probability ${i} within 1e-4 of the CPU's`));
  t.same(outputs(gpu).find((o) => o.name === 'label')!.data, outputs(cpu).find((o) => o.name === 'label')!.data);
  const meta = await getJson(`${onGpu.url}/v2/models/weather`);
  t.equal((meta.body.parameters as Record<string, unknown>).execution_provider, 'cuda');
  t.equal((meta.body.parameters as Record<string, unknown>).device_id, 0);
  t.match(await (await fetch(`${onGpu.url}/metrics`)).text(), /sluice_model_execution_provider\{model="weather",version="1",provider="cuda"\} 1/);
});

t.test('a device_id past the GPUs present fails the load: SLUICE_E_MODEL_DEVICE where nvidia-smi lists the GPUs, else SLUICE_E_MODEL_PROVIDER', { skip }, async (t) => {
  const gw = await startTestGateway(t, repository(t, { execution_providers: ['cuda'], require_provider: true, device_id: 63 }), { workerThreads: 1, drift: false });
  const load = await postJson(`${gw.url}/v2/repository/models/weather/load`, {});
  t.equal(load.body.code, devices === null ? 'SLUICE_E_MODEL_PROVIDER' : 'SLUICE_E_MODEL_DEVICE');
});

const multi = skip !== false ? skip : (devices?.length ?? 0) < 2 ? `nvidia-smi lists ${devices?.length ?? 'no'} GPU(s); placement across GPUs needs two` : false;

t.test('with several GPUs, versions with device_id auto are spread over them and reported per device', { skip: multi }, async (t) => {
  const root = repository(t, { execution_providers: ['cuda'], require_provider: true, version_policy: { all: {} } });
  cpSync(join(root, 'weather', '1'), join(root, 'weather', '2'), { recursive: true });
  const gw = await startTestGateway(t, root, { workerThreads: 1, drift: false });
  await eventually('both versions ready', async () => [...gw.repository.versions()].filter((v) => v.state === 'READY').length === 2 || undefined);
  const placed = [...gw.repository.versions()].map((v) => v.device).sort();
  t.equal(new Set(placed).size, 2, `two GPUs used (${placed.join(', ')})`);
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  for (const v of gw.repository.versions()) {
    t.match(metrics, new RegExp(`sluice_model_device\\{model="weather",version="${v.version}",device="${v.device}"\\} 1`));
    const meta = await getJson(`${gw.url}/v2/models/weather/versions/${v.version}`);
    const parameters = meta.body.parameters as Record<string, unknown>;
    t.equal(parameters.device_id, v.device);
    t.type(parameters.device_memory_used_mib, 'number', 'memory used on its GPU, from nvidia-smi');
  }
  t.match(metrics, /sluice_gpu_memory_used_bytes\{device="1",/);
});

t.test('an explicit device_id puts the version on that GPU', { skip: multi }, async (t) => {
  const gw = await startTestGateway(t, repository(t, { execution_providers: ['cuda'], require_provider: true, device_id: 1 }), { workerThreads: 1, drift: false });
  await eventually('weather ready', async () => [...gw.repository.versions()].find((v) => v.state === 'READY'));
  const meta = await getJson(`${gw.url}/v2/models/weather`);
  t.equal((meta.body.parameters as Record<string, unknown>).device_id, 1);
  t.match(await (await fetch(`${gw.url}/metrics`)).text(), /sluice_model_device\{model="weather",version="1",device="1"\} 1/);
});
