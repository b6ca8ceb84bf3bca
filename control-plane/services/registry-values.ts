// Validation of the free-form values a version carries (tags, metrics, lineage): small, typed, and
// refused with the field that was wrong.
import { SluiceError } from '../../lib/errors.js';

export interface Lineage {
  datasetDigest: string | null;
  parameters: Record<string, unknown>;
  trainingJob: string | null;
  source: string | null;
  /** The trainer's sha256 (a command trainer's file) or `builtin:<name>@<version>`. */
  trainerDigest?: string | null;
  /** The version this one was retrained from (the production version when the job was submitted). */
  parentVersion?: number | null;
}

const MAX_ENTRIES = 64;

function invalid(field: string, message: string): SluiceError {
  return new SluiceError('SLUICE_E_VALIDATION', `${field}: ${message}`, { details: { field } });
}

function entries(value: unknown, field: string): [string, unknown][] {
  const list: unknown[] = Array.isArray(value) ? value : [];
  if (!Array.isArray(value) && (value === null || typeof value !== 'object')) throw invalid(field, 'must be a list of {key, value}');
  const pairs: [string, unknown][] = Array.isArray(value)
    ? list.map((e) => {
        const { key, value: v } = (e ?? {}) as { key?: unknown; value?: unknown };
        if (typeof key !== 'string') throw invalid(field, 'every entry needs a string key');
        return [key, v];
      })
    : Object.entries(value as Record<string, unknown>);
  if (pairs.length > MAX_ENTRIES) throw invalid(field, `at most ${MAX_ENTRIES} entries`);
  for (const [k] of pairs) if (k.length === 0 || k.length > 128) throw invalid(field, 'keys are 1-128 characters');
  return pairs;
}

/** Tags: `[{key, value}]` (GraphQL input) or a plain object, string values. */
export function parseTags(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of entries(value, 'tags')) {
    if (typeof v !== 'string' || v.length > 1024) throw invalid('tags', `value of ${k} must be a string of at most 1024 characters`);
    out[k] = v;
  }
  return out;
}

/** Metrics: `[{name, value}]` or a plain object, finite numbers. */
export function parseMetrics(value: unknown): Record<string, number> {
  const normalized = Array.isArray(value) ? value.map((m: { name?: unknown; value?: unknown }) => ({ key: m?.name, value: m?.value })) : value;
  const out: Record<string, number> = {};
  for (const [k, v] of entries(normalized, 'metrics')) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid('metrics', `${k} must be a finite number`);
    out[k] = v;
  }
  return out;
}

function optionalString(v: unknown, field: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length > 2048) throw invalid(field, 'must be a string of at most 2048 characters');
  return v;
}

function optionalVersion(v: unknown): number | null {
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw invalid('lineage.parentVersion', 'must be a version number');
  return v;
}

export function parseLineage(value: unknown): Lineage {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('lineage', 'must be an object');
  const v = value as Record<string, unknown>;
  const parameters = v.parameters ?? {};
  if (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters)) throw invalid('lineage.parameters', 'must be an object');
  if (JSON.stringify(parameters).length > 16_384) throw invalid('lineage.parameters', 'at most 16 KiB of JSON');
  return {
    datasetDigest: optionalString(v.datasetDigest, 'lineage.datasetDigest'),
    parameters: parameters as Record<string, unknown>,
    trainingJob: optionalString(v.trainingJob, 'lineage.trainingJob'),
    source: optionalString(v.source, 'lineage.source'),
    ...(v.trainerDigest === undefined ? {} : { trainerDigest: optionalString(v.trainerDigest, 'lineage.trainerDigest') }),
    ...(v.parentVersion === undefined ? {} : { parentVersion: optionalVersion(v.parentVersion) }),
  };
}
