// GPU discovery and placement, without a GPU: placement is a pure function checked on given device
// lists, and discovery runs a fake `nvidia-smi` script put on PATH (mocked GPU: no GPU here).
import t from 'tap';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GpuInventory, fixedDevices, nvidiaSmiDevices, parseGpuQuery, placeVersion, type GpuDevice, type PlacedVersion,
} from '../../../gateway/workers/gpu-devices.js';

const TWO_GPUS = '0, NVIDIA A100-SXM4-40GB, 40960, 1200\n1, NVIDIA A100-SXM4-40GB, 40960, 300\n';

function gpu(index: number, used: number | null = 0): GpuDevice {
  return { index, name: 'GPU', memoryTotalMiB: 16_384, memoryUsedMiB: used };
}

/** A fake nvidia-smi in a folder of its own; it checks it was asked the query placement needs. */
function fakeNvidiaSmi(t: { testdir(): string }, body: string): string {
  const dir = t.testdir();
  const file = join(dir, 'nvidia-smi');
  writeFileSync(file, `#!/bin/sh\n[ "$1" = "--query-gpu=index,name,memory.total,memory.used" ] || { echo "unexpected query $1" >&2; exit 9; }\n${body}\n`);
  chmodSync(file, 0o755);
  return dir;
}

t.test('parseGpuQuery reads index, name and memory figures, and [N/A] as unknown', async (t) => {
  t.same(parseGpuQuery(TWO_GPUS), [
    { index: 0, name: 'NVIDIA A100-SXM4-40GB', memoryTotalMiB: 40960, memoryUsedMiB: 1200 },
    { index: 1, name: 'NVIDIA A100-SXM4-40GB', memoryTotalMiB: 40960, memoryUsedMiB: 300 },
  ]);
  t.same(parseGpuQuery('1, Tesla T4, [N/A], [N/A]\n0, Quadro, 8192, 10\n'), [
    { index: 0, name: 'Quadro', memoryTotalMiB: 8192, memoryUsedMiB: 10 },
    { index: 1, name: 'Tesla T4', memoryTotalMiB: null, memoryUsedMiB: null },
  ], 'sorted by index; [N/A] is null');
  t.same(parseGpuQuery('No devices were found\n\n'), [], 'a line that is not a device is skipped');
});

t.test('an explicit device_id is kept when the host has that GPU', async (t) => {
  t.equal(placeVersion({ model: 'm', version: '1', deviceId: 1 }, [gpu(0), gpu(1)], new Map([[1, 9]])), 1);
});

t.test('an explicit device_id the host does not have is refused with SLUICE_E_MODEL_DEVICE naming device_id', async (t) => {
  t.throws(() => placeVersion({ model: 'm', version: '2', deviceId: 2 }, [gpu(0), gpu(1)], new Map()), {
    code: 'SLUICE_E_MODEL_DEVICE',
    details: { model: 'm', version: '2', field: 'device_id', device_id: 2, devices: [0, 1] },
  });
});

t.test('auto takes the GPU with the fewest sessions, then the least memory used, then the lowest index', async (t) => {
  const devices = [gpu(0, 100), gpu(1, 5000), gpu(2, 50)];
  t.equal(placeVersion({ model: 'm', version: '1', deviceId: 'auto' }, devices, new Map([[0, 2], [2, 1]])), 1, 'no sessions on 1');
  t.equal(placeVersion({ model: 'm', version: '1', deviceId: 'auto' }, devices, new Map([[0, 1], [1, 1], [2, 1]])), 2, 'equal sessions: least memory used');
  t.equal(placeVersion({ model: 'm', version: '1', deviceId: 'auto' }, [gpu(1, null), gpu(0, null)], new Map()), 0, 'all equal: lowest index');
});

t.test('without a device list (no nvidia-smi) an explicit id is taken as given and auto is device 0', async (t) => {
  t.equal(placeVersion({ model: 'm', version: '1', deviceId: 5 }, null, new Map()), 5);
  t.equal(placeVersion({ model: 'm', version: '1', deviceId: 'auto' }, null, new Map()), 0);
  t.equal(placeVersion({ model: 'm', version: '1', deviceId: 'auto' }, [], new Map([[0, 4]])), 0);
});

t.test('the inventory spreads auto versions across GPUs as it tracks them, and forgets unloaded ones', async (t) => {
  const inventory = new GpuInventory(fixedDevices([gpu(0), gpu(1)]));
  const devices = await inventory.refresh();
  const placed: (PlacedVersion & { state: string; executionProvider: string | undefined })[] = [];
  for (const version of ['1', '2', '3', '4']) {
    const device = placeVersion({ model: 'm', version, deviceId: 'auto' }, devices, inventory.load());
    const v = { name: 'm', version, device, state: 'READY', executionProvider: 'cuda' as string | undefined, config: { instances: 1 } };
    inventory.track(v);
    placed.push(v);
  }
  t.same(placed.map((v) => v.device), [0, 1, 0, 1]);
  t.same([...inventory.load()], [[0, 2], [1, 2]]);
  placed[0]!.state = 'UNLOADED';
  placed[2]!.state = 'UNLOADED';
  t.same([...inventory.load()], [[1, 2]], 'unloaded versions no longer count');
  placed[1]!.executionProvider = 'cpu';
  t.same([...inventory.placements()].map((v) => v.version), ['4'], 'a version that fell back to the CPU is not reported on a GPU');
});

t.test('(mocked GPU: fake nvidia-smi on PATH) discovery lists the devices nvidia-smi prints', async (t) => {
  const dir = fakeNvidiaSmi(t, `printf '${TWO_GPUS.replace(/\n/g, '\\n')}'`);
  const saved = process.env.PATH;
  process.env.PATH = `${dir}:${saved ?? ''}`;
  t.teardown(() => { process.env.PATH = saved; });
  const devices = await nvidiaSmiDevices().devices();
  t.same(devices?.map((d) => [d.index, d.memoryUsedMiB]), [[0, 1200], [1, 300]]);
});

t.test('(mocked GPU: fake nvidia-smi) a failing or missing nvidia-smi gives no device list', async (t) => {
  const dir = fakeNvidiaSmi(t, 'echo "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver" >&2; exit 9');
  t.equal(await nvidiaSmiDevices(join(dir, 'nvidia-smi')).devices(), null, 'exit status 9');
  t.equal(await nvidiaSmiDevices(join(dir, 'not-there')).devices(), null, 'not found');
});
