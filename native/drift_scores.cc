// See drift_scores.h. Every function mirrors its TypeScript twin line for line; when changing one,
// change both (test/native/drift.test.ts holds them to 1e-9 of each other).
#include "drift_scores.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "common.h"
#include "drift_layout.h"

namespace sluice {
namespace drift {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kPi = 3.141592653589793;
}  // namespace

double Psi(const double* w, const double* r, size_t k) {
  double s = 0;
  for (size_t i = 0; i < k; ++i) {
    const double a = w[i] > kPsiEpsilon ? w[i] : kPsiEpsilon;
    const double b = r[i] > kPsiEpsilon ? r[i] : kPsiEpsilon;
    s += (a - b) * std::log(a / b);
  }
  return s;
}

double JsDistance(const double* w, const double* r, size_t k) {
  double s = 0;
  for (size_t i = 0; i < k; ++i) {
    const double m = (w[i] + r[i]) * 0.5;
    if (w[i] > 0) s += w[i] * std::log2(w[i] / m);
    if (r[i] > 0) s += r[i] * std::log2(r[i] / m);
  }
  s *= 0.5;
  return std::sqrt(s > 0 ? s : 0);
}

double KolmogorovQ(double lambda) {
  if (!(lambda > 0)) return 1;
  if (lambda < 1.18) {
    const double y = (-kPi * kPi) / (8 * lambda * lambda);
    double s = 0;
    for (int k = 1; k <= 20; ++k) {
      const double j = 2.0 * k - 1;
      const double term = std::exp(j * j * y);
      s += term;
      if (term < 1e-17 * s) break;
    }
    const double p = 1 - (std::sqrt(2 * kPi) / lambda) * s;
    return p > 0 ? p : 0;
  }
  double s = 0;
  double sign = 1;
  for (int k = 1; k <= 100; ++k) {
    const double kk = k;
    const double term = std::exp(-2 * kk * kk * lambda * lambda);
    s += sign * term;
    if (term < 1e-17) break;
    sign = -sign;
  }
  const double q = 2 * s;
  return q < 0 ? 0 : q > 1 ? 1 : q;
}

double KsPValue(double d, double n, double m) {
  if (!(n > 0) || !(m > 0)) return kNaN;
  const double ne = (n * m) / (n + m);
  return KolmogorovQ(std::sqrt(ne) * d);
}

double LnGamma(double x) {
  static const double kLanczos[6] = {76.18009172947146, -86.50532032941677, 24.01409824083091,
                                     -1.231739572450155, 0.1208650973866179e-2, -0.5395239384953e-5};
  double y = x;
  double tmp = x + 5.5;
  tmp -= (x + 0.5) * std::log(tmp);
  double ser = 1.000000000190015;
  for (int j = 0; j < 6; ++j) ser += kLanczos[j] / ++y;
  return -tmp + std::log((2.5066282746310005 * ser) / x);
}

double GammaQ(double a, double x) {
  if (!(a > 0) || !(x >= 0)) return kNaN;
  if (x == 0) return 1;
  const double gln = LnGamma(a);
  if (x < a + 1) {
    double ap = a;
    double del = 1 / a;
    double sum = del;
    for (int i = 0; i < 1000; ++i) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (std::fabs(del) < std::fabs(sum) * 1e-15) break;
    }
    const double p = sum * std::exp(-x + a * std::log(x) - gln);
    return p >= 1 ? 0 : 1 - p;
  }
  constexpr double kFpMin = 1e-300;
  double b = x + 1 - a;
  double c = 1 / kFpMin;
  double d = 1 / b;
  double h = d;
  for (int i = 1; i < 1000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < kFpMin) d = kFpMin;
    c = b + an / c;
    if (std::fabs(c) < kFpMin) c = kFpMin;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < 1e-15) break;
  }
  return std::exp(-x + a * std::log(x) - gln) * h;
}

double ChiSquaredPValue(double x, double df) {
  if (!(df > 0)) return kNaN;
  return GammaQ(df / 2, x / 2);
}

double ChiSquared(const double* win, const double* ref, size_t k, double* df) {
  double n = 0;
  double m = 0;
  for (size_t i = 0; i < k; ++i) {
    n += win[i];
    m += ref[i];
  }
  if (!(n > 0) || !(m > 0)) {
    *df = 0;
    return kNaN;
  }
  const double total = n + m;
  double stat = 0;
  double bins = 0;
  for (size_t i = 0; i < k; ++i) {
    const double col = win[i] + ref[i];
    if (!(col > 0)) continue;
    bins += 1;
    const double ew = (col * n) / total;
    const double er = (col * m) / total;
    stat += ((win[i] - ew) * (win[i] - ew)) / ew + ((ref[i] - er) * (ref[i] - er)) / er;
  }
  *df = bins - 1;
  return stat;
}

