// Holdout datasets: CSV files registered per model for the promotion gates. A file is checked once,
// at registration (a header of unique names, 1..MAX_ROWS rows of the header's width, every value of
// a numeric column a finite number), stored content-addressed in the artifact store, and described
// by one audited row. The gates read it back from the store by its digest.
import { SluiceError } from '../../lib/errors.js';
import { isUniqueViolation, type Store } from '../store/db.js';
import type { GateDatasetTable } from '../store/tables.js';
import type { CallContext } from './actor.js';
import type { ArtifactStore } from './artifact-store.js';
import type { AuditLog } from './audit.js';
import { newId, now } from './ids.js';

export const MAX_HOLDOUT_ROWS = 100_000;
export const MAX_HOLDOUT_COLUMNS = 256;
const DATASET_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export interface HoldoutColumn {
  name: string;
  /** Every value parses as a finite number (decided by the first row, then required of every row). */
  numeric: boolean;
}

export interface HoldoutDataset {
  id: string;
  model: string;
  name: string;
  sha256: string;
  size: number;
  rows: number;
  columns: HoldoutColumn[];
  createdAt: string;
  createdBy: string;
}

export interface HoldoutTable {
  columns: HoldoutColumn[];
  /** One string[] per data row, as many cells as columns. */
  rows: string[][];
}

function invalid(message: string, details: Record<string, unknown>): SluiceError {
  return new SluiceError('SLUICE_E_GATE_DATASET_INVALID', message, { details });
}

/** Split CSV text into records (RFC 4180: quoted fields may hold commas, quotes as "" and line breaks). */
function* records(text: string): Generator<{ line: number; cells: string[] }> {
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let startLine = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        cell += c;
      }
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      cells.push(cell);
      if (!(cells.length === 1 && cells[0] === '')) yield { line: startLine, cells };
      cells = [];
      cell = '';
      line++;
      startLine = line;
    } else cell += c;
  }
  if (quoted) throw invalid(`line ${startLine}: a quoted field is not closed`, { line: startLine });
  cells.push(cell);
  if (!(cells.length === 1 && cells[0] === '')) yield { line: startLine, cells };
}

function isNumber(cell: string): boolean {
  return cell.trim() !== '' && Number.isFinite(Number(cell));
}

/** Parse and check a holdout CSV; a problem is SLUICE_E_GATE_DATASET_INVALID naming the line and column. */
export function parseHoldoutCsv(bytes: Uint8Array): HoldoutTable {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch (err) {
    throw new SluiceError('SLUICE_E_GATE_DATASET_INVALID', 'the dataset is not UTF-8 text', { cause: err, details: {} });
  }
  const it = records(text);
  const first = it.next();
  if (first.done) throw invalid('the dataset is empty: it needs a header row and at least one data row', { line: 1 });
  const header = first.value.cells.map((h) => h.trim());
  if (header.length > MAX_HOLDOUT_COLUMNS) throw invalid(`the header has ${header.length} columns, at most ${MAX_HOLDOUT_COLUMNS} are allowed`, { line: 1 });
  const seen = new Set<string>();
  header.forEach((name, i) => {
    if (name === '') throw invalid(`line 1: column ${i + 1} has no name`, { line: 1, column: i + 1 });
    if (seen.has(name)) throw invalid(`line 1: column name ${name} appears twice`, { line: 1, column: name });
    seen.add(name);
  });
  const rows: string[][] = [];
  let numeric: boolean[] | undefined;
  for (const { line, cells } of it) {
    if (cells.length !== header.length) throw invalid(`line ${line} has ${cells.length} fields, the header has ${header.length}`, { line });
    if (rows.length === MAX_HOLDOUT_ROWS) throw invalid(`the dataset has more than ${MAX_HOLDOUT_ROWS} rows`, { line, limit: MAX_HOLDOUT_ROWS });
    const row = cells.map((c) => c.trim());
    numeric ??= row.map(isNumber);
    numeric.forEach((isNumeric, j) => {
      if (isNumeric && !isNumber(row[j]!)) throw invalid(`line ${line}, column ${header[j]}: "${row[j]!.slice(0, 40)}" is not a number (the column is numeric from line 2)`, { line, column: header[j] });
    });
    rows.push(row);
  }
  if (rows.length === 0) throw invalid('the dataset has a header but no data rows', { line: 2 });
  return { columns: header.map((name, j) => ({ name, numeric: numeric![j]! })), rows };
}

