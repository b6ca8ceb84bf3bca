// The training runner: `concurrency` slots, each claiming the oldest queued job whose labels this
// runner has, running it (attempt.ts) and claiming the next. It talks to the control plane only
// through the GraphQL API with a `runner` token, so it runs on any machine that reaches it.
// Stopping kills the running trainers without reporting: their leases run out and the control
// plane re-queues the jobs (while their retries last) for another runner.
import { mkdirSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SluiceError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { ClientTlsFiles } from '../../lib/tls.js';
import { AttemptRun, CLAIM_FIELDS, type Claim } from './attempt.js';
import { ControlPlaneClient } from './client.js';
import type { Executor } from './executor.js';
import { ControlPlaneTracing, type ControlPlaneTracingOptions } from '../tracing/tracing.js';

export interface RunnerOptions {
  controlPlane: string;
  token: string;
  /** The CA the control plane's certificate is checked against and the client certificate shown (mutual TLS). */
  tls?: ClientTlsFiles | undefined;
  executor: Executor;
  labels: string[];
  /** The region this runner trains in (data residency); jobs of models kept elsewhere are not offered. */
  region?: string | undefined;
  concurrency: number;
  /** Shown on attempts (default host-pid). */
  name?: string | undefined;
  /** Where attempts' folders go (default: a temp folder); must be reachable by the executor's processes. */
  workDir?: string | undefined;
  /** Wait between claims when the queue is empty. */
  pollMs?: number | undefined;
  heartbeatMs?: number | undefined;
  /** Keep attempt folders after they end (debugging). */
  keepWorkDirs?: boolean | undefined;
  logger: Logger;
  /** A `training.run` span per attempt, carried to the control plane on the attempt's requests (docs/tracing.md). */
  tracing?: ControlPlaneTracingOptions | undefined;
}

export class TrainingRunner {
  readonly name: string;
  private readonly client: ControlPlaneClient;
  private readonly workRoot: string;
  private readonly slots: Promise<void>[] = [];
  private readonly running = new Set<AttemptRun>();
  private stopping = false;
  private readonly sleepers = new Set<() => void>();
  private readonly tracing: ControlPlaneTracing;

  constructor(private readonly o: RunnerOptions) {
    if (!Number.isInteger(o.concurrency) || o.concurrency < 1 || o.concurrency > 64) {
      throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--concurrency must be an integer from 1 to 64, got ${o.concurrency}`, { details: { flag: 'concurrency' } });
    }
    this.tracing = o.tracing === undefined ? ControlPlaneTracing.off : new ControlPlaneTracing({ serviceName: 'sluice-runner', ...o.tracing });
    this.client = new ControlPlaneClient(o.controlPlane, o.token, undefined, o.tls, () => this.tracing.outgoingHeaders());
    this.name = o.name ?? `${hostname()}-${process.pid}`;
    this.workRoot = o.workDir ?? join(tmpdir(), `sluice-runner-${process.pid}`);
    mkdirSync(this.workRoot, { recursive: true });
  }

  /** Check the token (a runner's, accepted by the control plane), then start the slots. */
  async start(): Promise<void> {
    const { me } = await this.client.request<{ me: { role: string; name: string } }>('{ me { role name } }');
    if (me.role !== 'RUNNER') {
      throw new SluiceError('SLUICE_E_AUTH_FORBIDDEN', `token ${me.name} has role ${me.role.toLowerCase()}; a runner needs a runner token (sluice token create --role runner)`, { details: { role: me.role.toLowerCase() } });
    }
    for (let i = 0; i < this.o.concurrency; i++) this.slots.push(this.slot(i));
    this.o.logger.info({ runner: this.name, labels: this.o.labels, executor: this.o.executor.kind, concurrency: this.o.concurrency, controlPlane: this.client.base }, 'runner claiming training jobs');
  }

  private async slot(index: number): Promise<void> {
    const logger = this.o.logger.child({ runner: this.name, slot: index });
    while (!this.stopping) {
      let claim: Claim | null;
      try {
        claim = (await this.client.request<{ claimTrainingJob: Claim | null }>(`mutation($input: ClaimTrainingJobInput!) { claimTrainingJob(input: $input) { ${CLAIM_FIELDS} } }`, { input: { runner: this.name, labels: this.o.labels, ...(this.o.region ? { region: this.o.region } : {}) } }))
          .claimTrainingJob;
      } catch (err) {
        logger.warn({ err }, 'claim failed; trying again');
        claim = null;
      }
      if (claim === null) {
        await this.idle();
        continue;
      }
      logger.info({ job: claim.job.id, attempt: claim.attempt, model: claim.job.model }, 'claimed a training job');
      const run = new AttemptRun(claim, { client: this.client, executor: this.o.executor, workRoot: this.workRoot, logger, heartbeatMs: this.o.heartbeatMs ?? 500 });
      this.running.add(run);
      try {
        const attributes = { 'sluice.training.job_id': claim.job.id, 'sluice.training.attempt': claim.attempt, 'sluice.model': claim.job.model, 'sluice.training.executor': this.o.executor.kind, 'sluice.training.runner': this.name };
        await this.tracing.span('training.run', attributes, () => run.run(), { outcome: () => run.errorCode ?? 'success' });
      } catch (err) {
        logger.error({ err, job: claim.job.id }, 'attempt crashed the runner slot');
      } finally {
        this.running.delete(run);
        if (!this.o.keepWorkDirs) rmSync(join(this.workRoot, `${claim.job.id}-${claim.attempt}`), { recursive: true, force: true });
      }
    }
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, this.o.pollMs ?? 1000);
      this.sleepers.add(wake);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const wake of [...this.sleepers]) wake();
    await Promise.all([...this.running].map((r) => r.abandon()));
    await Promise.all(this.slots);
    if (!this.o.keepWorkDirs && this.o.workDir === undefined) rmSync(this.workRoot, { recursive: true, force: true });
    await this.tracing.close();
  }
}
