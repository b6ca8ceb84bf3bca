// The AVX-512 lane path (drift_lanes.h): eight features per group, the AVX2 path's passes with
// 512-bit registers and mask registers. Zen 4 runs a 512-bit operation as one uop over two cycles,
// so the vector work per value costs about the same in the FP pipes but half the uops to issue,
// and masks replace the AVX2 path's and/blend pairs. Each lane still does what the scalar path does
// for its feature, in row order: the same state bit for bit (test/native/drift-lanes.test.ts).
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

#define SLUICE_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw")))

constexpr size_t kW = kWideLanes;
constexpr size_t kHalf = kW / 2;

// A row's eight values as doubles (the same conversions as the scalar path's static_cast; the
// 64-bit integer one rounds to nearest like cvtsi2sd).
template <typename T, bool kContiguous>
SLUICE_AVX512 inline __m512d LoadRow8(const T* p, size_t s);

template <>
SLUICE_AVX512 inline __m512d LoadRow8<float, true>(const float* p, size_t) {
  return _mm512_cvtps_pd(_mm256_loadu_ps(p));
}
template <>
SLUICE_AVX512 inline __m512d LoadRow8<float, false>(const float* p, size_t s) {
  return _mm512_cvtps_pd(_mm256_setr_ps(p[0], p[s], p[2 * s], p[3 * s], p[4 * s], p[5 * s], p[6 * s], p[7 * s]));
}
template <>
SLUICE_AVX512 inline __m512d LoadRow8<double, true>(const double* p, size_t) {
  return _mm512_loadu_pd(p);
}
template <>
SLUICE_AVX512 inline __m512d LoadRow8<double, false>(const double* p, size_t s) {
  return _mm512_setr_pd(p[0], p[s], p[2 * s], p[3 * s], p[4 * s], p[5 * s], p[6 * s], p[7 * s]);
}
template <>
SLUICE_AVX512 inline __m512d LoadRow8<int32_t, true>(const int32_t* p, size_t) {
  return _mm512_cvtepi32_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
template <>
SLUICE_AVX512 inline __m512d LoadRow8<int32_t, false>(const int32_t* p, size_t s) {
  return _mm512_cvtepi32_pd(_mm256_setr_epi32(p[0], p[s], p[2 * s], p[3 * s], p[4 * s], p[5 * s], p[6 * s], p[7 * s]));
}
template <>
SLUICE_AVX512 inline __m512d LoadRow8<int64_t, true>(const int64_t* p, size_t) {
  return _mm512_cvtepi64_pd(_mm512_loadu_si512(p));
}
template <>
SLUICE_AVX512 inline __m512d LoadRow8<int64_t, false>(const int64_t* p, size_t s) {
  return _mm512_cvtepi64_pd(_mm512_setr_epi64(p[0], p[s], p[2 * s], p[3 * s], p[4 * s], p[5 * s], p[6 * s], p[7 * s]));
}

// Quiet or signalling NaN, +Infinity, -Infinity (vfpclasspd's categories).
constexpr int kNotFinite = 0x01 | 0x08 | 0x10 | 0x80;

SLUICE_AVX512 inline bool AllFinite(__m512d v) {
  return _mm512_fpclass_pd_mask(v, kNotFinite) == 0;
}

// Pass 2 of WideLanesLoop for four of its lanes (`cells`, `xs` and `targets` at the first of them,
// kW apart per row): on its own, so the four lanes' edge pointers and sums stay in registers.
template <size_t kSteps>
SLUICE_AVX512 __attribute__((noinline)) void BinHalf(const uint32_t* cells, const double* xs, double** targets,
                                                     size_t m, const uint16_t* start, const double* const* pd,
                                                     const LaneTables& lanes, size_t f0, double* state,
                                                     bool need_low, bool need_high, __m256d* low_sum,
                                                     __m256d* high_sum) {
  const double* pd0 = pd[0];
  const double* pd1 = pd[1];
  const double* pd2 = pd[2];
  const double* pd3 = pd[3];
  const __m256d le = _mm256_loadu_pd(&lanes.low_edge[f0]);
  const __m256d he = _mm256_loadu_pd(&lanes.high_edge[f0]);
  const __m256i count_at = _mm256_add_epi64(
      _mm256_slli_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(&lanes.count_at[f0])), 3),
      _mm256_set1_epi64x(reinterpret_cast<int64_t>(state)));
  const __m256i one = _mm256_set1_epi64x(1);
  __m256d lo = *low_sum, hi = *high_sum;
  for (size_t i = 0; i < m; ++i) {
    const uint32_t* c = &cells[i * kW];
    const size_t b0 = start[c[0]], b1 = start[c[1]], b2 = start[c[2]], b3 = start[c[3]];
    const __m256d x = _mm256_load_pd(&xs[i * kW]);
    if (need_low) lo = _mm256_mask_add_pd(lo, _mm256_cmp_pd_mask(x, le, _CMP_LT_OQ), lo, x);
    if (need_high) hi = _mm256_mask_add_pd(hi, _mm256_cmp_pd_mask(x, he, _CMP_GE_OQ), hi, x);
    __m256i bin = _mm256_cvtepi32_epi64(_mm_setr_epi32(static_cast<int32_t>(b0), static_cast<int32_t>(b1),
                                                       static_cast<int32_t>(b2), static_cast<int32_t>(b3)));
    if constexpr (kSteps == 2) {
      const __m256d p02 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(pd0 + b0)), _mm_loadu_pd(pd2 + b2), 1);
      const __m256d p13 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(pd1 + b1)), _mm_loadu_pd(pd3 + b3), 1);
      bin = _mm256_mask_add_epi64(bin, _mm256_cmp_pd_mask(_mm256_unpacklo_pd(p02, p13), x, _CMP_LE_OQ), bin, one);
      bin = _mm256_mask_add_epi64(bin, _mm256_cmp_pd_mask(_mm256_unpackhi_pd(p02, p13), x, _CMP_LE_OQ), bin, one);
    } else {
      for (size_t j = 0; j < kSteps; ++j) {
        const __m256d e = _mm256_setr_pd(pd0[b0 + j], pd1[b1 + j], pd2[b2 + j], pd3[b3 + j]);
        bin = _mm256_mask_add_epi64(bin, _mm256_cmp_pd_mask(e, x, _CMP_LE_OQ), bin, one);
      }
    }
    _mm256_store_si256(reinterpret_cast<__m256i*>(&targets[i * kW]), _mm256_add_epi64(_mm256_slli_epi64(bin, 3), count_at));
  }
  *low_sum = lo;
  *high_sum = hi;
}

