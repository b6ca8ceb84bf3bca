// Rollouts (issue 14): start, steer and finish them, each transition one audited transaction on the
// locked rollout row. The controller (loops/rollout-controller.ts) calls `advance` on every active
// rollout: it runs due analyses over the gateways' traffic windows and moves the rollout on (steps,
// pauses, blue-green switch and scale-down, promotion) or aborts it. Everything the rollout is lives
// in its row, so a control plane that restarts (or another replica that takes over) resumes it.
import { SluiceError } from '../../lib/errors.js';
import type { RolloutStrategy } from '../../lib/sync-wire.js';
import { isUniqueViolation, type Store, type Tx } from '../store/db.js';
import type { AnalysisRunTable, RolloutTable } from '../store/tables.js';
import { systemContext, type CallContext } from './actor.js';
import type { AuditLog } from './audit.js';
import { DEFAULT_ALIAS } from './desired-state.js';
import { newId, now } from './ids.js';
import { decodeCursor, pageSize, toConnection, type Connection, type PageArgs } from './pagination.js';
import { judge, type AnalysisMeasurements, type AnalysisStatus, type AnalysisVerdict } from './rollout-analysis.js';
import { abortPatch, decide, specOf, switchPatch, type Patch, type RunCounts, type Transition } from './rollout-decisions.js';
import { parseSpec, type RolloutSpec, type StartRolloutInput } from './rollout-spec.js';
import type { TensorSignature } from './onnx-signature.js';
import type { PromotionGate } from './promotion-gate.js';
import type { TrafficService } from './traffic.js';
import { ControlPlaneTracing } from '../tracing/tracing.js';

export const ROLLOUT_PHASES = ['PROGRESSING', 'PAUSED', 'SWITCHED', 'PROMOTED', 'ABORTED'] as const;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];
const ACTIVE: readonly string[] = ['PROGRESSING', 'PAUSED', 'SWITCHED'];

export interface Rollout {
  id: string;
  model: string;
  stable: number;
  candidate: number;
  strategy: RolloutStrategy;
  spec: RolloutSpec;
  phase: RolloutPhase;
  stepIndex: number;
  /** Percent of the model's calls the candidate answers now. */
  weight: number;
  message: string;
  abortReason: string | null;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  stepStartedAt: string;
  switchedAt: string | null;
  analysisPassedAt: string | null;
  nextAnalysisAt: string | null;
  finishedAt: string | null;
}

export interface AnalysisRun {
  id: string;
  rolloutId: string;
  stepIndex: number;
  windowStart: string;
  windowEnd: string;
  status: AnalysisStatus;
  measurements: AnalysisMeasurements;
  message: string;
}

