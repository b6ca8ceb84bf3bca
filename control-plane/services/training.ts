// Training jobs as people see them: submit, cancel, retry, read, and each model's data schema.
// Every transition is one audited transaction. What runners do (claim with a lease, report, finish)
// is in training-runs.ts; both share the row mapping below.
import { SluiceError } from '../../lib/errors.js';
import { weatherCsvPath } from '../../examples/weather-dataset.js';
import type { Store, Tx } from '../store/db.js';
import type { TrainingAttemptTable, TrainingJobTable, TrainingLogTable } from '../store/tables.js';
import type { CallContext } from './actor.js';
import type { AuditLog } from './audit.js';
import { newId, now } from './ids.js';
import { ControlPlaneTracing } from '../tracing/tracing.js';
import { decodeCursor, pageSize, toConnection, type Connection, type PageArgs } from './pagination.js';
import {
  DEFAULT_TIMEOUT_SECONDS,
  MAX_TIMEOUT_SECONDS,
  parseDataSchema,
  parseDataset,
  parseLabels,
  parseLimit,
  parseParameters,
  parseTrainer,
  planSweep,
  type DatasetRef,
  type DataSchema,
  type SweepPlan,
  type TrainerSpec,
} from './training-values.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL: readonly string[] = ['succeeded', 'failed', 'cancelled', 'timed_out'];
export const MAX_RETRIES = 10;

export interface JobError {
  code: string;
  message: string;
  details: Record<string, unknown> | null;
}

export interface TrainingJob {
  id: string;
  modelId: string;
  modelName: string;
  status: JobStatus;
  trainer: TrainerSpec;
  dataset: DatasetRef;
  parameters: Record<string, unknown>;
  labels: string[];
  timeoutSeconds: number;
  retries: number;
  maxAttempts: number;
  attemptCount: number;
  cancelRequested: boolean;
  error: JobError | null;
  metrics: Record<string, number>;
  artifacts: { model: string; profile: string | null; trainerDigest: string } | null;
  versionNumber: number | null;
  parentVersion: number | null;
  parentId: string | null;
  trial: number | null;
  sweep: SweepPlan | null;
  bestTrialId: string | null;
  validation: unknown;
  drifted: boolean;
  logSeq: number;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface TrainingAttempt {
  jobId: string;
  number: number;
  runner: string;
  status: string;
  leaseExpiresAt: string;
  startedAt: string;
  finishedAt: string | null;
  error: JobError | null;
}

export interface LogLine {
  seq: number;
  attempt: number;
  at: string;
  stream: string;
  line: string;
}

export interface SubmitInput {
  model: string;
  trainer: unknown;
  dataset?: unknown;
  parameters?: unknown;
  labels?: unknown;
  timeoutSeconds?: number | null;
  retries?: number | null;
  sweep?: unknown;
}

type JobRow = TrainingJobTable & { model_name: string };

export class TrainingService {
  /** Set by the wiring: a sweep's trial ended outside a runner's report (a cancel), so the sweep may move on. */
  onTrialEnded: ((ctx: CallContext, parentId: string) => Promise<void>) | undefined;
  tracing = ControlPlaneTracing.off;

  constructor(
    readonly store: Store,
    readonly audit: AuditLog,
  ) {}

  /** Queue a job (a sweep: its first trials); its `training.dispatch` span names the job. */
  submit(ctx: CallContext, input: SubmitInput): Promise<TrainingJob> {
    return this.tracing.span('training.dispatch', { 'sluice.model': input.model }, async (span) => {
      const job = await this.insertJob(ctx, input);
      span.setAttributes({ 'sluice.training.job_id': job.id, 'sluice.training.status': job.status });
      return job;
    });
  }

