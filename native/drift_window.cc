// See drift_window.h. The update and merge mirror gateway/drift/ts-window.ts operation for
// operation, so the two produce the same state up to rounding of the same sums.
#include "drift_window.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "common.h"
#include "drift_bins.h"
#include "drift_lanes.h"
#include "drift_layout.h"
#include "drift_scores.h"
#include "instance_data.h"

namespace sluice {

using namespace drift;  // NOLINT: the layout constants

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

inline void MergeMoments(double* state, size_t at, double bn, double bmean, double bm2) {
  if (!(bn > 0)) return;
  const double an = state[at + kFFiniteN];
  if (!(an > 0)) {
    state[at + kFFiniteN] = bn;
    state[at + kFMean] = bmean;
    state[at + kFM2] = bm2;
    return;
  }
  const double n = an + bn;
  const double d = bmean - state[at + kFMean];
  state[at + kFMean] = state[at + kFMean] + (d * bn) / n;
  state[at + kFM2] = state[at + kFM2] + bm2 + (d * d * an * bn) / n;
  state[at + kFFiniteN] = n;
}

template <typename T>
inline double ToDouble(T v) {
  return static_cast<double>(v);
}

// A Float64Array over a SharedArrayBuffer (napi_is_arraybuffer is false for one): memory the addon
// may keep a pointer into, since a SharedArrayBuffer is never detached.
Napi::Float64Array SharedFloat64Arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Env env = info.Env();
  auto array = TypedArg<double>(info, i, name, napi_float64_array, "Float64Array");
  napi_value buffer;
  napi_status st = napi_get_typedarray_info(env, array, nullptr, nullptr, nullptr, &buffer, nullptr);
  bool plain = true;
  if (st == napi_ok) st = napi_is_arraybuffer(env, buffer, &plain);
  SLUICE_THROW_TYPE_IF(st != napi_ok || plain, env, std::string(name) + " must be a Float64Array over a SharedArrayBuffer");
  return array;
}

// Every DriftWindow object carries this tag: napi_unwrap alone would hand back whatever another
// addon wrapped in an object that merely looks like a window (a prototype can be faked).
const napi_type_tag kDriftWindowTag = {0x5a1c3e0d71f24b6aULL, 0x9d2e4c8b1f6a7d35ULL};

bool IsDriftWindow(napi_env env, napi_value value) {
  bool tagged = false;
  return napi_check_object_type_tag(env, value, &kDriftWindowTag, &tagged) == napi_ok && tagged;
}

// The widest lane group this CPU runs: 8 (AVX-512), 4 (AVX2) or 0 (the scalar path only).
size_t WidestLanes() {
  static const size_t widest = WideLanesSupported() ? kWideLanes : LanesSupported() ? kLanes : 0;
  return widest;
}

}  // namespace

Napi::Function DriftWindow::Init(Napi::Env env) {
  Napi::Function ctor = DefineClass(
      env, "DriftWindow",
      {
          // A plain N-API callback, not InstanceMethod: see UpdateCallback.
          napi_property_descriptor{"update", nullptr, &DriftWindow::UpdateCallback, nullptr, nullptr, nullptr,
                                   napi_default, nullptr},
          InstanceMethod<&DriftWindow::BindView>("bindView"),
          InstanceMethod<&DriftWindow::Merge>("merge"),
          InstanceMethod<&DriftWindow::MergeSnapshot>("mergeSnapshot"),
          InstanceMethod<&DriftWindow::Snapshot>("snapshot"),
          InstanceMethod<&DriftWindow::SnapshotInto>("snapshotInto"),
          InstanceMethod<&DriftWindow::Rotate>("rotate"),
          InstanceMethod<&DriftWindow::Reset>("reset"),
          InstanceMethod<&DriftWindow::Scores>("scores"),
          InstanceMethod<&DriftWindow::Dispose>("dispose"),
          InstanceMethod<&DriftWindow::UseLanes>("useLanes"),
          InstanceMethod<&DriftWindow::LaneWidth>("laneWidth"),
          InstanceAccessor<&DriftWindow::GetDisposed>("disposed"),
          InstanceAccessor<&DriftWindow::GetLength>("length"),
      });
  GetInstanceData(env)->drift_window = Napi::Persistent(ctor);
  return ctor;
}