export class RolloutService {
  private readonly listeners = new Set<(id: string) => void>();
  /** Asked before a rollout of a candidate starts (the promotion gates); unset, nothing is asked. */
  promotionGate: PromotionGate | undefined;
  tracing = ControlPlaneTracing.off;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly traffic: TrafficService,
    /** Called after a commit that changes what gateways should serve. */
    private readonly onChange: () => void,
  ) {}

  /** Subscribe to "rollout `id` changed" (a transition or a new analysis run); returns the unsubscribe. */
  onRolloutChange(listener: (id: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(id: string, servingChanged: boolean): void {
    if (servingChanged) this.onChange();
    for (const l of this.listeners) l(id);
  }

  /** The newest change to any rollout (its time), for replicas that watch for others' changes. */
  async lastChange(): Promise<string | null> {
    const r = await this.store.db.selectFrom('rollouts').select((eb) => eb.fn.max('updated_at').as('at')).executeTakeFirst();
    return (r?.at as string | null | undefined) ?? null;
  }

  /** Another replica changed some rollout: tell this replica's listeners (id `*`: any rollout). */
  externalChange(): void {
    this.changed('*', true);
  }

  async start(ctx: CallContext, input: StartRolloutInput): Promise<Rollout> {
    const { strategy, spec } = parseSpec(input);
    // The gate may evaluate the candidate (ONNX Runtime, a stored report): before, not inside, the start's transaction.
    if (this.promotionGate) await this.promotionGate.admit(ctx, { model: input.model, version: input.candidate, action: 'rollout.start', override: input.gateOverride });
    const rollout = await this.audit.audited(ctx, 'rollout.start', `model/${input.model}`, async (tx) => {
      const model = await this.store.forUpdate(tx.selectFrom('models').select(['id', 'name']).where('name', '=', input.model)).executeTakeFirst();
      if (!model) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `no model ${input.model}`, { details: { model: input.model } });
      const active = await tx.selectFrom('rollouts').select(['id', 'phase']).where('active_model', '=', model.id).executeTakeFirst();
      if (active) {
        throw new SluiceError('SLUICE_E_ROLLOUT_ACTIVE', `model ${model.name} already has rollout ${active.id} (${active.phase}); promote or abort it first`, { details: { model: model.name, rollout: active.id } });
      }
      const stable = await tx
        .selectFrom('aliases')
        .innerJoin('model_versions', 'model_versions.id', 'aliases.version_id')
        .select(['model_versions.number', 'model_versions.signature'])
        .where('aliases.model_id', '=', model.id)
        .where('aliases.name', '=', DEFAULT_ALIAS)
        .executeTakeFirst();
      if (!stable) {
        throw new SluiceError('SLUICE_E_ROLLOUT_INVALID', `model ${model.name} has no ${DEFAULT_ALIAS} alias: point it at the stable version first`, { details: { field: 'model', model: model.name } });
      }
      const candidate = await tx.selectFrom('model_versions').select(['number', 'status', 'signature']).where('model_id', '=', model.id).where('number', '=', input.candidate).executeTakeFirst();
      if (!candidate) throw new SluiceError('SLUICE_E_MODEL_VERSION_NOT_FOUND', `model ${model.name} has no version ${input.candidate}`, { details: { model: model.name, version: input.candidate } });
      if (candidate.status !== 'ready') {
        throw new SluiceError('SLUICE_E_ROLLOUT_NOT_READY', `version ${input.candidate} of ${model.name} is ${candidate.status}, not ready`, { details: { version: input.candidate, status: candidate.status } });
      }
      const stableNumber = Number(stable.number);
      if (stableNumber === input.candidate) {
        throw new SluiceError('SLUICE_E_ROLLOUT_INVALID', `version ${input.candidate} is already ${DEFAULT_ALIAS}; the candidate must be another version`, { details: { field: 'candidate' } });
      }
      const difference = signatureDifference(JSON.parse(stable.signature) as TensorSignature, JSON.parse(candidate.signature) as TensorSignature);
      if (difference) {
        throw new SluiceError('SLUICE_E_ROLLOUT_INCOMPATIBLE', `version ${input.candidate} cannot replace version ${stableNumber} of ${model.name}: ${difference}`, {
          details: { stable: stableNumber, candidate: input.candidate, difference },
        });
      }
      const at = now();
      const row: RolloutTable = {
        id: newId('ro'),
        model_id: model.id,
        model: model.name,
        active_model: model.id,
        stable: stableNumber,
        candidate: input.candidate,
        strategy,
        spec: JSON.stringify(spec),
        phase: 'PROGRESSING',
        step_index: 0,
        weight: strategy === 'AB' ? spec.weight! : 0,
        step_started_at: at,
        analysis_passed_at: null,
        next_analysis_at: spec.analysis ? new Date(Date.parse(at) + spec.analysis.intervalSeconds * 1000).toISOString() : null,
        switched_at: null,
        message: 'started',
        abort_reason: null,
        created_at: at,
        created_by: ctx.actor.name,
        updated_at: at,
        finished_at: null,
      };
      try {
        await tx.insertInto('rollouts').values(row).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new SluiceError('SLUICE_E_ROLLOUT_ACTIVE', `model ${model.name} got another rollout concurrently`, { details: { model: model.name } });
        throw err;
      }
      return { result: toRollout(row), resource: `rollout/${row.id}`, after: { model: model.name, stable: stableNumber, candidate: input.candidate, strategy, spec } };
    });
    this.changed(rollout.id, true);
    return rollout;
  }

  /** CANARY, AB, SHADOW: promote now. BLUE_GREEN: switch traffic (before), or end the scale-down delay (after). */
  promote(ctx: CallContext, id: string): Promise<Rollout> {
    return this.transition(ctx, id, 'rollout.promote', (r) => {
      requireActive(r, 'promote');
      if (r.strategy === 'BLUE_GREEN' && r.phase !== 'SWITCHED') return { action: 'rollout.switch', patch: switchPatch(r) };
      return { action: 'rollout.promote', patch: {}, promote: true };
    });
  }

  pause(ctx: CallContext, id: string): Promise<Rollout> {
    return this.transition(ctx, id, 'rollout.pause', (r) => {
      if (r.phase !== 'PROGRESSING') throw stateError(r, 'pause', 'only a PROGRESSING rollout can be paused');
      return { action: 'rollout.pause', patch: { phase: 'PAUSED', message: `paused by ${ctx.actor.name}` } };
    });
  }

  resume(ctx: CallContext, id: string): Promise<Rollout> {
    return this.transition(ctx, id, 'rollout.resume', (r) => {
      if (r.phase !== 'PAUSED') throw stateError(r, 'resume', 'only a PAUSED rollout can be resumed');
      const spec = specOf(r);
      const step = spec.steps[r.step_index];
      // Resuming an indefinite pause step ends it; resuming a manual pause carries on where it was.
      const endsStep = step !== undefined && 'pause' in step && step.pause.seconds === null;
      const patch: Patch = { phase: 'PROGRESSING', message: `resumed by ${ctx.actor.name}` };
      if (endsStep) Object.assign(patch, { step_index: r.step_index + 1, step_started_at: now() });
      return { action: 'rollout.resume', patch };
    });
  }

  abort(ctx: CallContext, id: string, reason: string | null | undefined): Promise<Rollout> {
    const why = (reason ?? '').trim().slice(0, 1024) || `aborted by ${ctx.actor.name}`;
    return this.transition(ctx, id, 'rollout.abort', (r) => {
      requireActive(r, 'abort');
      return { action: 'rollout.abort', patch: abortPatch(why) };
    });
  }

  async get(id: string): Promise<Rollout | undefined> {
    const row = await this.store.db.selectFrom('rollouts').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRollout(row) : undefined;
  }

  /** Newest first; all models when `model` is not given. */
  async list(model: string | null | undefined, page: PageArgs): Promise<Connection<Rollout>> {
    const size = pageSize(page.first);
    const after = decodeCursor('rollouts', page.after);
    let q = this.store.db.selectFrom('rollouts').selectAll();
    if (model) q = q.where('model', '=', model);
    if (after !== undefined) q = q.where('id', '<', after);
    const rows = await q.orderBy('id', 'desc').limit(size + 1).execute();
    return toConnection(rows, size, 'rollouts', (r) => r.id, toRollout, page.after);
  }

  async active(): Promise<Rollout[]> {
    const rows = await this.store.db.selectFrom('rollouts').selectAll().where('active_model', 'is not', null).orderBy('id').execute();
    return rows.map(toRollout);
  }

  async analysisRuns(rolloutId: string, last?: number): Promise<AnalysisRun[]> {
    let q = this.store.db.selectFrom('analysis_runs').selectAll().where('rollout_id', '=', rolloutId).orderBy('window_end', 'desc').orderBy('id', 'desc');
    if (last !== undefined) q = q.limit(last);
    const rows = await q.execute();
    return rows.reverse().map(toAnalysisRun);
  }

  /** The A/B comparison: each arm's figures over the rollout's life so far (or its whole life once ended). */
  async comparison(r: Rollout): Promise<{ stable: Awaited<ReturnType<TrafficService['aggregate']>>; candidate: Awaited<ReturnType<TrafficService['aggregate']>>; from: string; to: string }> {
    const from = new Date(Date.parse(r.createdAt) - 1).toISOString();
    const to = r.finishedAt ?? now();
    const [stable, candidate] = await Promise.all([this.traffic.aggregate(r.model, r.stable, from, to), this.traffic.aggregate(r.model, r.candidate, from, to)]);
    return { stable, candidate, from, to };
  }

  /**
   * One controller pass over one active rollout: run its analysis if due, then move it on. The row
   * is re-read under lock and the pass is dropped if someone changed it meanwhile (a person's
   * abort wins over the controller's step).
   */
  async advance(id: string, at: number = Date.now()): Promise<void> {
    const row = await this.store.db.selectFrom('rollouts').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || row.active_model === null) return;
    const spec = specOf(row);
    let run: AnalysisRunTable | undefined;
    let verdict: AnalysisVerdict | undefined;
    if (spec.analysis && row.next_analysis_at !== null && Date.parse(row.next_analysis_at) <= at) {
      const analysis = spec.analysis;
      ({ run, verdict } = await this.tracing.span('rollout.analysis', rolloutAttributes(row), async (span) => {
        const last = await this.store.db.selectFrom('analysis_runs').select('window_end').where('rollout_id', '=', id).orderBy('window_end', 'desc').limit(1).executeTakeFirst();
        const from = last?.window_end ?? row.created_at;
        const to = new Date(at).toISOString();
        const [stable, candidate] = await Promise.all([this.traffic.aggregate(row.model, row.stable, from, to), this.traffic.aggregate(row.model, row.candidate, from, to)]);
        const judged = judge(analysis, stable, candidate);
        span.setAttribute('sluice.analysis.status', judged.status);
        const ran: AnalysisRunTable = { id: newId('ar'), rollout_id: id, step_index: row.step_index, window_start: from, window_end: to, status: judged.status, measurements: JSON.stringify(judged.measurements), message: judged.message };
        return { run: ran, verdict: judged };
      }));
    }
    const counts = await this.runCounts(row, run);
    const next = decide(row, spec, verdict, counts, at);
    if (!run && !next) return;
    const nextAnalysisAt = run ? new Date(at + spec.analysis!.intervalSeconds * 1000).toISOString() : undefined;
    const apply = async (tx: Tx): Promise<boolean> => {
      const current = await this.store.forUpdate(tx.selectFrom('rollouts').selectAll().where('id', '=', id)).executeTakeFirst();
      if (!current || current.updated_at !== row.updated_at || current.active_model === null) return false;
      if (run) await tx.insertInto('analysis_runs').values(run).execute();
      const patch: Patch = { ...(next?.patch ?? {}), updated_at: now() };
      if (nextAnalysisAt !== undefined && patch.next_analysis_at === undefined) patch.next_analysis_at = nextAnalysisAt;
      if (next?.promote) Object.assign(patch, await this.promoteInTx(tx, current));
      await tx.updateTable('rollouts').set(patch).where('id', '=', id).execute();
      return true;
    };
    if (!next) {
      if (await this.store.db.transaction().execute(apply)) this.changed(id, false);
      return;
    }
    const ctx = systemContext('rollout-controller');
    // The step's span holds the push to gateways that the change causes (changed() below).
    await this.tracing.span(next.action, { ...rolloutAttributes({ ...row, ...next.patch }), 'sluice.rollout.decision': next.action }, async (span) => {
      try {
        await this.audit.audited(ctx, next.action, `rollout/${id}`, async (tx) => {
          if (!(await apply(tx))) throw new Superseded();
          return { result: undefined, before: { phase: row.phase, step: row.step_index, weight: row.weight }, after: { ...summary(next), ...(run ? { analysis: { status: run.status, message: run.message } } : {}) } };
        });
      } catch (err) {
        if ((err as { cause?: unknown }).cause instanceof Superseded) {
          span.setAttribute('sluice.rollout.decision', 'superseded');
          return;
        }
        throw err;
      }
      // promoteInTx's patch is made inside the transaction: what it sets, for the span.
      if (next.promote) span.setAttributes({ 'sluice.rollout.phase': 'PROMOTED', 'sluice.rollout.weight': 100 });
      this.changed(id, true);
    });
  }

  private async runCounts(row: RolloutTable, run: AnalysisRunTable | undefined): Promise<RunCounts> {
    const rows = await this.store.db
      .selectFrom('analysis_runs')
      .select(['status', 'step_index', 'window_end'])
      .where('rollout_id', '=', row.id)
      .execute();
    if (run) rows.push(run);
    return {
      failed: rows.filter((r) => r.status === 'FAILED').length,
      successful: rows.filter((r) => r.status === 'SUCCESSFUL').length,
      stepSuccessful: rows.filter((r) => r.status === 'SUCCESSFUL' && Number(r.step_index) === row.step_index && r.window_end > row.step_started_at).length,
    };
  }

  /** Move the production alias to the candidate and end the rollout (inside the caller's transaction). */
  private async promoteInTx(tx: Tx, r: RolloutTable): Promise<Patch> {
    const target = await tx.selectFrom('model_versions').select(['id', 'status']).where('model_id', '=', r.model_id).where('number', '=', r.candidate).executeTakeFirstOrThrow();
    if (target.status !== 'ready') throw new SluiceError('SLUICE_E_ROLLOUT_NOT_READY', `version ${r.candidate} of ${r.model} is ${target.status}; it cannot become ${DEFAULT_ALIAS}`, { details: { status: target.status } });
    const at = now();
    await tx
      .insertInto('aliases')
      .values({ model_id: r.model_id, name: DEFAULT_ALIAS, version_id: target.id, updated_at: at, updated_by: `rollout/${r.id}` })
      .onConflict((oc) => oc.columns(['model_id', 'name']).doUpdateSet({ version_id: target.id, updated_at: at, updated_by: `rollout/${r.id}` }))
      .execute();
    return { phase: 'PROMOTED', active_model: null, weight: 100, finished_at: at, message: `${DEFAULT_ALIAS} moved from version ${r.stable} to ${r.candidate}` };
  }

  private transition(ctx: CallContext, id: string, action: string, decideFn: (r: RolloutTable) => Transition): Promise<Rollout> {
    return this.tracing.span(action, { 'sluice.rollout.id': id }, async (span) => {
      let before: RolloutTable | undefined;
      const result = await this.audit.audited(ctx, action, `rollout/${id}`, async (tx) => {
        const row = await this.store.forUpdate(tx.selectFrom('rollouts').selectAll().where('id', '=', id)).executeTakeFirst();
        if (!row) throw new SluiceError('SLUICE_E_ROLLOUT_NOT_FOUND', `no rollout ${id}`, { details: { rollout: id } });
        before = row;
        const t = decideFn(row);
        const patch: Patch = { ...t.patch, updated_at: now() };
        if (t.promote) Object.assign(patch, await this.promoteInTx(tx, row));
        await tx.updateTable('rollouts').set(patch).where('id', '=', id).execute();
        const after = { ...row, ...patch } as RolloutTable;
        span.setAttributes({ ...rolloutAttributes(after), 'sluice.rollout.decision': t.action });
        return { result: toRollout(after), before: { phase: row.phase, step: row.step_index, weight: row.weight }, after: { action: t.action, ...summary({ ...t, patch }) } };
      });
      if (before) this.changed(id, true);
      return result;
    });
  }
}

