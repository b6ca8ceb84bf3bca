// Validation gates before promotion (issue 16): a model's promotion policy, run by the control plane
// itself with ONNX Runtime on a registered holdout dataset, on every candidate before a rollout may
// start or `production` may move to it. Each evaluation is one stored, audited GateReport; the
// registry and the rollouts ask `admit` (PromotionGate), which evaluates first when the version has
// no report under the policy's current revision. docs/gates.md is the user's description.
import { SluiceError } from '../../lib/errors.js';
import type { Store } from '../store/db.js';
import type { GateReportTable, PromotionPolicyTable } from '../store/tables.js';
import type { CallContext } from './actor.js';
import type { ArtifactStore } from './artifact-store.js';
import type { AuditLog } from './audit.js';
import { DEFAULT_ALIAS } from './desired-state.js';
import { column, evaluationFailed, fairnessChecks, featureMatrix, floorCheck, labelValues, metadataLabels, round, runWorker, signatureFit, sliceChecks } from './gate-checks.js';
import { higherIsBetter, metricDrop, metricOf, withNoise } from './gate-metrics.js';
import { checkPolicyAgainstDataset, parsePolicy, type PromotionPolicy } from './gate-policy.js';
import type { GateWorkerTask, ModelScores } from './gate-worker.js';
import { HoldoutDatasets } from './holdout-datasets.js';
import { newId, now } from './ids.js';
import type { GateCheck, GateReport, GateRunner } from './lifecycle.js';
import { allows } from './permissions.js';
import type { PromotionGate, PromotionRequest } from './promotion-gate.js';
import type { ModelVersion, RegistryService } from './registry.js';
import { signatureDifference } from './rollouts.js';

const WORKER_BATCH = 1024;

export interface PolicyRevision {
  model: string;
  revision: number;
  policy: PromotionPolicy;
  createdAt: string;
  createdBy: string;
}

/** A report as stored: also the production version it was compared with (null: none). */
export interface StoredGateReport extends GateReport {
  productionVersion: number | null;
}

export interface PromotionApproval {
  id: string;
  model: string;
  version: number;
  approverId: string;
  approverName: string;
  comment: string;
  createdAt: string;
}

