// A drift reference profile computed from a dataset of input rows, for models with one 2-D input
// ([N, F], the tabular case): a CSV file with a header row, or a JSON array of arrays or of objects.
// Features are named after the columns (in the order clients send them, which is the order of the
// dataset's columns), and profiled as float32, the values the model actually sees, as the weather
// trainer's profile does (examples/weather-profile.ts).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { SluiceError } from '../../lib/errors.js';
import { buildProfile, type DriftProfile } from '../../gateway/drift/profile.js';
import type { TensorSignature } from './onnx-signature.js';

export interface Dataset {
  columns: string[];
  rows: number[][];
}

function bad(file: string, why: string): never {
  throw new SluiceError('SLUICE_E_CONFIG_INVALID', `dataset ${file}: ${why}`, { details: { flag: 'dataset', file } });
}

function toNumber(file: string, value: unknown, where: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n)) bad(file, `${where} is not a number: ${JSON.stringify(value)}`);
  return n;
}

export function readDataset(file: string): Dataset {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SluiceError('SLUICE_E_CONFIG_FILE_MISSING', `dataset ${file} cannot be read: ${(err as Error).message}`, { cause: err, details: { flag: 'dataset', file } });
  }
  if (/\.json$/i.test(file)) return jsonDataset(file, text);
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) bad(file, 'needs a header row and at least one data row');
  const columns = lines[0]!.split(',').map((c) => c.trim());
  const rows = lines.slice(1).map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== columns.length) bad(file, `row ${i + 2} has ${cells.length} cells, the header ${columns.length}`);
    return cells.map((c, j) => toNumber(file, c, `row ${i + 2} column ${columns[j]}`));
  });
  return { columns, rows };
}

function jsonDataset(file: string, text: string): Dataset {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `dataset ${file} is not valid JSON: ${(err as Error).message}`, { cause: err, details: { flag: 'dataset', file } });
  }
  if (!Array.isArray(raw) || raw.length === 0) bad(file, 'must be a non-empty JSON array of rows');
  if (Array.isArray(raw[0])) {
    const width = (raw[0] as unknown[]).length;
    const rows = raw.map((r, i) => {
      if (!Array.isArray(r) || r.length !== width) bad(file, `row ${i} must be an array of ${width} numbers`);
      return r.map((v, j) => toNumber(file, v, `row ${i} column ${j}`));
    });
    return { columns: Array.from({ length: width }, (_, j) => `column${j}`), rows };
  }
  const columns = Object.keys(raw[0] as object);
  const rows = raw.map((r, i) => {
    if (typeof r !== 'object' || r === null) bad(file, `row ${i} must be an object`);
    return columns.map((c) => toNumber(file, (r as Record<string, unknown>)[c], `row ${i} field ${c}`));
  });
  return { columns, rows };
}

/** The profile of the model's one input over the dataset's rows. */
export function profileFromDataset(file: string, model: string, signature: TensorSignature): DriftProfile {
  const input = signature.inputs.length === 1 ? signature.inputs[0]! : undefined;
  if (input === undefined || input.shape.length !== 2) {
    throw new SluiceError('SLUICE_E_CONFIG_INVALID', `--dataset builds a profile for models with one [N, F] input; ${model} has inputs ${signature.inputs.map((i) => `${i.name}${JSON.stringify(i.shape)}`).join(', ')} (give --profile instead)`, {
      details: { flag: 'dataset' },
    });
  }
  const dataset = readDataset(file);
  const width = input.shape[1]!;
  if (width !== -1 && width !== dataset.columns.length) bad(file, `has ${dataset.columns.length} columns, the model's input ${input.name} takes ${width}`);
  const data = Float32Array.from(dataset.rows.flat());
  return buildProfile(
    {
      model,
      version: 'uploaded',
      source: { dataset: basename(file), dataset_digest: createHash('sha256').update(readFileSync(file)).digest('hex'), rows: dataset.rows.length },
      tensors: [{ name: input.name, role: 'input', features: dataset.columns.map((name) => ({ name })) }],
    },
    { [input.name]: { data, dims: [dataset.rows.length, dataset.columns.length] } },
  );
}