DriftWindow::DriftWindow(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DriftWindow>(info) {
  Napi::Env env = info.Env();
  SLUICE_THROW_TYPE_IF(info.Length() != 3 && info.Length() != 4, env,
                       "DriftWindow takes (kinds, edges, edgeOffsets[, state])");
  auto kinds = TypedArg<uint8_t>(info, 0, "kinds", napi_uint8_array, "Uint8Array");
  auto edges = TypedArg<double>(info, 1, "edges", napi_float64_array, "Float64Array");
  auto offsets = TypedArg<int32_t>(info, 2, "edgeOffsets", napi_int32_array, "Int32Array");
  features_ = kinds.ElementLength();
  SLUICE_THROW_RANGE_IF(offsets.ElementLength() != features_ + 1, env, "edgeOffsets must have features + 1 entries");
  SLUICE_THROW_RANGE_IF(offsets[0] != 0 || offsets[features_] < 0 ||
                            static_cast<size_t>(offsets[features_]) != edges.ElementLength(),
                        env, "edgeOffsets must start at 0 and end at edges.length");
  // Every offset is checked before any edge is read: from 0, never decreasing, up to edges.length,
  // so each feature's range [offsets[f], offsets[f + 1]) lies inside edges.
  for (size_t f = 0; f < features_; ++f) {
    SLUICE_THROW_RANGE_IF(kinds[f] != kKindNumeric && kinds[f] != kKindCategorical, env, "kinds must be 0 or 1");
    SLUICE_THROW_RANGE_IF(offsets[f + 1] < offsets[f], env, "edgeOffsets must not decrease");
  }
  for (size_t f = 0; f < features_; ++f) {
    for (int32_t i = offsets[f]; i < offsets[f + 1]; ++i) {
      SLUICE_THROW_RANGE_IF(std::isnan(edges[i]), env, "edges must not be NaN");
      SLUICE_THROW_RANGE_IF(i > offsets[f] && !(edges[i - 1] < edges[i]), env,
                            "each feature's edges must be strictly increasing");
    }
  }
  kinds_.assign(kinds.Data(), kinds.Data() + features_);
  edges_.assign(edges.Data(), edges.Data() + edges.ElementLength());
  edge_offsets_.assign(offsets.Data(), offsets.Data() + features_ + 1);
  block_offsets_.resize(features_ + 1);
  size_t at = kSnapshotHeader;
  for (size_t f = 0; f < features_; ++f) {
    block_offsets_[f] = at;
    at += kFeatureHeader + static_cast<size_t>(edge_offsets_[f + 1] - edge_offsets_[f]) + 1;
  }
  block_offsets_[features_] = at;
  BuildBinTables();
  if (info.Length() == 4 && !info[3].IsUndefined()) {
    // The state lives in the caller's SharedArrayBuffer (the TypeScript side reads it, and updates
    // it in place for tiny batches). A plain ArrayBuffer could be detached under us: refused.
    auto state = SharedFloat64Arg(info, 3, "state");
    SLUICE_THROW_RANGE_IF(state.ElementLength() != at, env, "state must have the window's state length");
    external_ = Napi::Persistent(state);
    state_ = state.Data();
  } else {
    own_state_.assign(at, 0.0);
    state_ = own_state_.data();
  }
  state_size_ = at;
  Clear();
  SLUICE_THROW_TYPE_IF(napi_type_tag_object(env, info.This(), &kDriftWindowTag) != napi_ok, env,
                       "DriftWindow: could not tag the window");
  BindUpdate(env, info.This().As<Napi::Object>());
}

// napi_unwrap, which the prototype's update needs to find its window, is a private-symbol property
// lookup, a fair part of a small batch's call (gateway/drift/README.md). So each window gets an own
// `update`, a function whose callback data leads to the window: a handle shared by the window and
// the function, freed by whichever of the two goes last, so a function that outlives its window
// finds it gone and throws.
struct DriftWindow::UpdateHandle {
  DriftWindow* window;
  int owners;
};

void DriftWindow::BindUpdate(Napi::Env env, Napi::Object self) {
  napi_value fn;
  handle_ = new UpdateHandle{this, 1};
  SLUICE_THROW_TYPE_IF(napi_create_function(env, "update", NAPI_AUTO_LENGTH, &DriftWindow::BoundUpdateCallback,
                                            handle_, &fn) != napi_ok,
                       env, "DriftWindow: could not create update");
  SLUICE_THROW_TYPE_IF(napi_add_finalizer(env, fn, handle_, &DriftWindow::ReleaseHandle, nullptr, nullptr) != napi_ok,
                       env, "DriftWindow: could not create update");
  ++handle_->owners;
  napi_property_descriptor update{"update", nullptr, nullptr, nullptr, nullptr, fn, napi_default, nullptr};
  SLUICE_THROW_TYPE_IF(napi_define_properties(env, self, 1, &update) != napi_ok, env,
                       "DriftWindow: could not define update");
}

void DriftWindow::ReleaseHandle(napi_env, void* data, void*) {
  auto* handle = static_cast<UpdateHandle*>(data);
  if (--handle->owners == 0) delete handle;
}

DriftWindow::~DriftWindow() {
  if (handle_ == nullptr) return;
  handle_->window = nullptr;
  ReleaseHandle(nullptr, handle_, nullptr);
}

void DriftWindow::BuildBinTables() {
  tables_.assign(features_, BinTable{});
  has_table_.assign(features_, 0);
  for (size_t f = 0; f < features_; ++f) {
    if (kinds_[f] != kKindNumeric) continue;
    const size_t lo = static_cast<size_t>(edge_offsets_[f]);
    const size_t n = static_cast<size_t>(edge_offsets_[f + 1]) - lo;
    has_table_[f] = BuildBinTable(edges_.data() + lo, n, &tables_[f]) ? 1 : 0;
  }
  lanes_ = BuildLaneTables(tables_, has_table_, edges_.data(), edge_offsets_.data(), block_offsets_.data(), features_);
  lane_width_ = WidestLanes();
}

void DriftWindow::CheckLive(Napi::Env env) const {
  if (disposed_) throw Napi::Error::New(env, "DriftWindow is disposed");
}

void DriftWindow::Clear() {
  std::fill(state_, state_ + state_size_, 0.0);
  state_[0] = kSnapshotMagic;
  state_[1] = static_cast<double>(features_);
  state_[2] = static_cast<double>(state_size_);
  for (size_t f = 0; f < features_; ++f) {
    state_[block_offsets_[f] + kFMin] = kInf;
    state_[block_offsets_[f] + kFMax] = -kInf;
  }
}

namespace {

// One column's batch sums, added to the state once per batch.
struct ColumnSums {
  double nan = 0, pos_inf = 0, neg_inf = 0, low = 0, high = 0;
  double n = 0, s1 = 0, s2 = 0, min = kInf, max = -kInf;
};

// The values of one column in row order: bin counts straight into the state, the rest into `out`.
// Two passes over each chunk of up to 64 rows (one read of the batch; the second reads the chunk's
// copy): first every bin, iterations independent of each other so the table lookups overlap, then
// the counts and sums (faster than both in one loop: gateway/drift/README.md).
// The moments are of x - k (k: the window's running mean, or the batch's first finite value), so
// s2 - s1^2/n keeps its precision; Chan's merge folds them into the window once per batch.
// `low += bin == 0 ? x : 0` adds an exact zero otherwise: the same sum as a branch, without one.
// A NaN's bin is computed (comparisons with NaN are false, the cell clamps) and never used.
template <typename T, typename BinOf>
inline void AccumulateColumn(const T* col, size_t rows, size_t row_stride, double k, size_t last, BinOf bin_of,
                             double* __restrict counts, ColumnSums* out) {
  constexpr size_t kChunk = 64;
  double xs[kChunk];
  uint32_t bins[kChunk];
  ColumnSums s;
  for (size_t r0 = 0; r0 < rows; r0 += kChunk) {
    const size_t m = rows - r0 < kChunk ? rows - r0 : kChunk;
    const T* p = col + r0 * row_stride;
    for (size_t i = 0; i < m; ++i) {
      const double x = ToDouble(p[i * row_stride]);
      xs[i] = x;
      bins[i] = static_cast<uint32_t>(bin_of(x));
    }
    for (size_t i = 0; i < m; ++i) {
      const double x = xs[i];
      if (std::isnan(x)) {
        s.nan += 1;
        continue;
      }
      const size_t bin = bins[i];
      counts[bin] += 1;
      s.low += bin == 0 ? x : 0.0;
      s.high += bin == last ? x : 0.0;
      if (std::isinf(x)) {
        if (x > 0) s.pos_inf += 1;
        else s.neg_inf += 1;
        continue;
      }
      const double d = x - k;
      s.n += 1;
      s.s1 += d;
      s.s2 += d * d;
      s.min = x < s.min ? x : s.min;
      s.max = x > s.max ? x : s.max;
    }
  }
  *out = s;
}

// The shift of a feature's batch moments: the window's running mean, or the batch's first finite value.
template <typename T>
inline double ShiftOf(const double* state, size_t at, const T* col, size_t rows, size_t row_stride) {
  if (state[at + kFFiniteN] > 0) return state[at + kFMean];
  for (size_t r = 0; r < rows; ++r) {
    const double x = ToDouble(col[r * row_stride]);
    if (std::isfinite(x)) return x;
  }
  return 0;
}

// A column's batch sums into the window's state at `at`.
inline void FoldColumn(double* state, size_t at, size_t rows, double k, const ColumnSums& s) {
  state[at + kFN] += static_cast<double>(rows) - s.nan;
  state[at + kFNaN] += s.nan;
  state[at + kFPosInf] += s.pos_inf;
  state[at + kFNegInf] += s.neg_inf;
  state[at + kFLowSum] = state[at + kFLowSum] + s.low;
  state[at + kFHighSum] = state[at + kFHighSum] + s.high;
  if (!(s.n > 0)) return;
  const double mean = k + s.s1 / s.n;
  double m2 = s.s2 - (s.s1 * s.s1) / s.n;
  if (m2 < 0) m2 = 0;
  MergeMoments(state, at, s.n, mean, m2);
  if (s.min < state[at + kFMin]) state[at + kFMin] = s.min;
  if (s.max > state[at + kFMax]) state[at + kFMax] = s.max;
}

}  // namespace

// Column by column: each feature's table, edges and counts stay in L1 while its values are binned
// (the batch itself is small enough to stay cached across the strided reads). Per feature the
// values are taken in row order, so the sums match the TypeScript reference exactly. Four
// consecutive features that all bin from a lane table go through the vector path together
// (drift_lanes.h: the same sums, bit for bit).
template <typename T>
void DriftWindow::UpdateTyped(const T* data, size_t rows, size_t cols, size_t row_stride, size_t col_stride,
                              size_t feature_base) {
  double* state = state_;
  for (size_t c = 0; c < cols; ++c) {
    const size_t f = feature_base + c;
    size_t width = lane_width_;
    while (width > 0 && !(c + width <= cols && LanesFit(f, width))) width = width == kWideLanes ? kLanes : 0;
    if (width > 0) {
      UpdateLaneGroup(data + c * col_stride, rows, row_stride, col_stride, f, width);
      c += width - 1;
      continue;
    }
    const size_t at = block_offsets_[f];
    const T* col = data + c * col_stride;
    const double k = ShiftOf(state, at, col, rows, row_stride);
    const size_t lo = static_cast<size_t>(edge_offsets_[f]);
    const size_t last = static_cast<size_t>(edge_offsets_[f + 1]) - lo;
    const double* edges = edges_.data() + lo;
    double* counts = state + at + kFeatureHeader;
    ColumnSums s;
    if (kinds_[f] == kKindCategorical) {
      AccumulateColumn(col, rows, row_stride, k, last, [=](double x) { return CategoryOf(edges, last, x); }, counts, &s);
    } else if (has_table_[f]) {
      const BinView view(tables_[f]);
      AccumulateColumn(col, rows, row_stride, k, last, [&view](double x) { return view.Bin(x); }, counts, &s);
    } else {
      AccumulateColumn(col, rows, row_stride, k, last, [=](double x) { return UpperBound(edges, last, x); }, counts, &s);
    }
    FoldColumn(state, at, rows, k, s);
  }
}

bool DriftWindow::LanesFit(size_t f, size_t width) const {
  for (size_t l = 0; l < width; ++l) {
    if (!lanes_.ok[f + l]) return false;
  }
  return true;
}

template <typename T>
void DriftWindow::UpdateLaneGroup(const T* col0, size_t rows, size_t row_stride, size_t col_stride, size_t f0,
                                  size_t width) {
  double k[kWideLanes];
  for (size_t l = 0; l < width; ++l) k[l] = ShiftOf(state_, block_offsets_[f0 + l], col0 + l * col_stride, rows, row_stride);
  LaneSums sums;
  if (width == kWideLanes) {
    UpdateWideLanes(lanes_, f0, col0, rows, row_stride, col_stride, k, state_, &sums);
  } else {
    UpdateLanes(lanes_, f0, col0, rows, row_stride, col_stride, k, state_, &sums);
  }
  for (size_t l = 0; l < width; ++l) {
    ColumnSums s;
    s.nan = sums.nan[l];
    s.pos_inf = sums.pos_inf[l];
    s.neg_inf = sums.neg_inf[l];
    s.low = sums.low[l];
    s.high = sums.high[l];
    s.n = static_cast<double>(rows) - s.nan - s.pos_inf - s.neg_inf;
    s.s1 = sums.s1[l];
    s.s2 = sums.s2[l];
    s.min = sums.min[l];
    s.max = sums.max[l];
    FoldColumn(state_, block_offsets_[f0 + l], rows, k[l], s);
  }
}

namespace {

// A non-negative integer that fits a double exactly (and so a size_t).
size_t IndexValue(napi_env env, double d, const char* name) {
  SLUICE_THROW_RANGE_IF(!(d >= 0) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<int64_t>(d)), env,
                        std::string(name) + " must be a non-negative integer");
  return static_cast<size_t>(d);
}

// An index argument in one N-API call (no separate type check: a non-number fails the read). The
// update runs once per batch, where a call's fixed cost is a fair part of a small batch's.
size_t IndexArg(napi_env env, napi_value v, const char* name) {
  double d;
  SLUICE_THROW_TYPE_IF(napi_get_value_double(env, v, &d) != napi_ok, env, std::string(name) + " must be a number");
  return IndexValue(env, d, name);
}

constexpr const char* kViewNames[6] = {"offset", "rows", "cols", "rowStride", "colStride", "featureBase"};

}  // namespace