  private async insertJob(ctx: CallContext, input: SubmitInput): Promise<TrainingJob> {
    const trainer = parseTrainer(input.trainer);
    const dataset = input.dataset === undefined || input.dataset === null ? defaultDataset(trainer) : parseDataset(input.dataset);
    const parameters = parseParameters(input.parameters);
    const labels = parseLabels(input.labels);
    const timeoutSeconds = parseLimit(input.timeoutSeconds, 'timeoutSeconds', DEFAULT_TIMEOUT_SECONDS, 1, MAX_TIMEOUT_SECONDS);
    const retries = parseLimit(input.retries, 'retries', 0, 0, MAX_RETRIES);
    const sweep = input.sweep === undefined || input.sweep === null ? null : planSweep(input.sweep, parameters);
    return this.audit.audited(ctx, 'training_job.submit', `model/${input.model}`, async (tx) => {
      const model = await tx.selectFrom('models').select(['id', 'name']).where('name', '=', input.model).executeTakeFirst();
      if (!model) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `no model ${input.model}`, { details: { model: input.model } });
      const production = await tx
        .selectFrom('aliases')
        .innerJoin('model_versions', 'model_versions.id', 'aliases.version_id')
        .select('model_versions.number')
        .where('aliases.model_id', '=', model.id)
        .where('aliases.name', '=', 'production')
        .executeTakeFirst();
      const at = now();
      const row: TrainingJobTable = {
        id: newId('job'),
        model_id: model.id,
        status: sweep ? 'running' : 'queued',
        trainer: JSON.stringify(trainer),
        dataset: JSON.stringify(dataset),
        parameters: JSON.stringify(parameters),
        labels: JSON.stringify(labels),
        timeout_seconds: timeoutSeconds,
        retries,
        max_attempts: retries + 1,
        ...unstartedJob(at),
        parent_version: production ? Number(production.number) : null,
        parent_id: null,
        trial: null,
        sweep: sweep ? JSON.stringify(sweep) : null,
        created_by: ctx.actor.name,
        started_at: sweep ? at : null,
      };
      await tx.insertInto('training_jobs').values(row).execute();
      const released = sweep ? await releaseTrials(tx, { ...row, model_name: model.name }) : [];
      const job = toJob({ ...row, model_name: model.name });
      return {
        result: job,
        resource: `training-job/${row.id}`,
        after: { model: model.name, status: row.status, trainer, dataset, parameters, labels, timeoutSeconds, retries, ...(sweep ? { sweep: { method: sweep.method, trials: sweep.trials, parallelism: sweep.parallelism, metric: sweep.metric, goal: sweep.goal }, released } : {}) },
      };
    });
  }

  /** Queued: cancelled at once. Running: the runner sees the request on its next heartbeat and kills the trainer. A sweep cancels its trials. */
  async cancel(ctx: CallContext, id: string): Promise<TrainingJob> {
    const job = await this.audit.audited(ctx, 'training_job.cancel', `training-job/${id}`, async (tx) => {
      const row = await this.lockJob(tx, id);
      if (TERMINAL.includes(row.status)) throw new SluiceError('SLUICE_E_TRAINING_STATE', `training job ${id} is already ${row.status}`, { details: { id, status: row.status } });
      const at = now();
      if (row.status === 'queued' || row.sweep !== null) {
        await tx.updateTable('training_jobs').set({ status: 'cancelled', cancel_requested: 1, finished_at: at, updated_at: at }).where('id', '=', id).execute();
      } else {
        await tx.updateTable('training_jobs').set({ cancel_requested: 1, updated_at: at }).where('id', '=', id).execute();
      }
      if (row.sweep !== null) {
        await tx.updateTable('training_jobs').set({ status: 'cancelled', cancel_requested: 1, finished_at: at, updated_at: at }).where('parent_id', '=', id).where('status', '=', 'queued').execute();
        await tx.updateTable('training_jobs').set({ cancel_requested: 1, updated_at: at }).where('parent_id', '=', id).where('status', '=', 'running').execute();
      }
      const after = await this.lockJob(tx, id);
      return { result: toJob(after), before: { status: row.status }, after: { status: after.status, cancelRequested: true } };
    });
    if (job.parentId !== null && TERMINAL.includes(job.status)) await this.onTrialEnded?.(ctx, job.parentId);
    return job;
  }

  /** A failed, cancelled or timed-out job goes back to the queue with its retries renewed. */
  async retry(ctx: CallContext, id: string): Promise<TrainingJob> {
    return this.audit.audited(ctx, 'training_job.retry', `training-job/${id}`, async (tx) => {
      const row = await this.lockJob(tx, id);
      if (!['failed', 'cancelled', 'timed_out'].includes(row.status)) {
        throw new SluiceError('SLUICE_E_TRAINING_STATE', `training job ${id} is ${row.status}; only failed, cancelled or timed-out jobs are retried`, { details: { id, status: row.status } });
      }
      if (row.sweep !== null || row.parent_id !== null) {
        throw new SluiceError('SLUICE_E_TRAINING_STATE', `training job ${id} is ${row.sweep !== null ? 'a sweep' : 'a sweep trial'}; submit the sweep again`, { details: { id } });
      }
      const at = now();
      const set = { status: 'queued', cancel_requested: 0, error: null, max_attempts: Number(row.attempts) + Number(row.retries) + 1, validation: null, drifted: 0, finished_at: null, updated_at: at };
      await tx.updateTable('training_jobs').set(set).where('id', '=', id).execute();
      return { result: toJob({ ...row, ...set }), before: { status: row.status }, after: { status: 'queued', maxAttempts: set.max_attempts } };
    });
  }

