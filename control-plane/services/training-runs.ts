// What runners do with training jobs: claim one with a lease, renew it, report log lines and
// metrics, and finish the attempt with what it produced; and what happens when a lease runs out
// or a sweep's trial ends. Claims, finishes and lost leases are audited transitions; renewals and
// progress reports are not (they change no status, and would flood the chain).
//
// The claim: inside the audited transaction (which first locks the audit chain head, so claims are
// serialized on both dialects), the candidate rows are read `FOR UPDATE SKIP LOCKED` on
// PostgreSQL and moved queued → running with a conditional UPDATE whose row count must be 1; the
// attempt row's primary key (job, number) would refuse a second claim of the same attempt anyway.
import { ERRORS, SluiceError, toSluiceError, type ErrorCode } from '../../lib/errors.js';
import type { CallContext } from './actor.js';
import type { ArtifactStore } from './artifact-store.js';
import { parseAllowedRegions, regionAllows } from './residency.js';
import type { AuditLog } from './audit.js';
import { now } from './ids.js';
import { ControlPlaneTracing } from '../tracing/tracing.js';
import type { VersionUpload } from './model-upload.js';
import { readOnnxSignature, type TensorSignature } from './onnx-signature.js';
import type { ModelVersion, RegistryService } from './registry.js';
import { parseMetrics } from './registry-values.js';
import { jobQuery, releaseTrials, TERMINAL, toJob, type JobError, type TrainingJob, type TrainingService } from './training.js';
import { builtinDigest, type DataSchema, type SweepPlan } from './training-values.js';

/** Log lines kept per job: the newest ones (a trainer printing forever must not fill the database). */
export const MAX_LOG_LINES_PER_JOB = 10_000;
const MAX_LINE_CHARS = 8192;
const MAX_LINES_PER_REPORT = 2000;
/** Error codes after which an attempt is retried (while attempts remain): the trainer crashed or was killed. */
const RETRYABLE: readonly string[] = ['SLUICE_E_TRAINING_TRAINER_EXIT', 'SLUICE_E_TRAINING_FAILED'];

export interface ClaimedJob {
  job: TrainingJob;
  attempt: number;
  leaseSeconds: number;
  leaseExpiresAt: string;
  dataSchema: DataSchema | null;
  /** The production version the job retrains: its number, signature and drift profile. */
  production: { version: number; signature: TensorSignature; profile: unknown } | null;
}

export interface ProgressInput {
  jobId: string;
  attempt: number;
  lines?: { stream: string; line: string }[] | null;
  metrics?: unknown;
  validation?: unknown;
  drifted?: boolean | null;
}

export type AttemptOutcome = 'succeeded' | 'failed' | 'cancelled' | 'timed_out';

export interface FinishInput {
  jobId: string;
  attempt: number;
  outcome: AttemptOutcome;
  error?: { code?: string | null; message?: string | null; details?: unknown } | null;
  metrics?: unknown;
  model?: Uint8Array | undefined;
  profile?: Uint8Array | undefined;
  trainerDigest?: string | null;
}

interface Deps {
  audit: AuditLog;
  training: TrainingService;
  registry: RegistryService;
  artifacts: ArtifactStore;
  uploadVersion(ctx: CallContext, upload: VersionUpload): Promise<ModelVersion>;
}

export class TrainingRuns {
  tracing = ControlPlaneTracing.off;

  constructor(
    private readonly deps: Deps,
    readonly leaseSeconds: number,
  ) {}

  private get store() {
    return this.deps.training.store;
  }

