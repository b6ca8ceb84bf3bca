// Whether two answers to the same call agree, by the rollout plan's rule (lib/sync-wire.ts
// WireRolloutPlan.agreementTolerance): for every output tensor both answers carry, the argmax over
// each row's last dimension is equal when that dimension is longer than 1 (classifiers), else every
// element is within the tolerance absolutely or relatively (regressors, labels).
import type { Tensor } from '../models/tensors.js';
import { argmaxOf } from '../routing/output-bins.js';

/** `batched`: the tensors' first dimension is the batch (the model's max_batch_size > 0). */
export function answersAgree(a: readonly Tensor[], b: readonly Tensor[], tolerance: number, batched: boolean): boolean {
  let compared = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    let y: Tensor | undefined;
    for (let k = 0; k < b.length; k++) if (b[k]!.name === x.name) y = b[k];
    if (y === undefined) continue;
    if (!tensorsAgree(x, y, tolerance, batched)) return false;
    compared++;
  }
  return compared > 0;
}

function tensorsAgree(x: Tensor, y: Tensor, tolerance: number, batched: boolean): boolean {
  if (x.data.length !== y.data.length || x.shape.length !== y.shape.length) return false;
  for (let d = 0; d < x.shape.length; d++) if (x.shape[d] !== y.shape[d]) return false;
  if (Array.isArray(x.data) || Array.isArray(y.data)) return bytesEqual(x.data as Uint8Array[], y.data as Uint8Array[]);
  const xd = x.data as ArrayLike<number | bigint>;
  const yd = y.data as ArrayLike<number | bigint>;
  const rowRank = batched ? x.shape.length - 1 : x.shape.length;
  const last = rowRank > 0 ? x.shape[x.shape.length - 1]! : 1;
  if (last > 1) {
    for (let from = 0; from < xd.length; from += last) {
      const ax = argmaxOf(xd, from, last);
      const ay = argmaxOf(yd, from, last);
      if (ax !== ay && !(ax !== ax && ay !== ay)) return false;
    }
    return true;
  }
  for (let k = 0; k < xd.length; k++) {
    const u = Number(xd[k]!);
    const v = Number(yd[k]!);
    if (u === v) continue;
    const diff = Math.abs(u - v);
    if (!(diff <= tolerance || diff <= tolerance * Math.max(Math.abs(u), Math.abs(v)))) return false;
  }
  return true;
}

function bytesEqual(x: Uint8Array[], y: Uint8Array[]): boolean {
  if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (Buffer.compare(x[i]!, y[i]!) !== 0) return false;
  return true;
}
