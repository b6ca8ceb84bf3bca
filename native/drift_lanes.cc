// See drift_lanes.h. Why lanes are features and not rows: each feature's sums then run in row
// order exactly as in the scalar path and in TypeScript (no reordered additions, no tolerance),
// and a row-major batch gives each row's four values in one load.
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

#define SLUICE_AVX2 __attribute__((target("avx2")))

// A row's four values as doubles (the same conversions as the scalar path's static_cast).
template <typename T, bool kContiguous>
SLUICE_AVX2 inline __m256d LoadRow(const T* p, size_t s);

template <>
SLUICE_AVX2 inline __m256d LoadRow<float, true>(const float* p, size_t) {
  return _mm256_cvtps_pd(_mm_loadu_ps(p));
}
template <>
SLUICE_AVX2 inline __m256d LoadRow<float, false>(const float* p, size_t s) {
  return _mm256_cvtps_pd(_mm_setr_ps(p[0], p[s], p[2 * s], p[3 * s]));
}
template <>
SLUICE_AVX2 inline __m256d LoadRow<double, true>(const double* p, size_t) {
  return _mm256_loadu_pd(p);
}
template <>
SLUICE_AVX2 inline __m256d LoadRow<double, false>(const double* p, size_t s) {
  return _mm256_setr_pd(p[0], p[s], p[2 * s], p[3 * s]);
}
template <>
SLUICE_AVX2 inline __m256d LoadRow<int32_t, true>(const int32_t* p, size_t) {
  return _mm256_cvtepi32_pd(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
template <>
SLUICE_AVX2 inline __m256d LoadRow<int32_t, false>(const int32_t* p, size_t s) {
  return _mm256_cvtepi32_pd(_mm_setr_epi32(p[0], p[s], p[2 * s], p[3 * s]));
}
template <>
SLUICE_AVX2 inline __m256d LoadRow<int64_t, true>(const int64_t* p, size_t) {
  return _mm256_setr_pd(static_cast<double>(p[0]), static_cast<double>(p[1]), static_cast<double>(p[2]),
                        static_cast<double>(p[3]));
}
template <>
SLUICE_AVX2 inline __m256d LoadRow<int64_t, false>(const int64_t* p, size_t s) {
  return _mm256_setr_pd(static_cast<double>(p[0]), static_cast<double>(p[s]), static_cast<double>(p[2 * s]),
                        static_cast<double>(p[3 * s]));
}

// The loop of UpdateLanes for one element type, layout and step count, in three passes over each
// chunk of rows, each with independent iterations (one pass per row was bound by the latency of
// cell -> start -> edges; AVX2 gathers were slower still on Zen 4 than scalar loads):
//   1. per row, vector: the values (as doubles), their cells, the moments, min and max;
//   2. per row: each lane's cell start and edges (scalar loads), the compares (vector), the
//      address of the count the value adds 1 to, and low/high;
//   3. the counts, one scalar add each (a row's four lanes are four features: no collisions).
// No FMA (not in the target, and -ffp-contract=off): d * d is rounded before it is added. The masks
// stand for the scalar path's branches: low/high take x where bin == 0 / bin == last (x < first
// edge / x >= last edge, the same test since the bins are exact), the moments take the finite
// values (others add an exact +0), min/max see +/-Infinity in place of a non-finite value. A chunk
// of finite values (nearly all of them) skips the masks (the fast pass below).
SLUICE_AVX2 inline bool AllFinite(__m256d v) {
  const __m256d abs = _mm256_and_pd(v, _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL)));
  return _mm256_movemask_pd(_mm256_cmp_pd(abs, _mm256_set1_pd(std::numeric_limits<double>::infinity()), _CMP_LT_OQ)) == 0xf;
}

