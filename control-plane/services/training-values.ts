// The values a training job is made of, checked once at submit (or when a model's data schema is
// set) and refused naming the field: the trainer, the dataset, parameters, labels, limits, a
// sweep's search space, and the data schema runners check datasets against.
import { SluiceError } from '../../lib/errors.js';
import { seededRandom } from '../../lib/random.js';

/** The built-in trainers a runner carries, and the version recorded as their digest in lineage. */
export const BUILTIN_TRAINERS = { 'weather-mlp': { version: '1' } } as const;
export type BuiltinTrainer = keyof typeof BUILTIN_TRAINERS;

export type TrainerSpec =
  /** argv run by the runner; `digest`, when given, is the sha256 the runner must find for the trainer file. */
  | { kind: 'command'; command: string[]; digest: string | null }
  | { kind: 'builtin'; builtin: BuiltinTrainer; digest: string };

export interface DatasetRef {
  /** An absolute path on the runner's machine, a file:// or an http(s):// URL. */
  url: string;
  sha256: string;
}

export interface SweepSpec {
  /** grid: every combination of `space`'s value lists; random: `trials` draws from it. */
  method: 'grid' | 'random';
  /** parameter → list of values (grid and random) or {min, max[, log, integer]} (random only). */
  space: Record<string, unknown>;
  trials: number;
  parallelism: number;
  metric: string;
  goal: 'min' | 'max';
  seed: number;
}

/** What a sweep's parent stores: the spec and the parameters of every trial, fixed at submit. */
export interface SweepPlan extends SweepSpec {
  trialParameters: Record<string, unknown>[];
}

export const MAX_TRIALS = 100;
export const MAX_TIMEOUT_SECONDS = 7 * 24 * 3600;
export const DEFAULT_TIMEOUT_SECONDS = 3600;
const SHA256 = /^[0-9a-f]{64}$/;
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._:=-]{0,63}$/;
const PARAMETER = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

export function invalid(field: string, message: string): SluiceError {
  return new SluiceError('SLUICE_E_VALIDATION', `${field}: ${message}`, { details: { field } });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function parseTrainer(raw: unknown): TrainerSpec {
  if (!isObject(raw)) throw invalid('trainer', 'must be {command: [...]} or {builtin: "weather-mlp"}');
  const { command, builtin, digest } = raw as { command?: unknown; builtin?: unknown; digest?: unknown };
  if ((command === undefined || command === null) === (builtin === undefined || builtin === null)) {
    throw invalid('trainer', 'give exactly one of command or builtin');
  }
  if (builtin !== undefined && builtin !== null) {
    if (typeof builtin !== 'string' || !(builtin in BUILTIN_TRAINERS)) {
      throw invalid('trainer.builtin', `unknown builtin trainer ${JSON.stringify(builtin)}; known: ${Object.keys(BUILTIN_TRAINERS).join(', ')}`);
    }
    const name = builtin as BuiltinTrainer;
    return { kind: 'builtin', builtin: name, digest: builtinDigest(name) };
  }
  if (!Array.isArray(command) || command.length === 0 || command.length > 64 || !command.every((a) => typeof a === 'string' && a.length > 0 && a.length <= 4096)) {
    throw invalid('trainer.command', 'must be a non-empty argv list of at most 64 non-empty strings');
  }
  if (digest !== undefined && digest !== null && (typeof digest !== 'string' || !SHA256.test(digest))) {
    throw invalid('trainer.digest', 'must be 64 lower-case hex digits (sha256)');
  }
  return { kind: 'command', command: command as string[], digest: (digest as string | null | undefined) ?? null };
}

export function builtinDigest(name: BuiltinTrainer): string {
  return `builtin:${name}@${BUILTIN_TRAINERS[name].version}`;
}

export function parseDataset(raw: unknown): DatasetRef {
  if (!isObject(raw)) throw invalid('dataset', 'must be {url, sha256}');
  const { url, sha256 } = raw;
  if (typeof url !== 'string' || url.length === 0 || url.length > 4096) throw invalid('dataset.url', 'must be a path or URL of at most 4096 characters');
  if (!url.startsWith('/') && !/^(file|https?):\/\//.test(url)) throw invalid('dataset.url', 'must be an absolute path, a file:// or an http(s):// URL');
  if (typeof sha256 !== 'string' || !SHA256.test(sha256)) throw invalid('dataset.sha256', 'must be 64 lower-case hex digits');
  return { url, sha256 };
}

export function parseParameters(raw: unknown, field = 'parameters'): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw invalid(field, 'must be an object');
  for (const k of Object.keys(raw)) if (!PARAMETER.test(k)) throw invalid(field, `parameter name ${JSON.stringify(k)} must be 1-64 of A-Z, a-z, 0-9, "_", ".", "-", not starting with a digit`);
  if (JSON.stringify(raw).length > 16_384) throw invalid(field, 'at most 16 KiB of JSON');
  return raw;
}

export function parseLabels(raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.length > 32 || !raw.every((l) => typeof l === 'string' && LABEL.test(l))) {
    throw invalid('labels', 'must be at most 32 labels of 1-64 of A-Z, a-z, 0-9, ".", "_", ":", "=", "-"');
  }
  return [...new Set(raw as string[])].sort();
}

