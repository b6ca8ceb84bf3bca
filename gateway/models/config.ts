// The one schema for a model's config.json: types, validation with errors that name the field,
// and defaults. Used by the repository loader, the example-repository builder, the CLI and tests.
import { usableCores } from '../../lib/cpu-limit.js';
import { SluiceError } from '../../lib/errors.js';
import { parseSlices, type SlicesConfig } from './slices-config.js';

/** Open Inference Protocol datatypes that ONNX Runtime can take as numeric tensors, plus BYTES. */
export const DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64',
  'FP16', 'FP32', 'FP64', 'BYTES',
] as const;
export type Datatype = (typeof DATATYPES)[number];

export interface TensorConfig {
  name: string;
  datatype: Datatype;
  /** Dimensions without the batch dimension when max_batch_size > 0; -1 for a variable dimension. */
  dims: number[];
}

export interface DynamicBatchingConfig {
  max_queue_delay_us: number;
  preferred_batch_sizes: number[];
  max_queue_size: number;
  /** 0 = no deadline. A request's parameters.timeout_us may only shorten it. */
  default_timeout_us: number;
  priority_levels: number;
  default_priority_level: number;
  /**
   * Batches formed ahead while every instance is busy, assembled and sent to a worker where they
   * wait behind the running batch: the worker starts the next one the moment it finishes, with no
   * round trip through the main thread (which may be busy reading request bodies). 0 (default,
   * Triton's behaviour) forms a batch only when an instance is free. Pays for models whose batches
   * take milliseconds (text-direction); costs for cheap ones, whose batches it makes smaller
   * (weather). A staged batch is closed to a later call of higher priority.
   */
  staged_batches: number;
  /**
   * true (default): a call that finds an instance free waits only as long as the arrival rate and
   * the measured batch cost say company is coming, max_queue_delay_us being the upper bound
   * (docs/batching.md). false: Triton's fixed wait for a full batch or max_queue_delay_us.
   */
  adaptive_delay: boolean;
  /**
   * A call alone in the gateway may run on the main thread instead of a worker when the version's
   * measured compute per call is at most this many µs and the hop it saves is worth more than the
   * blocked event loop costs at the observed load (batching/inline.ts, docs/batching.md). 0: never.
   * CPU sessions only.
   */
  inline_max_us: number;
}

export type VersionPolicy =
  | { latest: { num_versions: number } }
  | { specific: { versions: string[] } }
  | { all: Record<string, never> };

export interface RoutingConfig {
  /** Version a call without versions/{v} goes to when no weights are set. */
  default_version?: string;
  /** Share of traffic per version (relative weights, need not sum to 100). */
  weights?: Record<string, number>;
}

export interface WarmupConfig {
  batch_size: number;
  count: number;
}

export interface ImagePreprocessConfig {
  /** The BYTES input clients send; the model input it feeds is `target`. */
  input: string;
  target: string;
  /** Output height/width; -1 or omitted takes the model's fixed dims. */
  height?: number;
  width?: number;
  /** `fill` stretches, `contain` pads, `height` keeps aspect at the target height and pads right (PaddleOCR). */
  fit: 'fill' | 'contain' | 'height';
  channel_order: 'RGB' | 'BGR' | 'GRAY';
  scale: number;
  mean: number[];
  std: number[];
  layout: 'NCHW' | 'NHWC';
  pad_value: number;
  max_pixels: number;
}

export interface DriftConfig {
  /** Reference profile file, relative to the version folder. */
  profile: string;
  sample_fraction: number;
  window_seconds: number;
  psi_warn: number;
  psi_alert: number;
  thresholds?: Record<string, { psi_warn?: number; psi_alert?: number }>;
  /** Rows a window needs before its scores are judged against the thresholds. */
  min_rows: number;
  /** A window also ends once it holds this many rows (0: only window_seconds ends it). */
  window_rows: number;
  /**
   * The drift report and metrics publish a window's aggregates only once it holds this many rows,
   * and then in steps of as many new rows, so that two polls around one call never isolate it
   * (absent: 20).
   */
  report_min_rows?: number;
}

export const DEFAULT_REPORT_MIN_ROWS = 20;

/**
 * Ground truth for this model's answers (gateway/feedback). Which output holds the prediction and
 * whether it is a class or a value are read from the model's outputs unless set here.
 */