  async job(id: string): Promise<TrainingJob | undefined> {
    const row = await jobQuery(this.store.db).where('training_jobs.id', '=', id).executeTakeFirst();
    return row ? toJob(row) : undefined;
  }

  /** Newest first. */
  async jobs(filter: { model?: string | null; status?: string | null; parentId?: string | null }, page: PageArgs): Promise<Connection<TrainingJob>> {
    const size = pageSize(page.first);
    const after = decodeCursor('training-jobs', page.after);
    let q = jobQuery(this.store.db);
    if (after !== undefined) q = q.where('training_jobs.id', '<', after);
    if (filter.model) q = q.where('models.name', '=', filter.model);
    if (filter.status) q = q.where('training_jobs.status', '=', filter.status);
    if (filter.parentId) q = q.where('training_jobs.parent_id', '=', filter.parentId);
    const rows = await q.orderBy('training_jobs.id', 'desc').limit(size + 1).execute();
    return toConnection(rows, size, 'training-jobs', (r) => r.id, toJob, page.after);
  }

  async trials(parentId: string): Promise<TrainingJob[]> {
    const rows = await jobQuery(this.store.db).where('training_jobs.parent_id', '=', parentId).orderBy('training_jobs.trial').execute();
    return rows.map(toJob);
  }

  async attempts(jobId: string): Promise<TrainingAttempt[]> {
    const rows = await this.store.db.selectFrom('training_attempts').selectAll().where('job_id', '=', jobId).orderBy('number').execute();
    return rows.map(toAttempt);
  }

  /** Log lines after `afterSeq`, oldest first. */
  async logs(jobId: string, afterSeq = 0, limit = 1000): Promise<LogLine[]> {
    const rows = await this.store.db.selectFrom('training_logs').selectAll().where('job_id', '=', jobId).where('seq', '>', afterSeq).orderBy('seq').limit(Math.min(Math.max(limit, 1), 5000)).execute();
    return rows.map(toLogLine);
  }