  /** The oldest queued job whose labels the runner has, now running under a lease; null when there is none. */
  async claim(ctx: CallContext, runner: { name: string; labels: string[]; region?: string | null | undefined }): Promise<ClaimedJob | null> {
    const candidates = await this.store.db
      .selectFrom('training_jobs')
      .innerJoin('models', 'models.id', 'training_jobs.model_id')
      .select(['training_jobs.id as id', 'training_jobs.labels as labels', 'models.allowed_regions as allowed_regions'])
      .where('training_jobs.status', '=', 'queued')
      .where('training_jobs.sweep', 'is', null)
      .orderBy('training_jobs.created_at')
      .orderBy('training_jobs.id')
      .limit(200)
      .execute();
    // Residency: a job of a model kept to some regions goes only to a runner in one of them.
    const ids = candidates
      .filter((c) => (JSON.parse(c.labels) as string[]).every((l) => runner.labels.includes(l)) && regionAllows(parseAllowedRegions(c.allowed_regions), runner.region))
      .map((c) => c.id);
    if (ids.length === 0) return null;
    let claimed;
    try {
      claimed = await this.deps.audit.audited(ctx, 'training_job.claim', 'training-jobs', async (tx) => {
        let q = tx.selectFrom('training_jobs').select(['id', 'attempts']).where('id', 'in', ids).where('status', '=', 'queued').orderBy('created_at').orderBy('id').limit(1);
        if (this.store.dialect === 'postgres') q = q.forUpdate().skipLocked();
        const pick = await q.executeTakeFirst();
        if (!pick) throw new SluiceError('SLUICE_E_TRAINING_STATE', 'every matching queued job was claimed by another runner first');
        const attempt = Number(pick.attempts) + 1;
        const at = now();
        const leaseExpiresAt = new Date(Date.now() + this.leaseSeconds * 1000).toISOString();
        const moved = await tx
          .updateTable('training_jobs')
          .set({ status: 'running', attempts: attempt, updated_at: at })
          .where('id', '=', pick.id)
          .where('status', '=', 'queued')
          .where('attempts', '=', pick.attempts)
          .executeTakeFirst();
        if (Number(moved.numUpdatedRows) !== 1) throw new SluiceError('SLUICE_E_TRAINING_STATE', `training job ${pick.id} was claimed by another runner first`);
        await tx.updateTable('training_jobs').set({ started_at: at }).where('id', '=', pick.id).where('started_at', 'is', null).execute();
        await tx
          .insertInto('training_attempts')
          .values({ job_id: pick.id, number: attempt, runner_token_id: ctx.actor.id, runner_name: runner.name, status: 'running', lease_expires_at: leaseExpiresAt, started_at: at, finished_at: null, error: null })
          .execute();
        const row = await jobQuery(tx).where('training_jobs.id', '=', pick.id).executeTakeFirstOrThrow();
        return { result: { job: toJob(row), attempt, leaseExpiresAt }, resource: `training-job/${pick.id}`, before: { status: 'queued' }, after: { status: 'running', attempt, runner: runner.name } };
      });
    } catch (err) {
      if ((err as SluiceError).code === 'SLUICE_E_TRAINING_STATE') return null;
      throw err;
    }
    return { ...claimed, leaseSeconds: this.leaseSeconds, dataSchema: await this.deps.training.dataSchema(claimed.job.modelName), production: await this.production(claimed.job.modelName) };
  }

  private async production(model: string): Promise<ClaimedJob['production']> {
    const m = await this.deps.registry.model(model);
    const alias = m ? (await this.deps.registry.aliases(m.id)).find((a) => a.name === 'production') : undefined;
    if (!alias) return null;
    const version = await this.deps.registry.version(model, alias.versionNumber);
    if (!version) return null;
    const profile = version.profileSha256 ? (JSON.parse((await this.deps.artifacts.readAll(version.profileSha256)).toString('utf8')) as unknown) : null;
    return { version: version.number, signature: version.signature, profile };
  }

