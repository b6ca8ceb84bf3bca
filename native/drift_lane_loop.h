// The lane loop of a window update (drift_lanes.h), written once for both widths: drift_lanes.cc
// includes it for AVX2 (four lanes) and drift_lanes_wide.cc for AVX-512 (eight). The includer
// defines SLUICE_LANE_TARGET (its target attribute) first, and an `Isa` struct with the vector
// operations the loop needs (the list is at LanesLoop). Everything here is a template on the Isa, so
// the two copies never share a symbol.
//
// Three passes over each chunk of rows, each with independent iterations (one pass per row was bound
// by the latency of cell -> start -> edges; gathers were slower on Zen 4 than scalar loads):
//   1. per row, vector: the values (as doubles), their cells, the moments, min and max;
//   2. per row, four lanes at a time (BinQuad): each lane's cell start and edges (scalar loads), the
//      compares, the address of the count the value adds 1 to, and low/high;
//   3. the counts, one scalar add each (a row's lanes are distinct features: no collisions).
// No FMA (-ffp-contract=off): d * d is rounded before it is added. The masks stand for the scalar
// path's branches: low/high take x where bin == 0 / bin == last (x < first edge / x >= last edge,
// the same test since the bins are exact), the moments take the finite values, min/max skip the
// non-finite ones. A chunk of finite values (nearly all of them) skips the masks (the fast pass).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "drift_lanes.h"

#ifndef SLUICE_LANE_TARGET
#error "define SLUICE_LANE_TARGET (the target attribute) before including drift_lane_loop.h"
#endif

