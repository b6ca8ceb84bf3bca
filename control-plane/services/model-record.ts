// One model version's record (issue 22): what it is, where it came from, what it was checked
// against, who approved it, where it has run, its drift and accuracy history and the audit events
// that touch it, with the audit chain's verification. Read only from recorded rows (registry,
// training jobs, gate reports, approvals, rollouts and their analysis, traffic windows, gateways,
// the audit log): nothing in it is typed in by hand. model-record-md.ts renders it for filing.
import { SluiceError } from '../../lib/errors.js';
import type { Store } from '../store/db.js';
import type { AuditLog, AuditVerification } from './audit.js';

function json<T>(text: string | null | undefined, fallback: T): T {
  if (text === null || text === undefined || text === '') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export interface RecordTrainingJob {
  id: string;
  status: string;
  trainer: unknown;
  dataset: unknown;
  parameters: Record<string, unknown>;
  metrics: Record<string, number>;
  trainerDigest: string | null;
  validation: unknown;
  createdAt: string;
  createdBy: string;
  finishedAt: string | null;
}

export interface RecordPlacement {
  gateway: string;
  region: string | null;
  firstSeen: string;
  lastSeen: string;
  windows: number;
  calls: number;
  errors: number;
}

export interface RecordWindow {
  gateway: string;
  start: string;
  end: string;
  calls: number;
  errors: number;
  /** Rows with ground truth and the share of them right (classifiers); null without feedback. */
  feedbackCount: number | null;
  accuracy: number | null;
  meanAbsError: number | null;
  /** The largest PSI over the monitored features, and its level; null without a drift profile. */
  maxPsi: number | null;
  driftLevel: string | null;
}

export interface RecordAuditEvent {
  seq: number;
  at: string;
  actor: string;
  role: string;
  action: string;
  resource: string;
  outcome: string;
  reason: string | null;
  hash: string;
}

export interface ModelVersionRecord {
  generatedAt: string;
  model: { name: string; description: string; owner: string; allowedRegions: string[] | null };
  version: {
    number: number; status: string; description: string; createdAt: string; createdBy: string;
    artifactSha256: string; configSha256: string | null; profileSha256: string | null; signed: boolean;
    signature: unknown; metrics: Record<string, number>; aliases: string[];
  };
  lineage: { datasetDigest: string | null; trainerDigest: string | null; parameters: Record<string, unknown>; source: string | null; parentVersion: number | null; trainingJob: RecordTrainingJob | null };
  gates: { id: string; at: string; by: string; passed: boolean; productionVersion: number | null; policyRevision: number | null; checks: unknown[] }[];
  approvals: { at: string; approver: string; comment: string }[];
  rollouts: {
    id: string; role: 'candidate' | 'stable'; strategy: string; phase: string; stable: number; candidate: number;
    startedAt: string; startedBy: string; finishedAt: string | null; abortReason: string | null; message: string;
    analysis: { step: number; windowStart: string; windowEnd: string; status: string; message: string; measurements: unknown }[];
  }[];
  served: RecordPlacement[];
  history: RecordWindow[];
  /** null when the caller may not read the audit log (audit:read). */
  audit: { events: RecordAuditEvent[]; chain: AuditVerification } | null;
}

export interface ModelRecordDeps {
  store: Store;
  audit: Pick<AuditLog, 'verify'>;
}

/** How many traffic windows and audit events a record lists at most (the newest). */
export const RECORD_LIMITS = { windows: 500, auditEvents: 500 } as const;

/**
 * The record of `model` version `version` (absent: the newest version). `withAudit` adds the audit
 * events and the chain check (the caller checked audit:read).
 */
export async function modelVersionRecord(deps: ModelRecordDeps, model: string, version: number | undefined, withAudit: boolean): Promise<ModelVersionRecord> {
  const db = deps.store.db;
  const m = await db.selectFrom('models').selectAll().where('name', '=', model).executeTakeFirst();
  if (!m) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `no model ${model}`, { details: { model } });
  let q = db.selectFrom('model_versions').selectAll().where('model_id', '=', m.id);
  q = version === undefined ? q.orderBy('number', 'desc') : q.where('number', '=', version);
  const v = await q.limit(1).executeTakeFirst();
  if (!v) {
    throw new SluiceError('SLUICE_E_MODEL_VERSION_NOT_FOUND', version === undefined ? `model ${model} has no version` : `model ${model} has no version ${version}`, {
      details: { model, version: version ?? null },
    });
  }
  const n = Number(v.number);
  const lineage = json<{ datasetDigest?: string | null; trainerDigest?: string | null; parameters?: Record<string, unknown>; trainingJob?: string | null; source?: string | null; parentVersion?: number | null }>(v.lineage, {});
  const [aliases, job, gates, approvals, rollouts, windows, gateways] = await Promise.all([
    db.selectFrom('aliases').select('name').where('model_id', '=', m.id).where('version_id', '=', v.id).execute(),
    db.selectFrom('training_jobs').selectAll().where('model_id', '=', m.id)
      .where((eb) => (lineage.trainingJob ? eb('id', '=', lineage.trainingJob) : eb('version_number', '=', n))).limit(1).executeTakeFirst(),
    db.selectFrom('gate_reports').selectAll().where('model_id', '=', m.id).where('version', '=', n).orderBy('created_at').execute(),
    db.selectFrom('promotion_approvals').selectAll().where('model_id', '=', m.id).where('version', '=', n).orderBy('created_at').execute(),
    db.selectFrom('rollouts').selectAll().where('model_id', '=', m.id).where((eb) => eb.or([eb('candidate', '=', n), eb('stable', '=', n)])).orderBy('created_at').execute(),
    db.selectFrom('traffic_windows').selectAll().where('model', '=', model).where('version', '=', n).orderBy('window_end', 'desc').limit(RECORD_LIMITS.windows).execute(),
    db.selectFrom('gateways').select(['name', 'region']).execute(),
  ]);
  const analysis = rollouts.length === 0 ? [] : await db.selectFrom('analysis_runs').selectAll().where('rollout_id', 'in', rollouts.map((r) => r.id)).orderBy('window_end').execute();
  const regionOf = new Map(gateways.map((g) => [g.name, g.region]));
  const jobArtifacts = json<{ trainerDigest?: string } | null>(job?.artifacts, null);
  const trainingJob: RecordTrainingJob | null = job ? {
    id: job.id, status: job.status, trainer: json(job.trainer, null), dataset: json(job.dataset, null),
    parameters: json(job.parameters, {}), metrics: json(job.metrics, {}), trainerDigest: jobArtifacts?.trainerDigest ?? null,
    validation: json(job.validation, null), createdAt: job.created_at, createdBy: job.created_by, finishedAt: job.finished_at,
  } : null;

  const history = windows.reverse().map((w): RecordWindow => {
    const fb = json<{ count: number; correct: number; absError: number } | null>(w.feedback, null);
    const drift = json<{ psi: number | null; level: string | null }[] | null>(w.drift, null);
    let maxPsi: number | null = null;
    let level: string | null = null;
    for (const d of drift ?? []) if (d.psi !== null && (maxPsi === null || d.psi > maxPsi)) ({ psi: maxPsi, level } = d);
    const labelled = fb !== null && fb.count > 0;
    return {
      gateway: w.gateway, start: w.window_start, end: w.window_end, calls: Number(w.calls), errors: Number(w.errors),
      feedbackCount: fb ? fb.count : null,
      accuracy: labelled && fb.absError === 0 ? fb.correct / fb.count : null,
      meanAbsError: labelled && fb.absError > 0 ? fb.absError / fb.count : null,
      maxPsi, driftLevel: level,
    };
  });
  const served = new Map<string, RecordPlacement>();
  for (const w of history) {
    const p = served.get(w.gateway) ?? { gateway: w.gateway, region: regionOf.get(w.gateway) ?? null, firstSeen: w.start, lastSeen: w.end, windows: 0, calls: 0, errors: 0 };
    if (w.start < p.firstSeen) p.firstSeen = w.start;
    if (w.end > p.lastSeen) p.lastSeen = w.end;
    p.windows++;
    p.calls += w.calls;
    p.errors += w.errors;
    served.set(w.gateway, p);
  }

  return {
    generatedAt: new Date().toISOString(),
    model: { name: m.name, description: m.description, owner: m.owner, allowedRegions: json<string[] | null>(m.allowed_regions, null) },
    version: {
      number: n, status: v.status, description: v.description, createdAt: v.created_at, createdBy: v.created_by,
      artifactSha256: v.artifact_sha256, configSha256: v.config_sha256, profileSha256: v.profile_sha256, signed: v.statement_signature !== null,
      signature: json(v.signature, null), metrics: json(v.metrics, {}), aliases: aliases.map((a) => a.name).sort(),
    },
    lineage: {
      datasetDigest: lineage.datasetDigest ?? null, trainerDigest: lineage.trainerDigest ?? trainingJob?.trainerDigest ?? null,
      parameters: lineage.parameters ?? trainingJob?.parameters ?? {}, source: lineage.source ?? null, parentVersion: lineage.parentVersion ?? null, trainingJob,
    },
    gates: gates.map((g) => ({
      id: g.id, at: g.created_at, by: g.created_by, passed: Number(g.passed) === 1, productionVersion: g.production_version,
      policyRevision: g.policy_revision, checks: json<unknown[]>(g.checks, []),
    })),
    approvals: approvals.map((a) => ({ at: a.created_at, approver: a.approver_name, comment: a.comment })),
    rollouts: rollouts.map((r) => ({
      id: r.id, role: Number(r.candidate) === n ? 'candidate' as const : 'stable' as const, strategy: r.strategy, phase: r.phase,
      stable: Number(r.stable), candidate: Number(r.candidate), startedAt: r.created_at, startedBy: r.created_by, finishedAt: r.finished_at,
      abortReason: r.abort_reason, message: r.message,
      analysis: analysis.filter((a) => a.rollout_id === r.id).map((a) => ({
        step: Number(a.step_index), windowStart: a.window_start, windowEnd: a.window_end, status: a.status, message: a.message, measurements: json(a.measurements, null),
      })),
    })),
    served: [...served.values()].sort((a, b) => a.gateway.localeCompare(b.gateway)),
    history,
    audit: withAudit ? await auditPart(deps, model, n, trainingJob?.id ?? null, rollouts.map((r) => r.id)) : null,
  };
}