export class GateService implements GateRunner, PromotionGate {
  readonly datasets: HoldoutDatasets;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly artifacts: ArtifactStore,
    private readonly registry: RegistryService,
  ) {
    this.datasets = new HoldoutDatasets(store, audit, artifacts);
  }

  async setPolicy(ctx: CallContext, model: string, raw: unknown): Promise<PolicyRevision> {
    const resource = `model/${model}/promotion-policy`;
    let policy: PromotionPolicy;
    try {
      policy = parsePolicy(raw);
      if (!(await this.registry.model(model))) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `no model ${model}`, { details: { model } });
      const dataset = await this.datasets.get(model, policy.dataset);
      if (!dataset) throw new SluiceError('SLUICE_E_GATE_POLICY_INVALID', `promotion policy field dataset: model ${model} has no holdout dataset ${policy.dataset}`, { details: { field: 'dataset' } });
      checkPolicyAgainstDataset(policy, dataset.columns);
    } catch (err) {
      if (err instanceof SluiceError && err.status < 500) await this.audit.record(ctx, { action: 'gate.policy.set', resource, outcome: 'failed', reason: err.code });
      throw err;
    }
    return this.audit.audited(ctx, 'gate.policy.set', resource, async (tx) => {
      const m = await this.store.forUpdate(tx.selectFrom('models').select(['id', 'name']).where('name', '=', model)).executeTakeFirst();
      if (!m) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `no model ${model}`, { details: { model } });
      const last = await tx.selectFrom('promotion_policies').select('revision').where('model_id', '=', m.id).orderBy('revision', 'desc').limit(1).executeTakeFirst();
      const row: PromotionPolicyTable = { model_id: m.id, revision: Number(last?.revision ?? 0) + 1, policy: JSON.stringify(policy), created_at: now(), created_by: ctx.actor.name };
      await tx.insertInto('promotion_policies').values(row).execute();
      return { result: toRevision(row, model), before: last ? { revision: Number(last.revision) } : null, after: { revision: row.revision, policy } };
    });
  }

  async policy(model: string): Promise<PolicyRevision | undefined> {
    return (await this.policyHistory(model)).at(-1);
  }

  /** Every revision, oldest first. */
  async policyHistory(model: string): Promise<PolicyRevision[]> {
    const rows = await this.store.db
      .selectFrom('promotion_policies')
      .innerJoin('models', 'models.id', 'promotion_policies.model_id')
      .selectAll('promotion_policies')
      .where('models.name', '=', model)
      .orderBy('promotion_policies.revision')
      .execute();
    return rows.map((r) => toRevision(r, model));
  }

  /**
   * Run the model's current policy on a version and store the report. A version that cannot be
   * scored (it fails to load or run, or the dataset does not fit it) gets a stored failed report
   * with one `evaluation` check, and the call then fails with SLUICE_E_GATE_EVALUATION_FAILED.
   */
  async evaluate(ctx: CallContext, model: string, version: number): Promise<StoredGateReport> {
    const resource = `model/${model}/version/${version}`;
    let checks: GateCheck[];
    let revision: PolicyRevision | undefined;
    let production: ModelVersion | undefined;
    let failure: SluiceError | undefined;
    try {
      const candidate = await this.requireVersion(model, version);
      revision = await this.policy(model);
      production = await this.production(model);
      checks = revision ? await this.runChecks(revision.policy, candidate, production) : [];
    } catch (err) {
      if (!(err instanceof SluiceError) || err.status >= 500) throw err;
      if (err.code !== 'SLUICE_E_GATE_EVALUATION_FAILED' || revision === undefined) {
        await this.audit.record(ctx, { action: 'gate.evaluate', resource, outcome: 'failed', reason: err.code });
        throw err;
      }
      failure = err;
      checks = [{ kind: 'evaluation', name: `evaluation of version ${version}`, passed: false, measured: null, limit: null, detail: err.message }];
    }
    const report = await this.audit.audited(ctx, 'gate.evaluate', resource, async (tx) => {
      const m = await tx.selectFrom('models').select('id').where('name', '=', model).executeTakeFirstOrThrow();
      const row: GateReportTable = {
        id: newId('gr'),
        model_id: m.id,
        version,
        policy_revision: revision?.revision ?? null,
        production_version: production?.number ?? null,
        passed: checks.every((c) => c.passed) ? 1 : 0,
        checks: JSON.stringify(checks),
        created_at: now(),
        created_by: ctx.actor.name,
      };
      await tx.insertInto('gate_reports').values(row).execute();
      const r = toReport(row, model);
      return { result: r, resource: `${resource}/gate-report/${r.id}`, after: { policyRevision: r.policyRevision, passed: r.passed, failed: r.checks.filter((c) => !c.passed).map((c) => `${c.kind}: ${c.name}`) } };
    });
    if (failure) throw new SluiceError(failure.code, failure.message, { cause: failure, details: { ...failure.details, report: report.id } });
    return report;
  }

  async reports(model: string): Promise<StoredGateReport[]> {
    const rows = await this.store.db
      .selectFrom('gate_reports')
      .innerJoin('models', 'models.id', 'gate_reports.model_id')
      .selectAll('gate_reports')
      .where('models.name', '=', model)
      .orderBy('gate_reports.created_at')
      .orderBy('gate_reports.id')
      .execute();
    return rows.map((r) => toReport(r, model));
  }

  /**
   * The newest report of a version (under `revision` when given, null selecting reports made without
   * a policy; and made while `production` was the production version, when given, null: none).
   */
  async latestReport(model: string, version: number, revision?: number | null, production?: number | null): Promise<StoredGateReport | undefined> {
    let q = this.store.db
      .selectFrom('gate_reports')
      .innerJoin('models', 'models.id', 'gate_reports.model_id')
      .selectAll('gate_reports')
      .where('models.name', '=', model)
      .where('gate_reports.version', '=', version);
    if (revision === null) q = q.where('gate_reports.policy_revision', 'is', null);
    else if (revision !== undefined) q = q.where('gate_reports.policy_revision', '=', revision);
    if (production === null) q = q.where('gate_reports.production_version', 'is', null);
    else if (production !== undefined) q = q.where('gate_reports.production_version', '=', production);
    const row = await q.orderBy('gate_reports.created_at', 'desc').orderBy('gate_reports.id', 'desc').limit(1).executeTakeFirst();
    return row ? toReport(row, model) : undefined;
  }

  async approve(ctx: CallContext, model: string, version: number, comment: string | null | undefined): Promise<PromotionApproval> {
    const text = (comment ?? '').trim().slice(0, 1024);
    const resource = `model/${model}/version/${version}`;
    let submitter;
    try {
      submitter = await this.submitterOf(await this.requireVersion(model, version));
    } catch (err) {
      if (err instanceof SluiceError && err.status < 500) await this.audit.record(ctx, { action: 'promotion.approve', resource, outcome: 'failed', reason: err.code });
      throw err;
    }
    // Reads inside the transaction go through `tx`: SQLite has one connection, held by the transaction.
    return this.audit.audited(ctx, 'promotion.approve', resource, async (tx) => {
      const m = await this.store.forUpdate(tx.selectFrom('models').select(['id', 'name']).where('name', '=', model)).executeTakeFirst();
      if (!m) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `no model ${model}`, { details: { model } });
      if (submitter !== undefined && submitter.id === ctx.actor.id) {
        throw new SluiceError('SLUICE_E_GATE_SELF_APPROVAL', `${ctx.actor.name} submitted version ${version} of ${model} (${submitter.via}) and cannot approve it; a second operator or admin must`, {
          details: { model, version, submitter: submitter.name },
        });
      }
      const existing = await tx.selectFrom('promotion_approvals').selectAll().where('model_id', '=', m.id).where('version', '=', version).where('approver_id', '=', ctx.actor.id).executeTakeFirst();
      if (existing) return { result: toApproval(existing, model), after: { existing: existing.id } };
      const row = { id: newId('apr'), model_id: m.id, version, approver_id: ctx.actor.id, approver_name: ctx.actor.name, comment: text, created_at: now() };
      await tx.insertInto('promotion_approvals').values(row).execute();
      return { result: toApproval(row, model), after: { comment: text } };
    });
  }

  async approvals(model: string, version: number): Promise<PromotionApproval[]> {
    const rows = await this.store.db
      .selectFrom('promotion_approvals')
      .innerJoin('models', 'models.id', 'promotion_approvals.model_id')
      .selectAll('promotion_approvals')
      .where('models.name', '=', model)
      .where('promotion_approvals.version', '=', version)
      .orderBy('promotion_approvals.created_at')
      .execute();
    return rows.map((r) => toApproval(r, model));
  }

  /**
   * May `version` be promoted? Not gated without a policy. Otherwise its newest report under the
   * current revision (evaluated now when there is none) must have passed, unless an admin gives a
   * reason (audited as `gate.override`, naming the failing checks); with `requireApproval` an
   * operator or admin other than its submitter must have approved it (an override does not waive that).
   */
  async admit(ctx: CallContext, request: PromotionRequest): Promise<void> {
    try {
      await this.admitOrThrow(ctx, request);
    } catch (err) {
      // The refused promotion is audited under its own action, like any refused mutation.
      const refused = err instanceof SluiceError && err.status < 500 && err.code !== 'SLUICE_E_AUTH_FORBIDDEN';
      if (refused) await this.audit.record(ctx, { action: request.action, resource: `model/${request.model}/version/${request.version}`, outcome: 'failed', reason: err.code });
      throw err;
    }
  }

  private async admitOrThrow(ctx: CallContext, request: PromotionRequest): Promise<void> {
    const { model, version } = request;
    const resource = `model/${model}/version/${version}`;
    const reason = request.override?.trim() ?? '';
    if (request.override !== undefined && request.override !== null) {
      if (ctx.actor.role === 'system' || !allows(ctx.actor.role, 'gate:override')) await this.audit.denied(ctx, 'gate.override', resource, 'needs gate:override');
      if (reason === '') throw new SluiceError('SLUICE_E_VALIDATION', 'gateOverride needs a reason', { details: { field: 'gateOverride' } });
    }
    const revision = await this.policy(model);
    if (!revision) return;
    // A report compared the version with the production version of its time: once production
    // moves, no-regression and compatibility are measured again.
    const production = (await this.production(model))?.number ?? null;
    let report = await this.latestReport(model, version, revision.revision, production);
    if (!report) {
      try {
        report = await this.evaluate(ctx, model, version);
      } catch (err) {
        if ((err as SluiceError).code !== 'SLUICE_E_GATE_EVALUATION_FAILED') throw err;
        report = await this.latestReport(model, version, revision.revision, production);
        if (!report) throw err;
      }
    }
    const failing = report.checks.filter((c) => !c.passed);
    if (!report.passed && reason === '') {
      throw new SluiceError('SLUICE_E_GATE_FAILED', `version ${version} of ${model} failed its promotion gate (policy revision ${revision.revision}): ${failing.map((c) => `${c.kind} ${c.name}: ${c.detail}`).join('; ')}`, {
        details: { model, version, report: report.id, policyRevision: revision.revision, failing },
      });
    }
    if (revision.policy.requireApproval) {
      const submitter = await this.submitterOf(await this.requireVersion(model, version));
      const approvals = (await this.approvals(model, version)).filter((a) => a.approverId !== submitter?.id);
      if (approvals.length === 0) {
        throw new SluiceError('SLUICE_E_GATE_APPROVAL_REQUIRED', `promoting version ${version} of ${model} needs an approval (approvePromotion) by an operator or admin who did not submit it`, { details: { model, version } });
      }
    }
    // Written only once nothing else refuses: the event says this override let this action through.
    if (!report.passed) {
      await this.audit.record(ctx, {
        action: 'gate.override',
        resource,
        outcome: 'success',
        reason,
        after: { for: request.action, report: report.id, policyRevision: revision.revision, failing: failing.map((c) => ({ kind: c.kind, name: c.name, measured: c.measured, limit: c.limit })) },
      });
    }
  }

  private async requireVersion(model: string, version: number): Promise<ModelVersion> {
    if (!(await this.registry.model(model))) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `no model ${model}`, { details: { model } });
    const v = await this.registry.version(model, version);
    if (!v) throw new SluiceError('SLUICE_E_MODEL_VERSION_NOT_FOUND', `model ${model} has no version ${version}`, { details: { model, version } });
    return v;
  }

  /** The token that submitted a version: the uploader, or for a trained version its training job's submitter (from the audit log). */
  private async submitterOf(v: ModelVersion): Promise<{ id: string; name: string; via: string } | undefined> {
    const job = v.lineage.trainingJob;
    const [action, resource] = job ? ['training_job.submit', `training-job/${job}`] : ['model_version.create', `model/${v.modelName}/version/${v.number}`];
    const e = await this.store.db
      .selectFrom('audit_events')
      .select(['actor_id', 'actor_name'])
      .where('action', '=', action)
      .where('resource', '=', resource)
      .where('outcome', '=', 'success')
      .orderBy('seq')
      .limit(1)
      .executeTakeFirst();
    return e ? { id: e.actor_id, name: e.actor_name, via: job ? `training job ${job}` : 'upload' } : undefined;
  }

  private async runChecks(policy: PromotionPolicy, candidate: ModelVersion, production: ModelVersion | undefined): Promise<GateCheck[]> {
    const model = candidate.modelName;
    const dataset = await this.datasets.get(model, policy.dataset);
    if (!dataset) throw evaluationFailed(`model ${model} has no holdout dataset ${policy.dataset}`, { dataset: policy.dataset });
    const table = await this.datasets.load(dataset);
    const candidateBytes = await this.artifacts.readAll(candidate.sha256);
    const fit = (v: ModelVersion) => signatureFit(policy, v);
    const misfit = fit(candidate);
    if (misfit) throw evaluationFailed(`dataset ${policy.dataset} does not fit version ${candidate.number}: ${misfit}`, { version: candidate.number });
    const classes = policy.label.task === 'classification' ? (policy.label.classes ?? metadataLabels(candidateBytes)) : undefined;
    const labels = labelValues(policy, table, classes);
    const x = featureMatrix(policy, table);
    const rows = table.rows.length;
    const cols = policy.input.columns.length;
    const inputs = [{ key: 'holdout', data: x }];
    if (policy.robustness) inputs.push({ key: 'noisy', data: withNoise(x, rows, cols, policy.robustness.noise, policy.robustness.seed) });
    // No-regression scores production on the same rows, in the same worker, when it can be fed.
    const compared = policy.maxRegression !== undefined && production !== undefined && production.number !== candidate.number;
    const productionMisfit = compared ? signatureFit(policy, production) : undefined;
    // The worker gets the model's bytes (decrypted when the store is encrypted), not a path.
    const models = [{ key: 'candidate', bytes: candidateBytes, inputs: inputs.map((i) => i.key) }];
    if (compared && !productionMisfit) models.push({ key: 'production', bytes: await this.artifacts.readAll(production.sha256), inputs: ['holdout'] });
    const task: GateWorkerTask = { models, inputs, rows, cols, inputName: policy.input.tensor, outputName: policy.label.output, task: policy.label.task, batch: WORKER_BATCH };
    const scores = await runWorker(task);
    const scored = scores.candidate!;
    if (!scored.ok) throw evaluationFailed(`version ${candidate.number} could not be ${scored.stage === 'load' ? 'loaded' : 'run'} on dataset ${policy.dataset}: ${scored.message}`, { version: candidate.number, stage: scored.stage });
    const predicted = scored.predictions.holdout!;
    if (classes) {
      const outOfRange = predicted.findIndex((p) => p < 0 || p >= classes.length);
      if (outOfRange >= 0) throw evaluationFailed(`version ${candidate.number} predicted class ${predicted[outOfRange]} on line ${outOfRange + 2}, and there are ${classes.length} classes`, { line: outOfRange + 2 });
    }
    const score = metricOf(policy.metric, predicted, labels);
    const checks: GateCheck[] = [floorCheck(policy, score, dataset.name)];

    const needsProduction = production !== undefined && production.number !== candidate.number;
    if (policy.maxRegression !== undefined) checks.push(regressionCheck(policy, score, candidate, production, labels, productionMisfit, scores.production));
    if (policy.slices) checks.push(...sliceChecks(policy, predicted, labels, column(table, policy.slices.column)));
    if (policy.fairness) checks.push(...fairnessChecks(policy, predicted, labels, column(table, policy.fairness.column), classes!));
    if (policy.robustness) {
      const noisy = metricOf(policy.metric, scored.predictions.noisy!, labels);
      const drop = metricDrop(policy.metric, score, noisy);
      checks.push({
        kind: 'robustness',
        name: `${policy.metric} under noise ${policy.robustness.noise} × std (seed ${policy.robustness.seed})`,
        passed: drop <= policy.robustness.maxDrop,
        measured: round(drop),
        limit: policy.robustness.maxDrop,
        detail: `${policy.metric} ${round(score)} without noise, ${round(noisy)} with: a drop of ${round(drop)} (at most ${policy.robustness.maxDrop})`,
      });
    }
    if (policy.compatibility) {
      const difference = needsProduction ? signatureDifference(production.signature, candidate.signature) : null;
      checks.push({
        kind: 'compatibility',
        name: 'input/output signature',
        passed: difference === null,
        measured: null,
        limit: null,
        detail: !needsProduction ? (production ? `version ${candidate.number} is the production version` : 'no production version to compare with') : (difference ?? `the same as production version ${production.number}`),
      });
    }
    return checks;
  }

  private async production(model: string): Promise<ModelVersion | undefined> {
    const m = await this.registry.model(model);
    const alias = m ? (await this.registry.aliases(m.id)).find((a) => a.name === DEFAULT_ALIAS) : undefined;
    return alias ? this.registry.version(model, alias.versionNumber) : undefined;
  }
}


