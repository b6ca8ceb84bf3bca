// Drift statistics of a window state against a reference: the C++ twin of gateway/drift/statistics.ts
// and gateway/drift/ts-scores.ts (same formulas, same order of operations; the conventions, PSI
// epsilon included, are documented there). Plain functions on plain arrays: no N-API in here.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace sluice {
namespace drift {

constexpr double kPsiEpsilon = 1e-4;

double Psi(const double* w, const double* r, size_t k);
double JsDistance(const double* w, const double* r, size_t k);
double KolmogorovQ(double lambda);
double KsPValue(double d, double n, double m);
double LnGamma(double x);
double GammaQ(double a, double x);
double ChiSquaredPValue(double x, double df);
// Two-sample chi-squared; writes the degrees of freedom to *df.
double ChiSquared(const double* win, const double* ref, size_t k, double* df);

struct ScoringReference {
  const double* ref_bins;
  const int32_t* coarse_map;
  const int32_t* coarse_offsets;
  const double* ref_coarse;
  const double* ref_info;
};

// Fill out[features * kScoreStride] from a window state (layout in gateway/drift/layout.ts).
constexpr size_t kScoreStride = 11;
void ScoreState(size_t features, const uint8_t* kinds, const double* edges, const int32_t* edge_offsets,
                const size_t* block_offsets, const double* state, const ScoringReference& ref, double* out);

}  // namespace drift

// driftKolmogorovQ(lambda), driftChiSquaredPValue(x, df): exported for the table-value tests.
Napi::Value DriftKolmogorovQ(const Napi::CallbackInfo& info);
Napi::Value DriftChiSquaredPValue(const Napi::CallbackInfo& info);

}  // namespace sluice
