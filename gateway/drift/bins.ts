// Bin tables: the TypeScript twin of native/drift_bins.h (same cells, same steps, same answers).
// A numeric feature's bin is found from a uniform table over [first edge, last edge] instead of a
// binary search, because the branches of a binary search over real data are unpredictable and each
// mispredicted one costs more than the rest of the per-value work.
//
// Cell(x) is computed by the same arithmetic when the table is built (from the edges) and when it is
// read (for a value), and that arithmetic is monotone in x, so every edge in a cell before x's is
// <= x and every edge in a cell after x's is > x: the bin is start[cell] plus how many of the at most
// `steps` edges that fell in x's own cell are <= x. Values below the first edge or past the last
// (±Infinity included) clamp into the outer cells. `padded` is each feature's edges followed by
// `steps` NaNs, so the steps never bounds-check: NaN <= x is false for every x, +Infinity included.
import { KIND_NUMERIC, type WindowLayout } from './layout.js';

/** Tables only pay off past a few edges; they stay small (16-bit starts, at most MAX_CELLS cells). */
export const TABLE_MIN_EDGES = 8;
const TABLE_MAX_EDGES = 65535;
const MAX_CELLS = 8192;
/** Cells start at twice the edges and double while some cell holds more edges than this. */
const TARGET_STEPS = 2;
/** Up to this many steps the edges of a cell are compared one by one, past it binary searched. */
export const LINEAR_STEPS = 4;

/** Every feature's table, flattened; steps[f] === 0: no table (categorical, or too few edges). */
export interface BinTables {
  first: Float64Array;
  scale: Float64Array;
  top: Float64Array;
  steps: Int32Array;
  /** Per feature: where its cells start in `start`, and its edges in `padded`. */
  startAt: Int32Array;
  paddedAt: Int32Array;
  start: Uint16Array;
  padded: Float64Array;
}

/** The cell of x (not NaN); C++ BinTable::CellOf. */
export function cellOf(x: number, first: number, scale: number, top: number): number {
  let t = (x - first) * scale;
  t = t > 0 ? t : 0;
  t = t < top ? t : top;
  return t | 0;
}

/** How many of padded[at .. at + n) are <= x (branch-light binary search, C++ UpperBound). */
export function upperBound(padded: Float64Array, at: number, n: number, x: number): number {
  if (n === 0) return 0;
  let base = at;
  while (n > 1) {
    const half = n >>> 1;
    if (padded[base + half]! <= x) base += half;
    n -= half;
  }
  return base - at + (padded[base]! <= x ? 1 : 0);
}

interface FeatureTable {
  first: number;
  scale: number;
  top: number;
  steps: number;
  start: Uint16Array;
}

function featureTable(edges: Float64Array, lo: number, n: number): FeatureTable | null {
  if (n < TABLE_MIN_EDGES || n > TABLE_MAX_EDGES) return null;
  const first = edges[lo]!;
  const span = edges[lo + n - 1]! - first;
  for (let cells = 2 * n; ; cells *= 2) {
    if (cells > MAX_CELLS) cells = MAX_CELLS;
    const scale = cells / span;
    if (!Number.isFinite(scale) || !(scale > 0)) return null;
    const top = cells - 1;
    const perCell = new Uint32Array(cells);
    let steps = 0;
    for (let i = 0; i < n; i++) {
      const c = ++perCell[cellOf(edges[lo + i]!, first, scale, top)]!;
      if (c > steps) steps = c;
    }
    if (steps > TARGET_STEPS && cells < MAX_CELLS) continue;
    const start = new Uint16Array(cells);
    let before = 0;
    for (let c = 0; c < cells; c++) {
      start[c] = before;
      before += perCell[c]!;
    }
    return { first, scale, top, steps, start };
  }
}

export function buildBinTables(layout: WindowLayout): BinTables {
  const { kinds, edges, edgeOffsets } = layout;
  const features = kinds.length;
  const per: (FeatureTable | null)[] = [];
  let cells = 0;
  let padded = 0;
  for (let f = 0; f < features; f++) {
    const lo = edgeOffsets[f]!;
    const n = edgeOffsets[f + 1]! - lo;
    const t = kinds[f] === KIND_NUMERIC ? featureTable(edges, lo, n) : null;
    per.push(t);
    if (t) {
      cells += t.start.length;
      padded += n + t.steps;
    }
  }
  const out: BinTables = {
    first: new Float64Array(features), scale: new Float64Array(features), top: new Float64Array(features),
    steps: new Int32Array(features), startAt: new Int32Array(features), paddedAt: new Int32Array(features),
    start: new Uint16Array(cells), padded: new Float64Array(padded),
  };
  cells = 0;
  padded = 0;
  for (let f = 0; f < features; f++) {
    const t = per[f];
    if (!t) continue;
    const lo = edgeOffsets[f]!;
    const n = edgeOffsets[f + 1]! - lo;
    out.first[f] = t.first;
    out.scale[f] = t.scale;
    out.top[f] = t.top;
    out.steps[f] = t.steps;
    out.startAt[f] = cells;
    out.paddedAt[f] = padded;
    out.start.set(t.start, cells);
    out.padded.set(edges.subarray(lo, lo + n), padded);
    out.padded.fill(NaN, padded + n, padded + n + t.steps);
    cells += t.start.length;
    padded += n + t.steps;
  }
  return out;
}