// node-addon-api's CallbackInfo keeps six arguments on the stack and allocates for more (reading
// them twice), so update's seven are read here into a stack array.
napi_value DriftWindow::UpdateCallback(napi_env env, napi_callback_info cb) {
  return GuardCallback(env, [env, cb] {
    size_t argc = kUpdateArgs;
    napi_value argv[kUpdateArgs];
    napi_value self;
    void* wrapped = nullptr;
    SLUICE_THROW_TYPE_IF(napi_get_cb_info(env, cb, &argc, argv, &self, nullptr) != napi_ok || !IsDriftWindow(env, self) ||
                             napi_unwrap(env, self, &wrapped) != napi_ok || wrapped == nullptr,
                         env, "update must be called on a DriftWindow");
    static_cast<DriftWindow*>(wrapped)->Update(env, argc, argv);
  });
}

napi_value DriftWindow::BoundUpdateCallback(napi_env env, napi_callback_info cb) {
  return GuardCallback(env, [env, cb] {
    size_t argc = kUpdateArgs;
    napi_value argv[kUpdateArgs];
    void* data = nullptr;
    SLUICE_THROW_TYPE_IF(napi_get_cb_info(env, cb, &argc, argv, nullptr, &data) != napi_ok || data == nullptr, env,
                         "update must be called on a DriftWindow");
    DriftWindow* window = static_cast<UpdateHandle*>(data)->window;
    SLUICE_THROW_TYPE_IF(window == nullptr, env, "DriftWindow is disposed");
    window->Update(env, argc, argv);
  });
}