export function parseLimit(raw: unknown, field: string, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < min || raw > max) throw invalid(field, `must be an integer from ${min} to ${max}`);
  return raw;
}

/** A sweep spec and the parameters of each trial (the job's own parameters, overridden by the trial's). */
export function planSweep(raw: unknown, base: Record<string, unknown>): SweepPlan {
  if (!isObject(raw)) throw invalid('sweep', 'must be an object');
  const method = typeof raw.method === 'string' ? raw.method.toLowerCase() : raw.method;
  if (method !== 'grid' && method !== 'random') throw invalid('sweep.method', 'must be GRID or RANDOM');
  const space = raw.space;
  if (!isObject(space) || Object.keys(space).length === 0) throw invalid('sweep.space', 'must name at least one parameter');
  parseParameters(space, 'sweep.space');
  const metric = raw.metric;
  if (typeof metric !== 'string' || metric.length === 0 || metric.length > 128) throw invalid('sweep.metric', 'must name the metric that ranks the trials');
  const goal = typeof raw.goal === 'string' ? raw.goal.toLowerCase() : raw.goal;
  if (goal !== 'min' && goal !== 'max') throw invalid('sweep.goal', 'must be MIN or MAX');
  const parallelism = parseLimit(raw.parallelism, 'sweep.parallelism', 1, 1, MAX_TRIALS);
  const seed = parseLimit(raw.seed, 'sweep.seed', 1, 0, 2 ** 31 - 1);
  let trialParameters: Record<string, unknown>[];
  if (method === 'grid') {
    const axes = Object.entries(space).map(([name, values]) => {
      if (!Array.isArray(values) || values.length === 0) throw invalid(`sweep.space.${name}`, 'a grid takes a non-empty list of values');
      return [name, values] as const;
    });
    trialParameters = axes.reduce<Record<string, unknown>[]>((acc, [name, values]) => acc.flatMap((p) => values.map((v) => ({ ...p, [name]: v }))), [{}]);
    if (raw.trials !== undefined && raw.trials !== null && raw.trials !== trialParameters.length) {
      throw invalid('sweep.trials', `a grid over this space has ${trialParameters.length} trials, not ${String(raw.trials)}`);
    }
  } else {
    if (raw.trials === undefined || raw.trials === null) throw invalid('sweep.trials', 'random search needs the number of trials');
    const trials = parseLimit(raw.trials, 'sweep.trials', 0, 1, MAX_TRIALS);
    const random = seededRandom(seed);
    const draw = Object.entries(space).map(([name, dist]) => drawer(name, dist, random));
    trialParameters = Array.from({ length: trials }, () => Object.fromEntries(draw.map(([name, next]) => [name, next()])));
  }
  if (trialParameters.length > MAX_TRIALS) throw invalid('sweep', `at most ${MAX_TRIALS} trials, this sweep has ${trialParameters.length}`);
  return { method, space, trials: trialParameters.length, parallelism, metric, goal, seed, trialParameters: trialParameters.map((p) => ({ ...base, ...p })) };
}