/** What a rollout's spans say about it (after the transition when given the patched row). */
function rolloutAttributes(r: Pick<RolloutTable, 'id' | 'model' | 'candidate' | 'phase' | 'step_index' | 'weight'>): Record<string, string | number> {
  return { 'sluice.rollout.id': r.id, 'sluice.model': r.model, 'sluice.version': Number(r.candidate), 'sluice.rollout.phase': r.phase, 'sluice.rollout.step': Number(r.step_index), 'sluice.rollout.weight': Number(r.weight) };
}

/** The row changed between the controller's read and its write: drop this pass, the next one re-reads. */
class Superseded extends Error {}

function summary(t: Transition): Record<string, unknown> {
  const p = t.patch;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries({ phase: p.phase, step: p.step_index, weight: p.weight, message: p.message, reason: p.abort_reason })) if (v !== undefined) out[k] = v;
  if (t.promote) out.alias = DEFAULT_ALIAS;
  return out;
}

function requireActive(r: RolloutTable, verb: string): void {
  if (!ACTIVE.includes(r.phase)) throw stateError(r, verb, `the rollout is ${r.phase}`);
}

function stateError(r: RolloutTable, verb: string, why: string): SluiceError {
  return new SluiceError('SLUICE_E_ROLLOUT_STATE', `cannot ${verb} rollout ${r.id}: ${why}`, { details: { rollout: r.id, phase: r.phase } });
}

