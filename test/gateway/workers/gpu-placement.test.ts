// Placement in a running gateway (mocked GPU: a fake nvidia-smi lists two GPUs; this build has no
// CUDA provider, so the sessions fall back to the CPU). Real gateway, real ORT sessions: where the
// versions were placed, that a fallback is not reported as running on a GPU, and that a device_id
// the host lacks fails the load with SLUICE_E_MODEL_DEVICE. The GPU suite (gpu.test.ts) checks the
// same on real GPUs.
import t from 'tap';
import { chmodSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { nvidiaSmiDevices } from '../../../gateway/workers/gpu-devices.js';
import { copyModels, getJson, postJson, startTestGateway } from '../gateway-harness.js';
import { exampleModels } from '../../helpers/paths.js';
import { eventually } from '../../helpers/wait.js';

function twoVersions(t: Parameters<typeof copyModels>[0], extra: Record<string, unknown>): string {
  const root = copyModels(t, ['weather']);
  cpSync(join(root, 'weather', '1'), join(root, 'weather', '2'), { recursive: true });
  const config = JSON.parse(readFileSync(join(exampleModels(), 'weather', 'config.json'), 'utf8')) as Record<string, unknown>;
  delete config.drift;
  writeFileSync(join(root, 'weather', 'config.json'), JSON.stringify({ ...config, version_policy: { all: {} }, ...extra }));
  return root;
}

/** Beside the model repository (a second t.testdir() call would empty the folder). */
function fakeNvidiaSmi(root: string): string {
  const file = join(dirname(root), 'nvidia-smi');
  writeFileSync(file, "#!/bin/sh\nprintf '0, Fake GPU A, 16384, 900\\n1, Fake GPU B, 16384, 100\\n'\n");
  chmodSync(file, 0o755);
  return file;
}

t.test('(mocked GPU: fake nvidia-smi, two GPUs) two CUDA versions with device_id auto are spread over both GPUs', async (t) => {
  const root = twoVersions(t, { execution_providers: ['cuda', 'cpu'] });
  const gw = await startTestGateway(t, root, {
    workerThreads: 1, drift: false, gpus: nvidiaSmiDevices(fakeNvidiaSmi(root)),
  });
  await eventually('both versions ready', async () => [...gw.repository.versions()].filter((v) => v.state === 'READY').length === 2 || undefined);
  const placed = [...gw.repository.versions()].map((v) => [v.version, v.device]).sort();
  t.same(placed, [['1', 1], ['2', 0]], 'one version per GPU: the first on the GPU using less memory, the next on the one with fewer sessions');
  t.same(gw.repository.gpus.devices?.map((d) => d.name), ['Fake GPU A', 'Fake GPU B'], 'the devices nvidia-smi listed');
  const meta = await getJson(`${gw.url}/v2/models/weather/versions/2`);
  const parameters = meta.body.parameters as Record<string, unknown>;
  t.equal(parameters.execution_provider, 'cpu', 'the CUDA session failed here and fell back');
  t.equal(parameters.device_id, undefined, 'a fallback is not reported on a GPU');
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.notMatch(metrics, /sluice_model_device\{/, 'no version runs on a GPU');
  t.match(metrics, /sluice_gpu_memory_used_bytes\{device="1",name="Fake GPU B"\} 104857600/, 'per-device memory from nvidia-smi');
  t.match(metrics, /sluice_gpu_memory_total_bytes\{device="0",name="Fake GPU A"\} 17179869184/);
});

t.test('(mocked GPU: fake nvidia-smi, two GPUs) a device_id the host does not have fails the load with SLUICE_E_MODEL_DEVICE', async (t) => {
  const root = twoVersions(t, { execution_providers: ['cuda', 'cpu'], device_id: 2 });
  const gw = await startTestGateway(t, root, {
    workerThreads: 1, drift: false, gpus: nvidiaSmiDevices(fakeNvidiaSmi(root)),
  });
  const load = await postJson(`${gw.url}/v2/repository/models/weather/load`, {});
  t.equal(load.status, 500);
  t.equal(load.body.code, 'SLUICE_E_MODEL_DEVICE');
  t.equal([...gw.repository.versions()].length, 0, 'nothing half-loaded');
  const call = await postJson(`${gw.url}/v2/models/weather/infer`, { inputs: [{ name: 'features', shape: [1, 5], datatype: 'FP32', data: [0, 28.9, 14.4, 2.1, 200] }] });
  t.not(call.status, 200);
});

t.test('a CPU-only model never asks for the GPUs', async (t) => {
  let asked = 0;
  const gw = await startTestGateway(t, twoVersions(t, {}), {
    workerThreads: 1, drift: false, gpus: { devices: () => { asked++; return Promise.resolve(null); } },
  });
  await eventually('both versions ready', async () => [...gw.repository.versions()].filter((v) => v.state === 'READY').length === 2 || undefined);
  t.equal(asked, 0);
  t.same([...gw.repository.versions()].map((v) => v.device), [undefined, undefined]);
});