export interface FeedbackConfig {
  /** The output holding the prediction (default: the first INT64 [N], else FP [N,K>1], else FP [N] or [N,1]). */
  output?: string;
  /** classification: the output is a class index, or scores whose argmax is one; regression: a value. */
  task?: 'classification' | 'regression';
  /** How long an answer waits for its feedback. */
  ttl_seconds: number;
  /** Answer rows kept per version; the oldest go first. */
  capacity: number;
  /** Length of an accuracy window (default: the drift window's, else 300 s). */
  window_seconds: number;
}

/**
 * The per-model payload log (gateway/payload-log, off unless the config has it): a sample of calls
 * and answers written as JSON lines, with the personal fields replaced by a keyed HMAC first.
 */
export interface PayloadLogConfig {
  /** Share of calls logged, 0..1. */
  sample: number;
  /** Input names and request parameter names whose values are personal: logged only as HMACs. */
  personal: string[];
  /** Log the outputs too (default true). */
  outputs: boolean;
  /** Entries older than this are deleted (default 7 days). */
  max_age_seconds: number;
  /** The model's log folder is kept under this size, the oldest entries going first (default 1 GiB). */
  max_bytes: number;
}

/**
 * Explanations of a tabular model (gateway/explain, docs/explanations.md). Explanations are served
 * for any tabular version with a reference profile; these fields bound their cost, and
 * `sample_fraction` > 0 turns on the attribution windows of live traffic (absent: off).
 */
export interface ExplainConfig {
  /** Background rows drawn from the reference profile. */
  background_size: number;
  /** Rows one explain call may ask for. */
  max_rows: number;
  /** Exact Shapley values up to this many features (2^F coalitions); KernelSHAP beyond. */
  exact_max_features: number;
  /** Coalitions KernelSHAP samples (paired: a coalition and its complement). */
  kernel_samples: number;
  /** Evaluation rows that may wait in the model's explanation queue (below every inference call). */
  max_queue_rows: number;
  /** Share of answered rows explained for the attribution windows (0: off). */
  sample_fraction: number;
  /** Length of an attribution window. */
  window_seconds: number;
}

export const EXPLAIN_DEFAULTS: ExplainConfig = {
  background_size: 64,
  max_rows: 16,
  exact_max_features: 10,
  kernel_samples: 1024,
  max_queue_rows: 262_144,
  sample_fraction: 0,
  window_seconds: 300,
};

export const PAYLOAD_LOG_DEFAULTS = { max_age_seconds: 7 * 86_400, max_bytes: 1024 ** 3 } as const;

/** Default dynamic_batching.inline_max_us: covers text-direction's ~0.8-1 ms per call, not a 10 ms model. */
export const INLINE_MAX_US_DEFAULT = 2000;

export const FEEDBACK_DEFAULTS = { ttl_seconds: 3600, capacity: 100_000, window_seconds: 300 } as const;

export interface ModelConfig {
  name: string;
  platform: 'onnxruntime';
  max_batch_size: number;
  input?: TensorConfig[];
  output?: TensorConfig[];
  dynamic_batching: DynamicBatchingConfig;
  instances: number;
  intra_op_threads: number;
  execution_providers: ('cpu' | 'cuda')[];
  /**
   * Fail the load (SLUICE_E_MODEL_PROVIDER) when the first execution provider cannot be created,
   * instead of falling back to the CPU. Either way the provider in use is reported (metadata
   * parameters.execution_provider, /metrics, heartbeat).
   */
  require_provider: boolean;
  /**
   * The GPU a CUDA version's sessions are created on (ORT's CUDA option deviceId), or 'auto' (the
   * default with CUDA): the least loaded GPU the host has (workers/gpu-devices.ts). Ignored on the CPU.
   */
  device_id: number | 'auto';
  version_policy: VersionPolicy;
  routing: RoutingConfig;
  warmup: WarmupConfig[];
  preprocess?: ImagePreprocessConfig[];
  drift?: DriftConfig;
  /** Ground truth (absent: on, read from the outputs; false: off). */
  feedback?: FeedbackConfig | false;
  /** Sampled calls and answers to the gateway's payload log folder (absent: off). */
  payload_log?: PayloadLogConfig;
  /** Explanation limits and attribution windows (absent: EXPLAIN_DEFAULTS). */
  explain?: ExplainConfig;
  /** Outcome and error rates per slice of a column, from ground truth (absent: off; slices-config.ts). */
  slices?: SlicesConfig;
  /** Free-form facts about the model (labels, training metrics); served in model metadata. */
  parameters: Record<string, unknown>;
}