void DriftWindow::Update(Napi::Env env, size_t argc, const napi_value* argv) {
  CheckLive(env);
  SLUICE_THROW_TYPE_IF(argc != kUpdateArgs && argc != 1, env,
                       "update takes (data, offset, rows, cols, rowStride, colStride, featureBase) or (data)");
  // One call for the type, length and data (adjusted by its byte offset); it fails on a non-typed array.
  napi_typedarray_type type;
  size_t length = 0;
  void* raw = nullptr;
  SLUICE_THROW_TYPE_IF(napi_get_typedarray_info(env, argv[0], &type, &length, &raw, nullptr, nullptr) != napi_ok, env,
                       "data must be a Float32Array, Float64Array, Int32Array or BigInt64Array");
  // The six numbers as arguments, or from the bound view (bindView): no N-API call for them, which
  // costs as much as reading the data's own typed-array info.
  size_t v[6];
  if (argc == 1) {
    SLUICE_THROW_TYPE_IF(view_ == nullptr, env, "update(data) needs a view bound with bindView");
    double d[6];
    std::memcpy(d, view_, sizeof(d));  // another thread may write the shared view: check the copy
    for (size_t i = 0; i < 6; ++i) v[i] = IndexValue(env, d[i], kViewNames[i]);
  } else {
    for (size_t i = 0; i < 6; ++i) v[i] = IndexArg(env, argv[i + 1], kViewNames[i]);
  }
  const size_t offset = v[0], rows = v[1], cols = v[2], row_stride = v[3], col_stride = v[4], feature_base = v[5];
  SLUICE_THROW_RANGE_IF(feature_base > features_ || cols > features_ - feature_base, env,
                        "featureBase + cols exceeds the window's features");
  SLUICE_THROW_TYPE_IF(type != napi_float32_array && type != napi_float64_array && type != napi_int32_array &&
                           type != napi_bigint64_array,
                       env, "data must be a Float32Array, Float64Array, Int32Array or BigInt64Array");
  if (rows == 0 || cols == 0) return;
  // Every index is below 2^53, so the double products are exact enough to bound the span safely.
  const double last = static_cast<double>(offset) + static_cast<double>(rows - 1) * static_cast<double>(row_stride) +
                      static_cast<double>(cols - 1) * static_cast<double>(col_stride);
  SLUICE_THROW_RANGE_IF(!(last < static_cast<double>(length)), env,
                        "rows, cols and strides reach past the end of data");
  switch (type) {
    case napi_float32_array:
      UpdateTyped(static_cast<const float*>(raw) + offset, rows, cols, row_stride, col_stride, feature_base);
      break;
    case napi_float64_array:
      UpdateTyped(static_cast<const double*>(raw) + offset, rows, cols, row_stride, col_stride, feature_base);
      break;
    case napi_int32_array:
      UpdateTyped(static_cast<const int32_t*>(raw) + offset, rows, cols, row_stride, col_stride, feature_base);
      break;
    default:
      UpdateTyped(static_cast<const int64_t*>(raw) + offset, rows, cols, row_stride, col_stride, feature_base);
  }
}

