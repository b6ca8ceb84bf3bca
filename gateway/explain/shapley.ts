// Shapley values from coalition values, pure arithmetic (no ORT, no HTTP): tested with closed forms.
//
// A coalition S ⊆ {0..F-1} is the set of features taken from the explained row; the others come
// from the background. Its value v(S) is the mean model output over the background rows so
// completed; v(∅) is the expected value (base) and v(all) the model's answer on the row.
// - exact: every one of the 2^F coalitions, φ_i = Σ_{S∌i} |S|!(F−|S|−1)!/F! · (v(S∪{i}) − v(S));
// - kernel (KernelSHAP, Lundberg & Lee 2017): coalitions sampled from the Shapley kernel's size
//   distribution (a coalition and its complement together), then the least-squares fit of
//   v(S) − v(∅) ≈ Σ_{i∈S} φ_i with Σ φ_i = v(all) − v(∅) imposed exactly (the last φ eliminated).
//   Sampling from the kernel makes the regression weights equal.
// Masks are stored row-major, one byte per feature: `masks[c * F + i]` is 1 when i ∈ coalition c.

/** The largest feature count exact enumeration takes (2^16 coalitions). */
export const EXACT_LIMIT = 16;

export interface CoalitionPlan {
  method: 'exact' | 'kernel';
  features: number;
  /** Coalitions to evaluate, besides the empty and the full one (their values are the base and the answer). */
  count: number;
  masks: Uint8Array;
}

/** Every coalition but ∅ and the full set, coalition c being the bitmask c + 1. */
export function exactPlan(features: number): CoalitionPlan {
  const count = 2 ** features - 2;
  const masks = new Uint8Array(count * features);
  for (let c = 0; c < count; c++) {
    const bits = c + 1;
    for (let i = 0; i < features; i++) masks[c * features + i] = (bits >> i) & 1;
  }
  return { method: 'exact', features, count, masks };
}

/** `samples` coalitions (rounded up to even) drawn from the Shapley kernel, in complementary pairs. */
export function kernelPlan(features: number, samples: number, random: () => number): CoalitionPlan {
  const pairs = Math.ceil(samples / 2);
  const count = pairs * 2;
  const masks = new Uint8Array(count * features);
  if (features < 2) return { method: 'kernel', features, count: 0, masks: new Uint8Array(0) };
  // Size s of a coalition with probability ∝ (F−1)/(s(F−s)), s = 1..F−1.
  const cumulative = new Float64Array(features - 1);
  let total = 0;
  for (let s = 1; s < features; s++) {
    total += (features - 1) / (s * (features - s));
    cumulative[s - 1] = total;
  }
  const order = new Int32Array(features);
  for (let k = 0; k < pairs; k++) {
    const u = random() * total;
    let s = 1;
    while (s < features - 1 && cumulative[s - 1]! <= u) s++;
    for (let i = 0; i < features; i++) order[i] = i;
    // The first s of a partial Fisher–Yates shuffle: a uniform subset of size s.
    for (let i = 0; i < s; i++) {
      const j = i + Math.floor(random() * (features - i));
      const tmp = order[i]!;
      order[i] = order[j]!;
      order[j] = tmp;
    }
    const a = 2 * k * features;
    const b = a + features;
    for (let i = 0; i < features; i++) masks[b + i] = 1;
    for (let i = 0; i < s; i++) {
      masks[a + order[i]!] = 1;
      masks[b + order[i]!] = 0;
    }
  }
  return { method: 'kernel', features, count, masks };
}

/**
 * Exact Shapley values. `values[c]` is v of plan coalition c (bitmask c + 1); `base` = v(∅),
 * `full` = v(all).
 */
