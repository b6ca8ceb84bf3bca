// What the rollout controller does next with a rollout, decided from its row, this pass's analysis
// verdict and the run counts: pure functions, so each rule reads alone. The
// service (rollouts.ts) applies the transition in one audited transaction.
import type { RolloutTable } from '../store/tables.js';
import { now } from './ids.js';
import type { AnalysisVerdict } from './rollout-analysis.js';
import type { RolloutSpec } from './rollout-spec.js';

export type Patch = Partial<Omit<RolloutTable, 'id' | 'model_id' | 'model' | 'stable' | 'candidate' | 'strategy' | 'spec' | 'created_at' | 'created_by'>>;

export interface Transition {
  action: string;
  patch: Patch;
  /** Move the production alias to the candidate in the same transaction. */
  promote?: boolean;
}

export interface RunCounts {
  failed: number;
  successful: number;
  stepSuccessful: number;
}

export function abortPatch(reason: string): Patch {
  return { phase: 'ABORTED', active_model: null, weight: 0, abort_reason: reason, finished_at: now(), message: `aborted: ${reason}` };
}

export function switchPatch(r: RolloutTable): Patch {
  const spec = specOf(r);
  return { phase: 'SWITCHED', weight: 100, switched_at: now(), message: `all traffic on version ${r.candidate}; version ${r.stable} stays loaded for ${spec.scaleDownDelaySeconds} s` };
}

/**
 * What the controller does next with a rollout, from its row, the analysis verdict of this pass
 * (if one ran) and the run counts; null when nothing changes. Pure, so each rule reads alone.
 */
export function decide(r: RolloutTable, spec: RolloutSpec, verdict: AnalysisVerdict | undefined, counts: RunCounts, at: number): Transition | null {
  const analysis = spec.analysis;
  if (verdict?.status === 'FAILED' && analysis && counts.failed > analysis.failureLimit) {
    return { action: 'rollout.abort', patch: abortPatch(`analysis failed ${counts.failed} time(s), limit ${analysis.failureLimit}: ${verdict.message}`) };
  }
  const since = (t: string | null) => (t === null ? 0 : at - Date.parse(t));
  if (r.strategy === 'CANARY' && r.phase === 'PROGRESSING') return canaryStep(r, spec, counts, at);
  if (r.strategy === 'BLUE_GREEN') {
    if (r.phase === 'SWITCHED') return since(r.switched_at) >= spec.scaleDownDelaySeconds * 1000 ? { action: 'rollout.promote', patch: {}, promote: true } : null;
    if (r.phase !== 'PROGRESSING') return null;
    let passedAt = r.analysis_passed_at;
    const patch: Patch = {};
    if (analysis && passedAt === null) {
      if (counts.successful < analysis.count) return null;
      passedAt = patch.analysis_passed_at = new Date(at).toISOString();
    }
    const readyAt = passedAt ?? r.created_at;
    if (spec.autoPromotionSeconds !== null) {
      if (since(readyAt) >= spec.autoPromotionSeconds * 1000) return { action: 'rollout.switch', patch: { ...patch, ...switchPatch(r) } };
      return Object.keys(patch).length > 0 ? { action: 'rollout.analysis_passed', patch: { ...patch, message: `analysis passed; switching in ${spec.autoPromotionSeconds} s` } } : null;
    }
    return { action: 'rollout.await_promotion', patch: { ...patch, phase: 'PAUSED', message: `version ${r.candidate} ready for preview${analysis ? ', analysis passed' : ''}; waiting for promoteRollout` } };
  }
  return null;
}

function canaryStep(r: RolloutTable, spec: RolloutSpec, counts: RunCounts, at: number): Transition | null {
  let index = r.step_index;
  let weight = r.weight;
  let stepStart = Date.parse(r.step_started_at);
  let stepSuccessful = counts.stepSuccessful;
  const moved = () => index !== r.step_index || weight !== r.weight;
  const done = (extra: Patch, message: string): Transition | null => {
    if (!moved() && Object.keys(extra).length === 0) return null;
    return { action: 'rollout.step', patch: { step_index: index, weight, step_started_at: new Date(stepStart).toISOString(), message, ...extra } };
  };
  for (;;) {
    const step = spec.steps[index];
    if (step === undefined) return { action: 'rollout.promote', patch: { step_index: index }, promote: true };
    if ('setWeight' in step) {
      weight = step.setWeight;
    } else if ('pause' in step) {
      if (step.pause.seconds === null) return done({ phase: 'PAUSED' }, `step ${index}: paused until resumeRollout`);
      if (at - stepStart < step.pause.seconds * 1000) return done({}, `step ${index}: pause ${step.pause.seconds} s`);
    } else if (stepSuccessful < step.analysis.count) {
      return done({}, `step ${index}: waiting for ${step.analysis.count} successful analysis run(s)`);
    }
    index += 1;
    stepStart = at;
    stepSuccessful = 0;
  }
}

export function specOf(r: RolloutTable): RolloutSpec {
  return JSON.parse(r.spec) as RolloutSpec;
}