  /** Extend the lease; says whether a cancel was asked. Refused with SLUICE_E_TRAINING_LEASE_LOST once the attempt is no longer this runner's. */
  async renew(ctx: CallContext, jobId: string, attempt: number): Promise<{ cancelRequested: boolean; leaseExpiresAt: string }> {
    const leaseExpiresAt = new Date(Date.now() + this.leaseSeconds * 1000).toISOString();
    const updated = await this.store.db
      .updateTable('training_attempts')
      .set({ lease_expires_at: leaseExpiresAt })
      .where('job_id', '=', jobId)
      .where('number', '=', attempt)
      .where('status', '=', 'running')
      .where('runner_token_id', '=', ctx.actor.id)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) throw leaseLost(jobId, attempt);
    const job = await this.store.db.selectFrom('training_jobs').select('cancel_requested').where('id', '=', jobId).executeTakeFirstOrThrow();
    return { cancelRequested: Number(job.cancel_requested) === 1, leaseExpiresAt };
  }

  /** Append log lines and the latest metrics (and the data validation report) of a running attempt. */
  async progress(ctx: CallContext, input: ProgressInput): Promise<{ cancelRequested: boolean }> {
    const lines = input.lines ?? [];
    if (lines.length > MAX_LINES_PER_REPORT) throw new SluiceError('SLUICE_E_VALIDATION', `lines: at most ${MAX_LINES_PER_REPORT} per report`, { details: { field: 'lines' } });
    const metrics = input.metrics === undefined || input.metrics === null ? undefined : parseMetrics(input.metrics);
    return this.store.db.transaction().execute(async (tx) => {
      const row = await this.deps.training.lockJob(tx, input.jobId);
      await this.holds(tx, ctx, input.jobId, input.attempt, Number(row.attempts));
      const at = now();
      let seq = Number(row.log_seq);
      for (let i = 0; i < lines.length; i += 500) {
        const chunk = lines.slice(i, i + 500).map((l) => ({
          job_id: input.jobId,
          seq: ++seq,
          attempt: input.attempt,
          at,
          stream: l.stream === 'stderr' ? 'stderr' : 'stdout',
          line: l.line.length > MAX_LINE_CHARS ? `${l.line.slice(0, MAX_LINE_CHARS)}…` : l.line,
        }));
        await tx.insertInto('training_logs').values(chunk).execute();
      }
      if (seq > MAX_LOG_LINES_PER_JOB) await tx.deleteFrom('training_logs').where('job_id', '=', input.jobId).where('seq', '<=', seq - MAX_LOG_LINES_PER_JOB).execute();
      const set: Record<string, unknown> = { log_seq: seq, updated_at: at };
      if (metrics) set.metrics = JSON.stringify({ ...(JSON.parse(row.metrics) as object), ...metrics });
      if (input.validation !== undefined && input.validation !== null) set.validation = JSON.stringify(input.validation);
      if (input.drifted !== undefined && input.drifted !== null) set.drifted = input.drifted ? 1 : 0;
      await tx.updateTable('training_jobs').set(set).where('id', '=', input.jobId).execute();
      return { cancelRequested: Number(row.cancel_requested) === 1 };
    });
  }

  /**
   * End the attempt. A success is checked first (a model that parses, the trainer's digest, the
   * production signature) and registered as a version (a sweep's trial only stores its files; the
   * sweep registers its best trial once all have ended); a check that fails turns it into a
   * failure with that error. A crashed trainer's attempt is retried while attempts remain.
   */
  finish(ctx: CallContext, input: FinishInput): Promise<TrainingJob> {
    const attributes = { 'sluice.training.job_id': input.jobId, 'sluice.training.attempt': input.attempt, 'sluice.training.reported': input.outcome, 'sluice.training.runner': ctx.actor.name };
    return this.tracing.span('training.finish', attributes, async (span) => {
      const ended = await this.endAttempt(ctx, input);
      span.setAttributes({ 'sluice.training.status': ended.status, ...(ended.error ? { 'sluice.training.error': ended.error.code } : {}) });
      return ended;
    });
  }

  private async endAttempt(ctx: CallContext, input: FinishInput): Promise<TrainingJob> {
    const job = await this.deps.training.job(input.jobId);
    if (!job) throw new SluiceError('SLUICE_E_TRAINING_JOB_NOT_FOUND', `no training job ${input.jobId}`, { details: { id: input.jobId } });
    await this.holds(this.store.db, ctx, input.jobId, input.attempt, job.attemptCount);
    const reported = parseMetrics(input.metrics ?? {});
    // The final report's metrics are the attempt's (metrics.json replaces the progress lines'); without any, the last progress values stand.
    const metrics = Object.keys(reported).length > 0 ? reported : job.metrics;
    let outcome = input.outcome;
    let error = outcome === 'succeeded' ? null : reportedError(input.error, outcome);
    let artifacts: TrainingJob['artifacts'] = null;
    let version: ModelVersion | undefined;
    if (outcome === 'succeeded') {
      try {
        const trainerDigest = checkTrainerDigest(job, input.trainerDigest);
        const model = input.model;
        if (model === undefined || model.length === 0) throw new SluiceError('SLUICE_E_TRAINING_NO_MODEL', 'the attempt delivered no model.onnx');
        let signature: TensorSignature;
        try {
          signature = readOnnxSignature(model);
        } catch (err) {
          throw new SluiceError('SLUICE_E_TRAINING_MODEL_INVALID', `model.onnx is not a loadable ONNX model: ${toSluiceError(err, 'SLUICE_E_ARTIFACT_INVALID', true).message}`, { cause: err });
        }
        const production = await this.production(job.modelName);
        if (production) {
          const differences = signatureDifferences(production.signature, signature);
          if (differences.length > 0) {
            throw new SluiceError('SLUICE_E_TRAINING_SIGNATURE_MISMATCH', `model.onnx's signature differs from ${job.modelName} version ${production.version} (production): ${differences.join('; ')}`, {
              details: { productionVersion: production.version, differences },
            });
          }
        }
        if (job.parentId !== null) {
          const stored = await this.deps.artifacts.put(once(model));
          const profile = input.profile === undefined ? null : (await this.deps.artifacts.put(once(input.profile))).sha256;
          artifacts = { model: stored.sha256, profile, trainerDigest };
        } else {
          // A finish whose version was registered but whose job row was not updated (the control
          // plane died in between) comes again from the next attempt: it gets the same version.
          version = (await this.versionOf(job.modelName, job.id)) ?? (await this.deps.uploadVersion(ctx, {
            model: job.modelName,
            artifact: once(model),
            profile: input.profile,
            allowDuplicate: true,
            metrics,
            lineage: lineageOf(job, trainerDigest),
            description: `trained by job ${job.id}`,
          }));
          artifacts = { model: version.sha256, profile: version.profileSha256, trainerDigest };
        }
      } catch (err) {
        const e = toSluiceError(err, 'SLUICE_E_TRAINING_FAILED');
        if (e.status >= 500 && e.code !== 'SLUICE_E_TRAINING_FAILED') throw e;
        outcome = 'failed';
        error = { code: e.code, message: e.message, details: e.details ?? null };
      }
    }
    const ended = await this.deps.audit.audited(ctx, 'training_job.finish', `training-job/${input.jobId}`, async (tx) => {
      const row = await this.deps.training.lockJob(tx, input.jobId);
      await this.holds(tx, ctx, input.jobId, input.attempt, Number(row.attempts));
      const retry = outcome === 'failed' && RETRYABLE.includes(error!.code) && Number(row.attempts) < Number(row.max_attempts) && Number(row.cancel_requested) === 0;
      const status = retry ? 'queued' : outcome;
      const at = now();
      await tx.updateTable('training_attempts').set({ status: outcome, finished_at: at, error: error ? JSON.stringify(error) : null }).where('job_id', '=', input.jobId).where('number', '=', input.attempt).execute();
      const set = {
        status,
        error: error ? JSON.stringify(error) : null,
        metrics: JSON.stringify(metrics),
        artifacts: artifacts ? JSON.stringify(artifacts) : row.artifacts,
        version_number: version?.number ?? null,
        finished_at: TERMINAL.includes(status) ? at : null,
        updated_at: at,
      };
      await tx.updateTable('training_jobs').set(set).where('id', '=', input.jobId).execute();
      return {
        result: toJob({ ...row, ...set }),
        before: { status: row.status, attempt: input.attempt },
        after: { status, outcome, ...(error ? { error: error.code } : {}), ...(version ? { version: version.number } : {}), retried: retry },
      };
    });
    if (ended.parentId !== null && TERMINAL.includes(ended.status)) await this.advanceSweep(ctx, ended.parentId);
    return ended;
  }

  /** The version a job registered, found by its lineage (the job's row may not say it yet). */
  private async versionOf(model: string, jobId: string): Promise<ModelVersion | undefined> {
    const row = await this.store.db
      .selectFrom('model_versions')
      .innerJoin('models', 'models.id', 'model_versions.model_id')
      .select('model_versions.number')
      .where('models.name', '=', model)
      .where('model_versions.lineage', 'like', `%"trainingJob":${JSON.stringify(jobId)}%`)
      .executeTakeFirst();
    return row ? this.deps.registry.version(model, Number(row.number)) : undefined;
  }

  /**
   * Attempts whose lease ran out are lost: the job goes back to the queue while attempts remain,
   * else fails (a cancel asked meanwhile ends it cancelled). Safe to run on every replica at once:
   * each expiry is re-checked under the job's row lock, in the audited (serialized) transaction.
   */
  async expireLeases(ctx: CallContext): Promise<number> {
    const expired = await this.store.db.selectFrom('training_attempts').select(['job_id', 'number']).where('status', '=', 'running').where('lease_expires_at', '<', now()).execute();
    let count = 0;
    for (const a of expired) {
      const ended = await this.deps.audit
        .audited(ctx, 'training_job.lease_expired', `training-job/${a.job_id}`, async (tx) => {
          const row = await this.deps.training.lockJob(tx, a.job_id);
          const attempt = await tx.selectFrom('training_attempts').selectAll().where('job_id', '=', a.job_id).where('number', '=', a.number).executeTakeFirstOrThrow();
          if (attempt.status !== 'running' || attempt.lease_expires_at >= now()) throw new SluiceError('SLUICE_E_TRAINING_STATE', 'the lease was renewed or the attempt ended meanwhile');
          const error: JobError = { code: 'SLUICE_E_TRAINING_LEASE_LOST', message: `runner ${attempt.runner_name} stopped renewing the lease of attempt ${a.number}`, details: { runner: attempt.runner_name, attempt: Number(a.number) } };
          const status = Number(row.cancel_requested) === 1 ? 'cancelled' : Number(row.attempts) < Number(row.max_attempts) ? 'queued' : 'failed';
          const at = now();
          await tx.updateTable('training_attempts').set({ status: 'lost', finished_at: at, error: JSON.stringify(error) }).where('job_id', '=', a.job_id).where('number', '=', a.number).execute();
          const set = { status, error: status === 'queued' ? null : JSON.stringify(error), finished_at: TERMINAL.includes(status) ? at : null, updated_at: at };
          await tx.updateTable('training_jobs').set(set).where('id', '=', a.job_id).execute();
          return { result: toJob({ ...row, ...set }), before: { status: 'running', attempt: Number(a.number), runner: attempt.runner_name }, after: { status } };
        })
        .catch((err: unknown) => {
          if ((err as SluiceError).code === 'SLUICE_E_TRAINING_STATE') return undefined;
          throw err;
        });
      if (!ended) continue;
      count++;
      if (ended.parentId !== null && TERMINAL.includes(ended.status)) await this.advanceSweep(ctx, ended.parentId);
    }
    return count;
  }

  /**
   * After a trial ends: release the next trials up to the parallelism; once every trial has ended,
   * register the best one's model (by the sweep's metric and goal) as the sweep's version.
   */
  async advanceSweep(ctx: CallContext, parentId: string): Promise<void> {
    const parent = await this.deps.training.job(parentId);
    if (!parent || parent.status !== 'running' || parent.bestTrialId !== null) return;
    const best = await this.deps.audit.audited(ctx, 'training_sweep.advance', `training-job/${parentId}`, async (tx) => {
      const row = await this.deps.training.lockJob(tx, parentId);
      if (row.status !== 'running' || row.best_trial_id !== null) return { result: null, after: { status: row.status } };
      const released = await releaseTrials(tx, row);
      const plan = JSON.parse(row.sweep!) as SweepPlan;
      const trials = (await jobQuery(tx).where('training_jobs.parent_id', '=', parentId).execute()).map(toJob);
      if (trials.length < plan.trials || trials.some((c) => !TERMINAL.includes(c.status))) return { result: null, after: { released } };
      const ranked = trials.filter((c) => c.status === 'succeeded' && Number.isFinite(c.metrics[plan.metric])).sort((a, b) => (plan.goal === 'min' ? a.metrics[plan.metric]! - b.metrics[plan.metric]! : b.metrics[plan.metric]! - a.metrics[plan.metric]!));
      const winner = ranked[0];
      const at = now();
      if (!winner) {
        const error: JobError = { code: 'SLUICE_E_TRAINING_FAILED', message: `no trial of the sweep succeeded with metric ${plan.metric}`, details: { trials: trials.length } };
        await tx.updateTable('training_jobs').set({ status: 'failed', error: JSON.stringify(error), finished_at: at, updated_at: at }).where('id', '=', parentId).execute();
        return { result: null, after: { status: 'failed', error: error.code } };
      }
      await tx.updateTable('training_jobs').set({ best_trial_id: winner.id, metrics: JSON.stringify(winner.metrics), updated_at: at }).where('id', '=', parentId).execute();
      return { result: winner, after: { bestTrial: winner.id, trial: winner.trial, [plan.metric]: winner.metrics[plan.metric] } };
    });
    if (best) await this.registerBest(ctx, parent, best);
  }

  private async registerBest(ctx: CallContext, parent: TrainingJob, best: TrainingJob): Promise<void> {
    let version: ModelVersion | undefined;
    let error: JobError | null = null;
    try {
      const files = best.artifacts!;
      version = await this.deps.uploadVersion(ctx, {
        model: parent.modelName,
        artifact: await this.deps.artifacts.open(files.model),
        profile: files.profile === null ? undefined : await this.deps.artifacts.readAll(files.profile),
        allowDuplicate: true,
        metrics: best.metrics,
        lineage: { ...lineageOf(best, files.trainerDigest), source: `sweep ${parent.id}, trial ${best.trial}` },
        description: `best trial (${best.id}) of sweep ${parent.id}`,
      });
    } catch (err) {
      const e = toSluiceError(err, 'SLUICE_E_TRAINING_FAILED');
      error = { code: e.code, message: e.message, details: e.details ?? null };
    }
    await this.deps.audit.audited(ctx, 'training_job.finish', `training-job/${parent.id}`, async (tx) => {
      const at = now();
      const status = version ? 'succeeded' : 'failed';
      const set = { status, version_number: version?.number ?? null, error: error ? JSON.stringify(error) : null, artifacts: best.artifacts ? JSON.stringify(best.artifacts) : null, finished_at: at, updated_at: at };
      await tx.updateTable('training_jobs').set(set).where('id', '=', parent.id).execute();
      return { result: null, before: { status: 'running' }, after: { status, ...(version ? { version: version.number } : {}), ...(error ? { error: error.code } : {}) } };
    });
  }

  /** Refuse a report for an attempt that is not this runner's running, current attempt. */
  private async holds(db: Pick<Deps['training']['store']['db'], 'selectFrom'>, ctx: CallContext, jobId: string, attempt: number, current: number): Promise<void> {
    const row = await db.selectFrom('training_attempts').select(['status', 'runner_token_id']).where('job_id', '=', jobId).where('number', '=', attempt).executeTakeFirst();
    if (!row || attempt !== current || row.status !== 'running' || row.runner_token_id !== ctx.actor.id) throw leaseLost(jobId, attempt);
  }
}