Napi::Value DriftWindow::BindView(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env);
  SLUICE_THROW_TYPE_IF(info.Length() != 1, env, "bindView takes (view)");
  auto view = SharedFloat64Arg(info, 0, "view");
  SLUICE_THROW_RANGE_IF(view.ElementLength() != 6, env, "view must have 6 numbers");
  view_ref_ = Napi::Persistent(view);
  view_ = view.Data();
  return env.Undefined();
}

void DriftWindow::MergeState(const double* src) {
  double* dst = state_;
  for (size_t f = 0; f < features_; ++f) {
    const size_t at = block_offsets_[f];
    const size_t end = block_offsets_[f + 1];
    dst[at + kFN] = dst[at + kFN] + src[at + kFN];
    dst[at + kFNaN] = dst[at + kFNaN] + src[at + kFNaN];
    dst[at + kFPosInf] = dst[at + kFPosInf] + src[at + kFPosInf];
    dst[at + kFNegInf] = dst[at + kFNegInf] + src[at + kFNegInf];
    MergeMoments(dst, at, src[at + kFFiniteN], src[at + kFMean], src[at + kFM2]);
    if (src[at + kFMin] < dst[at + kFMin]) dst[at + kFMin] = src[at + kFMin];
    if (src[at + kFMax] > dst[at + kFMax]) dst[at + kFMax] = src[at + kFMax];
    dst[at + kFLowSum] = dst[at + kFLowSum] + src[at + kFLowSum];
    dst[at + kFHighSum] = dst[at + kFHighSum] + src[at + kFHighSum];
    for (size_t i = at + kFeatureHeader; i < end; ++i) dst[i] = dst[i] + src[i];
  }
}

