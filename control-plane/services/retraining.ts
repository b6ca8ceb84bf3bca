// The retraining loop (issue 16): when the alerts a model's retraining policy names are firing on
// its production version, the leader starts a run — a training job on the policy's data, the gates
// on the version it registers, and, when they pass and the policy says so, a rollout — and follows
// it to the end. Every step is one audited transition of the run's row, so a restarted or new leader
// resumes where the last one stopped. People can pause a model's loop (runs hold at their next
// step, and no new run starts) and stop a run (its job is cancelled or its rollout aborted).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SluiceError, toSluiceError } from '../../lib/errors.js';
import type { Store, Tx } from '../store/db.js';
import type { RetrainingRunTable } from '../store/tables.js';
import { SYSTEM_ACTOR, systemContext, type CallContext } from './actor.js';
import type { AuditLog } from './audit.js';
import { DEFAULT_ALIAS } from './desired-state.js';
import { newId, now } from './ids.js';
import type { Alert, AlertSource, GateRunner } from './lifecycle.js';
import { parseRetrainingPolicy, type RetrainingPolicy } from './retraining-policy.js';
import type { RegistryService } from './registry.js';
import type { RolloutService } from './rollouts.js';
import type { TrainingService } from './training.js';

export const RUN_STATES = ['triggered', 'training', 'gating', 'rolling_out', 'awaiting_approval', 'promoted', 'aborted', 'gated', 'gate_failed', 'training_failed', 'rollout_failed', 'stopped'] as const;
export type RunState = (typeof RUN_STATES)[number];
const TERMINAL: readonly RunState[] = ['promoted', 'aborted', 'gated', 'gate_failed', 'training_failed', 'rollout_failed', 'stopped'];
/** A run waiting on something outside the loop (an approval, another rollout) tries again this often. */
const RETRY_WAIT_MS = 15_000;
const LOOP_ACTOR = 'retraining-loop';

export interface RetrainingPolicyRecord {
  model: string;
  revision: number;
  policy: RetrainingPolicy;
  createdAt: string;
  createdBy: string;
}