template <typename T, bool kContiguous, size_t kSteps>
SLUICE_AVX2 void LanesLoop(const LaneTables& lanes, size_t f0, const T* col0, size_t rows, size_t row_stride,
                           size_t col_stride, const double* k, double* state, LaneSums* out) {
  constexpr size_t kChunk = 64;
  alignas(32) double xs[kChunk * kLanes];
  alignas(32) uint32_t cells[kChunk * kLanes];
  alignas(32) double* targets[kChunk * kLanes];
  const __m256d first = _mm256_loadu_pd(&lanes.first[f0]);
  const __m256d scale = _mm256_loadu_pd(&lanes.scale[f0]);
  const __m256d top = _mm256_loadu_pd(&lanes.top[f0]);
  const __m256d low_edge = _mm256_loadu_pd(&lanes.low_edge[f0]);
  const __m256d high_edge = _mm256_loadu_pd(&lanes.high_edge[f0]);
  const __m256d shift = _mm256_loadu_pd(k);
  const __m128i start_at = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&lanes.start_at[f0]));
  const __m256i count_at = _mm256_add_epi64(
      _mm256_slli_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(&lanes.count_at[f0])), 3),
      _mm256_set1_epi64x(reinterpret_cast<int64_t>(state)));
  const uint16_t* start = lanes.start.data();
  // Each lane's edges: a base of its own, so a lane's edge address is its base plus its cell start.
  const double* pd0 = lanes.padded.data() + lanes.padded_at[f0];
  const double* pd1 = lanes.padded.data() + lanes.padded_at[f0 + 1];
  const double* pd2 = lanes.padded.data() + lanes.padded_at[f0 + 2];
  const double* pd3 = lanes.padded.data() + lanes.padded_at[f0 + 3];
  const __m256d zero = _mm256_setzero_pd();
  const __m256d inf = _mm256_set1_pd(std::numeric_limits<double>::infinity());
  const __m256d neg_inf = _mm256_set1_pd(-std::numeric_limits<double>::infinity());
  const __m256d abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
  __m256i nan_n = _mm256_setzero_si256(), pos_n = _mm256_setzero_si256(), neg_n = _mm256_setzero_si256();
  __m256d low = zero, high = zero, s1 = zero, s2 = zero, mn = inf, mx = neg_inf;
  for (size_t r0 = 0; r0 < rows; r0 += kChunk) {
    const size_t m = rows - r0 < kChunk ? rows - r0 : kChunk;
    const T* p = col0 + r0 * row_stride;
    // Fast pass: the values, cells and moments only, as if every value were finite. If one was not,
    // s2 (a sum of squares) ends the chunk non-finite, and the chunk is done again the careful way
    // from the sums it started with. Min and max of the chunk's values first, then of the window:
    // the same result (the earliest of equal values, as row by row). The bin pass adds to low and
    // high only in a chunk with some value below the first edge (at or past the last); otherwise
    // they would add +0 to every lane, and a sum from +0 is never -0, so +0 changes nothing. (A pass
    // of their own was bound by the adds' latency.)
    const __m256d s1_at = s1, s2_at = s2;
    bool careful = !AllFinite(s2);
    bool need_low = true, need_high = true;
    if (!careful) {
      __m256d cmn = inf, cmx = neg_inf;
      for (size_t i = 0; i < m; ++i) {
        const __m256d x = LoadRow<T, kContiguous>(p + i * row_stride, col_stride);
        _mm256_store_pd(&xs[i * kLanes], x);
        __m256d t = _mm256_mul_pd(_mm256_sub_pd(x, first), scale);
        t = _mm256_min_pd(_mm256_max_pd(t, zero), top);
        _mm_store_si128(reinterpret_cast<__m128i*>(&cells[i * kLanes]), _mm_add_epi32(_mm256_cvttpd_epi32(t), start_at));
        const __m256d d = _mm256_sub_pd(x, shift);
        s1 = _mm256_add_pd(s1, d);
        s2 = _mm256_add_pd(s2, _mm256_mul_pd(d, d));
        cmn = _mm256_min_pd(x, cmn);
        cmx = _mm256_max_pd(x, cmx);
      }
      if (AllFinite(s2)) {
        mn = _mm256_min_pd(cmn, mn);
        mx = _mm256_max_pd(cmx, mx);
        need_low = _mm256_movemask_pd(_mm256_cmp_pd(cmn, low_edge, _CMP_LT_OQ)) != 0;
        need_high = _mm256_movemask_pd(_mm256_cmp_pd(cmx, high_edge, _CMP_GE_OQ)) != 0;
      } else {
        careful = true;
        s1 = s1_at;
        s2 = s2_at;
      }
    }
    for (size_t i = 0; careful && i < m; ++i) {
      const __m256d x = LoadRow<T, kContiguous>(p + i * row_stride, col_stride);
      _mm256_store_pd(&xs[i * kLanes], x);
      __m256d t = _mm256_mul_pd(_mm256_sub_pd(x, first), scale);
      t = _mm256_min_pd(_mm256_max_pd(t, zero), top);
      _mm_store_si128(reinterpret_cast<__m128i*>(&cells[i * kLanes]), _mm_add_epi32(_mm256_cvttpd_epi32(t), start_at));
      const __m256d finite = _mm256_cmp_pd(_mm256_and_pd(x, abs_mask), inf, _CMP_LT_OQ);
      nan_n = _mm256_sub_epi64(nan_n, _mm256_castpd_si256(_mm256_cmp_pd(x, x, _CMP_UNORD_Q)));
      pos_n = _mm256_sub_epi64(pos_n, _mm256_castpd_si256(_mm256_cmp_pd(x, inf, _CMP_EQ_OQ)));
      neg_n = _mm256_sub_epi64(neg_n, _mm256_castpd_si256(_mm256_cmp_pd(x, neg_inf, _CMP_EQ_OQ)));
      const __m256d d = _mm256_and_pd(finite, _mm256_sub_pd(x, shift));
      s1 = _mm256_add_pd(s1, d);
      s2 = _mm256_add_pd(s2, _mm256_mul_pd(d, d));
      mn = _mm256_min_pd(_mm256_blendv_pd(inf, x, finite), mn);
      mx = _mm256_max_pd(_mm256_blendv_pd(neg_inf, x, finite), mx);
    }
    for (size_t i = 0; i < m; ++i) {
      const uint32_t* c = &cells[i * kLanes];
      const size_t b0 = start[c[0]], b1 = start[c[1]], b2 = start[c[2]], b3 = start[c[3]];
      const __m256d x = _mm256_load_pd(&xs[i * kLanes]);
      if (need_low) low = _mm256_add_pd(low, _mm256_and_pd(_mm256_cmp_pd(x, low_edge, _CMP_LT_OQ), x));
      if (need_high) high = _mm256_add_pd(high, _mm256_and_pd(_mm256_cmp_pd(x, high_edge, _CMP_GE_OQ), x));
      __m256i bin = _mm256_cvtepi32_epi64(_mm_setr_epi32(static_cast<int32_t>(b0), static_cast<int32_t>(b1),
                                                         static_cast<int32_t>(b2), static_cast<int32_t>(b3)));
      if constexpr (kSteps == 2) {
        // Each lane's two edges are adjacent: one 16-byte load per lane, then a transpose.
        const __m256d p02 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(pd0 + b0)), _mm_loadu_pd(pd2 + b2), 1);
        const __m256d p13 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(pd1 + b1)), _mm_loadu_pd(pd3 + b3), 1);
        bin = _mm256_sub_epi64(bin, _mm256_castpd_si256(_mm256_cmp_pd(_mm256_unpacklo_pd(p02, p13), x, _CMP_LE_OQ)));
        bin = _mm256_sub_epi64(bin, _mm256_castpd_si256(_mm256_cmp_pd(_mm256_unpackhi_pd(p02, p13), x, _CMP_LE_OQ)));
      } else {
        for (size_t j = 0; j < kSteps; ++j) {
          const __m256d e = _mm256_setr_pd(pd0[b0 + j], pd1[b1 + j], pd2[b2 + j], pd3[b3 + j]);
          bin = _mm256_sub_epi64(bin, _mm256_castpd_si256(_mm256_cmp_pd(e, x, _CMP_LE_OQ)));
        }
      }
      const __m256i at = _mm256_add_epi64(_mm256_slli_epi64(bin, 3), count_at);
      _mm256_store_si256(reinterpret_cast<__m256i*>(&targets[i * kLanes]), at);
    }
    for (size_t i = 0; i < m * kLanes; i += 4) {
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
  alignas(32) int64_t counts[3][kLanes];
  _mm256_store_si256(reinterpret_cast<__m256i*>(counts[0]), nan_n);
  _mm256_store_si256(reinterpret_cast<__m256i*>(counts[1]), pos_n);
  _mm256_store_si256(reinterpret_cast<__m256i*>(counts[2]), neg_n);
  for (size_t l = 0; l < kLanes; ++l) {
    // A NaN's bin is 0 (its cell clamps to 0, its compares are false): its count goes back out here,
    // exactly (the counts are integers far below 2^53). The state is published under a seqlock
    // (gateway/drift/shared-state.ts), so no reader sees it in between.
    state[lanes.count_at[f0 + l]] -= static_cast<double>(counts[0][l]);
    out->nan[l] = static_cast<double>(counts[0][l]);
    out->pos_inf[l] = static_cast<double>(counts[1][l]);
    out->neg_inf[l] = static_cast<double>(counts[2][l]);
  }
  _mm256_storeu_pd(out->low, low);
  _mm256_storeu_pd(out->high, high);
  _mm256_storeu_pd(out->s1, s1);
  _mm256_storeu_pd(out->s2, s2);
  _mm256_storeu_pd(out->min, mn);
  _mm256_storeu_pd(out->max, mx);
}

template <typename T, bool kContiguous>
void LanesFor(const LaneTables& lanes, size_t f0, const T* col0, size_t rows, size_t row_stride, size_t col_stride,
              const double* k, double* state, LaneSums* out) {
  size_t steps = 0;
  for (size_t l = 0; l < kLanes; ++l) steps = lanes.steps[f0 + l] > steps ? lanes.steps[f0 + l] : steps;
  switch (steps) {
    case 0:
    case 1:
      return LanesLoop<T, kContiguous, 1>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
    case 2:
      return LanesLoop<T, kContiguous, 2>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
    case 3:
      return LanesLoop<T, kContiguous, 3>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
    default:
      return LanesLoop<T, kContiguous, kLaneMaxSteps>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
  }
}

#undef SLUICE_AVX2

}  // namespace

template <typename T>
void UpdateLanes(const LaneTables& lanes, size_t f0, const T* col0, size_t rows, size_t row_stride,
                 size_t col_stride, const double* k, double* state, LaneSums* out) {
  if (col_stride == 1) {
    LanesFor<T, true>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
  } else {
    LanesFor<T, false>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
  }
}

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