Napi::Value DriftWindow::Merge(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env);
  SLUICE_THROW_TYPE_IF(info.Length() != 1 || !info[0].IsObject() || !IsDriftWindow(env, info[0]), env,
                       "merge takes a DriftWindow");
  DriftWindow* other = Napi::ObjectWrap<DriftWindow>::Unwrap(info[0].As<Napi::Object>());
  SLUICE_THROW_TYPE_IF(other == nullptr, env, "merge takes a DriftWindow");
  other->CheckLive(env);
  SLUICE_THROW_RANGE_IF(other->kinds_ != kinds_ || other->edge_offsets_ != edge_offsets_ || other->edges_ != edges_,
                        env, "merge needs a window with the same features and bins");
  if (other != this) {
    MergeState(other->state_);
  } else {
    std::vector<double> copy(state_, state_ + state_size_);
    MergeState(copy.data());
  }
  return env.Undefined();
}

Napi::Value DriftWindow::MergeSnapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env);
  auto snap = TypedArg<double>(info, 0, "snapshot", napi_float64_array, "Float64Array");
  SLUICE_THROW_RANGE_IF(snap.ElementLength() != state_size_ || snap[0] != kSnapshotMagic ||
                            snap[1] != static_cast<double>(features_) ||
                            snap[2] != static_cast<double>(state_size_),
                        env, "snapshot does not match this window's layout");
  std::vector<double> copy(snap.Data(), snap.Data() + snap.ElementLength());
  MergeState(copy.data());
  return env.Undefined();
}

