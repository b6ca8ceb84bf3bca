// What a rollout is asked to do, validated once at start (piscina's habit: options checked at
// construction, errors naming the option). Strategies follow Argo Rollouts: canary steps
// (setWeight, pause, analysis), blue-green (preview, promote switch, scaleDownDelaySeconds,
// autoPromotionSeconds), plus A/B (a fixed sticky split) and shadow (mirrored copies only).
import { SluiceError } from '../../lib/errors.js';
import { ROLLOUT_STRATEGIES, type RolloutStrategy } from '../../lib/sync-wire.js';

export type RolloutStep = { setWeight: number } | { pause: { seconds: number | null } } | { analysis: { count: number } };

/** successCondition-style thresholds; a threshold left null is not checked. */
export interface AnalysisSpec {
  intervalSeconds: number;
  /** Fewer candidate calls (client + mirrored) than this in a run make it INCONCLUSIVE, not failed. */
  minCalls: number;
  /** The rollout aborts when more runs than this have FAILED. */
  failureLimit: number;
  /** Successful runs that pass an analysis step or a blue-green preview. */
  count: number;
  maxErrorRate: number | null;
  /** Candidate p99 over stable p99. */
  maxP99Ratio: number | null;
  minAgreement: number | null;
  maxOutputPsi: number | null;
}

export interface RolloutSpec {
  steps: RolloutStep[];
  analysis: AnalysisSpec | null;
  /** A/B: percent of calls to the candidate, held for the rollout's life. */
  weight: number | null;
  mirrorShare: number;
  agreementTolerance: number;
  scaleDownDelaySeconds: number;
  autoPromotionSeconds: number | null;
}

export interface StartRolloutInput {
  model: string;
  candidate: number;
  strategy: string;
  steps?: { setWeight?: number | null; pause?: { seconds?: number | null } | null; analysis?: { count?: number | null } | null }[] | null;
  analysis?: Partial<Record<keyof AnalysisSpec, number | null>> | null;
  weight?: number | null;
  mirrorShare?: number | null;
  agreementTolerance?: number | null;
  scaleDownDelaySeconds?: number | null;
  autoPromotionSeconds?: number | null;
  /** An admin's reason to start although the candidate's promotion gate failed. */
  gateOverride?: string | null;
}

const MAX_STEPS = 64;
const MAX_SECONDS = 7 * 24 * 3600;
/** Canary and shadow mirror this share of calls unless told otherwise (the agreement sample). */
const DEFAULT_MIRROR_SHARE: Record<RolloutStrategy, number> = { CANARY: 0.1, SHADOW: 0.5, BLUE_GREEN: 0, AB: 0 };

function invalid(field: string, message: string): SluiceError {
  return new SluiceError('SLUICE_E_ROLLOUT_INVALID', `${field} ${message}`, { details: { field } });
}

