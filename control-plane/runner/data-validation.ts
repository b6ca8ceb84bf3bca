// Data validation before a trainer starts: the dataset (a CSV file with a header row) against the
// model's declared data schema — every failure names the column, what was expected and what was
// found — and against the drift reference profile of the current production version: PSI per
// numeric input feature that is also a column of the dataset, with the gateway's own bins and PSI
// (gateway/drift; the control plane already reads profiles with the gateway's code, see
// services/model-upload.ts). A schema failure stops the job; drift only flags it.
import { readFileSync } from 'node:fs';
import { SluiceError } from '../../lib/errors.js';
import type { DriftProfile } from '../../gateway/drift/profile.js';
import { psi } from '../../gateway/drift/statistics.js';
import { binOf } from '../../gateway/drift/ts-window.js';
import type { DataSchema } from '../services/training-values.js';

export interface Table {
  columns: string[];
  rows: string[][];
}

export interface SchemaFailure {
  column: string;
  check: 'present' | 'type' | 'min' | 'max' | 'categories' | 'missing';
  expected: string;
  found: string;
}

export interface FeatureDrift {
  feature: string;
  psi: number;
}

export interface DataValidationReport {
  rows: number;
  ok: boolean;
  failures: SchemaFailure[];
  /** Null when there is no production profile to compare with. */
  drift: { productionVersion: number; threshold: number; features: FeatureDrift[]; drifted: string[] } | null;
}

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines. */
export function parseCsv(text: string, file: string): Table {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      field = '';
      if (record.length > 1 || record[0] !== '') records.push(record);
      record = [];
    } else field += c;
  }
  if (field !== '' || record.length > 0) records.push([...record, field]);
  const [header, ...rows] = records;
  if (header === undefined || header.length === 0) throw new SluiceError('SLUICE_E_TRAINING_DATASET_UNREADABLE', `dataset ${file} has no header row`, { details: { file } });
  rows.forEach((r, i) => {
    if (r.length !== header.length) throw new SluiceError('SLUICE_E_TRAINING_DATASET_UNREADABLE', `dataset ${file}: row ${i + 2} has ${r.length} cells, the header ${header.length}`, { details: { file, row: i + 2 } });
  });
  return { columns: header.map((h) => h.trim()), rows };
}

export function readTable(file: string): Table {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SluiceError('SLUICE_E_TRAINING_DATASET_UNREADABLE', `dataset ${file} cannot be read: ${(err as Error).message}`, { cause: err, details: { file } });
  }
  return parseCsv(text, file);
}

const fmt = (n: number) => String(Number(n.toPrecision(6)));

function checkColumn(table: Table, index: number, column: DataSchema['columns'][number], failures: SchemaFailure[]): void {
  const values = table.rows.map((r) => r[index]!.trim());
  const present = values.filter((v) => v !== '');
  const missingRate = table.rows.length === 0 ? 0 : (values.length - present.length) / values.length;
  const fail = (check: SchemaFailure['check'], expected: string, found: string) => failures.push({ column: column.name, check, expected, found });
  if (missingRate > column.maxMissingRate) fail('missing', `at most ${fmt(column.maxMissingRate * 100)}% empty cells`, `${fmt(missingRate * 100)}% (${values.length - present.length} of ${values.length} rows)`);
  if (column.type !== 'string') {
    const numbers = present.map(Number);
    const badAt = numbers.findIndex((n, i) => !Number.isFinite(n) || (column.type === 'integer' && !Number.isInteger(n)) || present[i] === '');
    if (badAt >= 0) {
      const count = numbers.filter((n) => !Number.isFinite(n) || (column.type === 'integer' && !Number.isInteger(n))).length;
      fail('type', column.type === 'integer' ? 'integers' : 'numbers', `${count} value(s) that are not, first ${JSON.stringify(present[badAt])}`);
    }
    const finite = numbers.filter(Number.isFinite);
    if (finite.length > 0) {
      const lo = finite.reduce((a, b) => Math.min(a, b));
      const hi = finite.reduce((a, b) => Math.max(a, b));
      if (column.min !== undefined && lo < column.min) fail('min', `≥ ${fmt(column.min)}`, `${fmt(lo)} (${finite.filter((n) => n < column.min!).length} row(s) below)`);
      if (column.max !== undefined && hi > column.max) fail('max', `≤ ${fmt(column.max)}`, `${fmt(hi)} (${finite.filter((n) => n > column.max!).length} row(s) above)`);
    }
  }
  if (column.categories !== undefined) {
    const allowed = new Set(column.categories);
    const unknown = [...new Set(present.filter((v) => !allowed.has(v)))];
    if (unknown.length > 0) fail('categories', `one of ${column.categories.join(', ')}`, `${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}`);
  }
}

/** PSI of each numeric input feature of the profile that is also a numeric column of the table. */
export function driftAgainst(table: Table, profile: DriftProfile): FeatureDrift[] {
  const out: FeatureDrift[] = [];
  for (const tensor of profile.tensors) {
    if (tensor.role !== 'input') continue;
    for (const feature of tensor.features) {
      const index = table.columns.indexOf(feature.name);
      if (feature.kind !== 'numeric' || index < 0) continue;
      const values = table.rows.map((r) => Number(r[index])).filter(Number.isFinite);
      if (values.length === 0) continue;
      const edges = Float64Array.from(feature.edges);
      const counts = new Float64Array(feature.proportions.length);
      // The profile holds float32 values (what clients send): bin the same values.
      for (const v of values) counts[binOf(edges, 0, edges.length, Math.fround(v), false)]! += 1;
      out.push({ feature: feature.name, psi: Number(psi(counts.map((c) => c / values.length), feature.proportions).toFixed(6)) });
    }
  }
  return out;
}

export function validateDataset(table: Table, schema: DataSchema | null, production: { version: number; profile: DriftProfile | null } | null, defaultThreshold: number): DataValidationReport {
  const failures: SchemaFailure[] = [];
  for (const column of schema?.columns ?? []) {
    const index = table.columns.indexOf(column.name);
    if (index < 0) failures.push({ column: column.name, check: 'present', expected: `a column ${column.name} (${column.type})`, found: `no such column; the header has ${table.columns.join(', ')}` });
    else checkColumn(table, index, column, failures);
  }
  let drift: DataValidationReport['drift'] = null;
  if (production?.profile) {
    const threshold = schema?.driftPsi ?? defaultThreshold;
    const features = driftAgainst(table, production.profile);
    drift = { productionVersion: production.version, threshold, features, drifted: features.filter((f) => f.psi > threshold).map((f) => f.feature) };
  }
  return { rows: table.rows.length, ok: failures.length === 0, failures, drift };
}
