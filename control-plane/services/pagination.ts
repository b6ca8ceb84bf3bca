// Relay cursor connections (https://relay.dev/graphql/connections.htm), forward only: `first` and
// `after`. Cursors are opaque base64url of the sort key, tagged with the list they belong to so a
// cursor from one list is refused by another.
import { SluiceError } from '../../lib/errors.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export interface PageArgs {
  first?: number | null | undefined;
  after?: string | null | undefined;
}

export interface Edge<T> {
  node: T;
  cursor: string;
}

export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new SluiceError('SLUICE_E_VALIDATION', `first must be between 1 and ${MAX_PAGE_SIZE}`, { details: { argument: 'first', max: MAX_PAGE_SIZE } });
  }
  return first;
}

export function encodeCursor(list: string, key: string | number): string {
  return Buffer.from(`${list}:${key}`).toString('base64url');
}

export function decodeCursor(list: string, cursor: string | null | undefined): string | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString();
  if (!text.startsWith(`${list}:`)) {
    throw new SluiceError('SLUICE_E_VALIDATION', 'after is not a cursor of this list', { details: { argument: 'after' } });
  }
  return text.slice(list.length + 1);
}

/** A cursor whose key is a row number (audit seq, version number): anything else is refused, not queried. */
export function decodeNumberCursor(list: string, cursor: string | null | undefined): number | undefined {
  const key = decodeCursor(list, cursor);
  if (key === undefined) return undefined;
  if (!/^\d{1,15}$/.test(key)) {
    throw new SluiceError('SLUICE_E_VALIDATION', 'after is not a cursor of this list', { details: { argument: 'after' } });
  }
  return Number(key);
}

/** Build a connection from `size + 1` fetched rows: the extra row only says there is a next page. */
export function toConnection<R, T>(rows: R[], size: number, list: string, keyOf: (row: R) => string | number, map: (row: R) => T, after: string | null | undefined): Connection<T> {
  const page = rows.slice(0, size);
  const edges = page.map((row) => ({ node: map(row), cursor: encodeCursor(list, keyOf(row)) }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > size,
      hasPreviousPage: after !== null && after !== undefined,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