export class HoldoutDatasets {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly artifacts: ArtifactStore,
  ) {}

  async register(ctx: CallContext, input: { model: string; name: string; content: Uint8Array }): Promise<HoldoutDataset> {
    const resource = `model/${input.model}/dataset/${input.name}`;
    let prepared;
    try {
      if (!DATASET_NAME.test(input.name)) throw new SluiceError('SLUICE_E_VALIDATION', 'dataset name must be 1-64 of a-z, 0-9, ".", "_", "-", starting with a letter or digit', { details: { field: 'name' } });
      const table = parseHoldoutCsv(input.content);
      const stored = await this.artifacts.put(
        (async function* () {
          yield input.content;
        })(),
      );
      prepared = { table, stored };
    } catch (err) {
      if (err instanceof SluiceError && err.status < 500) await this.audit.record(ctx, { action: 'dataset.create', resource, outcome: 'failed', reason: err.code });
      throw err;
    }
    return this.audit.audited(ctx, 'dataset.create', resource, async (tx) => {
      const model = await this.store.forUpdate(tx.selectFrom('models').select(['id', 'name']).where('name', '=', input.model)).executeTakeFirst();
      if (!model) throw new SluiceError('SLUICE_E_MODEL_NOT_FOUND', `no model ${input.model}`, { details: { model: input.model } });
      const row = {
        id: newId('ds'),
        model_id: model.id,
        name: input.name,
        sha256: prepared.stored.sha256,
        size: prepared.stored.size,
        rows: prepared.table.rows.length,
        columns: JSON.stringify(prepared.table.columns),
        created_at: now(),
        created_by: ctx.actor.name,
      };
      try {
        await tx.insertInto('gate_datasets').values(row).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new SluiceError('SLUICE_E_STORE_CONFLICT', `model ${input.model} already has a dataset ${input.name}; register the new data under another name`, { details: { model: input.model, dataset: input.name } });
        throw err;
      }
      const dataset = toDataset(row, model.name);
      return { result: dataset, after: { sha256: dataset.sha256, rows: dataset.rows, columns: dataset.columns } };
    });
  }

  async list(model: string): Promise<HoldoutDataset[]> {
    const rows = await this.store.db
      .selectFrom('gate_datasets')
      .innerJoin('models', 'models.id', 'gate_datasets.model_id')
      .selectAll('gate_datasets')
      .where('models.name', '=', model)
      .orderBy('gate_datasets.created_at')
      .orderBy('gate_datasets.name')
      .execute();
    return rows.map((r) => toDataset(r, model));
  }

  async get(model: string, name: string): Promise<HoldoutDataset | undefined> {
    return (await this.list(model)).find((d) => d.name === name);
  }

  /** The dataset's rows, read back from the artifact store. */
  async load(dataset: HoldoutDataset): Promise<HoldoutTable> {
    return parseHoldoutCsv(await this.artifacts.readAll(dataset.sha256));
  }
}

function toDataset(r: Omit<GateDatasetTable, 'size'> & { size: number | string }, model: string): HoldoutDataset {
  return {
    id: r.id,
    model,
    name: r.name,
    sha256: r.sha256,
    size: Number(r.size),
    rows: Number(r.rows),
    columns: JSON.parse(r.columns) as HoldoutColumn[],
    createdAt: r.created_at,
    createdBy: r.created_by,
  };
}