function drawer(name: string, dist: unknown, random: () => number): [string, () => unknown] {
  if (Array.isArray(dist)) {
    if (dist.length === 0) throw invalid(`sweep.space.${name}`, 'a list of choices must not be empty');
    return [name, () => dist[Math.floor(random() * dist.length)]];
  }
  if (!isObject(dist) || typeof dist.min !== 'number' || typeof dist.max !== 'number' || !(dist.min < dist.max)) {
    throw invalid(`sweep.space.${name}`, 'random search takes a list of choices or {min, max, log?, integer?} with min < max');
  }
  const { min, max } = dist as { min: number; max: number };
  const log = dist.log === true;
  if (log && min <= 0) throw invalid(`sweep.space.${name}`, 'a log range needs min > 0');
  const integer = dist.integer === true;
  return [
    name,
    () => {
      const u = random();
      const v = log ? Math.exp(Math.log(min) + u * (Math.log(max) - Math.log(min))) : min + u * (max - min);
      return integer ? Math.round(v) : Number(v.toPrecision(6));
    },
  ];
}

/** One declared column of a model's training data. */
export interface DataColumn {
  name: string;
  type: 'number' | 'integer' | 'string';
  min?: number;
  max?: number;
  /** Allowed values (strings as they appear in the file). */
  categories?: string[];
  /** Largest fraction of empty cells allowed (default 0). */
  maxMissingRate: number;
}

export interface DataSchema {
  columns: DataColumn[];
  /** PSI above which a feature drifted against the production version's profile (default 0.2). */
  driftPsi: number;
}

export const DEFAULT_DRIFT_PSI = 0.2;

export function parseDataSchema(raw: unknown): DataSchema {
  if (!isObject(raw) || !Array.isArray(raw.columns) || raw.columns.length === 0 || raw.columns.length > 1024) {
    throw invalid('schema.columns', 'must be a list of 1-1024 columns');
  }
  const seen = new Set<string>();
  const columns = raw.columns.map((c: unknown, i: number): DataColumn => {
    const f = `schema.columns[${i}]`;
    if (!isObject(c) || typeof c.name !== 'string' || c.name.length === 0 || c.name.length > 128) throw invalid(`${f}.name`, 'must be a string of 1-128 characters');
    if (seen.has(c.name)) throw invalid(`${f}.name`, `column ${c.name} is declared twice`);
    seen.add(c.name);
    const type = typeof c.type === 'string' ? c.type.toLowerCase() : c.type;
    if (type !== 'number' && type !== 'integer' && type !== 'string') throw invalid(`${f}.type`, 'must be NUMBER, INTEGER or STRING');
    const out: DataColumn = { name: c.name, type, maxMissingRate: 0 };
    for (const bound of ['min', 'max'] as const) {
      const v = c[bound];
      if (v === undefined || v === null) continue;
      if (type === 'string' || typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`${f}.${bound}`, 'is a finite number, for numeric columns only');
      out[bound] = v;
    }
    if (c.categories !== undefined && c.categories !== null) {
      if (!Array.isArray(c.categories) || c.categories.length === 0 || !c.categories.every((v) => typeof v === 'string')) throw invalid(`${f}.categories`, 'must be a non-empty list of strings');
      out.categories = c.categories as string[];
    }
    if (c.maxMissingRate !== undefined && c.maxMissingRate !== null) {
      if (typeof c.maxMissingRate !== 'number' || !(c.maxMissingRate >= 0 && c.maxMissingRate <= 1)) throw invalid(`${f}.maxMissingRate`, 'must be a number from 0 to 1');
      out.maxMissingRate = c.maxMissingRate;
    }
    return out;
  });
  const driftPsi = raw.driftPsi ?? DEFAULT_DRIFT_PSI;
  if (typeof driftPsi !== 'number' || !(driftPsi > 0)) throw invalid('schema.driftPsi', 'must be a positive number');
  return { columns, driftPsi };
}
