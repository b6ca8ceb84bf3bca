// One analysis run: the candidate's and the stable version's figures over a range, aggregated across
// every gateway, judged against the rollout's thresholds (Argo's successCondition/inconclusive:
// too few calls, or a threshold whose figure could not be measured, is INCONCLUSIVE, never FAILED).
import type { AnalysisSpec } from './rollout-spec.js';
import { histogramQuantile, maxOutputPsi, type VersionTraffic } from './traffic.js';

export const ANALYSIS_STATUSES = ['SUCCESSFUL', 'FAILED', 'INCONCLUSIVE'] as const;
export type AnalysisStatus = (typeof ANALYSIS_STATUSES)[number];

export interface ArmFigures {
  version: number;
  calls: number;
  errors: number;
  errorRate: number | null;
  /** Client calls refused at admission for room: shown, never judged (overload is not the version's error). */
  refused: number;
  p50Ms: number | null;
  p99Ms: number | null;
  mirroredCalls: number;
}

export interface ConditionResult {
  metric: 'errorRate' | 'p99Ratio' | 'agreement' | 'outputPsi';
  /** `<=` or `>=` */
  operator: string;
  threshold: number;
  value: number | null;
  passed: boolean | null;
}

export interface AnalysisMeasurements {
  candidate: ArmFigures;
  stable: ArmFigures;
  gateways: number;
  p99Ratio: number | null;
  compared: number;
  agreement: number | null;
  outputPsi: number | null;
  outputPsiFeature: string | null;
  conditions: ConditionResult[];
}

export interface AnalysisVerdict {
  status: AnalysisStatus;
  measurements: AnalysisMeasurements;
  message: string;
}

function merged(a: readonly number[], b: readonly number[]): number[] {
  return a.map((v, i) => v + (b[i] ?? 0));
}

/** Client and mirrored calls together: a shadow candidate only ever runs copies. */
export function armFigures(t: VersionTraffic, withMirrored: boolean): ArmFigures {
  const calls = t.calls + (withMirrored ? t.mirroredCalls : 0);
  const errors = t.errors + (withMirrored ? t.mirroredErrors : 0);
  const latency = withMirrored ? merged(t.latency, t.mirroredLatency) : t.latency;
  return {
    version: t.version,
    calls,
    errors,
    errorRate: calls > 0 ? errors / calls : null,
    refused: t.refused,
    p50Ms: histogramQuantile(latency, 0.5),
    p99Ms: histogramQuantile(latency, 0.99),
    mirroredCalls: t.mirroredCalls,
  };
}

export function judge(analysis: AnalysisSpec, stable: VersionTraffic, candidate: VersionTraffic): AnalysisVerdict {
  const cand = armFigures(candidate, true);
  const stab = armFigures(stable, false);
  const compared = stable.compared + candidate.compared;
  const agreement = compared > 0 ? (stable.agreed + candidate.agreed) / compared : null;
  const psi = maxOutputPsi(stable, candidate);
  const p99Ratio = cand.p99Ms !== null && stab.p99Ms !== null && stab.p99Ms > 0 ? cand.p99Ms / stab.p99Ms : null;
  const conditions: ConditionResult[] = [];
  const check = (metric: ConditionResult['metric'], operator: '<=' | '>=', threshold: number | null, value: number | null) => {
    if (threshold === null) return;
    const passed = value === null ? null : operator === '<=' ? value <= threshold : value >= threshold;
    conditions.push({ metric, operator, threshold, value, passed });
  };
  check('errorRate', '<=', analysis.maxErrorRate, cand.errorRate);
  check('p99Ratio', '<=', analysis.maxP99Ratio, p99Ratio);
  check('agreement', '>=', analysis.minAgreement, agreement);
  check('outputPsi', '<=', analysis.maxOutputPsi, psi?.value ?? null);
  const measurements: AnalysisMeasurements = {
    candidate: cand,
    stable: stab,
    gateways: Math.max(candidate.gateways, stable.gateways),
    p99Ratio,
    compared,
    agreement,
    outputPsi: psi?.value ?? null,
    outputPsiFeature: psi?.feature ?? null,
    conditions,
  };
  const failed = conditions.filter((c) => c.passed === false);
  const describe = (c: ConditionResult) => `${c.metric} ${c.value === null ? 'unmeasured' : round(c.value)} (want ${c.operator} ${c.threshold})`;
  if (cand.calls < analysis.minCalls) {
    return { status: 'INCONCLUSIVE', measurements, message: `${cand.calls} candidate calls, fewer than minCalls ${analysis.minCalls}` };
  }
  if (failed.length > 0) return { status: 'FAILED', measurements, message: failed.map(describe).join('; ') };
  const unmeasured = conditions.filter((c) => c.passed === null);
  if (unmeasured.length > 0) return { status: 'INCONCLUSIVE', measurements, message: unmeasured.map(describe).join('; ') };
  return { status: 'SUCCESSFUL', measurements, message: conditions.map(describe).join('; ') };
}

function round(v: number): number {
  return Math.round(v * 10_000) / 10_000;
}