export interface RetrainingRun {
  id: string;
  model: string;
  policyRevision: number;
  state: RunState;
  active: boolean;
  /** The firing alerts that started the run. */
  triggers: Pick<Alert, 'id' | 'ruleName' | 'metric' | 'feature' | 'version' | 'value' | 'threshold' | 'firedAt'>[];
  jobId: string | null;
  version: number | null;
  gateReportId: string | null;
  rolloutId: string | null;
  message: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export interface LoopState {
  model: string;
  paused: boolean;
  reason: string | null;
  updatedAt: string | null;
  updatedBy: string | null;
}

export interface RetrainingDeps {
  store: Store;
  audit: AuditLog;
  training: TrainingService;
  rollouts: RolloutService;
  gates: GateRunner;
  alerts: AlertSource;
  registry: Pick<RegistryService, 'aliasTarget'>;
}

function toRun(r: RetrainingRunTable): RetrainingRun {
  return {
    id: r.id,
    model: r.model,
    policyRevision: Number(r.policy_revision),
    state: r.state as RunState,
    active: r.active_model !== null,
    triggers: JSON.parse(r.triggers) as RetrainingRun['triggers'],
    jobId: r.job_id,
    version: r.version === null ? null : Number(r.version),
    gateReportId: r.gate_report_id,
    rolloutId: r.rollout_id,
    message: r.message,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  };
}

/** SHA-256 of a dataset file on this machine (an absolute path or a file:// URL), streamed. */
async function digestFile(url: string): Promise<string> {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (err) {
    throw new SluiceError('SLUICE_E_TRAINING_DATASET_UNREADABLE', `the retraining policy's dataset ${url} cannot be read on the control plane: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err, details: { url } });
  }
  return hash.digest('hex');
}

export class RetrainingService {
  readonly #waitUntil = new Map<string, number>();

  constructor(private readonly deps: RetrainingDeps) {}

  private get store(): Store {
    return this.deps.store;
  }

  // ---- policy and pause, set by people ----

  async setPolicy(ctx: CallContext, model: string, raw: unknown): Promise<RetrainingPolicyRecord> {
    const policy = parseRetrainingPolicy(raw);
    return this.deps.audit.audited(ctx, 'retraining.policy.set', `model/${model}`, async (tx) => {
      const m = await this.modelRow(tx, model);
      const last = await tx.selectFrom('retraining_policies').select((eb) => eb.fn.max('revision').as('rev')).where('model_id', '=', m.id).executeTakeFirst();
      const revision = Number(last?.rev ?? 0) + 1;
      const at = now();
      await tx.insertInto('retraining_policies').values({ model_id: m.id, revision, policy: JSON.stringify(policy), created_at: at, created_by: ctx.actor.name }).execute();
      const record: RetrainingPolicyRecord = { model, revision, policy, createdAt: at, createdBy: ctx.actor.name };
      return { result: record, before: last?.rev ? { revision: Number(last.rev) } : null, after: { revision, policy } };
    });
  }

  async policy(model: string): Promise<RetrainingPolicyRecord | null> {
    return (await this.policies(model, 1))[0] ?? null;
  }

  /** A model's policy revisions, newest first. */
  async policies(model: string, limit = 50): Promise<RetrainingPolicyRecord[]> {
    const rows = await this.store.db
      .selectFrom('retraining_policies')
      .innerJoin('models', 'models.id', 'retraining_policies.model_id')
      .selectAll('retraining_policies')
      .where('models.name', '=', model)
      .orderBy('revision', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ model, revision: Number(r.revision), policy: JSON.parse(r.policy) as RetrainingPolicy, createdAt: r.created_at, createdBy: r.created_by }));
  }

  /** One revision of a model's policy (a run keeps the revision it started under). */
  async policyRevision(model: string, revision: number): Promise<RetrainingPolicyRecord | undefined> {
    const r = await this.store.db
      .selectFrom('retraining_policies')
      .innerJoin('models', 'models.id', 'retraining_policies.model_id')
      .selectAll('retraining_policies')
      .where('models.name', '=', model)
      .where('revision', '=', revision)
      .executeTakeFirst();
    return r ? { model, revision: Number(r.revision), policy: JSON.parse(r.policy) as RetrainingPolicy, createdAt: r.created_at, createdBy: r.created_by } : undefined;
  }

  async loopState(model: string): Promise<LoopState> {
    const row = await this.store.db
      .selectFrom('retraining_state')
      .innerJoin('models', 'models.id', 'retraining_state.model_id')
      .selectAll('retraining_state')
      .where('models.name', '=', model)
      .executeTakeFirst();
    return { model, paused: Number(row?.paused ?? 0) === 1, reason: row?.paused_reason ?? null, updatedAt: row?.updated_at ?? null, updatedBy: row?.updated_by ?? null };
  }

  /** Pause (or resume) a model's loop: no new run starts, and the active run holds at its next step. */
  async setPaused(ctx: CallContext, model: string, paused: boolean, reason: string | null | undefined): Promise<LoopState> {
    if (reason !== undefined && reason !== null && reason.length > 1024) throw new SluiceError('SLUICE_E_VALIDATION', 'reason: at most 1024 characters', { details: { field: 'reason' } });
    return this.deps.audit.audited(ctx, paused ? 'retraining.pause' : 'retraining.resume', `model/${model}`, async (tx) => {
      const m = await this.modelRow(tx, model);
      const before = await tx.selectFrom('retraining_state').selectAll().where('model_id', '=', m.id).executeTakeFirst();
      const row = { model_id: m.id, paused: paused ? 1 : 0, paused_reason: paused ? (reason ?? null) : null, updated_at: now(), updated_by: ctx.actor.name };
      await tx
        .insertInto('retraining_state')
        .values(row)
        .onConflict((oc) => oc.column('model_id').doUpdateSet({ paused: row.paused, paused_reason: row.paused_reason, updated_at: row.updated_at, updated_by: row.updated_by }))
        .execute();
      const state: LoopState = { model, paused, reason: row.paused_reason, updatedAt: row.updated_at, updatedBy: row.updated_by };
      return { result: state, before: { paused: Number(before?.paused ?? 0) === 1 }, after: { paused, reason: row.paused_reason } };
    });
  }

  async runs(model: string | null | undefined, limit = 50): Promise<RetrainingRun[]> {
    let q = this.store.db.selectFrom('retraining_runs').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(Math.min(Math.max(limit, 1), 500));
    if (model) q = q.where('model', '=', model);
    return (await q.execute()).map(toRun);
  }

  async run(id: string): Promise<RetrainingRun | undefined> {
    const row = await this.store.db.selectFrom('retraining_runs').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRun(row) : undefined;
  }

  /** Stop a run where it is: its training job is cancelled, its rollout aborted; the run ends `stopped`. */
  async stop(ctx: CallContext, id: string, reason: string | null | undefined): Promise<RetrainingRun> {
    const run = await this.run(id);
    if (!run) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `no retraining run ${id}`, { details: { run: id } });
    if (!run.active) throw new SluiceError('SLUICE_E_RETRAIN_STATE', `retraining run ${id} already ended ${run.state}`, { details: { run: id, state: run.state } });
    const why = `stopped by ${ctx.actor.name}${reason ? `: ${reason}` : ''}`;
    if (run.state === 'training' && run.jobId !== null) {
      await this.deps.training.cancel(ctx, run.jobId).catch((err: unknown) => {
        if ((err as SluiceError).code !== 'SLUICE_E_TRAINING_STATE') throw err;
      });
    }
    if (run.rolloutId !== null) {
      const r = await this.deps.rollouts.get(run.rolloutId);
      if (r && ['PROGRESSING', 'PAUSED', 'SWITCHED'].includes(r.phase)) await this.deps.rollouts.abort(ctx, r.id, why);
    }
    return this.transition(ctx, id, 'retraining.stop', run.state, { state: 'stopped', message: why });
  }

  // ---- the loop, run by the leader ----

  /** One pass: start runs where a policy's alerts fire, and move every active run on. Errors are per model and logged by the caller. */
  async tick(at = Date.now(), onError: (model: string, err: unknown) => void = () => {}): Promise<void> {
    const active = await this.store.db.selectFrom('retraining_runs').selectAll().where('active_model', 'is not', null).execute();
    const paused = new Set(
      (await this.store.db.selectFrom('retraining_state').innerJoin('models', 'models.id', 'retraining_state.model_id').select('models.name').where('paused', '=', 1).execute()).map((r) => r.name),
    );
    for (const row of active) {
      if (paused.has(row.model)) continue;
      await this.advance(toRun(row), at).catch((err: unknown) => onError(row.model, err));
    }
    const busy = new Set(active.map((r) => r.model));
    const models = await this.store.db.selectFrom('retraining_policies').innerJoin('models', 'models.id', 'retraining_policies.model_id').select('models.name').distinct().execute();
    for (const { name } of models) {
      if (busy.has(name) || paused.has(name)) continue;
      await this.maybeTrigger(name, at).catch((err: unknown) => onError(name, err));
    }
  }

  /** Start a run when the policy's alerts are firing on the production version and the cooldown has passed. */
  async maybeTrigger(model: string, at = Date.now()): Promise<RetrainingRun | null> {
    const record = await this.policy(model);
    if (!record || !record.policy.enabled) return null;
    const { policy } = record;
    const last = (await this.runs(model, 1))[0];
    if (last?.finishedAt && Date.parse(last.finishedAt) + policy.cooldownSeconds * 1000 > at) return null;
    const production = await this.deps.registry.aliasTarget(model, DEFAULT_ALIAS);
    if (production === undefined) return null;
    const firing = (await this.deps.alerts.list({ model, state: 'firing' }, 500)).filter((a) => a.version === production);
    const matches = (a: Alert) => policy.triggers.metrics.includes(a.metric) || policy.triggers.rules.includes(a.ruleName);
    const chosen = firing.filter(matches);
    if (chosen.length === 0) return null;
    if (policy.triggers.require === 'all') {
      const missing = [...policy.triggers.metrics.filter((m) => !firing.some((a) => a.metric === m)), ...policy.triggers.rules.filter((r) => !firing.some((a) => a.ruleName === r))];
      if (missing.length > 0) return null;
    }
    const ctx = systemContext(LOOP_ACTOR);
    const triggers = chosen.map((a) => ({ id: a.id, ruleName: a.ruleName, metric: a.metric, feature: a.feature, version: a.version, value: a.value, threshold: a.threshold, firedAt: a.firedAt }));
    const summary = chosen.map((a) => `${a.ruleName} (${a.metric}${a.feature ? ` ${a.feature}` : ''} ${a.value === null ? '?' : Number(a.value.toFixed(4))} vs ${a.threshold})`).join(', ');
    const run = await this.deps.audit.audited(ctx, 'retraining.trigger', `model/${model}`, async (tx) => {
      const m = await this.modelRow(tx, model);
      const at2 = now();
      const row: RetrainingRunTable = {
        id: newId('rt'),
        model_id: m.id,
        model,
        active_model: m.id,
        policy_revision: record.revision,
        state: 'triggered',
        triggers: JSON.stringify(triggers),
        job_id: null,
        version: null,
        gate_report_id: null,
        rollout_id: null,
        message: `version ${production} is alerting: ${summary}`,
        created_at: at2,
        updated_at: at2,
        finished_at: null,
      };
      await tx.insertInto('retraining_runs').values(row).execute();
      return { result: toRun(row), resource: `retraining-run/${row.id}`, before: null, after: { model, production, policyRevision: record.revision, triggers } };
    });
    return this.advance(run, at);
  }

  /** Move one active run on by at most one step per state it can leave now. */
  async advance(run: RetrainingRun, at = Date.now()): Promise<RetrainingRun> {
    const ctx = systemContext(LOOP_ACTOR);
    const wait = this.#waitUntil.get(run.id);
    if (wait !== undefined && wait > at) return run;
    this.#waitUntil.delete(run.id);
    const record = await this.policyRevision(run.model, run.policyRevision);
    if (!record) return this.transition(ctx, run.id, 'retraining.fail', run.state, { state: 'training_failed', message: `policy revision ${run.policyRevision} is gone` });
    const { policy } = record;
    switch (run.state) {
      case 'triggered': {
        const existing = await this.jobOf(run);
        const job = existing !== undefined ? { jobId: existing } : await this.submitJob(ctx, run, policy);
        if ('failure' in job) return this.transition(ctx, run.id, 'retraining.fail', run.state, { state: 'training_failed', message: job.failure });
        return this.transition(ctx, run.id, 'retraining.train', run.state, { state: 'training', job_id: job.jobId, message: `training job ${job.jobId} submitted` });
      }
      case 'training': {
        const job = run.jobId === null ? undefined : await this.deps.training.job(run.jobId);
        if (!job) return this.transition(ctx, run.id, 'retraining.fail', run.state, { state: 'training_failed', message: `training job ${run.jobId} is gone` });
        if (job.status === 'queued' || job.status === 'running') return run;
        if (job.status !== 'succeeded' || job.versionNumber === null) {
          return this.transition(ctx, run.id, 'retraining.fail', run.state, { state: 'training_failed', message: `training job ${job.id} ${job.status}${job.error ? `: ${job.error.code} ${job.error.message}` : ''}` });
        }
        return this.advance(await this.transition(ctx, run.id, 'retraining.trained', run.state, { state: 'gating', version: job.versionNumber, message: `job ${job.id} registered version ${job.versionNumber}; running the gates` }), at);
      }
      case 'gating': {
        const version = run.version!;
        let report;
        try {
          report = await this.deps.gates.evaluate(ctx, run.model, version);
        } catch (err) {
          const e = toSluiceError(err, 'SLUICE_E_GATE_EVALUATION_FAILED', true);
          return this.transition(ctx, run.id, 'retraining.gate', run.state, { state: 'gate_failed', message: `the gates could not evaluate version ${version}: ${e.code} ${e.message}` });
        }
        if (!report.passed) {
          const failed = report.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`).join('; ');
          return this.transition(ctx, run.id, 'retraining.gate', run.state, { state: 'gate_failed', gate_report_id: report.id, message: `version ${version} failed its gate: ${failed}` });
        }
        if (policy.rollout === null) {
          return this.transition(ctx, run.id, 'retraining.gate', run.state, { state: 'gated', gate_report_id: report.id, message: `version ${version} passed its gate (${report.checks.length} checks); the policy starts no rollout` });
        }
        return this.advance(await this.transition(ctx, run.id, 'retraining.gate', run.state, { state: 'rolling_out', gate_report_id: report.id, message: `version ${version} passed its gate (${report.checks.length} checks); starting the rollout` }), at);
      }
      case 'awaiting_approval':
      case 'rolling_out': {
        if (run.rolloutId === null) return this.startRollout(ctx, run, policy, at);
        const r = await this.deps.rollouts.get(run.rolloutId);
        if (!r) return this.transition(ctx, run.id, 'retraining.fail', run.state, { state: 'rollout_failed', message: `rollout ${run.rolloutId} is gone` });
        if (r.phase === 'PROMOTED') return this.transition(ctx, run.id, 'retraining.promoted', run.state, { state: 'promoted', message: `rollout ${r.id} promoted version ${r.candidate}` });
        if (r.phase === 'ABORTED') return this.transition(ctx, run.id, 'retraining.aborted', run.state, { state: 'aborted', message: `rollout ${r.id} aborted: ${r.abortReason ?? r.message}` });
        return run;
      }
      default:
        return run;
    }
  }

  private async startRollout(ctx: CallContext, run: RetrainingRun, policy: RetrainingPolicy, at: number): Promise<RetrainingRun> {
    try {
      const r = await this.deps.rollouts.start(ctx, { ...policy.rollout!, model: run.model, candidate: run.version! });
      return this.transition(ctx, run.id, 'retraining.rollout', run.state, { state: 'rolling_out', rollout_id: r.id, message: `rollout ${r.id} (${r.strategy}) started for version ${run.version}` });
    } catch (err) {
      const e = toSluiceError(err, 'SLUICE_E_INTERNAL', true);
      if (e.code === 'SLUICE_E_GATE_APPROVAL_REQUIRED' || e.code === 'SLUICE_E_ROLLOUT_ACTIVE') {
        // Someone must act (approve, or finish the other rollout): try again later, without flooding the audit log.
        this.#waitUntil.set(run.id, at + RETRY_WAIT_MS);
        const message = e.code === 'SLUICE_E_GATE_APPROVAL_REQUIRED' ? `version ${run.version} waits for a promotion approval` : `waiting for the model's other rollout to end: ${e.message}`;
        if (run.state === 'awaiting_approval' && run.message === message) return run;
        return this.transition(ctx, run.id, 'retraining.wait', run.state, { state: 'awaiting_approval', message });
      }
      return this.transition(ctx, run.id, 'retraining.fail', run.state, { state: 'rollout_failed', message: `the rollout of version ${run.version} could not start: ${e.code} ${e.message}` });
    }
  }

  /** Submit the run's job; a refusal (unreadable dataset, bad trainer) ends the run instead of being retried every pass. */
  private async submitJob(ctx: CallContext, run: RetrainingRun, policy: RetrainingPolicy): Promise<{ jobId: string } | { failure: string }> {
    const { training } = policy;
    let sha256 = training.dataset.sha256;
    try {
      sha256 ??= await digestFile(training.dataset.url);
      const job = await this.deps.training.submit(ctx, {
        model: run.model,
        trainer: training.trainer,
        dataset: { url: training.dataset.url, sha256 },
        parameters: training.parameters,
        labels: training.labels,
        timeoutSeconds: training.timeoutSeconds,
        retries: training.retries,
      });
      return { jobId: job.id };
    } catch (err) {
      const e = toSluiceError(err, 'SLUICE_E_INTERNAL', true);
      if (e.status >= 500) throw e;
      return { failure: `the training job could not be submitted: ${e.code} ${e.message}` };
    }
  }

  /**
   * The job a run submitted, for a leader that died between submitting it and recording it: the
   * loop is the only `system` submitter and a model has one active run, so it is the model's first
   * top-level job by `system` since the run started. (Not a label: runners claim jobs by label.)
   */
  private async jobOf(run: RetrainingRun): Promise<string | undefined> {
    const row = await this.store.db
      .selectFrom('training_jobs')
      .innerJoin('models', 'models.id', 'training_jobs.model_id')
      .select('training_jobs.id')
      .where('models.name', '=', run.model)
      .where('training_jobs.created_by', '=', SYSTEM_ACTOR.name)
      .where('training_jobs.parent_id', 'is', null)
      .where('training_jobs.created_at', '>=', run.createdAt)
      .orderBy('training_jobs.created_at')
      .limit(1)
      .executeTakeFirst();
    return row?.id;
  }

  private async transition(
    ctx: CallContext,
    id: string,
    action: string,
    from: RunState,
    set: Partial<Pick<RetrainingRunTable, 'state' | 'job_id' | 'version' | 'gate_report_id' | 'rollout_id' | 'message'>> & { state: RunState },
  ): Promise<RetrainingRun> {
    return this.deps.audit.audited(ctx, action, `retraining-run/${id}`, async (tx) => {
      const row = await this.store.forUpdate(tx.selectFrom('retraining_runs').selectAll().where('id', '=', id)).executeTakeFirst();
      if (!row) throw new SluiceError('SLUICE_E_STORE_NOT_FOUND', `no retraining run ${id}`, { details: { run: id } });
      if (row.state !== from || row.active_model === null) {
        throw new SluiceError('SLUICE_E_RETRAIN_STATE', `retraining run ${id} is ${row.state}, not ${from}`, { details: { run: id, state: row.state } });
      }
      const at = now();
      const terminal = TERMINAL.includes(set.state);
      const patch = { ...set, updated_at: at, ...(terminal ? { active_model: null, finished_at: at } : {}) };
      await tx.updateTable('retraining_runs').set(patch).where('id', '=', id).execute();
      return { result: toRun({ ...row, ...patch }), before: { state: row.state }, after: { ...set, model: row.model } };
    });
  }

  private async modelRow(tx: Tx, model: string): Promise<{ id: string; name: string }> {
    const m = await tx.selectFrom('models').select(['id', 'name']).where('name', '=', model).executeTakeFirst();
    if (!m) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `no model ${model}`, { details: { model } });
    return m;
  }
}