// See LanesLoop in drift_lanes.cc: the same passes, eight lanes. A masked add leaves a lane as it
// was where the AVX2 path adds +0: the same sum, since a sum from +0 is never -0.
template <typename T, bool kContiguous, size_t kSteps>
SLUICE_AVX512 void WideLanesLoop(const LaneTables& lanes, size_t f0, const T* col0, size_t rows, size_t row_stride,
                                 size_t col_stride, const double* k, double* state, LaneSums* out) {
  constexpr size_t kChunk = 64;
  alignas(64) double xs[kChunk * kW];
  alignas(64) uint32_t cells[kChunk * kW];
  alignas(64) double* targets[kChunk * kW];
  const __m512d first = _mm512_loadu_pd(&lanes.first[f0]);
  const __m512d scale = _mm512_loadu_pd(&lanes.scale[f0]);
  const __m512d top = _mm512_loadu_pd(&lanes.top[f0]);
  const __m512d low_edge = _mm512_loadu_pd(&lanes.low_edge[f0]);
  const __m512d high_edge = _mm512_loadu_pd(&lanes.high_edge[f0]);
  const __m512d shift = _mm512_loadu_pd(k);
  const __m256i start_at = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&lanes.start_at[f0]));
  const uint16_t* start = lanes.start.data();
  const double* pd[kW];
  for (size_t l = 0; l < kW; ++l) pd[l] = lanes.padded.data() + lanes.padded_at[f0 + l];
  const __m512d zero = _mm512_setzero_pd();
  const __m512d inf = _mm512_set1_pd(std::numeric_limits<double>::infinity());
  const __m512d neg_inf = _mm512_set1_pd(-std::numeric_limits<double>::infinity());
  const __m512i one = _mm512_set1_epi64(1);
  __m512i nan_n = _mm512_setzero_si512(), pos_n = _mm512_setzero_si512(), neg_n = _mm512_setzero_si512();
  __m512d s1 = zero, s2 = zero, mn = inf, mx = neg_inf;
  __m256d low[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()}, high[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()};
  for (size_t r0 = 0; r0 < rows; r0 += kChunk) {
    const size_t m = rows - r0 < kChunk ? rows - r0 : kChunk;
    const T* p = col0 + r0 * row_stride;
    const __m512d s1_at = s1, s2_at = s2;
    bool careful = !AllFinite(s2);
    bool need_low = true, need_high = true;
    if (!careful) {
      __m512d cmn = inf, cmx = neg_inf;
      for (size_t i = 0; i < m; ++i) {
        const __m512d x = LoadRow8<T, kContiguous>(p + i * row_stride, col_stride);
        _mm512_store_pd(&xs[i * kW], x);
        __m512d t = _mm512_mul_pd(_mm512_sub_pd(x, first), scale);
        t = _mm512_min_pd(_mm512_max_pd(t, zero), top);
        _mm256_store_si256(reinterpret_cast<__m256i*>(&cells[i * kW]),
                           _mm256_add_epi32(_mm512_cvttpd_epi32(t), start_at));
        const __m512d d = _mm512_sub_pd(x, shift);
        s1 = _mm512_add_pd(s1, d);
        s2 = _mm512_add_pd(s2, _mm512_mul_pd(d, d));
        cmn = _mm512_min_pd(x, cmn);
        cmx = _mm512_max_pd(x, cmx);
      }
      if (AllFinite(s2)) {
        mn = _mm512_min_pd(cmn, mn);
        mx = _mm512_max_pd(cmx, mx);
        need_low = _mm512_cmp_pd_mask(cmn, low_edge, _CMP_LT_OQ) != 0;
        need_high = _mm512_cmp_pd_mask(cmx, high_edge, _CMP_GE_OQ) != 0;
      } else {
        careful = true;
        s1 = s1_at;
        s2 = s2_at;
      }
    }
    for (size_t i = 0; careful && i < m; ++i) {
      const __m512d x = LoadRow8<T, kContiguous>(p + i * row_stride, col_stride);
      _mm512_store_pd(&xs[i * kW], x);
      __m512d t = _mm512_mul_pd(_mm512_sub_pd(x, first), scale);
      t = _mm512_min_pd(_mm512_max_pd(t, zero), top);
      _mm256_store_si256(reinterpret_cast<__m256i*>(&cells[i * kW]), _mm256_add_epi32(_mm512_cvttpd_epi32(t), start_at));
      const __mmask8 finite = static_cast<__mmask8>(~_mm512_fpclass_pd_mask(x, kNotFinite));
      nan_n = _mm512_mask_add_epi64(nan_n, _mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q), nan_n, one);
      pos_n = _mm512_mask_add_epi64(pos_n, _mm512_cmp_pd_mask(x, inf, _CMP_EQ_OQ), pos_n, one);
      neg_n = _mm512_mask_add_epi64(neg_n, _mm512_cmp_pd_mask(x, neg_inf, _CMP_EQ_OQ), neg_n, one);
      const __m512d d = _mm512_sub_pd(x, shift);
      s1 = _mm512_mask_add_pd(s1, finite, s1, d);
      s2 = _mm512_mask_add_pd(s2, finite, s2, _mm512_mul_pd(d, d));
      mn = _mm512_mask_min_pd(mn, finite, x, mn);
      mx = _mm512_mask_max_pd(mx, finite, x, mx);
    }
    // The bins four lanes at a time, as in the AVX2 path (eight lanes in one pass spilled the lanes'
    // edge pointers and measured slower).
    for (size_t h = 0; h < kW; h += kHalf) {
      BinHalf<kSteps>(cells + h, xs + h, targets + h, m, start, pd + h, lanes, f0 + h, state, need_low, need_high,
                      &low[h / kHalf], &high[h / kHalf]);
    }
    for (size_t i = 0; i < m * kW; i += 4) {
      double* t0 = targets[i];
      double* t1 = targets[i + 1];
      double* t2 = targets[i + 2];
      double* t3 = targets[i + 3];
      *t0 += 1;
      *t1 += 1;
      *t2 += 1;
      *t3 += 1;
    }
  }
  alignas(64) int64_t counts[3][kW];
  _mm512_store_si512(counts[0], nan_n);
  _mm512_store_si512(counts[1], pos_n);
  _mm512_store_si512(counts[2], neg_n);
  for (size_t l = 0; l < kW; ++l) {
    // A NaN's count went to bin 0 (see LanesLoop): taken back here.
    state[lanes.count_at[f0 + l]] -= static_cast<double>(counts[0][l]);
    out->nan[l] = static_cast<double>(counts[0][l]);
    out->pos_inf[l] = static_cast<double>(counts[1][l]);
    out->neg_inf[l] = static_cast<double>(counts[2][l]);
  }
  for (size_t h = 0; h < 2; ++h) {
    _mm256_storeu_pd(out->low + h * kHalf, low[h]);
    _mm256_storeu_pd(out->high + h * kHalf, high[h]);
  }
  _mm512_storeu_pd(out->s1, s1);
  _mm512_storeu_pd(out->s2, s2);
  _mm512_storeu_pd(out->min, mn);
  _mm512_storeu_pd(out->max, mx);
}

template <typename T, bool kContiguous>
void WideLanesFor(const LaneTables& lanes, size_t f0, const T* col0, size_t rows, size_t row_stride,
                  size_t col_stride, const double* k, double* state, LaneSums* out) {
  size_t steps = 0;
  for (size_t l = 0; l < kW; ++l) steps = lanes.steps[f0 + l] > steps ? lanes.steps[f0 + l] : steps;
  switch (steps) {
    case 0:
    case 1:
      return WideLanesLoop<T, kContiguous, 1>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
    case 2:
      return WideLanesLoop<T, kContiguous, 2>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
    case 3:
      return WideLanesLoop<T, kContiguous, 3>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
    default:
      return WideLanesLoop<T, kContiguous, kLaneMaxSteps>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
  }
}

#undef SLUICE_AVX512

}  // namespace

template <typename T>
void UpdateWideLanes(const LaneTables& lanes, size_t f0, const T* col0, size_t rows, size_t row_stride,
                     size_t col_stride, const double* k, double* state, LaneSums* out) {
  if (col_stride == 1) {
    WideLanesFor<T, true>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
  } else {
    WideLanesFor<T, false>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
  }
}

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
