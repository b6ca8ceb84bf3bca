// One timeline per model (issue 16): alerts, retraining runs, training jobs, versions, gate reports,
// rollouts, and the people's acts on them (alias moves, pauses, gate overrides), in time order, each
// event tied to the retraining run it belongs to when it belongs to one.
import type { Store } from '../store/db.js';
import type { AlertSource, GateRunner } from './lifecycle.js';
import type { RetrainingService } from './retraining.js';

export interface TimelineEvent {
  at: string;
  /** e.g. alert.fired, alert.resolved, retraining.triggered, job.submitted, job.succeeded, version.registered, gate.passed, gate.failed, rollout.started, rollout.promoted, rollout.aborted, retraining.promoted, alias.set, retraining.paused */
  kind: string;
  summary: string;
  actor: string | null;
  runId: string | null;
  alertId: string | null;
  jobId: string | null;
  version: number | null;
  gateReportId: string | null;
  rolloutId: string | null;
}

export interface TimelineDeps {
  store: Store;
  alerts: AlertSource;
  gates: GateRunner;
  retraining: RetrainingService;
}

const PEOPLE_ACTIONS = ['alias.set', 'retraining.policy.set', 'gate.policy.set', 'retraining.pause', 'retraining.resume', 'retraining.stop', 'gate.override', 'promotion.approve', 'rollout.pause', 'rollout.resume', 'rollout.abort', 'rollout.promote', 'training_job.cancel'];

function event(at: string, kind: string, summary: string, refs: Partial<TimelineEvent> = {}): TimelineEvent {
  return { at, kind, summary, actor: null, runId: null, alertId: null, jobId: null, version: null, gateReportId: null, rolloutId: null, ...refs };
}