namespace {

struct Point {
  double pos, dr, dw;
};

double Wasserstein(std::vector<Point>& pts) {
  std::sort(pts.begin(), pts.end(), [](const Point& a, const Point& b) { return a.pos < b.pos; });
  double fr = 0, fw = 0, w1 = 0;
  for (size_t i = 0; i + 1 < pts.size(); ++i) {
    fr += pts[i].dr;
    fw += pts[i].dw;
    w1 += std::fabs(fr - fw) * (pts[i + 1].pos - pts[i].pos);
  }
  return w1;
}

}  // namespace

void ScoreState(size_t features, const uint8_t* kinds, const double* edges, const int32_t* edge_offsets,
                const size_t* block_offsets, const double* state, const ScoringReference& ref, double* out) {
  size_t ref_at = 0;
  std::vector<double> w, rc;
  std::vector<Point> pts;
  for (size_t f = 0; f < features; ++f) {
    const size_t at = block_offsets[f];
    double* o = out + f * kScoreStride;
    const size_t e_lo = static_cast<size_t>(edge_offsets[f]);
    const size_t bins = static_cast<size_t>(edge_offsets[f + 1]) - e_lo + 1;
    const size_t c_lo = static_cast<size_t>(ref.coarse_offsets[f]);
    const size_t coarse = static_cast<size_t>(ref.coarse_offsets[f + 1]) - c_lo;
    const double n = state[at + kFN];
    const double finite_n = state[at + kFFiniteN];
    const double m = ref.ref_info[f * 3];
    o[0] = n;
    for (int i = 1; i < 8; ++i) o[i] = kNaN;
    o[8] = finite_n > 0 ? state[at + kFMean] : kNaN;
    o[9] = finite_n > 1 ? std::sqrt(state[at + kFM2] / (finite_n - 1)) : kNaN;
    o[10] = state[at + kFNaN];
    const double* counts = state + at + kFeatureHeader;
    const double* rb = ref.ref_bins + ref_at;
    if (n > 0) {
      w.assign(coarse, 0.0);
      for (size_t j = 0; j < bins; ++j) w[ref.coarse_map[ref_at + j]] += counts[j];
      for (size_t k = 0; k < coarse; ++k) w[k] = w[k] / n;
      o[1] = Psi(w.data(), ref.ref_coarse + c_lo, coarse);
      o[2] = JsDistance(w.data(), ref.ref_coarse + c_lo, coarse);
      if (kinds[f] == kKindCategorical) {
        rc.resize(bins);
        for (size_t j = 0; j < bins; ++j) rc[j] = rb[j] * m;
        double df = 0;
        const double stat = ChiSquared(counts, rc.data(), bins, &df);
        o[6] = stat;
        o[7] = ChiSquaredPValue(stat, df);
      } else {
        double cw = 0, cr = 0, d = 0;
        for (size_t j = 0; j + 1 < bins; ++j) {
          cw += counts[j];
          cr += rb[j];
          const double diff = std::fabs(cr - cw / n);
          if (diff > d) d = diff;
        }
        o[3] = d;
        o[4] = KsPValue(d, n, m);
        if (state[at + kFPosInf] + state[at + kFNegInf] > 0) {
          o[5] = kInf;
        } else {
          pts.clear();
          const size_t last = bins - 1;
          if (rb[0] > 0) pts.push_back({ref.ref_info[f * 3 + 1], rb[0], 0});
          if (counts[0] > 0) pts.push_back({state[at + kFLowSum] / counts[0], 0, counts[0] / n});
          for (size_t j = 1; j < last; ++j) {
            const double rj = rb[j];
            const double wj = counts[j] / n;
            if (rj > 0 || wj > 0) pts.push_back({(edges[e_lo + j - 1] + edges[e_lo + j]) * 0.5, rj, wj});
          }
          if (last > 0) {
            if (rb[last] > 0) pts.push_back({ref.ref_info[f * 3 + 2], rb[last], 0});
            if (counts[last] > 0) pts.push_back({state[at + kFHighSum] / counts[last], 0, counts[last] / n});
          }
          o[5] = Wasserstein(pts);
        }
      }
    }
    ref_at += bins;
  }
}

}  // namespace drift

Napi::Value DriftKolmogorovQ(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), drift::KolmogorovQ(NumberArg(info, 0, "lambda")));
}

Napi::Value DriftChiSquaredPValue(const Napi::CallbackInfo& info) {
  const double x = NumberArg(info, 0, "x");
  const double df = NumberArg(info, 1, "df");
  return Napi::Number::New(info.Env(), drift::ChiSquaredPValue(x, df));
}

}  // namespace sluice
