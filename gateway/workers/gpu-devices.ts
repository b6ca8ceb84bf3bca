// The GPUs this host has and where model versions go on them. Discovery asks `nvidia-smi` (behind
// the GpuDeviceSource interface, so tests and hosts without it give a list); placement is a pure
// function of the config, the devices seen and what already sits on each one.
import { execFile } from 'node:child_process';
import { SluiceError } from '../../lib/errors.js';

export interface GpuDevice {
  /** CUDA device index (nvidia-smi's `index`, ORT's `deviceId`). */
  index: number;
  name: string;
  /** MiB; null when nvidia-smi reports `[N/A]`. */
  memoryTotalMiB: number | null;
  memoryUsedMiB: number | null;
}

/** What the host reports: the device list, or null when it cannot tell (no nvidia-smi, or it failed). */
export interface GpuDeviceSource {
  devices(): Promise<GpuDevice[] | null>;
}

export const NVIDIA_SMI_QUERY = ['--query-gpu=index,name,memory.total,memory.used', '--format=csv,noheader,nounits'] as const;

function mib(field: string | undefined): number | null {
  const n = Number(field);
  return field === undefined || field === '' || !Number.isFinite(n) ? null : n;
}

/** Parse `nvidia-smi --query-gpu=index,name,memory.total,memory.used --format=csv,noheader,nounits`. */
export function parseGpuQuery(csv: string): GpuDevice[] {
  const out: GpuDevice[] = [];
  for (const line of csv.split('\n')) {
    if (line.trim() === '') continue;
    // The name may hold commas in theory; index is first and the two figures are last.
    const fields = line.split(',').map((f) => f.trim());
    const index = Number(fields[0]);
    if (fields.length < 4 || !Number.isInteger(index) || index < 0) continue;
    out.push({ index, name: fields.slice(1, -2).join(', '), memoryTotalMiB: mib(fields.at(-2)), memoryUsedMiB: mib(fields.at(-1)) });
  }
  return out.sort((a, b) => a.index - b.index);
}

/** Devices from `nvidia-smi` on PATH (or `command`); null when it is missing or fails. */
export function nvidiaSmiDevices(command = 'nvidia-smi', timeoutMs = 10_000): GpuDeviceSource {
  return {
    devices: () => new Promise((resolve) => {
      execFile(command, NVIDIA_SMI_QUERY, { encoding: 'utf8', timeout: timeoutMs }, (err, stdout) => {
        resolve(err ? null : parseGpuQuery(stdout));
      });
    }),
  };
}

/** A fixed list (a host without nvidia-smi where the operator knows better, or a test). */
export function fixedDevices(devices: GpuDevice[] | null): GpuDeviceSource {
  return { devices: () => Promise.resolve(devices) };
}

/** Sessions already placed per device index (a version counts its `instances`: sessions per GPU). */
export type DeviceLoad = ReadonlyMap<number, number>;

export interface PlacementRequest {
  model: string;
  version: string;
  /** The config's device_id: a CUDA device index, or 'auto' to take the least loaded. */
  deviceId: number | 'auto';
}

/**
 * The device a CUDA version's sessions are created on. An explicit id must be one of the devices
 * seen (SLUICE_E_MODEL_DEVICE naming device_id); 'auto' takes the device with the fewest sessions
 * placed, then the least memory used, then the lowest index. Without a device list (no nvidia-smi)
 * an explicit id is taken as given and 'auto' is device 0: ORT then decides (strict or fallback).
 */
export function placeVersion(request: PlacementRequest, devices: readonly GpuDevice[] | null, load: DeviceLoad): number {
  const { model, version, deviceId } = request;
  if (devices === null || devices.length === 0) return deviceId === 'auto' ? 0 : deviceId;
  if (deviceId !== 'auto') {
    if (devices.some((d) => d.index === deviceId)) return deviceId;
    throw new SluiceError('SLUICE_E_MODEL_DEVICE', `model ${model} version ${version}: config field device_id ${deviceId} is not a GPU on this host (devices ${devices.map((d) => d.index).join(', ')})`, {
      details: { model, version, field: 'device_id', device_id: deviceId, devices: devices.map((d) => d.index) },
    });
  }
  const sorted = [...devices].sort((a, b) => a.index - b.index);
  let best = sorted[0]!;
  for (const d of sorted) {
    const a = load.get(d.index) ?? 0;
    const b = load.get(best.index) ?? 0;
    if (a < b || (a === b && (d.memoryUsedMiB ?? 0) < (best.memoryUsedMiB ?? 0))) best = d;
  }
  return best.index;
}

/** What the inventory needs of a loaded version (LoadedVersion has it). */
export interface PlacedVersion {
  readonly name: string;
  readonly version: string;
  /** The GPU its sessions were placed on; undefined for a CPU-only config. */
  readonly device: number | undefined;
  readonly state: string;
  /** The provider its sessions ended up on (cpu after a CUDA fallback). */
  readonly executionProvider: string | undefined;
  readonly config: { readonly instances: number };
}

/**
 * The gateway's view of its GPUs: the last device list (refreshed before each CUDA placement and
 * after each CUDA load, so memory used is recent) and the versions placed on them. ORT for Node
 * exposes no per-session memory, so memory is per device.
 */
export class GpuInventory {
  readonly #source: GpuDeviceSource;
  #devices: GpuDevice[] | null = null;
  readonly #placed = new Set<PlacedVersion>();

  constructor(source: GpuDeviceSource = nvidiaSmiDevices()) {
    this.#source = source;
  }

  /** The devices seen at the last refresh (null: none could be listed). */
  get devices(): readonly GpuDevice[] | null {
    return this.#devices;
  }

  device(index: number): GpuDevice | undefined {
    return this.#devices?.find((d) => d.index === index);
  }

  async refresh(): Promise<readonly GpuDevice[] | null> {
    this.#devices = await this.#source.devices();
    return this.#devices;
  }

  /** Sessions per device of the versions placed and not yet unloaded. */
  load(): Map<number, number> {
    const load = new Map<number, number>();
    for (const v of this.#live()) if (v.device !== undefined) load.set(v.device, (load.get(v.device) ?? 0) + v.config.instances);
    return load;
  }

  track(version: PlacedVersion): void {
    if (version.device !== undefined) this.#placed.add(version);
  }

  /** Versions serving on a GPU (one that fell back to the CPU is not on it). */
  *placements(): Iterable<PlacedVersion & { device: number }> {
    for (const v of this.#live()) if (v.state === 'READY' && v.executionProvider === 'cuda') yield v as PlacedVersion & { device: number };
  }

  *#live(): Iterable<PlacedVersion> {
    for (const v of this.#placed) {
      if (v.state === 'UNLOADED') this.#placed.delete(v);
      else yield v;
    }
  }
}