function bad(model: string, field: string, why: string): never {
  throw new SluiceError('SLUICE_E_CONFIG_INVALID', `model ${model}: config field ${field} ${why}`, {
    details: { model, field },
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(model: string, field: string, v: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    bad(model, field, `must be an integer from ${min} to ${max}`);
  }
  return v;
}

function num(model: string, field: string, v: unknown, fallback: number, min = -Infinity, max = Infinity): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) bad(model, field, `must be a number from ${min} to ${max}`);
  return v;
}

function oneOf<T extends string>(model: string, field: string, v: unknown, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) bad(model, field, `must be one of ${allowed.join(', ')}`);
  return v as T;
}

function tensors(model: string, field: string, v: unknown): TensorConfig[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) bad(model, field, 'must be an array');
  return v.map((t, i) => {
    const f = `${field}[${i}]`;
    if (!isObject(t)) bad(model, f, 'must be an object');
    if (typeof t.name !== 'string' || t.name === '') bad(model, `${f}.name`, 'must be a non-empty string');
    const datatype = oneOf(model, `${f}.datatype`, t.datatype, DATATYPES, 'FP32');
    if (!Array.isArray(t.dims) || !t.dims.every((d) => Number.isInteger(d) && (d === -1 || d > 0))) {
      bad(model, `${f}.dims`, 'must be an array of positive integers or -1');
    }
    return { name: t.name, datatype, dims: t.dims as number[] };
  });
}

/** Default ORT sessions per model version: one per usable core (a CPU quota counts), each single-threaded (measured faster on 2 cores). */
export function defaultInstances(): number {
  return usableCores();
}

/**
 * Defaults when CUDA comes first in execution_providers: one session on the GPU (`instances` counts
 * sessions per GPU then; a GPU runs one large batch better than several small ones side by side) and
 * a preferred batch size as large as the model allows up to 64, so the batcher waits for big batches.
 */
export const CUDA_DEFAULTS = { instances: 1, preferred_batch_size: 64 } as const;

/**
 * CUDA options ONNX Runtime knows but onnxruntime-node (1.29) does not pass on: its binding reads
 * only `deviceId` for the CUDA provider. Named here so a config asking for them is refused rather
 * than silently ignored.
 */
const CUDA_OPTIONS_NOT_IN_NODE = ['gpu_mem_limit', 'arena_extend_strategy', 'cudnn_conv_algo_search', 'enable_cuda_graph', 'do_copy_in_default_stream'] as const;

function versionPolicy(model: string, v: unknown): VersionPolicy {
  if (v === undefined) return { latest: { num_versions: 1 } };
  if (!isObject(v)) bad(model, 'version_policy', 'must be an object');
  if (isObject(v.latest)) {
    return { latest: { num_versions: int(model, 'version_policy.latest.num_versions', v.latest.num_versions, 1, 1) } };
  }
  if (isObject(v.specific)) {
    const versions = v.specific.versions;
    if (!Array.isArray(versions) || versions.length === 0 || !versions.every((x) => /^[1-9][0-9]*$/.test(String(x)))) {
      bad(model, 'version_policy.specific.versions', 'must be a non-empty array of version numbers');
    }
    return { specific: { versions: versions.map(String) } };
  }
  if (isObject(v.all)) return { all: {} };
  bad(model, 'version_policy', 'must have one of latest, specific, all');
}

function routing(model: string, v: unknown): RoutingConfig {
  if (v === undefined) return {};
  if (!isObject(v)) bad(model, 'routing', 'must be an object');
  const out: RoutingConfig = {};
  if (v.default_version !== undefined) {
    if (!/^[1-9][0-9]*$/.test(String(v.default_version))) bad(model, 'routing.default_version', 'must be a version number');
    out.default_version = String(v.default_version);
  }
  if (v.weights !== undefined) {
    if (!isObject(v.weights)) bad(model, 'routing.weights', 'must be an object of version: weight');
    const weights: Record<string, number> = {};
    for (const [ver, w] of Object.entries(v.weights)) {
      if (!/^[1-9][0-9]*$/.test(ver)) bad(model, `routing.weights.${ver}`, 'must be keyed by a version number');
      weights[ver] = num(model, `routing.weights.${ver}`, w, 0, 0);
    }
    out.weights = weights;
  }
  return out;
}

