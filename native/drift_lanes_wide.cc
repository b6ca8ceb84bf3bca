// The AVX-512 lane path (drift_lanes.h): eight features per group, the loop of drift_lane_loop.h with
// 512-bit registers and mask registers. Zen 4 runs a 512-bit operation as one uop over two cycles,
// so the vector work per value costs about the same in the FP pipes but half the uops to issue, and
// masks replace the AVX2 path's and/blend pairs (measured: gateway/drift/README.md).
// Each lane still does what the scalar path does for its feature, in row order: the same state bit
// for bit (test/native/drift-lanes.test.ts).
#include <cmath>
#include <limits>

#include "drift_lanes.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SLUICE_DRIFT_AVX512 1
// GCC 12's AVX-512 headers warn about their own _mm512_undefined_* (a false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

namespace sluice {
namespace drift {

#ifdef SLUICE_DRIFT_AVX512

bool WideLanesSupported() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
}

namespace {

#define SLUICE_LANE_TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw")))

// A row's eight values as doubles (the same conversions as the scalar path's static_cast; the
// 64-bit integer one rounds to nearest like cvtsi2sd).
template <typename T, bool kContiguous>
SLUICE_LANE_TARGET inline __m512d LoadRow8(const T* p, size_t s);

template <>
SLUICE_LANE_TARGET inline __m512d LoadRow8<float, true>(const float* p, size_t) {
  return _mm512_cvtps_pd(_mm256_loadu_ps(p));
}
template <>
SLUICE_LANE_TARGET inline __m512d LoadRow8<float, false>(const float* p, size_t s) {
  return _mm512_cvtps_pd(_mm256_setr_ps(p[0], p[s], p[2 * s], p[3 * s], p[4 * s], p[5 * s], p[6 * s], p[7 * s]));
}
template <>
SLUICE_LANE_TARGET inline __m512d LoadRow8<double, true>(const double* p, size_t) {
  return _mm512_loadu_pd(p);
}
template <>
SLUICE_LANE_TARGET inline __m512d LoadRow8<double, false>(const double* p, size_t s) {
  return _mm512_setr_pd(p[0], p[s], p[2 * s], p[3 * s], p[4 * s], p[5 * s], p[6 * s], p[7 * s]);
}
template <>
SLUICE_LANE_TARGET inline __m512d LoadRow8<int32_t, true>(const int32_t* p, size_t) {
  return _mm512_cvtepi32_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
template <>
SLUICE_LANE_TARGET inline __m512d LoadRow8<int32_t, false>(const int32_t* p, size_t s) {
  return _mm512_cvtepi32_pd(_mm256_setr_epi32(p[0], p[s], p[2 * s], p[3 * s], p[4 * s], p[5 * s], p[6 * s], p[7 * s]));
}
template <>
SLUICE_LANE_TARGET inline __m512d LoadRow8<int64_t, true>(const int64_t* p, size_t) {
  return _mm512_cvtepi64_pd(_mm512_loadu_si512(p));
}
template <>
SLUICE_LANE_TARGET inline __m512d LoadRow8<int64_t, false>(const int64_t* p, size_t s) {
  return _mm512_cvtepi64_pd(_mm512_setr_epi64(p[0], p[s], p[2 * s], p[3 * s], p[4 * s], p[5 * s], p[6 * s], p[7 * s]));
}

// Quiet or signalling NaN, +Infinity, -Infinity (vfpclasspd's categories).
constexpr int kNotFinite = 0x01 | 0x08 | 0x10 | 0x80;

// The AVX-512 operations of the lane loop (drift_lane_loop.h). A masked add leaves a lane as it was
// where the AVX2 path adds +0: the same sum, since a sum from +0 is never -0.
struct Avx512 {
  static constexpr size_t kW = kWideLanes;
  using V = __m512d;
  using StartAt = __m256i;
  struct Counters {
    __m512i nan, pos_inf, neg_inf;
  };

  SLUICE_LANE_TARGET static V Load(const double* p) { return _mm512_loadu_pd(p); }
  SLUICE_LANE_TARGET static V Set1(double x) { return _mm512_set1_pd(x); }
  SLUICE_LANE_TARGET static V Add(V a, V b) { return _mm512_add_pd(a, b); }
  SLUICE_LANE_TARGET static V Sub(V a, V b) { return _mm512_sub_pd(a, b); }
  SLUICE_LANE_TARGET static V Mul(V a, V b) { return _mm512_mul_pd(a, b); }
  SLUICE_LANE_TARGET static V Min(V a, V b) { return _mm512_min_pd(a, b); }
  SLUICE_LANE_TARGET static V Max(V a, V b) { return _mm512_max_pd(a, b); }
  SLUICE_LANE_TARGET static void Store(double* p, V v) { _mm512_store_pd(p, v); }
  SLUICE_LANE_TARGET static void StoreU(double* p, V v) { _mm512_storeu_pd(p, v); }
  template <typename T, bool kContiguous>
  SLUICE_LANE_TARGET static V LoadRow(const T* p, size_t s) {
    return LoadRow8<T, kContiguous>(p, s);
  }
  SLUICE_LANE_TARGET static StartAt LoadStartAt(const int32_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  SLUICE_LANE_TARGET static void StoreCells(uint32_t* p, V t, StartAt start_at) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(p), _mm256_add_epi32(_mm512_cvttpd_epi32(t), start_at));
  }
  SLUICE_LANE_TARGET static bool AllFinite(V v) { return _mm512_fpclass_pd_mask(v, kNotFinite) == 0; }
  SLUICE_LANE_TARGET static bool AnyLt(V a, V b) { return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ) != 0; }
  SLUICE_LANE_TARGET static bool AnyGe(V a, V b) { return _mm512_cmp_pd_mask(a, b, _CMP_GE_OQ) != 0; }
  SLUICE_LANE_TARGET static Counters ZeroCounters() {
    return {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
  }
  SLUICE_LANE_TARGET static void Careful(V x, V shift, Counters* c, V* s1, V* s2, V* mn, V* mx) {
    const __m512i one = _mm512_set1_epi64(1);
    const __mmask8 finite = static_cast<__mmask8>(~_mm512_fpclass_pd_mask(x, kNotFinite));
    c->nan = _mm512_mask_add_epi64(c->nan, _mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q), c->nan, one);
    c->pos_inf = _mm512_mask_add_epi64(c->pos_inf, _mm512_cmp_pd_mask(x, Set1(std::numeric_limits<double>::infinity()),
                                                                      _CMP_EQ_OQ),
                                       c->pos_inf, one);
    c->neg_inf = _mm512_mask_add_epi64(c->neg_inf, _mm512_cmp_pd_mask(x, Set1(-std::numeric_limits<double>::infinity()),
                                                                      _CMP_EQ_OQ),
                                       c->neg_inf, one);
    const V d = Sub(x, shift);
    *s1 = _mm512_mask_add_pd(*s1, finite, *s1, d);
    *s2 = _mm512_mask_add_pd(*s2, finite, *s2, Mul(d, d));
    *mn = _mm512_mask_min_pd(*mn, finite, x, *mn);
    *mx = _mm512_mask_max_pd(*mx, finite, x, *mx);
  }
  SLUICE_LANE_TARGET static void StoreCounts(const Counters& c, int64_t (*out)[kW]) {
    _mm512_store_si512(out[0], c.nan);
    _mm512_store_si512(out[1], c.pos_inf);
    _mm512_store_si512(out[2], c.neg_inf);
  }
};

}  // namespace

}  // namespace drift
}  // namespace sluice

