// See drift_window.h. The update and merge mirror gateway/drift/ts-window.ts operation for
// operation, so the two produce the same state up to rounding of the same sums.
#include "drift_window.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "common.h"
#include "drift_layout.h"
#include "drift_scores.h"
#include "instance_data.h"

namespace sluice {

using namespace drift;  // NOLINT: the layout constants

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Index of the bin x (not NaN) falls in; see WindowLayout in gateway/drift/layout.ts.
inline size_t BinOf(const double* edges, size_t lo, size_t hi, double x, bool categorical) {
  const size_t start = lo;
  const size_t end = hi;
  if (categorical) {
    while (lo < hi) {
      const size_t mid = (lo + hi) >> 1;
      if (edges[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo < end && edges[lo] == x ? lo - start : end - start;
  }
  while (lo < hi) {
    const size_t mid = (lo + hi) >> 1;
    if (edges[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo - start;
}

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

}  // namespace

Napi::Function DriftWindow::Init(Napi::Env env) {
  Napi::Function ctor = DefineClass(
      env, "DriftWindow",
      {
          InstanceMethod<&DriftWindow::Update>("update"),
          InstanceMethod<&DriftWindow::Merge>("merge"),
          InstanceMethod<&DriftWindow::MergeSnapshot>("mergeSnapshot"),
          InstanceMethod<&DriftWindow::Snapshot>("snapshot"),
          InstanceMethod<&DriftWindow::Rotate>("rotate"),
          InstanceMethod<&DriftWindow::Reset>("reset"),
          InstanceMethod<&DriftWindow::Scores>("scores"),
          InstanceMethod<&DriftWindow::Dispose>("dispose"),
          InstanceAccessor<&DriftWindow::GetDisposed>("disposed"),
          InstanceAccessor<&DriftWindow::GetLength>("length"),
      });
  GetInstanceData(env)->drift_window = Napi::Persistent(ctor);
  return ctor;
}

DriftWindow::DriftWindow(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DriftWindow>(info) {
  Napi::Env env = info.Env();
  SLUICE_THROW_TYPE_IF(info.Length() != 3, env, "DriftWindow takes (kinds, edges, edgeOffsets)");
  auto kinds = TypedArg<uint8_t>(info, 0, "kinds", napi_uint8_array, "Uint8Array");
  auto edges = TypedArg<double>(info, 1, "edges", napi_float64_array, "Float64Array");
  auto offsets = TypedArg<int32_t>(info, 2, "edgeOffsets", napi_int32_array, "Int32Array");
  features_ = kinds.ElementLength();
  SLUICE_THROW_RANGE_IF(offsets.ElementLength() != features_ + 1, env, "edgeOffsets must have features + 1 entries");
  SLUICE_THROW_RANGE_IF(offsets[0] != 0 || static_cast<size_t>(offsets[features_]) != edges.ElementLength(), env,
                        "edgeOffsets must start at 0 and end at edges.length");
  for (size_t f = 0; f < features_; ++f) {
    SLUICE_THROW_RANGE_IF(kinds[f] != kKindNumeric && kinds[f] != kKindCategorical, env, "kinds must be 0 or 1");
    SLUICE_THROW_RANGE_IF(offsets[f + 1] < offsets[f], env, "edgeOffsets must not decrease");
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
  state_.assign(at, 0.0);
  Clear();
  shift_.resize(features_);
  bn_.resize(features_);
  s1_.resize(features_);
  s2_.resize(features_);
  mn_.resize(features_);
  mx_.resize(features_);
}

void DriftWindow::CheckLive(Napi::Env env) const {
  if (disposed_) throw Napi::Error::New(env, "DriftWindow is disposed");
}

void DriftWindow::Clear() {
  std::fill(state_.begin(), state_.end(), 0.0);
  state_[0] = kSnapshotMagic;
  state_[1] = static_cast<double>(features_);
  state_[2] = static_cast<double>(state_.size());
  for (size_t f = 0; f < features_; ++f) {
    state_[block_offsets_[f] + kFMin] = kInf;
    state_[block_offsets_[f] + kFMax] = -kInf;
  }
}

template <typename T>
void DriftWindow::UpdateTyped(const T* data, size_t rows, size_t cols, size_t row_stride, size_t col_stride,
                              size_t feature_base) {
  double* state = state_.data();
  const double* edges = edges_.data();
  for (size_t c = 0; c < cols; ++c) {
    const size_t at = block_offsets_[feature_base + c];
    double k = 0;
    if (state[at + kFFiniteN] > 0) {
      k = state[at + kFMean];
    } else {
      for (size_t r = 0; r < rows; ++r) {
        const double x = ToDouble(data[r * row_stride + c * col_stride]);
        if (std::isfinite(x)) {
          k = x;
          break;
        }
      }
    }
    shift_[c] = k;
    bn_[c] = 0;
    s1_[c] = 0;
    s2_[c] = 0;
    mn_[c] = kInf;
    mx_[c] = -kInf;
  }
  for (size_t r = 0; r < rows; ++r) {
    const T* row = data + r * row_stride;
    for (size_t c = 0; c < cols; ++c) {
      const double x = ToDouble(row[c * col_stride]);
      const size_t f = feature_base + c;
      const size_t at = block_offsets_[f];
      if (std::isnan(x)) {
        state[at + kFNaN] += 1;
        continue;
      }
      const size_t lo = static_cast<size_t>(edge_offsets_[f]);
      const size_t hi = static_cast<size_t>(edge_offsets_[f + 1]);
      const size_t bin = BinOf(edges, lo, hi, x, kinds_[f] == kKindCategorical);
      state[at + kFeatureHeader + bin] += 1;
      state[at + kFN] += 1;
      if (bin == 0) state[at + kFLowSum] = state[at + kFLowSum] + x;
      if (bin == hi - lo) state[at + kFHighSum] = state[at + kFHighSum] + x;
      if (x == kInf) {
        state[at + kFPosInf] += 1;
      } else if (x == -kInf) {
        state[at + kFNegInf] += 1;
      } else {
        const double d = x - shift_[c];
        bn_[c] += 1;
        s1_[c] = s1_[c] + d;
        s2_[c] = s2_[c] + d * d;
        if (x < mn_[c]) mn_[c] = x;
        if (x > mx_[c]) mx_[c] = x;
      }
    }
  }
  for (size_t c = 0; c < cols; ++c) {
    const double n = bn_[c];
    if (!(n > 0)) continue;
    const size_t at = block_offsets_[feature_base + c];
    const double mean = shift_[c] + s1_[c] / n;
    double m2 = s2_[c] - (s1_[c] * s1_[c]) / n;
    if (m2 < 0) m2 = 0;
    MergeMoments(state, at, n, mean, m2);
    if (mn_[c] < state[at + kFMin]) state[at + kFMin] = mn_[c];
    if (mx_[c] > state[at + kFMax]) state[at + kFMax] = mx_[c];
  }
}

Napi::Value DriftWindow::Update(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env);
  SLUICE_THROW_TYPE_IF(info.Length() != 7, env,
                       "update takes (data, offset, rows, cols, rowStride, colStride, featureBase)");
  SLUICE_THROW_TYPE_IF(!info[0].IsTypedArray(), env,
                       "data must be a Float32Array, Float64Array, Int32Array or BigInt64Array");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  const size_t offset = SizeArg(info, 1, "offset");
  const size_t rows = SizeArg(info, 2, "rows");
  const size_t cols = SizeArg(info, 3, "cols");
  const size_t row_stride = SizeArg(info, 4, "rowStride");
  const size_t col_stride = SizeArg(info, 5, "colStride");
  const size_t feature_base = SizeArg(info, 6, "featureBase");
  SLUICE_THROW_RANGE_IF(feature_base > features_ || cols > features_ - feature_base, env,
                        "featureBase + cols exceeds the window's features");
  const size_t length = ta.ElementLength();
  if (rows == 0 || cols == 0) return env.Undefined();
  // Every index is below 2^53, so the double products are exact enough to bound the span safely.
  const double last = static_cast<double>(offset) + static_cast<double>(rows - 1) * static_cast<double>(row_stride) +
                      static_cast<double>(cols - 1) * static_cast<double>(col_stride);
  SLUICE_THROW_RANGE_IF(!(last < static_cast<double>(length)), env,
                        "rows, cols and strides reach past the end of data");
  switch (ta.TypedArrayType()) {
    case napi_float32_array:
      UpdateTyped(ta.As<Napi::Float32Array>().Data() + offset, rows, cols, row_stride, col_stride, feature_base);
      break;
    case napi_float64_array:
      UpdateTyped(ta.As<Napi::Float64Array>().Data() + offset, rows, cols, row_stride, col_stride, feature_base);
      break;
    case napi_int32_array:
      UpdateTyped(ta.As<Napi::Int32Array>().Data() + offset, rows, cols, row_stride, col_stride, feature_base);
      break;
    case napi_bigint64_array:
      UpdateTyped(ta.As<Napi::TypedArrayOf<int64_t>>().Data() + offset, rows, cols, row_stride, col_stride,
                  feature_base);
      break;
    default:
      SLUICE_THROW_TYPE(env, "data must be a Float32Array, Float64Array, Int32Array or BigInt64Array");
  }
  return env.Undefined();
}

void DriftWindow::MergeState(const double* src) {
  double* dst = state_.data();
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
  InstanceData* data = GetInstanceData(env);
  SLUICE_THROW_TYPE_IF(info.Length() != 1 || !info[0].IsObject() ||
                           !info[0].As<Napi::Object>().InstanceOf(data->drift_window.Value()),
                       env, "merge takes a DriftWindow");
  DriftWindow* other = Napi::ObjectWrap<DriftWindow>::Unwrap(info[0].As<Napi::Object>());
  SLUICE_THROW_TYPE_IF(other == nullptr, env, "merge takes a DriftWindow");
  other->CheckLive(env);
  SLUICE_THROW_RANGE_IF(other->kinds_ != kinds_ || other->edge_offsets_ != edge_offsets_ || other->edges_ != edges_,
                        env, "merge needs a window with the same features and bins");
  if (other != this) {
    MergeState(other->state_.data());
  } else {
    std::vector<double> copy = state_;
    MergeState(copy.data());
  }
  return env.Undefined();
}

Napi::Value DriftWindow::MergeSnapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env);
  auto snap = TypedArg<double>(info, 0, "snapshot", napi_float64_array, "Float64Array");
  SLUICE_THROW_RANGE_IF(snap.ElementLength() != state_.size() || snap[0] != kSnapshotMagic ||
                            snap[1] != static_cast<double>(features_) ||
                            snap[2] != static_cast<double>(state_.size()),
                        env, "snapshot does not match this window's layout");
  std::vector<double> copy(snap.Data(), snap.Data() + snap.ElementLength());
  MergeState(copy.data());
  return env.Undefined();
}

Napi::Value DriftWindow::Snapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckLive(env);
  Napi::Float64Array out = Napi::Float64Array::New(env, state_.size());
  std::memcpy(out.Data(), state_.data(), state_.size() * sizeof(double));
  return out;
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
                    state_.data(), ref, out.Data());
  return env.Undefined();
}

Napi::Value DriftWindow::Dispose(const Napi::CallbackInfo& info) {
  disposed_ = true;
  std::vector<double>().swap(state_);
  std::vector<double>().swap(edges_);
  return info.Env().Undefined();
}

Napi::Value DriftWindow::GetDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), disposed_);
}

Napi::Value DriftWindow::GetLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(state_.size()));
}

}  // namespace sluice