function preprocess(model: string, v: unknown): ImagePreprocessConfig[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) bad(model, 'preprocess', 'must be an array');
  return v.map((p, i) => {
    const f = `preprocess[${i}]`;
    if (!isObject(p)) bad(model, f, 'must be an object');
    if (typeof p.input !== 'string' || p.input === '') bad(model, `${f}.input`, 'must name the BYTES input');
    if (typeof p.target !== 'string' || p.target === '') bad(model, `${f}.target`, 'must name the model input');
    const channel_order = oneOf(model, `${f}.channel_order`, p.channel_order, ['RGB', 'BGR', 'GRAY'] as const, 'RGB');
    const channels = channel_order === 'GRAY' ? 1 : 3;
    const vec = (name: string, fallback: number): number[] => {
      const x = p[name];
      if (x === undefined) return new Array<number>(channels).fill(fallback);
      if (!Array.isArray(x) || x.length !== channels || !x.every((n) => typeof n === 'number' && Number.isFinite(n))) {
        bad(model, `${f}.${name}`, `must be ${channels} numbers`);
      }
      return x as number[];
    };
    const std = vec('std', 1);
    if (std.some((s) => s === 0)) bad(model, `${f}.std`, 'must not contain 0');
    const out: ImagePreprocessConfig = {
      input: p.input,
      target: p.target,
      fit: oneOf(model, `${f}.fit`, p.fit, ['fill', 'contain', 'height'] as const, 'fill'),
      channel_order,
      scale: num(model, `${f}.scale`, p.scale, 1 / 255),
      mean: vec('mean', 0),
      std,
      layout: oneOf(model, `${f}.layout`, p.layout, ['NCHW', 'NHWC'] as const, 'NCHW'),
      pad_value: num(model, `${f}.pad_value`, p.pad_value, 0),
      max_pixels: int(model, `${f}.max_pixels`, p.max_pixels, 40_000_000, 1),
    };
    if (p.height !== undefined) out.height = int(model, `${f}.height`, p.height, -1, -1);
    if (p.width !== undefined) out.width = int(model, `${f}.width`, p.width, -1, -1);
    return out;
  });
}

function drift(model: string, v: unknown): DriftConfig | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) bad(model, 'drift', 'must be an object');
  if (typeof v.profile !== 'string' || v.profile === '') bad(model, 'drift.profile', 'must name the reference profile file');
  const out: DriftConfig = {
    profile: v.profile,
    sample_fraction: num(model, 'drift.sample_fraction', v.sample_fraction, 1, 0, 1),
    window_seconds: num(model, 'drift.window_seconds', v.window_seconds, 60, 1),
    psi_warn: num(model, 'drift.psi_warn', v.psi_warn, 0.1, 0),
    psi_alert: num(model, 'drift.psi_alert', v.psi_alert, 0.2, 0),
    min_rows: int(model, 'drift.min_rows', v.min_rows, 100, 1),
    window_rows: int(model, 'drift.window_rows', v.window_rows, 0, 0),
    report_min_rows: int(model, 'drift.report_min_rows', v.report_min_rows, DEFAULT_REPORT_MIN_ROWS, 1),
  };
  if (v.thresholds !== undefined) {
    if (!isObject(v.thresholds)) bad(model, 'drift.thresholds', 'must be an object keyed by feature');
    out.thresholds = {};
    for (const [feature, t] of Object.entries(v.thresholds)) {
      if (!isObject(t)) bad(model, `drift.thresholds.${feature}`, 'must be an object');
      out.thresholds[feature] = {
        psi_warn: num(model, `drift.thresholds.${feature}.psi_warn`, t.psi_warn, out.psi_warn, 0),
        psi_alert: num(model, `drift.thresholds.${feature}.psi_alert`, t.psi_alert, out.psi_alert, 0),
      };
    }
  }
  return out;
}

function payloadLog(model: string, v: unknown): PayloadLogConfig | undefined {
  if (v === undefined || v === false) return undefined;
  if (!isObject(v)) bad(model, 'payload_log', 'must be an object or false');
  const personal = v.personal ?? [];
  if (!Array.isArray(personal) || !personal.every((p) => typeof p === 'string' && p !== '')) bad(model, 'payload_log.personal', 'must be an array of input or parameter names');
  if (v.outputs !== undefined && typeof v.outputs !== 'boolean') bad(model, 'payload_log.outputs', 'must be true or false');
  return {
    sample: num(model, 'payload_log.sample', v.sample, 0.01, 0, 1),
    personal: personal as string[],
    outputs: v.outputs !== false,
    max_age_seconds: int(model, 'payload_log.max_age_seconds', v.max_age_seconds, PAYLOAD_LOG_DEFAULTS.max_age_seconds, 1),
    max_bytes: int(model, 'payload_log.max_bytes', v.max_bytes, PAYLOAD_LOG_DEFAULTS.max_bytes, 1024),
  };
}