  /**
   * The job now, then on every change (status, metrics, new log lines) until it ends. Polls the
   * store, so it sees changes made through any replica.
   */
  async *watch(id: string, signal: AbortSignal, intervalMs = 250): AsyncGenerator<{ job: TrainingJob; logs: LogLine[] }> {
    let seq = 0;
    let last = '';
    while (!signal.aborted) {
      const job = await this.job(id);
      if (!job) return;
      const logs = job.logSeq > seq ? await this.logs(id, seq, 5000) : [];
      if (logs.length > 0) seq = logs.at(-1)!.seq;
      const stamp = `${job.updatedAt}:${job.status}:${seq}`;
      if (stamp !== last) {
        last = stamp;
        yield { job, logs };
      }
      if (TERMINAL.includes(job.status) && job.logSeq <= seq) return;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  async setDataSchema(ctx: CallContext, model: string, raw: unknown): Promise<DataSchema> {
    const schema = parseDataSchema(raw);
    return this.audit.audited(ctx, 'model.set_data_schema', `model/${model}`, async (tx) => {
      const m = await this.store.forUpdate(tx.selectFrom('models').select('id').where('name', '=', model)).executeTakeFirst();
      if (!m) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `no model ${model}`, { details: { model } });
      const before = await tx.selectFrom('model_data_schemas').select('schema').where('model_id', '=', m.id).executeTakeFirst();
      const row = { model_id: m.id, schema: JSON.stringify(schema), updated_at: now(), updated_by: ctx.actor.name };
      await tx
        .insertInto('model_data_schemas')
        .values(row)
        .onConflict((oc) => oc.column('model_id').doUpdateSet({ schema: row.schema, updated_at: row.updated_at, updated_by: row.updated_by }))
        .execute();
      return { result: schema, before: before ? JSON.parse(before.schema) : null, after: schema };
    });
  }

  async dataSchema(model: string): Promise<DataSchema | null> {
    const row = await this.store.db
      .selectFrom('model_data_schemas')
      .innerJoin('models', 'models.id', 'model_data_schemas.model_id')
      .select('model_data_schemas.schema')
      .where('models.name', '=', model)
      .executeTakeFirst();
    return row ? (JSON.parse(row.schema) as DataSchema) : null;
  }

  async lockJob(tx: Tx, id: string): Promise<JobRow> {
    const row = await this.store.forUpdate(jobQuery(tx).where('training_jobs.id', '=', id)).executeTakeFirst();
    if (!row) throw new SluiceError('SLUICE_E_TRAINING_JOB_NOT_FOUND', `no training job ${id}`, { details: { id } });
    return row;
  }
}

/** The builtin trains on the dataset it ships with unless the job names another. */
function defaultDataset(trainer: TrainerSpec): DatasetRef {
  if (trainer.kind !== 'builtin') throw new SluiceError('SLUICE_E_VALIDATION', 'dataset: a command trainer needs {url, sha256}', { details: { field: 'dataset' } });
  const path = weatherCsvPath();
  return { url: path, sha256: createHash('sha256').update(readFileSync(path)).digest('hex') };
}

export function jobQuery(db: Store['db'] | Tx) {
  return db.selectFrom('training_jobs').innerJoin('models', 'models.id', 'training_jobs.model_id').selectAll('training_jobs').select('models.name as model_name');
}

/** The columns of a job that has not run yet: no attempts, results, logs or end. */
function unstartedJob(at: string) {
  return {
    attempts: 0,
    cancel_requested: 0,
    error: null,
    metrics: '{}',
    artifacts: null,
    version_number: null,
    best_trial_id: null,
    validation: null,
    drifted: 0,
    log_seq: 0,
    created_at: at,
    updated_at: at,
    finished_at: null,
  } satisfies Partial<TrainingJobTable>;
}

/**
 * Create a sweep's next trials while fewer than `parallelism` are unfinished (in the caller's
 * transaction, with the parent locked). Returns the trial numbers created.
 */
export async function releaseTrials(tx: Tx, parent: JobRow): Promise<number[]> {
  const plan = JSON.parse(parent.sweep!) as SweepPlan;
  const children = await tx.selectFrom('training_jobs').select(['trial', 'status']).where('parent_id', '=', parent.id).execute();
  const open = children.filter((c) => !TERMINAL.includes(c.status)).length;
  const next = children.length;
  const count = Math.max(0, Math.min(plan.parallelism - open, plan.trials - next));
  const at = now();
  const released: number[] = [];
  const { model_name: _name, ...base } = parent;
  for (let i = next; i < next + count; i++) {
    await tx
      .insertInto('training_jobs')
      .values({
        ...base,
        id: newId('job'),
        status: 'queued',
        parameters: JSON.stringify(plan.trialParameters[i]),
        max_attempts: Number(parent.retries) + 1,
        ...unstartedJob(at),
        parent_id: parent.id,
        trial: i,
        sweep: null,
        started_at: null,
      })
      .execute();
    released.push(i);
  }
  return released;
}

function parseOr<T>(text: string | null, fallback: T): T {
  return text === null ? fallback : (JSON.parse(text) as T);
}

export function toJob(r: JobRow): TrainingJob {
  return {
    id: r.id,
    modelId: r.model_id,
    modelName: r.model_name,
    status: r.status as JobStatus,
    trainer: JSON.parse(r.trainer) as TrainerSpec,
    dataset: JSON.parse(r.dataset) as DatasetRef,
    parameters: JSON.parse(r.parameters) as Record<string, unknown>,
    labels: JSON.parse(r.labels) as string[],
    timeoutSeconds: Number(r.timeout_seconds),
    retries: Number(r.retries),
    maxAttempts: Number(r.max_attempts),
    attemptCount: Number(r.attempts),
    cancelRequested: Number(r.cancel_requested) === 1,
    error: parseOr<JobError | null>(r.error, null),
    metrics: JSON.parse(r.metrics) as Record<string, number>,
    artifacts: parseOr(r.artifacts, null),
    versionNumber: r.version_number === null ? null : Number(r.version_number),
    parentVersion: r.parent_version === null ? null : Number(r.parent_version),
    parentId: r.parent_id,
    trial: r.trial === null ? null : Number(r.trial),
    sweep: parseOr<SweepPlan | null>(r.sweep, null),
    bestTrialId: r.best_trial_id,
    validation: parseOr<unknown>(r.validation, null),
    drifted: Number(r.drifted) === 1,
    logSeq: Number(r.log_seq),
    createdAt: r.created_at,
    createdBy: r.created_by,
    updatedAt: r.updated_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

export function toAttempt(r: TrainingAttemptTable): TrainingAttempt {
  return {
    jobId: r.job_id,
    number: Number(r.number),
    runner: r.runner_name,
    status: r.status,
    leaseExpiresAt: r.lease_expires_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    error: parseOr<JobError | null>(r.error, null),
  };
}

function toLogLine(r: TrainingLogTable): LogLine {
  return { seq: Number(r.seq), attempt: Number(r.attempt), at: r.at, stream: r.stream, line: r.line };
}