Napi::Value DriftWindow::Snapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env);
  Napi::Float64Array out = Napi::Float64Array::New(env, state_size_);
  std::memcpy(out.Data(), state_, state_size_ * sizeof(double));
  return out;
}

Napi::Value DriftWindow::SnapshotInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env);
  auto out = TypedArg<double>(info, 0, "out", napi_float64_array, "Float64Array");
  SLUICE_THROW_RANGE_IF(out.ElementLength() != state_size_, env, "out must have the window's state length");
  std::memcpy(out.Data(), state_, state_size_ * sizeof(double));
  return env.Undefined();
}

Napi::Value DriftWindow::Rotate(const Napi::CallbackInfo& info) {
  Napi::Value out = Snapshot(info);
  Clear();
  return out;
}

Napi::Value DriftWindow::Reset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env);
  Clear();
  return env.Undefined();
}

Napi::Value DriftWindow::Scores(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env);
  SLUICE_THROW_TYPE_IF(info.Length() != 6, env,
                       "scores takes (refBins, coarseMap, coarseOffsets, refCoarse, refInfo, out)");
  auto ref_bins = TypedArg<double>(info, 0, "refBins", napi_float64_array, "Float64Array");
  auto coarse_map = TypedArg<int32_t>(info, 1, "coarseMap", napi_int32_array, "Int32Array");
  auto coarse_offsets = TypedArg<int32_t>(info, 2, "coarseOffsets", napi_int32_array, "Int32Array");
  auto ref_coarse = TypedArg<double>(info, 3, "refCoarse", napi_float64_array, "Float64Array");
  auto ref_info = TypedArg<double>(info, 4, "refInfo", napi_float64_array, "Float64Array");
  auto out = TypedArg<double>(info, 5, "out", napi_float64_array, "Float64Array");
  const size_t total_bins = edges_.size() + features_;
  SLUICE_THROW_RANGE_IF(ref_bins.ElementLength() != total_bins || coarse_map.ElementLength() != total_bins, env,
                        "refBins and coarseMap must have one entry per window bin");
  SLUICE_THROW_RANGE_IF(coarse_offsets.ElementLength() != features_ + 1 || coarse_offsets[0] != 0 ||
                            static_cast<size_t>(coarse_offsets[features_]) != ref_coarse.ElementLength(),
                        env, "coarseOffsets must have features + 1 entries from 0 to refCoarse.length");
  SLUICE_THROW_RANGE_IF(ref_info.ElementLength() != features_ * 3, env, "refInfo must have 3 entries per feature");
  SLUICE_THROW_RANGE_IF(out.ElementLength() != features_ * drift::kScoreStride, env,
                        "out must have one score row per feature");
  size_t at = 0;
  for (size_t f = 0; f < features_; ++f) {
    SLUICE_THROW_RANGE_IF(coarse_offsets[f + 1] <= coarse_offsets[f], env, "every feature needs a coarse bin");
    const size_t bins = static_cast<size_t>(edge_offsets_[f + 1] - edge_offsets_[f]) + 1;
    const int32_t width = coarse_offsets[f + 1] - coarse_offsets[f];
    for (size_t j = 0; j < bins; ++j) {
      SLUICE_THROW_RANGE_IF(coarse_map[at + j] < 0 || coarse_map[at + j] >= width, env,
                            "coarseMap entries must name one of the feature's coarse bins");
    }
    at += bins;
  }
  const drift::ScoringReference ref{ref_bins.Data(), coarse_map.Data(), coarse_offsets.Data(), ref_coarse.Data(),
                                    ref_info.Data()};
  drift::ScoreState(features_, kinds_.data(), edges_.data(), edge_offsets_.data(), block_offsets_.data(),
                    state_, ref, out.Data());
  return env.Undefined();
}