function int(value: number | null | undefined, field: string, min: number, max: number, fallback: number): number;
function int(value: number | null | undefined, field: string, min: number, max: number, fallback: null): number | null;
function int(value: number | null | undefined, field: string, min: number, max: number, fallback: number | null): number | null {
  if (value === null || value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(field, `must be an integer from ${min} to ${max}`);
  return value;
}

function real(value: number | null | undefined, field: string, min: number, max: number, fallback: number | null): number | null {
  if (value === null || value === undefined) return fallback;
  if (!Number.isFinite(value) || value < min || value > max) throw invalid(field, `must be a number from ${min} to ${max}`);
  return value;
}

export function isStrategy(value: string): value is RolloutStrategy {
  return (ROLLOUT_STRATEGIES as readonly string[]).includes(value);
}

function parseAnalysis(a: NonNullable<StartRolloutInput['analysis']>): AnalysisSpec {
  const spec: AnalysisSpec = {
    intervalSeconds: int(a.intervalSeconds, 'analysis.intervalSeconds', 1, 3600, 10),
    minCalls: int(a.minCalls, 'analysis.minCalls', 0, 1e9, 50),
    failureLimit: int(a.failureLimit, 'analysis.failureLimit', 0, 1000, 0),
    count: int(a.count, 'analysis.count', 1, 1000, 1),
    maxErrorRate: real(a.maxErrorRate, 'analysis.maxErrorRate', 0, 1, null),
    maxP99Ratio: real(a.maxP99Ratio, 'analysis.maxP99Ratio', 0.01, 1000, null),
    minAgreement: real(a.minAgreement, 'analysis.minAgreement', 0, 1, null),
    maxOutputPsi: real(a.maxOutputPsi, 'analysis.maxOutputPsi', 0, 100, null),
  };
  if (spec.maxErrorRate === null && spec.maxP99Ratio === null && spec.minAgreement === null && spec.maxOutputPsi === null) {
    throw invalid('analysis', 'needs at least one threshold (maxErrorRate, maxP99Ratio, minAgreement, maxOutputPsi)');
  }
  return spec;
}

/** Canary steps: each exactly one action; weights 0-100 that never go back down (a path from stable to candidate). */
function parseSteps(steps: NonNullable<StartRolloutInput['steps']>, analysis: AnalysisSpec | null): RolloutStep[] {
  if (steps.length === 0 || steps.length > MAX_STEPS) throw invalid('steps', `must have 1 to ${MAX_STEPS} steps for a CANARY rollout`);
  let weight = 0;
  return steps.map((s, i): RolloutStep => {
    const field = `steps[${i}]`;
    const given = (['setWeight', 'pause', 'analysis'] as const).filter((k) => s[k] !== null && s[k] !== undefined);
    if (given.length !== 1) throw invalid(field, 'must have exactly one of setWeight, pause, analysis');
    if (s.setWeight !== null && s.setWeight !== undefined) {
      const w = int(s.setWeight, `${field}.setWeight`, 0, 100, 0);
      if (w < weight) throw invalid(`${field}.setWeight`, `is ${w}, below the previous step's ${weight}: weights only move from stable to candidate`);
      weight = w;
      return { setWeight: w };
    }
    if (s.pause) return { pause: { seconds: int(s.pause.seconds, `${field}.pause.seconds`, 0, MAX_SECONDS, null) } };
    if (!analysis) throw invalid(`${field}.analysis`, 'needs the rollout analysis (thresholds) to run');
    return { analysis: { count: int(s.analysis!.count, `${field}.analysis.count`, 1, 1000, analysis.count) } };
  });
}

export function parseSpec(input: StartRolloutInput): { strategy: RolloutStrategy; spec: RolloutSpec } {
  const strategy = input.strategy;
  if (!isStrategy(strategy)) throw invalid('strategy', `must be one of ${ROLLOUT_STRATEGIES.join(', ')}`);
  const analysis = input.analysis ? parseAnalysis(input.analysis) : null;
  const given = (v: unknown) => v !== null && v !== undefined;
  if (strategy !== 'CANARY' && given(input.steps) && input.steps!.length > 0) throw invalid('steps', `are for CANARY rollouts, not ${strategy}`);
  if (strategy !== 'AB' && given(input.weight)) throw invalid('weight', `is the A/B split; ${strategy} rollouts move weight by their own rules`);
  if (strategy !== 'BLUE_GREEN' && (given(input.autoPromotionSeconds) || given(input.scaleDownDelaySeconds))) {
    throw invalid(given(input.autoPromotionSeconds) ? 'autoPromotionSeconds' : 'scaleDownDelaySeconds', 'is for BLUE_GREEN rollouts');
  }
  if (strategy === 'AB' && given(input.mirrorShare) && input.mirrorShare !== 0) throw invalid('mirrorShare', `is for CANARY, SHADOW and BLUE_GREEN rollouts`);
  if (strategy === 'AB' && !given(input.weight)) throw invalid('weight', 'is required for an AB rollout (percent of calls to the candidate)');
  const spec: RolloutSpec = {
    steps: strategy === 'CANARY' ? parseSteps(input.steps ?? [], analysis) : [],
    analysis,
    weight: strategy === 'AB' ? int(input.weight, 'weight', 1, 99, 50) : null,
    mirrorShare: real(input.mirrorShare, 'mirrorShare', 0, 1, DEFAULT_MIRROR_SHARE[strategy])!,
    agreementTolerance: real(input.agreementTolerance, 'agreementTolerance', 0, 1e6, 1e-3)!,
    scaleDownDelaySeconds: int(input.scaleDownDelaySeconds, 'scaleDownDelaySeconds', 0, 24 * 3600, 30),
    autoPromotionSeconds: int(input.autoPromotionSeconds, 'autoPromotionSeconds', 0, MAX_SECONDS, null),
  };
  if (strategy === 'SHADOW' && spec.mirrorShare === 0) throw invalid('mirrorShare', 'must be above 0 for a SHADOW rollout');
  return { strategy, spec };
}