function leaseLost(jobId: string, attempt: number): SluiceError {
  return new SluiceError('SLUICE_E_TRAINING_LEASE_LOST', `attempt ${attempt} of training job ${jobId} is not held by this runner (its lease ran out, it ended, or it was never claimed)`, { details: { id: jobId, attempt } });
}

function reportedError(raw: FinishInput['error'], outcome: AttemptOutcome): JobError {
  const fallback: ErrorCode = outcome === 'cancelled' ? 'SLUICE_E_TRAINING_STATE' : outcome === 'timed_out' ? 'SLUICE_E_TRAINING_TIMED_OUT' : 'SLUICE_E_TRAINING_FAILED';
  const code = typeof raw?.code === 'string' && raw.code.startsWith('SLUICE_E_TRAINING_') && raw.code in ERRORS ? raw.code : fallback;
  const message = typeof raw?.message === 'string' && raw.message.length > 0 ? raw.message.slice(0, 16_384) : outcome === 'cancelled' ? 'cancelled' : ERRORS[code as ErrorCode].summary;
  const details = raw?.details !== null && typeof raw?.details === 'object' && !Array.isArray(raw.details) && JSON.stringify(raw.details).length <= 65_536 ? (raw.details as Record<string, unknown>) : null;
  return { code, message, details };
}