Napi::Value DriftWindow::Dispose(const Napi::CallbackInfo& info) {
  disposed_ = true;
  std::vector<double>().swap(own_state_);
  external_.Reset();
  view_ref_.Reset();
  view_ = nullptr;
  state_ = nullptr;
  state_size_ = 0;
  std::vector<double>().swap(edges_);
  lanes_ = drift::LaneTables{};
  return info.Env().Undefined();
}

Napi::Value DriftWindow::UseLanes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env);
  SLUICE_THROW_TYPE_IF(info.Length() != 1 || !info[0].IsBoolean(), env, "useLanes takes a boolean");
  lane_width_ = info[0].As<Napi::Boolean>().Value() ? WidestLanes() : 0;
  return Napi::Boolean::New(env, lane_width_ > 0);
}

Napi::Value DriftWindow::LaneWidth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env);
  SLUICE_THROW_TYPE_IF(info.Length() != 1 || !info[0].IsNumber(), env, "laneWidth takes a number");
  const double w = info[0].As<Napi::Number>().DoubleValue();
  SLUICE_THROW_RANGE_IF(w != 0 && w != kLanes && w != kWideLanes, env, "laneWidth takes 0, 4 or 8");
  const size_t widest = WidestLanes();
  lane_width_ = static_cast<size_t>(w) < widest ? static_cast<size_t>(w) : widest;
  return Napi::Number::New(env, static_cast<double>(lane_width_));
}

Napi::Value DriftWindow::GetDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), disposed_);
}

Napi::Value DriftWindow::GetLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(state_size_));
}

}  // namespace sluice