export function exactShapley(features: number, values: ArrayLike<number>, base: number, full: number): Float64Array {
  const n = 2 ** features;
  const v = (bits: number): number => (bits === 0 ? base : bits === n - 1 ? full : values[bits - 1]!);
  const weight = new Float64Array(features);
  // |S|!(F−|S|−1)!/F! for |S| = 0..F−1, as 1 / (F · C(F−1, |S|)).
  let binomial = 1;
  for (let s = 0; s < features; s++) {
    weight[s] = 1 / (features * binomial);
    binomial = (binomial * (features - 1 - s)) / (s + 1);
  }
  const phi = new Float64Array(features);
  for (let bits = 0; bits < n; bits++) {
    const size = popcount(bits);
    const vs = v(bits);
    for (let i = 0; i < features; i++) {
      if ((bits >> i) & 1) continue;
      phi[i] = phi[i]! + weight[size]! * (v(bits | (1 << i)) - vs);
    }
  }
  return phi;
}

/**
 * The KernelSHAP fit for one plan, shared by every output column: the normal equations of the
 * constrained regression are factored once, then each column is one back-substitution.
 */
export class KernelFit {
  readonly #features: number;
  readonly #masks: Uint8Array;
  readonly #count: number;
  /** Cholesky factor (lower) of XᵀX, (F−1)², row-major. */
  readonly #chol: Float64Array;

  constructor(plan: CoalitionPlan) {
    const f = plan.features;
    this.#features = f;
    this.#masks = plan.masks;
    this.#count = plan.count;
    const m = f - 1;
    const a = new Float64Array(m * m);
    for (let c = 0; c < plan.count; c++) {
      const row = c * f;
      const last = plan.masks[row + f - 1]!;
      for (let i = 0; i < m; i++) {
        const xi = plan.masks[row + i]! - last;
        if (xi === 0) continue;
        for (let j = 0; j <= i; j++) a[i * m + j] = a[i * m + j]! + xi * (plan.masks[row + j]! - last);
      }
    }
    // A tiny ridge keeps the factor defined when few coalitions leave a direction unsampled.
    let trace = 0;
    for (let i = 0; i < m; i++) trace += a[i * m + i]!;
    const ridge = 1e-12 * (trace / Math.max(1, m) || 1);
    for (let i = 0; i < m; i++) a[i * m + i] = a[i * m + i]! + ridge;
    this.#chol = cholesky(a, m);
  }

  /** φ for one output column: `values[c]` = v(coalition c). */
  solve(values: ArrayLike<number>, base: number, full: number): Float64Array {
    const f = this.#features;
    const phi = new Float64Array(f);
    const delta = full - base;
    if (f === 1) {
      phi[0] = delta;
      return phi;
    }
    const m = f - 1;
    const rhs = new Float64Array(m);
    for (let c = 0; c < this.#count; c++) {
      const row = c * f;
      const last = this.#masks[row + f - 1]!;
      const target = values[c]! - base - last * delta;
      for (let i = 0; i < m; i++) {
        const xi = this.#masks[row + i]! - last;
        if (xi !== 0) rhs[i] = rhs[i]! + xi * target;
      }
    }
    const x = choleskySolve(this.#chol, m, rhs);
    let sum = 0;
    for (let i = 0; i < m; i++) {
      phi[i] = x[i]!;
      sum += x[i]!;
    }
    phi[m] = delta - sum;
    return phi;
  }
}

function popcount(bits: number): number {
  let n = 0;
  for (let b = bits; b !== 0; b &= b - 1) n++;
  return n;
}

function cholesky(a: Float64Array, m: number): Float64Array {
  const l = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * m + j]!;
      for (let k = 0; k < j; k++) sum -= l[i * m + k]! * l[j * m + k]!;
      l[i * m + j] = i === j ? Math.sqrt(Math.max(sum, 1e-300)) : sum / l[j * m + j]!;
    }
  }
  return l;
}

function choleskySolve(l: Float64Array, m: number, b: Float64Array): Float64Array {
  const y = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let sum = b[i]!;
    for (let k = 0; k < i; k++) sum -= l[i * m + k]! * y[k]!;
    y[i] = sum / l[i * m + i]!;
  }
  const x = new Float64Array(m);
  for (let i = m - 1; i >= 0; i--) {
    let sum = y[i]!;
    for (let k = i + 1; k < m; k++) sum -= l[k * m + i]! * x[k]!;
    x[i] = sum / l[i * m + i]!;
  }
  return x;
}