/** A builtin's digest is its version; a command trainer's is the sha256 the runner found, equal to the job's when the job names one. */
function checkTrainerDigest(job: TrainingJob, reported: string | null | undefined): string {
  if (job.trainer.kind === 'builtin') {
    const expected = builtinDigest(job.trainer.builtin);
    if (reported !== expected) throw new SluiceError('SLUICE_E_TRAINING_TRAINER_DIGEST', `the runner ran ${String(reported)}, the job asked for ${expected}`, { details: { expected, found: reported ?? null } });
    return expected;
  }
  if (typeof reported !== 'string' || !/^[0-9a-f]{64}$/.test(reported)) throw new SluiceError('SLUICE_E_TRAINING_TRAINER_DIGEST', "the runner reported no sha256 of the trainer's file", { details: { found: reported ?? null } });
  if (job.trainer.digest !== null && job.trainer.digest !== reported) {
    throw new SluiceError('SLUICE_E_TRAINING_TRAINER_DIGEST', `the trainer's sha256 is ${reported}, the job asked for ${job.trainer.digest}`, { details: { expected: job.trainer.digest, found: reported } });
  }
  return reported;
}

function lineageOf(job: TrainingJob, trainerDigest: string) {
  return { trainingJob: job.id, datasetDigest: job.dataset.sha256, trainerDigest, parameters: job.parameters, parentVersion: job.parentVersion, source: `training job ${job.id}` };
}

/** What differs between two signatures, one phrase per tensor ("input features: shape [-1,5] → [-1,6]"). */
export function signatureDifferences(expected: TensorSignature, found: TensorSignature): string[] {
  const out: string[] = [];
  for (const side of ['inputs', 'outputs'] as const) {
    const role = side === 'inputs' ? 'input' : 'output';
    const theirs = new Map(found[side].map((t) => [t.name, t]));
    for (const t of expected[side]) {
      const f = theirs.get(t.name);
      if (!f) out.push(`${role} ${t.name} is missing`);
      else {
        if (f.datatype !== t.datatype) out.push(`${role} ${t.name}: datatype ${t.datatype} → ${f.datatype}`);
        if (JSON.stringify(f.shape) !== JSON.stringify(t.shape)) out.push(`${role} ${t.name}: shape ${JSON.stringify(t.shape)} → ${JSON.stringify(f.shape)}`);
      }
      theirs.delete(t.name);
    }
    for (const name of theirs.keys()) out.push(`${role} ${name} is new`);
  }
  return out;
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}