#include "drift_lane_loop.h"

namespace sluice {
namespace drift {

template <typename T>
void UpdateWideLanes(const LaneTables& lanes, size_t f0, const T* col0, size_t rows, size_t row_stride,
                     size_t col_stride, const double* k, double* state, LaneSums* out) {
  lane_loop::Update<Avx512>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
}

#undef SLUICE_LANE_TARGET

#else

bool WideLanesSupported() {
  return false;
}

template <typename T>
void UpdateWideLanes(const LaneTables&, size_t, const T*, size_t, size_t, size_t, const double*, double*, LaneSums*) {}

#endif

template void UpdateWideLanes<float>(const LaneTables&, size_t, const float*, size_t, size_t, size_t, const double*,
                                     double*, LaneSums*);
template void UpdateWideLanes<double>(const LaneTables&, size_t, const double*, size_t, size_t, size_t,
                                      const double*, double*, LaneSums*);
template void UpdateWideLanes<int32_t>(const LaneTables&, size_t, const int32_t*, size_t, size_t, size_t,
                                       const double*, double*, LaneSums*);
template void UpdateWideLanes<int64_t>(const LaneTables&, size_t, const int64_t*, size_t, size_t, size_t,
                                       const double*, double*, LaneSums*);

}  // namespace drift
}  // namespace sluice
