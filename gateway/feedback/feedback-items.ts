// The body of a feedback call (HTTP `POST .../feedback` or a WebSocket `feedback` frame), checked
// into items before any is looked up:
//   {"id": "...", "label": 2 | "rain"}      {"id": "...", "value": 3.2}
//   {"id": "...", "labels": [...]}          {"id": "...", "values": [...]}     (one per row of the answer)
//   {"feedback": [ item, ... ]}             (a batch, applied whole or not at all)
import { SluiceError } from '../../lib/errors.js';

/** One answer's ground truth: a class (index or name) or a value per row. */
export interface FeedbackItem {
  id: string;
  /** Classifiers: per row, a class index or a class name. */
  labels?: (number | string)[];
  /** Regressors: per row, the true value. */
  values?: number[];
}

/** Items in one batch at most. */
export const MAX_FEEDBACK_ITEMS = 10_000;
const MAX_ID_LENGTH = 256;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function badValue(at: string, message: string, item: number | undefined): never {
  throw new SluiceError('SLUICE_E_FEEDBACK_BAD_VALUE', `${at}${message}`, { details: item === undefined ? {} : { item } });
}

function label(at: string, v: unknown, item: number | undefined): number | string {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  return badValue(at, 'a label must be a class index (an integer from 0) or a class name', item);
}

function value(at: string, v: unknown, item: number | undefined): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  return badValue(at, 'a value must be a finite number', item);
}

function rowsOf<T>(at: string, v: unknown, field: string, each: (x: unknown) => T, item: number | undefined): T[] {
  if (!Array.isArray(v) || v.length === 0) badValue(at, `${field} must be a non-empty array, one per row of the answer`, item);
  return v.map(each);
}

function parseItem(raw: unknown, item: number | undefined): FeedbackItem {
  const at = item === undefined ? '' : `feedback[${item}]: `;
  if (!isObject(raw)) throw new SluiceError('SLUICE_E_HTTP_BAD_REQUEST', `${at}feedback must be a JSON object`, { details: item === undefined ? {} : { item } });
  const id = typeof raw.id === 'number' && Number.isFinite(raw.id) ? String(raw.id) : raw.id;
  if (typeof id !== 'string' || id === '' || id.length > MAX_ID_LENGTH) {
    throw new SluiceError('SLUICE_E_HTTP_BAD_REQUEST', `${at}id must be the answer's id (a non-empty string of at most ${MAX_ID_LENGTH} characters)`, { details: item === undefined ? {} : { item } });
  }
  const given = ['label', 'value', 'labels', 'values'].filter((k) => raw[k] !== undefined);
  if (given.length !== 1) badValue(at, `give exactly one of label, value, labels, values (got ${given.length === 0 ? 'none' : given.join(', ')})`, item);
  switch (given[0]) {
    case 'label':
      return { id, labels: [label(at, raw.label, item)] };
    case 'labels':
      return { id, labels: rowsOf(at, raw.labels, 'labels', (x) => label(at, x, item), item) };
    case 'value':
      return { id, values: [value(at, raw.value, item)] };
    default:
      return { id, values: rowsOf(at, raw.values, 'values', (x) => value(at, x, item), item) };
  }
}

/** The items of a parsed feedback body; throws a coded 400 naming the first thing wrong. */
export function parseFeedbackBody(body: unknown): FeedbackItem[] {
  if (!isObject(body)) throw new SluiceError('SLUICE_E_HTTP_BAD_JSON', 'feedback body must be a JSON object');
  if (body.feedback === undefined) return [parseItem(body, undefined)];
  const list = body.feedback;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_FEEDBACK_ITEMS) {
    throw new SluiceError('SLUICE_E_HTTP_BAD_REQUEST', `feedback must be a non-empty array of at most ${MAX_FEEDBACK_ITEMS} items`);
  }
  return list.map((x, i) => parseItem(x, i));
}
