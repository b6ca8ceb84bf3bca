// `sluice doctor`: what this machine gives the gateway. Node, ONNX Runtime and the execution
// providers it can create a session on (a one-node model, tried on each), the GPUs nvidia-smi sees,
// the CPU features the native addon's drift lanes pick at run time, glibc. The one command that
// tells whether models asking for CUDA will run on the GPU.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { SluiceError } from '../lib/errors.js';
import { defineCommand, type FlagValues } from '../lib/flags.js';

export const DOCTOR_COMMAND = defineCommand({
  name: 'doctor',
  summary: 'Report the runtime: Node, ONNX Runtime, execution providers that load, GPUs, CPU features, glibc.',
  flags: {
    json: { type: 'boolean', default: false, description: 'print the report as one JSON object' },
    'require-gpu': { type: 'boolean', default: false, description: 'exit 1 (SLUICE_E_MODEL_PROVIDER) unless a CUDA session can be created' },
  },
});

export interface Gpu {
  index: number;
  name: string;
  memoryMiB: number | null;
  driver: string;
}

export interface DoctorReport {
  node: string;
  onnxruntime: string;
  /** Every provider the installed binding knows; `ok` only for those tried (cpu, cuda). */
  providers: { name: string; bundled: boolean | null; tried: boolean; ok: boolean; error?: string }[];
  /** GPUs nvidia-smi lists; null when nvidia-smi is not on PATH or fails. */
  gpus: Gpu[] | null;
  nvidiaSmi: string;
  cpu: { model: string; avx2: boolean; avx512f: boolean };
  native: { loaded: boolean; abiVersion: number | null; driftLanes: 'avx512' | 'avx2' | 'scalar' };
  glibc: string | null;
  /** True when a CUDA session was created: models with execution_providers ["cuda", ...] run on the GPU. */
  cudaReady: boolean;
  verdict: string;
}

/** Parse `nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(csv: string): Gpu[] {
  return csv.split('\n').map((l) => l.trim()).filter((l) => l !== '').map((line) => {
    const [index, name, memory, driver] = line.split(',').map((f) => f.trim());
    const mem = Number(memory);
    return { index: Number(index), name: name ?? '', memoryMiB: Number.isFinite(mem) ? mem : null, driver: driver ?? '' };
  });
}

function gpus(): { gpus: Gpu[] | null; nvidiaSmi: string } {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=index,name,memory.total,driver_version', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
    return { gpus: parseNvidiaSmi(out), nvidiaSmi: 'ran' };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') return { gpus: null, nvidiaSmi: 'not found on PATH' };
    return { gpus: null, nvidiaSmi: `failed: ${(e.stderr ?? e.message).toString().trim().split('\n')[0]}` };
  }
}

function cpuInfo(): DoctorReport['cpu'] & { avx512Lanes: boolean } {
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: no flags to read
  }
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(text)?.[1] ?? '').split(/\s+/));
  const model = /^model name\s*:\s*(.*)$/m.exec(text)?.[1] ?? 'unknown';
  return {
    model,
    avx2: flags.has('avx2'),
    avx512f: flags.has('avx512f'),
    // native/drift_lanes_wide.cc needs all four (its __builtin_cpu_supports checks).
    avx512Lanes: ['avx512f', 'avx512dq', 'avx512vl', 'avx512bw'].every((f) => flags.has(f)),
  };
}

export async function doctorReport(): Promise<DoctorReport> {
  const ort = (await import('onnxruntime-node')).default;
  ort.env.logLevel = 'fatal'; // the probe's failures are reported below, not as ORT's log lines
  const { knownProviders, probeProvider } = await import('../gateway/workers/provider-probe.js');
  const { native, nativeAvailable } = await import('../native/index.js');
  const seen = gpus();
  const cpuProbe = await probeProvider('cpu');
  const cudaProbe = await probeProvider('cuda', seen.gpus?.[0]?.index ?? 0);
  const providers = knownProviders().map((b) => {
    const probe = b.name === 'cpu' ? cpuProbe : b.name === 'cuda' ? cudaProbe : undefined;
    const p: DoctorReport['providers'][number] = { name: b.name, bundled: b.bundled, tried: probe !== undefined, ok: probe?.ok ?? false };
    if (probe?.error !== undefined) p.error = probe.error;
    return p;
  });
  const cpu = cpuInfo();
  const loaded = nativeAvailable();
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  const verdict = cudaProbe.ok
    ? `CUDA loads: models with execution_providers ["cuda", ...] run on GPU ${seen.gpus?.[0]?.index ?? 0}`
    : `no CUDA: models asking for cuda run on the CPU (or fail to load with require_provider: true); ${seen.gpus === null ? 'no GPU seen' : `${seen.gpus.length} GPU(s) seen`}, ONNX Runtime's reason: ${cudaProbe.error}`;
  return {
    node: process.version,
    onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
    providers,
    gpus: seen.gpus,
    nvidiaSmi: seen.nvidiaSmi,
    cpu: { model: cpu.model, avx2: cpu.avx2, avx512f: cpu.avx512f },
    native: { loaded, abiVersion: loaded ? native().abiVersion : null, driftLanes: loaded ? (cpu.avx512Lanes ? 'avx512' : cpu.avx2 ? 'avx2' : 'scalar') : 'scalar' },
    glibc: header?.glibcVersionRuntime ?? null,
    cudaReady: cudaProbe.ok,
    verdict,
  };
}

export function doctorText(r: DoctorReport): string {
  const yes = (b: boolean): string => (b ? 'yes' : 'no');
  const lines = [
    `node           ${r.node}`,
    `onnxruntime    ${r.onnxruntime} (onnxruntime-node)`,
    'providers',
    ...r.providers.map((p) => `  ${p.name.padEnd(12)} ${p.bundled ? 'bundled' : 'not bundled'}; ${p.tried ? (p.ok ? 'session created' : `session failed: ${p.error}`) : 'not tried'}`),
    `gpus           ${r.gpus === null ? `none (nvidia-smi ${r.nvidiaSmi})` : r.gpus.length === 0 ? 'none (nvidia-smi lists none)' : ''}`,
    ...(r.gpus ?? []).map((g) => `  ${g.index}: ${g.name}, ${g.memoryMiB ?? '?'} MiB, driver ${g.driver}`),
    `cpu            ${r.cpu.model}; avx2 ${yes(r.cpu.avx2)}, avx512f ${yes(r.cpu.avx512f)}`,
    `native addon   ${r.native.loaded ? `loaded (abi ${r.native.abiVersion}); drift lanes: ${r.native.driftLanes}` : 'not loaded (TypeScript fallbacks)'}`,
    `glibc          ${r.glibc ?? 'unknown (not glibc)'}`,
    '',
    r.verdict,
    '',
  ];
  return lines.join('\n');
}

export async function runDoctor(v: FlagValues<typeof DOCTOR_COMMAND.flags>, out: Writable = process.stdout): Promise<number> {
  const report = await doctorReport();
  out.write(v.json ? `${JSON.stringify(report, null, 2)}\n` : doctorText(report));
  if (v['require-gpu'] && !report.cudaReady) {
    throw new SluiceError('SLUICE_E_MODEL_PROVIDER', `--require-gpu: no CUDA session can be created here: ${report.providers.find((p) => p.name === 'cuda')?.error ?? 'onnxruntime-node has no cuda provider'}`, { details: { provider: 'cuda' } });
  }
  return 0;
}