/** What makes a candidate unable to take the stable version's calls, or null when the signatures match. */
export function signatureDifference(stable: TensorSignature, candidate: TensorSignature): string | null {
  for (const side of ['inputs', 'outputs'] as const) {
    const a = stable[side];
    const b = candidate[side];
    for (const t of a) {
      const other = b.find((x) => x.name === t.name);
      if (!other) return `${side} ${t.name} is missing`;
      if (other.datatype !== t.datatype) return `${side} ${t.name} is ${other.datatype}, stable has ${t.datatype}`;
      if (JSON.stringify(other.shape) !== JSON.stringify(t.shape)) return `${side} ${t.name} has shape [${other.shape.join(',')}], stable has [${t.shape.join(',')}]`;
    }
    const extra = b.filter((x) => !a.some((t) => t.name === x.name));
    if (extra.length > 0) return `${side} ${extra.map((x) => x.name).join(', ')} not in the stable version`;
  }
  return null;
}

export function toRollout(r: RolloutTable): Rollout {
  return {
    id: r.id,
    model: r.model,
    stable: Number(r.stable),
    candidate: Number(r.candidate),
    strategy: r.strategy as RolloutStrategy,
    spec: specOf(r),
    phase: r.phase as RolloutPhase,
    stepIndex: Number(r.step_index),
    weight: Number(r.weight),
    message: r.message,
    abortReason: r.abort_reason,
    createdAt: r.created_at,
    createdBy: r.created_by,
    updatedAt: r.updated_at,
    stepStartedAt: r.step_started_at,
    switchedAt: r.switched_at,
    analysisPassedAt: r.analysis_passed_at,
    nextAnalysisAt: r.next_analysis_at,
    finishedAt: r.finished_at,
  };
}

function toAnalysisRun(r: AnalysisRunTable): AnalysisRun {
  return {
    id: r.id,
    rolloutId: r.rollout_id,
    stepIndex: Number(r.step_index),
    windowStart: r.window_start,
    windowEnd: r.window_end,
    status: r.status as AnalysisStatus,
    measurements: JSON.parse(r.measurements) as AnalysisMeasurements,
    message: r.message,
  };
}