namespace sluice {
namespace drift {
namespace lane_loop {

// Pass 2 for four consecutive lanes (`cells`, `xs` and `targets` at the first of them, Isa::kW apart
// per row). A function of its own so the four lanes' edge pointers and sums stay in registers (all
// eight lanes of the wide path in one pass spilled them and measured slower).
template <typename Isa, size_t kSteps>
SLUICE_LANE_TARGET __attribute__((noinline)) void BinQuad(const uint32_t* cells, const double* xs, double** targets,
                                                          size_t m, const uint16_t* start, const double* const* pd,
                                                          const LaneTables& lanes, size_t f0, double* state,
                                                          bool need_low, bool need_high, __m256d* low_sum,
                                                          __m256d* high_sum) {
  constexpr size_t kW = Isa::kW;
  const double* pd0 = pd[0];
  const double* pd1 = pd[1];
  const double* pd2 = pd[2];
  const double* pd3 = pd[3];
  const __m256d le = _mm256_loadu_pd(&lanes.low_edge[f0]);
  const __m256d he = _mm256_loadu_pd(&lanes.high_edge[f0]);
  const __m256i count_at = _mm256_add_epi64(
      _mm256_slli_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(&lanes.count_at[f0])), 3),
      _mm256_set1_epi64x(reinterpret_cast<int64_t>(state)));
  __m256d lo = *low_sum, hi = *high_sum;
  for (size_t i = 0; i < m; ++i) {
    const uint32_t* c = &cells[i * kW];
    const size_t b0 = start[c[0]], b1 = start[c[1]], b2 = start[c[2]], b3 = start[c[3]];
    const __m256d x = _mm256_load_pd(&xs[i * kW]);
    if (need_low) lo = _mm256_add_pd(lo, _mm256_and_pd(_mm256_cmp_pd(x, le, _CMP_LT_OQ), x));
    if (need_high) hi = _mm256_add_pd(hi, _mm256_and_pd(_mm256_cmp_pd(x, he, _CMP_GE_OQ), x));
    __m256i bin = _mm256_cvtepi32_epi64(_mm_setr_epi32(static_cast<int32_t>(b0), static_cast<int32_t>(b1),
                                                       static_cast<int32_t>(b2), static_cast<int32_t>(b3)));
    // A true compare is all ones (-1): subtracting it adds 1.
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
    _mm256_store_si256(reinterpret_cast<__m256i*>(&targets[i * kW]), _mm256_add_epi64(_mm256_slli_epi64(bin, 3), count_at));
  }
  *low_sum = lo;
  *high_sum = hi;
}

// Features f0 .. f0 + Isa::kW - 1. The Isa provides: kW; V (kW doubles) with Load, Set1, Add, Sub,
// Mul, Min, Max, Store (aligned), StoreU; LoadRow<T, kContiguous>(p, col_stride); StartAt with
// LoadStartAt and StoreCells (cells = truncated t + start_at); AllFinite, AnyLt, AnyGe; Counters
// with ZeroCounters, Careful (one row of the careful pass) and StoreCounts.
template <typename Isa, typename T, bool kContiguous, size_t kSteps>
SLUICE_LANE_TARGET void LanesLoop(const LaneTables& lanes, size_t f0, const T* col0, size_t rows, size_t row_stride,
                                  size_t col_stride, const double* k, double* state, LaneSums* out) {
  using V = typename Isa::V;
  constexpr size_t kW = Isa::kW;
  constexpr size_t kQuads = kW / 4;
  constexpr size_t kChunk = 64;
  alignas(64) double xs[kChunk * kW];
  alignas(64) uint32_t cells[kChunk * kW];
  alignas(64) double* targets[kChunk * kW];
  const V first = Isa::Load(&lanes.first[f0]);
  const V scale = Isa::Load(&lanes.scale[f0]);
  const V top = Isa::Load(&lanes.top[f0]);
  const V low_edge = Isa::Load(&lanes.low_edge[f0]);
  const V high_edge = Isa::Load(&lanes.high_edge[f0]);
  const V shift = Isa::Load(k);
  const typename Isa::StartAt start_at = Isa::LoadStartAt(&lanes.start_at[f0]);
  const uint16_t* start = lanes.start.data();
  // Each lane's edges: a base of its own, so a lane's edge address is its base plus its cell start.
  const double* pd[kW];
  for (size_t l = 0; l < kW; ++l) pd[l] = lanes.padded.data() + lanes.padded_at[f0 + l];
  const V zero = Isa::Set1(0.0);
  const V inf = Isa::Set1(std::numeric_limits<double>::infinity());
  const V neg_inf = Isa::Set1(-std::numeric_limits<double>::infinity());
  typename Isa::Counters counts = Isa::ZeroCounters();
  V s1 = zero, s2 = zero, mn = inf, mx = neg_inf;
  __m256d low[kQuads], high[kQuads];
  for (size_t q = 0; q < kQuads; ++q) low[q] = high[q] = _mm256_setzero_pd();
  for (size_t r0 = 0; r0 < rows; r0 += kChunk) {
    const size_t m = rows - r0 < kChunk ? rows - r0 : kChunk;
    const T* p = col0 + r0 * row_stride;
    // Fast pass: the values, cells and moments only, as if every value were finite. If one was not,
    // s2 (a sum of squares) ends the chunk non-finite, and the chunk is done again the careful way
    // from the sums it started with. Min and max of the chunk's values first, then of the window:
    // the same result (the earliest of equal values, as row by row). The bin pass adds to low and
    // high only in a chunk with some value below the first edge (at or past the last); otherwise
    // they would add +0 to every lane, and a sum from +0 is never -0, so +0 changes nothing.
    const V s1_at = s1, s2_at = s2;
    bool careful = !Isa::AllFinite(s2);
    bool need_low = true, need_high = true;
    if (!careful) {
      V cmn = inf, cmx = neg_inf;
      for (size_t i = 0; i < m; ++i) {
        const V x = Isa::template LoadRow<T, kContiguous>(p + i * row_stride, col_stride);
        Isa::Store(&xs[i * kW], x);
        const V t = Isa::Min(Isa::Max(Isa::Mul(Isa::Sub(x, first), scale), zero), top);
        Isa::StoreCells(&cells[i * kW], t, start_at);
        const V d = Isa::Sub(x, shift);
        s1 = Isa::Add(s1, d);
        s2 = Isa::Add(s2, Isa::Mul(d, d));
        cmn = Isa::Min(x, cmn);
        cmx = Isa::Max(x, cmx);
      }
      if (Isa::AllFinite(s2)) {
        mn = Isa::Min(cmn, mn);
        mx = Isa::Max(cmx, mx);
        need_low = Isa::AnyLt(cmn, low_edge);
        need_high = Isa::AnyGe(cmx, high_edge);
      } else {
        careful = true;
        s1 = s1_at;
        s2 = s2_at;
      }
    }
    for (size_t i = 0; careful && i < m; ++i) {
      const V x = Isa::template LoadRow<T, kContiguous>(p + i * row_stride, col_stride);
      Isa::Store(&xs[i * kW], x);
      const V t = Isa::Min(Isa::Max(Isa::Mul(Isa::Sub(x, first), scale), zero), top);
      Isa::StoreCells(&cells[i * kW], t, start_at);
      Isa::Careful(x, shift, &counts, &s1, &s2, &mn, &mx);
    }
    for (size_t q = 0; q < kQuads; ++q) {
      BinQuad<Isa, kSteps>(cells + 4 * q, xs + 4 * q, targets + 4 * q, m, start, pd + 4 * q, lanes, f0 + 4 * q, state,
                           need_low, need_high, &low[q], &high[q]);
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
  alignas(64) int64_t n[3][kW];
  Isa::StoreCounts(counts, n);
  for (size_t l = 0; l < kW; ++l) {
    // A NaN's bin is 0 (its cell clamps to 0, its compares are false): its count goes back out here,
    // exactly (the counts are integers far below 2^53). The state is published under a seqlock
    // (gateway/drift/shared-state.ts), so no reader sees it in between.
    state[lanes.count_at[f0 + l]] -= static_cast<double>(n[0][l]);
    out->nan[l] = static_cast<double>(n[0][l]);
    out->pos_inf[l] = static_cast<double>(n[1][l]);
    out->neg_inf[l] = static_cast<double>(n[2][l]);
  }
  for (size_t q = 0; q < kQuads; ++q) {
    _mm256_storeu_pd(out->low + 4 * q, low[q]);
    _mm256_storeu_pd(out->high + 4 * q, high[q]);
  }
  Isa::StoreU(out->s1, s1);
  Isa::StoreU(out->s2, s2);
  Isa::StoreU(out->min, mn);
  Isa::StoreU(out->max, mx);
}

// The loop for the group's most steps (a lane with fewer finds NaN pads past its edges).
template <typename Isa, typename T, bool kContiguous>
void LanesFor(const LaneTables& lanes, size_t f0, const T* col0, size_t rows, size_t row_stride, size_t col_stride,
              const double* k, double* state, LaneSums* out) {
  size_t steps = 0;
  for (size_t l = 0; l < Isa::kW; ++l) steps = lanes.steps[f0 + l] > steps ? lanes.steps[f0 + l] : steps;
  switch (steps) {
    case 0:
    case 1:
      return LanesLoop<Isa, T, kContiguous, 1>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
    case 2:
      return LanesLoop<Isa, T, kContiguous, 2>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
    case 3:
      return LanesLoop<Isa, T, kContiguous, 3>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
    default:
      return LanesLoop<Isa, T, kContiguous, kLaneMaxSteps>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
  }
}

template <typename Isa, typename T>
void Update(const LaneTables& lanes, size_t f0, const T* col0, size_t rows, size_t row_stride, size_t col_stride,
            const double* k, double* state, LaneSums* out) {
  if (col_stride == 1) {
    LanesFor<Isa, T, true>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
  } else {
    LanesFor<Isa, T, false>(lanes, f0, col0, rows, row_stride, col_stride, k, state, out);
  }
}

}  // namespace lane_loop
}  // namespace drift
}  // namespace sluice
