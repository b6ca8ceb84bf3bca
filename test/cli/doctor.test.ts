// `sluice doctor` as a user runs it: a real CLI process, real ONNX Runtime. This machine has no
// GPU and its onnxruntime-node has no CUDA provider library, so the doctor must say so; a GPU list
// is checked with a stand-in nvidia-smi on PATH (simulated: there is no NVIDIA driver here).
import t from 'tap';
import { execFile } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI } from '../helpers/paths.js';
import { parseNvidiaSmi, type DoctorReport } from '../../cli/doctor-commands.js';

const run = promisify(execFile);

async function doctor(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, 'doctor', ...args], { env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

t.test('doctor --json reports Node, ONNX Runtime, providers, CPU features and glibc; without CUDA it says models asking for cuda run on the CPU', async (t) => {
  const r = await doctor(['--json']);
  t.equal(r.code, 0);
  const report = JSON.parse(r.stdout) as DoctorReport;
  t.equal(report.node, process.version);
  const ortVersion = (JSON.parse(readFileSync(join(CLI, '..', '..', '..', 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string }).version;
  t.equal(report.onnxruntime, ortVersion);
  const cpu = report.providers.find((p) => p.name === 'cpu');
  t.ok(cpu?.tried && cpu.ok, 'a CPU session is created');
  const cuda = report.providers.find((p) => p.name === 'cuda');
  t.ok(cuda?.tried, 'CUDA is tried');
  const flags = readFileSync('/proc/cpuinfo', 'utf8');
  t.equal(report.cpu.avx2, /\bavx2\b/.test(flags));
  t.equal(report.cpu.avx512f, /\bavx512f\b/.test(flags));
  t.equal(report.glibc, (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime ?? null);
  t.equal(report.native.loaded, true, 'the prebuilt addon loads');
  if (cuda?.ok) {
    t.equal(report.cudaReady, true);
    return;
  }
  // This machine: no CUDA provider library, no driver.
  t.equal(report.cudaReady, false);
  t.match(cuda?.error, /\S/, "ONNX Runtime's reason is given");
  t.match(report.verdict, /^no CUDA/);
});

t.test('doctor prints a human report naming the missing GPU (no nvidia-smi on PATH here)', async (t) => {
  const r = await doctor([], { ...process.env, PATH: '/nonexistent' });
  t.equal(r.code, 0);
  t.match(r.stdout, /^node +v\d+/m);
  t.match(r.stdout, /^gpus +none \(nvidia-smi not found on PATH\)/m);
  t.match(r.stdout, /^ +cpu +bundled; session created/m);
});

t.test('doctor lists the GPUs nvidia-smi reports (simulated: a stand-in nvidia-smi prints two GPUs, no driver here)', async (t) => {
  const dir = t.testdir();
  const smi = join(dir, 'nvidia-smi');
  writeFileSync(smi, '#!/bin/sh\nprintf "0, NVIDIA L4, 23034, 550.54.15\\n1, NVIDIA L4, 23034, 550.54.15\\n"\n');
  chmodSync(smi, 0o755);
  const r = await doctor(['--json'], { ...process.env, PATH: `${dir}:${process.env.PATH}` });
  const report = JSON.parse(r.stdout) as DoctorReport;
  t.same(report.gpus, [
    { index: 0, name: 'NVIDIA L4', memoryMiB: 23034, driver: '550.54.15' },
    { index: 1, name: 'NVIDIA L4', memoryMiB: 23034, driver: '550.54.15' },
  ]);
  if (!report.cudaReady) t.match(report.verdict, /2 GPU\(s\) seen/, 'GPUs seen but CUDA not loadable is said plainly');
});

t.test('doctor --require-gpu fails with SLUICE_E_MODEL_PROVIDER where no CUDA session can be created (this machine)', async (t) => {
  const r = await doctor(['--require-gpu']);
  const report = JSON.parse((await doctor(['--json'])).stdout) as DoctorReport;
  if (report.cudaReady) {
    t.equal(r.code, 0);
    return;
  }
  t.equal(r.code, 1);
  t.match(r.stderr, /\(SLUICE_E_MODEL_PROVIDER\)/);
});

t.test('nvidia-smi CSV is parsed per GPU, an unknown memory kept as null', async (t) => {
  t.same(parseNvidiaSmi('0, A100-SXM4-40GB, 40960, 535.1\n\n1, T4, [N/A], 535.1\n'), [
    { index: 0, name: 'A100-SXM4-40GB', memoryMiB: 40960, driver: '535.1' },
    { index: 1, name: 'T4', memoryMiB: null, driver: '535.1' },
  ]);
});
