// The drift statistics as plain functions on proportions and counts. These are the TypeScript
// reference for native/drift_scores.cc: the same formulas in the same order of operations, so the
// two agree to ~1e-12 on the same data (tests hold them to 1e-9).
//
// Conventions (documented once, used by both implementations):
// - PSI = sum_k (w_k - r_k) ln(w_k / r_k) where a proportion of 0 on either side is replaced by
//   PSI_EPSILON (1e-4, the usual choice in credit-scoring practice; no renormalisation). Without it
//   one empty bin makes PSI infinite.
// - Jensen–Shannon distance = sqrt(JSD) with log base 2, so it lies in [0, 1]; 0 log 0 = 0, no epsilon.
// - KS statistic = max over the reference grid edges of |F_ref(e) - F_win(e)| with F(e) = P(X < e):
//   the two-sample statistic evaluated where the reference profile knows its CDF (a lower bound of
//   the exact statistic, within one grid step of it). Its p-value is the asymptotic Kolmogorov
//   distribution Q(sqrt(n m / (n + m)) D).
// - Chi-squared is the two-sample test of homogeneity (2 x k table of reference counts and window
//   counts), so a category the reference never saw needs no epsilon; df = non-empty bins - 1.

export const PSI_EPSILON = 1e-4;

/** Population stability index between window proportions `w` and reference proportions `r`. */
export function psi(w: ArrayLike<number>, r: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < w.length; k++) {
    const a = w[k]! > PSI_EPSILON ? w[k]! : PSI_EPSILON;
    const b = r[k]! > PSI_EPSILON ? r[k]! : PSI_EPSILON;
    s += (a - b) * Math.log(a / b);
  }
  return s;
}

/** Jensen–Shannon distance (base 2) between two proportion vectors that each sum to 1. */
export function jsDistance(w: ArrayLike<number>, r: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < w.length; k++) {
    const m = (w[k]! + r[k]!) * 0.5;
    if (w[k]! > 0) s += w[k]! * Math.log2(w[k]! / m);
    if (r[k]! > 0) s += r[k]! * Math.log2(r[k]! / m);
  }
  s *= 0.5;
  return Math.sqrt(s > 0 ? s : 0);
}

/**
 * Kolmogorov's limiting survival function Q(lambda) = P(K > lambda)
 * = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 lambda^2). Below lambda = 1.18 that series converges slowly,
 * so the Jacobi-transformed form 1 - sqrt(2 pi)/lambda sum exp(-(2k-1)^2 pi^2 / (8 lambda^2)) is used.
 */
export function kolmogorovQ(lambda: number): number {
  if (!(lambda > 0)) return 1;
  if (lambda < 1.18) {
    const y = (-Math.PI * Math.PI) / (8 * lambda * lambda);
    let s = 0;
    for (let k = 1; k <= 20; k++) {
      const j = 2 * k - 1;
      const term = Math.exp(j * j * y);
      s += term;
      if (term < 1e-17 * s) break;
    }
    const p = 1 - (Math.sqrt(2 * Math.PI) / lambda) * s;
    return p > 0 ? p : 0;
  }
  let s = 0;
  let sign = 1;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    s += sign * term;
    if (term < 1e-17) break;
    sign = -sign;
  }
  const q = 2 * s;
  return q < 0 ? 0 : q > 1 ? 1 : q;
}

/** Asymptotic two-sample KS p-value for statistic d with sample sizes n and m. */
export function ksPValue(d: number, n: number, m: number): number {
  if (!(n > 0) || !(m > 0)) return NaN;
  const ne = (n * m) / (n + m);
  return kolmogorovQ(Math.sqrt(ne) * d);
}

// Lanczos approximation of ln Gamma(x), x > 0 (Numerical Recipes' gammln coefficients, |error| < 2e-10
// relative). Written out here because JavaScript has no lgamma and the native side must match it.
const LANCZOS = [76.18009172947146, -86.50532032941677, 24.01409824083091, -1.231739572450155,
  0.1208650973866179e-2, -0.5395239384953e-5];

export function lnGamma(x: number): number {
  let y = x;
  let tmp = x + 5.5;
  tmp -= (x + 0.5) * Math.log(tmp);
  let ser = 1.000000000190015;
  for (let j = 0; j < 6; j++) ser += LANCZOS[j]! / ++y;
  return -tmp + Math.log((2.5066282746310005 * ser) / x);
}

/** Regularised upper incomplete gamma Q(a, x) (series below a + 1, continued fraction above). */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return NaN;
  if (x === 0) return 1;
  const gln = lnGamma(a);
  if (x < a + 1) {
    let ap = a;
    let del = 1 / a;
    let sum = del;
    for (let i = 0; i < 1000; i++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-15) break;
    }
    const p = sum * Math.exp(-x + a * Math.log(x) - gln);
    return p >= 1 ? 0 : 1 - p;
  }
  const FPMIN = 1e-300;
  let b = x + 1 - a;
  let c = 1 / FPMIN;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = b + an / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(-x + a * Math.log(x) - gln) * h;
}

/** P(X > x) for X ~ chi-squared with `df` degrees of freedom. */
export function chiSquaredPValue(x: number, df: number): number {
  if (!(df > 0)) return NaN;
  return gammaQ(df / 2, x / 2);
}

/**
 * Two-sample chi-squared statistic from window counts and reference counts over the same bins.
 * Returns [statistic, degrees of freedom].
 */
export function chiSquared(win: ArrayLike<number>, ref: ArrayLike<number>): [number, number] {
  let n = 0;
  let m = 0;
  for (let k = 0; k < win.length; k++) {
    n += win[k]!;
    m += ref[k]!;
  }
  if (!(n > 0) || !(m > 0)) return [NaN, 0];
  const total = n + m;
  let stat = 0;
  let bins = 0;
  for (let k = 0; k < win.length; k++) {
    const col = win[k]! + ref[k]!;
    if (!(col > 0)) continue;
    bins++;
    const ew = (col * n) / total;
    const er = (col * m) / total;
    stat += ((win[k]! - ew) * (win[k]! - ew)) / ew + ((ref[k]! - er) * (ref[k]! - er)) / er;
  }
  return [stat, bins - 1];
}
