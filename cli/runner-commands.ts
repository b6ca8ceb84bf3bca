// `sluice runner`: a training runner on this machine, claiming jobs from a control plane over its
// GraphQL API with a runner token read from a file (a token on the command line would show in ps).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SluiceError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { defineCommand, type FlagValues } from '../lib/flags.js';
import { CLIENT_TLS_FLAGS, CONTROL_PLANE_FLAG, LOG_FORMAT_FLAG, LOG_LEVEL_FLAG, clientTlsOf } from './common-flags.js';
import type { Executor } from '../control-plane/runner/executor.js';
import type { TrainingRunner } from '../control-plane/runner/runner.js';
import { TRACING_FLAGS, tracingOptions } from './tracing-flags.js';

export const RUNNER_COMMAND = defineCommand({
  name: 'runner',
  summary: 'Run training jobs for a control plane: claim queued jobs whose labels this runner has, train, upload the result.',
  flags: {
    'control-plane': CONTROL_PLANE_FLAG,
    'token-file': { type: 'string', required: true, placeholder: 'path', description: 'file holding a runner token (sluice token create --role runner)' },
    labels: { type: 'list', default: [], placeholder: 'label,...', description: 'resource labels this runner offers (gpu, eu, ...); it claims jobs whose labels are all among them' },
    region: { type: 'string', placeholder: 'region', description: "the region this runner trains in: jobs of models restricted to regions run only on runners in one of them" },
    executor: { type: 'string', default: 'local', choices: ['local', 'slurm'], description: 'run trainers as local processes or hand them to Slurm (sbatch)' },
    concurrency: { type: 'int', default: 1, placeholder: 'n', description: 'jobs run at once' },
    name: { type: 'string', description: 'runner name recorded on attempts (default: host-pid)' },
    'work-dir': { type: 'string', placeholder: 'dir', description: "attempts' folders (default: a temp folder; with Slurm, a folder the compute nodes share)" },
    'slurm-partition': { type: 'string', description: 'Slurm partition for sbatch' },
    'poll-ms': { type: 'int', default: 1000, placeholder: 'ms', description: 'wait between claims while the queue is empty' },
    ...TRACING_FLAGS,
    'log-level': LOG_LEVEL_FLAG,
    'log-format': LOG_FORMAT_FLAG,
    ...CLIENT_TLS_FLAGS,
  },
});

export function readTokenFile(path: string): string {
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new SluiceError('SLUICE_E_CONFIG_FILE_MISSING', `--token-file ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err, details: { flag: 'token-file' } });
  }
  if (token === '') throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--token-file ${path} is empty`, { details: { flag: 'token-file' } });
  return token;
}

export async function makeExecutor(kind: 'local' | 'slurm', partition?: string): Promise<Executor> {
  if (kind === 'slurm') {
    const { SlurmExecutor } = await import('../control-plane/runner/executors/slurm.js');
    return new SlurmExecutor(partition === undefined ? {} : { partition });
  }
  const { LocalExecutor } = await import('../control-plane/runner/executors/local.js');
  // Heartbeats every 0.5 s see a cancel; one more second of grace keeps cancel → gone within 2 s.
  return new LocalExecutor({ killGraceMs: 1000 });
}

/** `sluice runner`: runs until SIGINT/SIGTERM, then kills its trainers (their jobs are re-queued when the leases run out). */
export async function runRunner(v: FlagValues<typeof RUNNER_COMMAND.flags>, logger: Logger): Promise<TrainingRunner> {
  const token = readTokenFile(v['token-file']);
  const { TrainingRunner } = await import('../control-plane/runner/runner.js');
  const runner = new TrainingRunner({
    controlPlane: v['control-plane'],
    token,
    tls: clientTlsOf(v),
    executor: await makeExecutor(v.executor, v['slurm-partition']),
    labels: v.labels,
    region: v.region,
    concurrency: v.concurrency,
    name: v.name,
    workDir: v['work-dir'] === undefined ? undefined : resolve(v['work-dir']),
    pollMs: v['poll-ms'],
    logger,
    tracing: tracingOptions(v),
  });
  await runner.start();
  return runner;
}