/** Does a JSON state name this version (number, version, candidate or stable)? */
function namesVersion(state: string | null, n: number): boolean {
  const s = json<Record<string, unknown> | null>(state, null);
  if (s === null || typeof s !== 'object') return false;
  return [s.version, s.number, s.candidate, s.stable].some((x) => x === n);
}

async function auditPart(deps: ModelRecordDeps, model: string, n: number, jobId: string | null, rolloutIds: string[]): Promise<ModelVersionRecord['audit']> {
  const own = `model/${model}/version/${n}`;
  const linked = new Set([own, ...(jobId ? [`training-job/${jobId}`] : []), ...rolloutIds.map((id) => `rollout/${id}`)]);
  const rows = await deps.store.db.selectFrom('audit_events').selectAll()
    .where((eb) => eb.or([eb('resource', 'in', [...linked]), eb('resource', '=', `model/${model}`), eb('resource', 'like', `model/${model}/%`)]))
    .orderBy('seq', 'desc').limit(RECORD_LIMITS.auditEvents * 4).execute();
  const events = rows
    .filter((e) => linked.has(e.resource) || e.resource.startsWith(`${own}/`) || namesVersion(e.after_state, n) || namesVersion(e.before_state, n))
    .slice(0, RECORD_LIMITS.auditEvents)
    .reverse()
    .map((e) => ({
      seq: Number(e.seq), at: e.at, actor: e.actor_name, role: e.role, action: e.action, resource: e.resource,
      outcome: e.outcome, reason: e.reason, hash: e.hash,
    }));
  return { events, chain: await deps.audit.verify() };
}
