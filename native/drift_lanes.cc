// See drift_lanes.h: the lane tables, and the AVX2 path (the loop itself is drift_lane_loop.h).
// Why lanes are features and not rows: each feature's sums then run in row order exactly as in the
// scalar path and in TypeScript (no reordered additions, no tolerance), and a row-major batch gives
// each row's values in one load.
#include "drift_lanes.h"

#include <cmath>
#include <limits>

#include "drift_layout.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SLUICE_DRIFT_AVX2 1
#include <immintrin.h>
#endif

namespace sluice {
namespace drift {

LaneTables BuildLaneTables(const std::vector<BinTable>& tables, const std::vector<uint8_t>& has_table,
                           const double* edges, const int32_t* edge_offsets, const size_t* block_offsets,
                           size_t features) {
  LaneTables out;
  out.ok.assign(features, 0);
  out.steps.assign(features, 0);
  out.first.assign(features, 0);
  out.scale.assign(features, 0);
  out.top.assign(features, 0);
  out.low_edge.assign(features, 0);
  out.high_edge.assign(features, 0);
  out.start_at.assign(features, 0);
  out.padded_at.assign(features, 0);
  out.count_at.assign(features, 0);
  for (size_t f = 0; f < features; ++f) {
    if (!has_table[f] || tables[f].steps > kLaneMaxSteps) continue;
    const BinTable& t = tables[f];
    // A lane's cell index is a 32-bit start_at plus its cell: past that range the feature stays scalar.
    if (out.start.size() + t.start.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) continue;
    const size_t lo = static_cast<size_t>(edge_offsets[f]);
    const size_t n = static_cast<size_t>(edge_offsets[f + 1]) - lo;
    const size_t padded_at = out.padded.size();
    out.ok[f] = 1;
    out.steps[f] = static_cast<uint8_t>(t.steps);
    out.first[f] = t.first;
    out.scale[f] = t.scale;
    out.top[f] = t.top;
    out.low_edge[f] = edges[lo];
    out.high_edge[f] = edges[lo + n - 1];
    out.start_at[f] = static_cast<int32_t>(out.start.size());
    out.padded_at[f] = padded_at;
    out.count_at[f] = static_cast<int64_t>(block_offsets[f] + kFeatureHeader);
    out.start.insert(out.start.end(), t.start.begin(), t.start.end());
    out.padded.insert(out.padded.end(), edges + lo, edges + lo + n);
    out.padded.resize(out.padded.size() + kLaneMaxSteps, std::numeric_limits<double>::quiet_NaN());
  }
  return out;
}

#ifdef SLUICE_DRIFT_AVX2

bool LanesSupported() {
  return __builtin_cpu_supports("avx2");
}

namespace {

#define SLUICE_LANE_TARGET __attribute__((target("avx2")))

// A row's four values as doubles (the same conversions as the scalar path's static_cast).
template <typename T, bool kContiguous>
SLUICE_LANE_TARGET inline __m256d LoadRow4(const T* p, size_t s);

template <>
SLUICE_LANE_TARGET inline __m256d LoadRow4<float, true>(const float* p, size_t) {
  return _mm256_cvtps_pd(_mm_loadu_ps(p));
}
template <>
SLUICE_LANE_TARGET inline __m256d LoadRow4<float, false>(const float* p, size_t s) {
  return _mm256_cvtps_pd(_mm_setr_ps(p[0], p[s], p[2 * s], p[3 * s]));
}
template <>
SLUICE_LANE_TARGET inline __m256d LoadRow4<double, true>(const double* p, size_t) {
  return _mm256_loadu_pd(p);
}
template <>
SLUICE_LANE_TARGET inline __m256d LoadRow4<double, false>(const double* p, size_t s) {
  return _mm256_setr_pd(p[0], p[s], p[2 * s], p[3 * s]);
}
template <>
SLUICE_LANE_TARGET inline __m256d LoadRow4<int32_t, true>(const int32_t* p, size_t) {
  return _mm256_cvtepi32_pd(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
template <>
SLUICE_LANE_TARGET inline __m256d LoadRow4<int32_t, false>(const int32_t* p, size_t s) {
  return _mm256_cvtepi32_pd(_mm_setr_epi32(p[0], p[s], p[2 * s], p[3 * s]));
}
template <>
SLUICE_LANE_TARGET inline __m256d LoadRow4<int64_t, true>(const int64_t* p, size_t) {
  return _mm256_setr_pd(static_cast<double>(p[0]), static_cast<double>(p[1]), static_cast<double>(p[2]),
                        static_cast<double>(p[3]));
}
template <>
SLUICE_LANE_TARGET inline __m256d LoadRow4<int64_t, false>(const int64_t* p, size_t s) {
  return _mm256_setr_pd(static_cast<double>(p[0]), static_cast<double>(p[s]), static_cast<double>(p[2 * s]),
                        static_cast<double>(p[3 * s]));
}

// The AVX2 operations of the lane loop (drift_lane_loop.h). Without mask registers the careful pass
// adds an exact +0 where a value is not finite and blends +/-Infinity in for min and max.
struct Avx2 {
  static constexpr size_t kW = kLanes;
  using V = __m256d;
  using StartAt = __m128i;
  struct Counters {
    __m256i nan, pos_inf, neg_inf;
  };

  SLUICE_LANE_TARGET static V Load(const double* p) { return _mm256_loadu_pd(p); }
  SLUICE_LANE_TARGET static V Set1(double x) { return _mm256_set1_pd(x); }
  SLUICE_LANE_TARGET static V Add(V a, V b) { return _mm256_add_pd(a, b); }
  SLUICE_LANE_TARGET static V Sub(V a, V b) { return _mm256_sub_pd(a, b); }
  SLUICE_LANE_TARGET static V Mul(V a, V b) { return _mm256_mul_pd(a, b); }
  SLUICE_LANE_TARGET static V Min(V a, V b) { return _mm256_min_pd(a, b); }
  SLUICE_LANE_TARGET static V Max(V a, V b) { return _mm256_max_pd(a, b); }
  SLUICE_LANE_TARGET static void Store(double* p, V v) { _mm256_store_pd(p, v); }
  SLUICE_LANE_TARGET static void StoreU(double* p, V v) { _mm256_storeu_pd(p, v); }
  template <typename T, bool kContiguous>
  SLUICE_LANE_TARGET static V LoadRow(const T* p, size_t s) {
    return LoadRow4<T, kContiguous>(p, s);
  }
  SLUICE_LANE_TARGET static StartAt LoadStartAt(const int32_t* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  }
  SLUICE_LANE_TARGET static void StoreCells(uint32_t* p, V t, StartAt start_at) {
    _mm_store_si128(reinterpret_cast<__m128i*>(p), _mm_add_epi32(_mm256_cvttpd_epi32(t), start_at));
  }
  SLUICE_LANE_TARGET static V Abs(V v) {
    return _mm256_and_pd(v, _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL)));
  }
  SLUICE_LANE_TARGET static bool AllFinite(V v) {
    return _mm256_movemask_pd(_mm256_cmp_pd(Abs(v), Set1(std::numeric_limits<double>::infinity()), _CMP_LT_OQ)) == 0xf;
  }
  SLUICE_LANE_TARGET static bool AnyLt(V a, V b) { return _mm256_movemask_pd(_mm256_cmp_pd(a, b, _CMP_LT_OQ)) != 0; }
  SLUICE_LANE_TARGET static bool AnyGe(V a, V b) { return _mm256_movemask_pd(_mm256_cmp_pd(a, b, _CMP_GE_OQ)) != 0; }
  SLUICE_LANE_TARGET static Counters ZeroCounters() {
    return {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  }
  // A true compare is all ones (-1): subtracting it counts 1.
  SLUICE_LANE_TARGET static void Careful(V x, V shift, Counters* c, V* s1, V* s2, V* mn, V* mx) {
    const V inf = Set1(std::numeric_limits<double>::infinity());
    const V neg_inf = Set1(-std::numeric_limits<double>::infinity());
    const V finite = _mm256_cmp_pd(Abs(x), inf, _CMP_LT_OQ);
    c->nan = _mm256_sub_epi64(c->nan, _mm256_castpd_si256(_mm256_cmp_pd(x, x, _CMP_UNORD_Q)));
    c->pos_inf = _mm256_sub_epi64(c->pos_inf, _mm256_castpd_si256(_mm256_cmp_pd(x, inf, _CMP_EQ_OQ)));
    c->neg_inf = _mm256_sub_epi64(c->neg_inf, _mm256_castpd_si256(_mm256_cmp_pd(x, neg_inf, _CMP_EQ_OQ)));
    const V d = _mm256_and_pd(finite, Sub(x, shift));
    *s1 = Add(*s1, d);
    *s2 = Add(*s2, Mul(d, d));
    *mn = Min(_mm256_blendv_pd(inf, x, finite), *mn);
    *mx = Max(_mm256_blendv_pd(neg_inf, x, finite), *mx);
  }
  SLUICE_LANE_TARGET static void StoreCounts(const Counters& c, int64_t (*out)[kW]) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(out[0]), c.nan);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out[1]), c.pos_inf);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out[2]), c.neg_inf);
  }
};

}  // namespace

}  // namespace drift
}  // namespace sluice

#include "drift_lane_loop.h"

namespace sluice {
namespace drift {

template <typename T>
void UpdateLanes(const LaneTables& lanes, size_t f0, const T* col0, size_t rows, size_t row_stride,
                 size_t col_stride, const double* k, double* state, LaneSums* out) {
  lane_loop::Update<Avx2>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
}

#undef SLUICE_LANE_TARGET

#else

bool LanesSupported() {
  return false;
}

template <typename T>
void UpdateLanes(const LaneTables&, size_t, const T*, size_t, size_t, size_t, const double*, double*, LaneSums*) {}

#endif

template void UpdateLanes<float>(const LaneTables&, size_t, const float*, size_t, size_t, size_t, const double*,
                                 double*, LaneSums*);
template void UpdateLanes<double>(const LaneTables&, size_t, const double*, size_t, size_t, size_t, const double*,
                                  double*, LaneSums*);
template void UpdateLanes<int32_t>(const LaneTables&, size_t, const int32_t*, size_t, size_t, size_t, const double*,
                                   double*, LaneSums*);
template void UpdateLanes<int64_t>(const LaneTables&, size_t, const int64_t*, size_t, size_t, size_t, const double*,
                                   double*, LaneSums*);

}  // namespace drift
}  // namespace sluice