function explain(model: string, v: unknown, drift: DriftConfig | undefined): ExplainConfig | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) bad(model, 'explain', 'must be an object');
  const d = EXPLAIN_DEFAULTS;
  return {
    background_size: int(model, 'explain.background_size', v.background_size, d.background_size, 1, 4096),
    max_rows: int(model, 'explain.max_rows', v.max_rows, d.max_rows, 1, 4096),
    exact_max_features: int(model, 'explain.exact_max_features', v.exact_max_features, d.exact_max_features, 1, 16),
    kernel_samples: int(model, 'explain.kernel_samples', v.kernel_samples, d.kernel_samples, 2, 65_536),
    max_queue_rows: int(model, 'explain.max_queue_rows', v.max_queue_rows, d.max_queue_rows, 1, 100_000_000),
    sample_fraction: num(model, 'explain.sample_fraction', v.sample_fraction, d.sample_fraction, 0, 1),
    window_seconds: num(model, 'explain.window_seconds', v.window_seconds, drift?.window_seconds ?? d.window_seconds, 1),
  };
}

function feedback(model: string, v: unknown, drift: DriftConfig | undefined): FeedbackConfig | false | undefined {
  if (v === undefined || v === false) return v;
  if (v === true) v = {};
  if (!isObject(v)) bad(model, 'feedback', 'must be an object, true or false');
  const out: FeedbackConfig = {
    ttl_seconds: num(model, 'feedback.ttl_seconds', v.ttl_seconds, FEEDBACK_DEFAULTS.ttl_seconds, 1, 7 * 86_400),
    capacity: int(model, 'feedback.capacity', v.capacity, FEEDBACK_DEFAULTS.capacity, 1, 10_000_000),
    window_seconds: num(model, 'feedback.window_seconds', v.window_seconds, drift?.window_seconds ?? FEEDBACK_DEFAULTS.window_seconds, 1),
  };
  if (v.output !== undefined) {
    if (typeof v.output !== 'string' || v.output === '') bad(model, 'feedback.output', 'must name an output');
    out.output = v.output;
  }
  if (v.task !== undefined) out.task = oneOf(model, 'feedback.task', v.task, ['classification', 'regression'] as const, 'classification');
  return out;
}

