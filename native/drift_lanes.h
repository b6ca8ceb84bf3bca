// The vector path of a window update: four or eight features at once, one per lane, rows in order.
// Each lane does exactly what the scalar column path (drift_window.cc) does for its feature,
// operation for operation and in the same row order, so every path (and gateway/drift/ts-window.ts)
// produces bit-identical state from the same bin tables. One loop (drift_lane_loop.h) compiled twice:
// AVX2, four lanes (drift_lanes.cc), and AVX-512, eight (drift_lanes_wide.cc), each chosen at run
// time: the addon still loads, and runs the narrower or the scalar path, without them; other targets
// have only the scalar path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "drift_bins.h"

namespace sluice {
namespace drift {

constexpr size_t kLanes = 4;       // AVX2: four features per lane group
constexpr size_t kWideLanes = 8;   // AVX-512 (drift_lanes_wide.cc): eight
// A lane compares up to this many edges of x's cell; a feature whose table needs more (crowded
// cells: a binary search in the scalar path) or has no table stays on the scalar path.
constexpr size_t kLaneMaxSteps = 4;

// Every numeric feature's bin table, flattened: a lane reads its cell's start and then as many
// edges as the most any of the group's four features needs: an edge past x's own cell is > x and
// a NaN pad compares false, so the extra compares add nothing.
struct LaneTables {
  std::vector<uint8_t> ok;  // per feature: 1 if its bins can be found in a lane
  std::vector<uint8_t> steps;
  std::vector<double> first, scale, top, low_edge, high_edge;
  std::vector<int32_t> start_at;  // where the feature's cells start in `start`
  std::vector<size_t> padded_at;  // where its edges start in `padded`
  // The state index of its bin 0: a lane's bin is start[cell] plus its compares.
  std::vector<int64_t> count_at;
  // 16-bit like BinTable's: at 512 features the tables outgrow L2, and 32-bit starts measured slower.
  std::vector<uint16_t> start;
  std::vector<double> padded;  // each feature's edges, then kLaneMaxSteps NaNs
};

// `block_offsets[f]`: where feature f's block starts in the state (drift_layout.h).
LaneTables BuildLaneTables(const std::vector<BinTable>& tables, const std::vector<uint8_t>& has_table,
                           const double* edges, const int32_t* edge_offsets, const size_t* block_offsets,
                           size_t features);

// Whether this CPU runs the vector path (AVX2), and the wide one (AVX-512 F/DQ/VL/BW).
bool LanesSupported();
bool WideLanesSupported();

// Each lane's batch sums: what the scalar path's ColumnSums holds, less the finite count (rows -
// nan - infinities). Room for the wide path's eight lanes.
struct LaneSums {
  double nan[kWideLanes], pos_inf[kWideLanes], neg_inf[kWideLanes], low[kWideLanes], high[kWideLanes];
  double s1[kWideLanes], s2[kWideLanes], min[kWideLanes], max[kWideLanes];
};

// Features f0 .. f0 + 3 (each lanes.ok) from `rows` rows of `col0` (element (r, c) at
// col0[r * row_stride + c * col_stride]): bin counts straight into `state`, the rest into `out`.
// `k`: each feature's moment shift. Only when LanesSupported().
template <typename T>
void UpdateLanes(const LaneTables& lanes, size_t f0, const T* col0, size_t rows, size_t row_stride,
                 size_t col_stride, const double* k, double* state, LaneSums* out);

// The same for features f0 .. f0 + 7. Only when WideLanesSupported().
template <typename T>
void UpdateWideLanes(const LaneTables& lanes, size_t f0, const T* col0, size_t rows, size_t row_stride,
                     size_t col_stride, const double* k, double* state, LaneSums* out);

}  // namespace drift
}  // namespace sluice