/** The model's events, oldest first, the newest `limit` of them. */
export async function modelTimeline(deps: TimelineDeps, model: string, limit = 200): Promise<TimelineEvent[]> {
  const db = deps.store.db;
  const [alerts, runs, jobs, versions, reports, rollouts, acts] = await Promise.all([
    deps.alerts.list({ model }, 500),
    deps.retraining.runs(model, 500),
    db.selectFrom('training_jobs').innerJoin('models', 'models.id', 'training_jobs.model_id').select(['training_jobs.id', 'status', 'training_jobs.created_at', 'training_jobs.created_by', 'finished_at', 'version_number', 'error', 'parent_id']).where('models.name', '=', model).execute(),
    db.selectFrom('model_versions').innerJoin('models', 'models.id', 'model_versions.model_id').select(['number', 'model_versions.created_at', 'model_versions.created_by', 'metrics']).where('models.name', '=', model).execute(),
    deps.gates.reports(model),
    db.selectFrom('rollouts').selectAll().where('model', '=', model).execute(),
    db
      .selectFrom('audit_events')
      .select(['at', 'action', 'actor_name', 'resource', 'after_state', 'reason'])
      .where('outcome', '=', 'success')
      .where('action', 'in', PEOPLE_ACTIONS)
      .where((eb) => eb.or([eb('resource', '=', `model/${model}`), eb('resource', 'like', `model/${model}/%`)]))
      .orderBy('seq', 'desc')
      .limit(500)
      .execute(),
  ]);
  const runOf = {
    alert: new Map<string, string>(),
    job: new Map<string, string>(),
    version: new Map<number, string>(),
    report: new Map<string, string>(),
    rollout: new Map<string, string>(),
  };
  for (const r of runs) {
    for (const t of r.triggers) runOf.alert.set(t.id, r.id);
    if (r.jobId) runOf.job.set(r.jobId, r.id);
    if (r.version !== null) runOf.version.set(r.version, r.id);
    if (r.gateReportId) runOf.report.set(r.gateReportId, r.id);
    if (r.rolloutId) runOf.rollout.set(r.rolloutId, r.id);
  }
  const out: TimelineEvent[] = [];
  for (const a of alerts) {
    const what = `${a.ruleName}: ${a.metric}${a.feature ? ` of ${a.feature}` : ''} on version ${a.version}`;
    const refs = { alertId: a.id, version: a.version, runId: runOf.alert.get(a.id) ?? null };
    if (a.firedAt) out.push(event(a.firedAt, 'alert.fired', `${what} = ${a.value === null ? '?' : Number(a.value.toFixed(4))} (threshold ${a.threshold}, ${a.severity})`, refs));
    if (a.resolvedAt) out.push(event(a.resolvedAt, 'alert.resolved', `${what} resolved`, refs));
  }
  for (const r of runs) {
    out.push(event(r.createdAt, 'retraining.triggered', `retraining run ${r.id} started (policy revision ${r.policyRevision}): ${r.triggers.map((t) => t.ruleName).join(', ')}`, { runId: r.id }));
    if (r.finishedAt) out.push(event(r.finishedAt, `retraining.${r.state}`, r.message, { runId: r.id, version: r.version, jobId: r.jobId, gateReportId: r.gateReportId, rolloutId: r.rolloutId }));
  }
  for (const j of jobs) {
    if (j.parent_id !== null) continue;
    const refs = { jobId: j.id, runId: runOf.job.get(j.id) ?? null };
    out.push(event(j.created_at, 'job.submitted', `training job ${j.id} submitted`, { ...refs, actor: j.created_by }));
    if (j.finished_at) {
      const error = j.error ? (JSON.parse(j.error) as { code: string; message: string }) : null;
      const v = j.version_number === null ? null : Number(j.version_number);
      out.push(event(j.finished_at, `job.${j.status}`, `training job ${j.id} ${j.status}${v !== null ? `: version ${v}` : ''}${error ? `: ${error.code} ${error.message}` : ''}`, { ...refs, version: v }));
    }
  }
  for (const v of versions) {
    const n = Number(v.number);
    const metrics = JSON.parse(v.metrics) as Record<string, number>;
    const shown = Object.entries(metrics).slice(0, 3).map(([k, x]) => `${k} ${Number(x.toFixed(4))}`).join(', ');
    out.push(event(v.created_at, 'version.registered', `version ${n} registered${shown ? ` (${shown})` : ''}`, { version: n, actor: v.created_by, runId: runOf.version.get(n) ?? null }));
  }
  for (const g of reports) {
    const failed = g.checks.filter((c) => !c.passed).map((c) => c.name);
    const summary = g.passed
      ? `version ${g.version} passed its gate (${g.checks.length} checks${g.policyRevision === null ? ', no policy' : `, policy revision ${g.policyRevision}`})`
      : `version ${g.version} failed its gate: ${failed.join(', ')}`;
    out.push(event(g.createdAt, g.passed ? 'gate.passed' : 'gate.failed', summary, { gateReportId: g.id, version: g.version, actor: g.createdBy, runId: runOf.report.get(g.id) ?? null }));
  }
  for (const r of rollouts) {
    const refs = { rolloutId: r.id, version: Number(r.candidate), runId: runOf.rollout.get(r.id) ?? null };
    out.push(event(r.created_at, 'rollout.started', `${r.strategy} rollout ${r.id}: version ${r.candidate} against ${r.stable}`, { ...refs, actor: r.created_by }));
    if (r.finished_at) {
      const kind = r.phase === 'PROMOTED' ? 'rollout.promoted' : 'rollout.aborted';
      out.push(event(r.finished_at, kind, r.phase === 'PROMOTED' ? `version ${r.candidate} promoted to production` : `rollout aborted: ${r.abort_reason ?? r.message}`, refs));
    }
  }
  for (const a of acts) {
    const after = a.after_state ? (JSON.parse(a.after_state) as Record<string, unknown>) : {};
    const version = typeof after.version === 'number' ? after.version : null;
    const revision = typeof after.revision === 'number' ? ` (revision ${after.revision})` : '';
    const summary = a.action === 'alias.set' ? `${a.resource.split('/').pop()} moved to version ${version}` : `${a.action}${revision}${a.reason ? `: ${a.reason}` : ''}${typeof after.reason === 'string' ? `: ${after.reason}` : ''}`;
    out.push(event(a.at, a.action, summary, { actor: a.actor_name, version }));
  }
  out.sort((x, y) => (x.at < y.at ? -1 : x.at > y.at ? 1 : 0));
  return out.slice(-Math.min(Math.max(limit, 1), 1000));
}