/** Validate a parsed config.json and fill its defaults. `name` is the model folder's name. */
export function parseModelConfig(name: string, raw: unknown): ModelConfig {
  if (!isObject(raw)) bad(name, '(root)', 'must be a JSON object');
  if (raw.name !== undefined && raw.name !== name) bad(name, 'name', `must match the folder name ${name}`);
  if (raw.platform !== undefined && raw.platform !== 'onnxruntime') bad(name, 'platform', 'must be onnxruntime');
  const maxBatch = int(name, 'max_batch_size', raw.max_batch_size, 8, 0, 4096);
  const batching = raw.dynamic_batching === undefined ? {} : raw.dynamic_batching;
  if (!isObject(batching)) bad(name, 'dynamic_batching', 'must be an object');
  const priorityLevels = int(name, 'dynamic_batching.priority_levels', batching.priority_levels, 1, 1, 16);
  const preferred = batching.preferred_batch_sizes ?? [];
  if (!Array.isArray(preferred) || !preferred.every((b) => Number.isInteger(b) && b >= 1 && b <= Math.max(1, maxBatch))) {
    bad(name, 'dynamic_batching.preferred_batch_sizes', `must be integers from 1 to max_batch_size (${maxBatch})`);
  }
  const providers = raw.execution_providers ?? ['cpu'];
  if (!Array.isArray(providers) || providers.length === 0 || !providers.every((p) => p === 'cpu' || p === 'cuda')) {
    bad(name, 'execution_providers', 'must be a non-empty array of cpu, cuda');
  }
  for (const field of CUDA_OPTIONS_NOT_IN_NODE) {
    if (raw[field] !== undefined || (isObject(raw.cuda) && raw.cuda[field] !== undefined)) {
      bad(name, field, 'is not supported: onnxruntime-node passes only device_id to the CUDA provider');
    }
  }
  if (raw.cuda !== undefined) bad(name, 'cuda', 'is not a config field; set device_id at the top level');
  if (raw.require_provider !== undefined && typeof raw.require_provider !== 'boolean') bad(name, 'require_provider', 'must be true or false');
  const onCuda = (providers as string[])[0] === 'cuda';
  const warmup = raw.warmup ?? [];
  if (!Array.isArray(warmup)) bad(name, 'warmup', 'must be an array');
  const parameters = raw.parameters ?? {};
  if (!isObject(parameters)) bad(name, 'parameters', 'must be an object');
  const config: ModelConfig = {
    name,
    platform: 'onnxruntime',
    max_batch_size: maxBatch,
    dynamic_batching: {
      max_queue_delay_us: int(name, 'dynamic_batching.max_queue_delay_us', batching.max_queue_delay_us, 500, 0, 10_000_000),
      preferred_batch_sizes: batching.preferred_batch_sizes === undefined && onCuda && maxBatch > 1
        ? [Math.min(maxBatch, CUDA_DEFAULTS.preferred_batch_size)]
        : [...(preferred as number[])].sort((a, b) => a - b),
      max_queue_size: int(name, 'dynamic_batching.max_queue_size', batching.max_queue_size, 1024, 1, 1_000_000),
      default_timeout_us: int(name, 'dynamic_batching.default_timeout_us', batching.default_timeout_us, 0, 0),
      priority_levels: priorityLevels,
      default_priority_level: int(name, 'dynamic_batching.default_priority_level', batching.default_priority_level, priorityLevels, 1, priorityLevels),
      staged_batches: int(name, 'dynamic_batching.staged_batches', batching.staged_batches, 0, 0, 64),
      inline_max_us: int(name, 'dynamic_batching.inline_max_us', batching.inline_max_us, INLINE_MAX_US_DEFAULT, 0, 100_000),
      adaptive_delay: batching.adaptive_delay === undefined ? true : batching.adaptive_delay === true ? true : batching.adaptive_delay === false ? false : bad(name, 'dynamic_batching.adaptive_delay', 'must be true or false'),
    },
    instances: int(name, 'instances', raw.instances, onCuda ? CUDA_DEFAULTS.instances : defaultInstances(), 1, 64),
    intra_op_threads: int(name, 'intra_op_threads', raw.intra_op_threads, 1, 1, 64),
    execution_providers: providers as ('cpu' | 'cuda')[],
    require_provider: raw.require_provider === true,
    device_id: raw.device_id === 'auto' || (raw.device_id === undefined && (providers as string[]).includes('cuda'))
      ? 'auto'
      : int(name, 'device_id', raw.device_id, 0, 0, 63),
    version_policy: versionPolicy(name, raw.version_policy),
    routing: routing(name, raw.routing),
    warmup: warmup.map((w, i) => {
      if (!isObject(w)) bad(name, `warmup[${i}]`, 'must be an object');
      return {
        batch_size: int(name, `warmup[${i}].batch_size`, w.batch_size, 1, 1, Math.max(1, maxBatch)),
        count: int(name, `warmup[${i}].count`, w.count, 1, 1, 10_000),
      };
    }),
    parameters,
  };
  const input = tensors(name, 'input', raw.input);
  const output = tensors(name, 'output', raw.output);
  const pre = preprocess(name, raw.preprocess);
  const dr = drift(name, raw.drift);
  const fb = feedback(name, raw.feedback, dr);
  if (input) config.input = input;
  if (output) config.output = output;
  if (pre) config.preprocess = pre;
  if (dr) config.drift = dr;
  if (fb !== undefined) config.feedback = fb;
  const pl = payloadLog(name, raw.payload_log);
  if (pl) config.payload_log = pl;
  const ex = explain(name, raw.explain, dr);
  if (ex) config.explain = ex;
  if (raw.slices !== undefined && fb === false) bad(name, 'slices', 'needs ground truth: remove feedback: false');
  const sl = parseSlices(name, raw.slices, fb === undefined || fb === false ? (dr?.window_seconds ?? FEEDBACK_DEFAULTS.window_seconds) : fb.window_seconds, parameters.labels);
  if (sl) config.slices = sl;
  return config;
}
