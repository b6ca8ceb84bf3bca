// Whether two answers to the same call agree, by the rollout plan's rule (lib/sync-wire.ts
// WireRolloutPlan.agreementTolerance): for every output tensor both answers carry, the argmax over
// each row's last dimension is equal when that dimension is longer than 1 (classifiers), else every
// element is within the tolerance absolutely or relatively (regressors, labels).
import type { Tensor } from '../models/tensors.js';
import { argmaxOf } from '../routing/output-bins.js';

/** `batched`: the tensors' first dimension is the batch (the model's max_batch_size > 0). */
export function answersAgree(a: readonly Tensor[], b: readonly Tensor[], tolerance: number, batched: boolean): boolean {
  return agree(a, b, -1, tolerance, batched);
}

/**
 * The same rule for batched answers, with `a` compared against rows `row ..` of `b` (the answer to
 * many copies run together), without slicing `b`.
 */
export function answersAgreeAt(a: readonly Tensor[], b: readonly Tensor[], row: number, tolerance: number): boolean {
  return agree(a, b, row, tolerance, true);
}

/** `row` -1: `a` and `b` answer the same call (same shapes); else `a` is rows `row ..` of batched `b`. */
function agree(a: readonly Tensor[], b: readonly Tensor[], row: number, tolerance: number, batched: boolean): boolean {
  let compared = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    let y: Tensor | undefined;
    for (let k = 0; k < b.length; k++) if (b[k]!.name === x.name) y = b[k];
    if (y === undefined) continue;
    if (!tensorsAgree(x, y, row, tolerance, batched)) return false;
    compared++;
  }
  return compared > 0;
}

function tensorsAgree(x: Tensor, y: Tensor, row: number, tolerance: number, batched: boolean): boolean {
  const n = x.data.length;
  if (x.shape.length !== y.shape.length) return false;
  // Every dimension equal; with a row offset, all but the batch dimension, and the rows must fit.
  for (let d = row < 0 ? 0 : 1; d < x.shape.length; d++) if (x.shape[d] !== y.shape[d]) return false;
  let from = 0;
  if (row < 0) {
    if (n !== y.data.length) return false;
  } else {
    const rows = x.shape[0] ?? 0;
    if (rows === 0 || row + rows > (y.shape[0] ?? 0)) return false;
    from = row * (n / rows);
    if (from + n > y.data.length) return false;
  }
  if (Array.isArray(x.data) || Array.isArray(y.data)) return bytesEqual(x.data as Uint8Array[], y.data as Uint8Array[], from, n);
  const xd = x.data as ArrayLike<number | bigint>;
  const yd = y.data as ArrayLike<number | bigint>;
  const rowRank = batched ? x.shape.length - 1 : x.shape.length;
  const last = rowRank > 0 ? x.shape[x.shape.length - 1]! : 1;
  if (last > 1) {
    for (let k = 0; k < n; k += last) {
      const ax = argmaxOf(xd, k, last);
      const ay = argmaxOf(yd, from + k, last);
      if (ax !== ay && !(ax !== ax && ay !== ay)) return false;
    }
    return true;
  }
  for (let k = 0; k < n; k++) {
    const u = Number(xd[k]!);
    const v = Number(yd[from + k]!);
    if (u === v) continue;
    const diff = Math.abs(u - v);
    if (!(diff <= tolerance || diff <= tolerance * Math.max(Math.abs(u), Math.abs(v)))) return false;
  }
  return true;
}

function bytesEqual(x: Uint8Array[], y: Uint8Array[], from: number, n: number): boolean {
  if (!Array.isArray(x) || !Array.isArray(y) || x.length !== n) return false;
  for (let i = 0; i < n; i++) if (Buffer.compare(x[i]!, y[from + i]!) !== 0) return false;
  return true;
}
