// A model's retraining policy (issue 16), validated once when it is set: which firing alerts start a
// run, what job to submit, and whether a version that passes its gates is rolled out by itself.
import { SluiceError } from '../../lib/errors.js';
import { ALERT_METRICS, type AlertMetric } from './lifecycle.js';
import { parseSpec, type StartRolloutInput } from './rollout-spec.js';
import { parseLabels, parseLimit, parseParameters, parseTrainer, DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS } from './training-values.js';

export interface RetrainingPolicy {
  /** false: the policy is kept but starts nothing. */
  enabled: boolean;
  triggers: {
    /** Firing alerts on these metrics start a run (default drift_psi and accuracy). */
    metrics: AlertMetric[];
    /** Or alerts of these rules, by name. */
    rules: string[];
    /** any: one matching firing alert is enough; all: every listed metric and rule must be firing. */
    require: 'any' | 'all';
  };
  training: {
    /** As submitTrainingJob takes it: {builtin} or {command, digest}. */
    trainer: unknown;
    /**
     * The data to train on. Without sha256 the url must be a file on the control plane's machine;
     * its SHA-256 is taken when a run starts, so a file that grows (new labelled data) is fine.
     */
    dataset: { url: string; sha256: string | null };
    parameters: Record<string, unknown>;
    labels: string[];
    timeoutSeconds: number;
    retries: number;
  };
  /** The rollout to start when the new version passes its gates (model and candidate filled in); null: stop at the gate report. */
  rollout: Omit<StartRolloutInput, 'model' | 'candidate'> | null;
  /** After a run ends, no new run starts for this long. */
  cooldownSeconds: number;
}

const DEFAULT_COOLDOWN_SECONDS = 3600;
const MAX_COOLDOWN_SECONDS = 30 * 24 * 3600;
const RULE_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const POLICY_KEYS = ['enabled', 'triggers', 'training', 'rollout', 'cooldownSeconds'];

function invalid(field: string, message: string): SluiceError {
  return new SluiceError('SLUICE_E_RETRAIN_POLICY_INVALID', `${field}: ${message}`, { details: { field } });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Re-raise another validator's refusal as a policy refusal, the field prefixed with where it sits in the policy. */
function within<T>(prefix: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    const field = typeof err.details?.field === 'string' ? `${prefix}.${err.details.field}` : prefix;
    throw new SluiceError('SLUICE_E_RETRAIN_POLICY_INVALID', `${prefix}: ${err.message}`, { details: { field, cause: err.code } });
  }
}

function unknownKeys(raw: Record<string, unknown>, known: readonly string[], field: string): void {
  for (const k of Object.keys(raw)) if (!known.includes(k)) throw invalid(`${field}${k}`, `unknown field; known: ${known.join(', ')}`);
}

export function parseRetrainingPolicy(raw: unknown): RetrainingPolicy {
  if (!isObject(raw)) throw invalid('policy', 'must be an object');
  unknownKeys(raw, POLICY_KEYS, '');
  const enabled = raw.enabled === undefined ? true : raw.enabled;
  if (typeof enabled !== 'boolean') throw invalid('enabled', 'must be true or false');

  const t = raw.triggers === undefined ? {} : raw.triggers;
  if (!isObject(t)) throw invalid('triggers', 'must be an object');
  unknownKeys(t, ['metrics', 'rules', 'require'], 'triggers.');
  const metrics = t.metrics === undefined ? ['drift_psi', 'accuracy'] : t.metrics;
  if (!Array.isArray(metrics) || metrics.some((m) => !(ALERT_METRICS as readonly unknown[]).includes(m))) {
    throw invalid('triggers.metrics', `must be a list of ${ALERT_METRICS.join(', ')}`);
  }
  const rules = t.rules === undefined ? [] : t.rules;
  if (!Array.isArray(rules) || rules.length > 32 || rules.some((r) => typeof r !== 'string' || !RULE_NAME.test(r))) {
    throw invalid('triggers.rules', 'must be a list of at most 32 alert rule names');
  }
  if (metrics.length === 0 && rules.length === 0) throw invalid('triggers', 'name at least one metric or rule');
  const require = t.require === undefined ? 'any' : t.require;
  if (require !== 'any' && require !== 'all') throw invalid('triggers.require', 'must be any or all');

  if (!isObject(raw.training)) throw invalid('training', 'must be an object with trainer and dataset');
  const tr = raw.training;
  unknownKeys(tr, ['trainer', 'dataset', 'parameters', 'labels', 'timeoutSeconds', 'retries'], 'training.');
  within('training', () => parseTrainer(tr.trainer));
  if (!isObject(tr.dataset)) throw invalid('training.dataset', 'must be {url, sha256?}');
  const { url, sha256 } = tr.dataset;
  if (typeof url !== 'string' || url.length === 0 || url.length > 4096) throw invalid('training.dataset.url', 'must be a path or URL of at most 4096 characters');
  if (!url.startsWith('/') && !/^(file|https?):\/\//.test(url)) throw invalid('training.dataset.url', 'must be an absolute path, a file:// or an http(s):// URL');
  if (sha256 !== undefined && sha256 !== null && (typeof sha256 !== 'string' || !SHA256.test(sha256))) throw invalid('training.dataset.sha256', 'must be 64 lower-case hex digits');
  if ((sha256 === undefined || sha256 === null) && /^https?:/.test(url)) {
    throw invalid('training.dataset.sha256', 'is required for an http(s) dataset (the control plane digests only files on its own machine)');
  }
  const parameters = within('training', () => parseParameters(tr.parameters));
  const labels = within('training', () => parseLabels(tr.labels));
  const timeoutSeconds = within('training', () => parseLimit(tr.timeoutSeconds as number | null | undefined, 'timeoutSeconds', DEFAULT_TIMEOUT_SECONDS, 1, MAX_TIMEOUT_SECONDS));
  const retries = within('training', () => parseLimit(tr.retries as number | null | undefined, 'retries', 0, 0, 10));

  let rollout: RetrainingPolicy['rollout'] = null;
  if (raw.rollout !== undefined && raw.rollout !== null) {
    if (!isObject(raw.rollout)) throw invalid('rollout', 'must be a rollout spec (strategy, steps, analysis, ...) or null');
    if ('model' in raw.rollout || 'candidate' in raw.rollout) throw invalid('rollout', 'names no model or candidate: the loop fills them in');
    const spec = raw.rollout as unknown as Omit<StartRolloutInput, 'model' | 'candidate'>;
    within('rollout', () => parseSpec({ ...spec, model: 'policy', candidate: 1 }));
    rollout = spec;
  }
  const cooldown = raw.cooldownSeconds === undefined ? DEFAULT_COOLDOWN_SECONDS : raw.cooldownSeconds;
  if (typeof cooldown !== 'number' || !Number.isInteger(cooldown) || cooldown < 0 || cooldown > MAX_COOLDOWN_SECONDS) {
    throw invalid('cooldownSeconds', `must be an integer from 0 to ${MAX_COOLDOWN_SECONDS}`);
  }
  return {
    enabled,
    triggers: { metrics: metrics as AlertMetric[], rules: rules as string[], require },
    training: { trainer: tr.trainer, dataset: { url, sha256: (sha256 as string | undefined) ?? null }, parameters, labels, timeoutSeconds, retries },
    rollout,
    cooldownSeconds: cooldown,
  };
}