function regressionCheck(policy: PromotionPolicy, score: number, candidate: ModelVersion, production: ModelVersion | undefined, labels: Float64Array, misfit: string | undefined, scored: ModelScores | undefined): GateCheck {
  const name = `${policy.metric} against production`;
  const skip = (detail: string): GateCheck => ({ kind: 'no_regression', name, passed: true, measured: round(score), limit: null, detail });
  if (!production) return skip('no production version to compare with');
  if (production.number === candidate.number) return skip(`version ${candidate.number} is the production version`);
  if (misfit) return skip(`production version ${production.number} cannot be scored on dataset ${policy.dataset} (${misfit}); not compared`);
  if (!scored?.ok) return skip(`production version ${production.number} could not be scored (${scored?.message ?? 'not run'}); not compared`);
  const base = metricOf(policy.metric, scored.predictions.holdout!, labels);
  const higher = higherIsBetter(policy.metric);
  const limit = higher ? base - policy.maxRegression! : base + policy.maxRegression!;
  return {
    kind: 'no_regression',
    name,
    passed: higher ? score >= limit : score <= limit,
    measured: round(score),
    limit: round(limit),
    detail: `${policy.metric} ${round(score)} against production version ${production.number}'s ${round(base)} (tolerance ${policy.maxRegression})`,
  };
}

function toRevision(r: PromotionPolicyTable, model: string): PolicyRevision {
  return { model, revision: Number(r.revision), policy: JSON.parse(r.policy) as PromotionPolicy, createdAt: r.created_at, createdBy: r.created_by };
}

function toReport(r: GateReportTable, model: string): StoredGateReport {
  return {
    id: r.id,
    model,
    version: Number(r.version),
    policyRevision: r.policy_revision === null ? null : Number(r.policy_revision),
    productionVersion: r.production_version === null ? null : Number(r.production_version),
    passed: Number(r.passed) === 1,
    checks: JSON.parse(r.checks) as GateCheck[],
    createdAt: r.created_at,
    createdBy: r.created_by,
  };
}

function toApproval(r: { id: string; version: number; approver_id: string; approver_name: string; comment: string; created_at: string }, model: string): PromotionApproval {
  return { id: r.id, model, version: Number(r.version), approverId: r.approver_id, approverName: r.approver_name, comment: r.comment, createdAt: r.created_at };
}
