// DriftWindow: per-feature histograms and Welford moments of everything a model version saw in a
// time window, updated from whole batch buffers in one pass. The JS side (gateway/drift/window.ts)
// validates arguments and owns the lifetime; this class re-checks cheaply (dtype, bounds, disposed)
// and never lets a bad call touch memory.
#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

#include "drift_bins.h"
#include "drift_lanes.h"

namespace sluice {

class DriftWindow : public Napi::ObjectWrap<DriftWindow> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit DriftWindow(const Napi::CallbackInfo& info);
  ~DriftWindow() override;

 private:
  // update(data, offset, rows, cols, rowStride, colStride, featureBase), or update(data) with those
  // six numbers in the bound view.
  static constexpr size_t kUpdateArgs = 7;
  static napi_value UpdateCallback(napi_env env, napi_callback_info cb);
  // The same as each window's own `update` (BindUpdate): no napi_unwrap.
  static napi_value BoundUpdateCallback(napi_env env, napi_callback_info cb);
  struct UpdateHandle;
  void BindUpdate(Napi::Env env, Napi::Object self);
  static void ReleaseHandle(napi_env env, void* data, void* hint);
  void Update(Napi::Env env, size_t argc, const napi_value* argv);
  // bindView(view: Float64Array of 6 over a SharedArrayBuffer): where update(data) reads offset,
  // rows, cols, rowStride, colStride and featureBase (the caller writes them before each call).
  Napi::Value BindView(const Napi::CallbackInfo& info);
  // merge(other: DriftWindow)
  Napi::Value Merge(const Napi::CallbackInfo& info);
  // mergeSnapshot(snapshot: Float64Array)
  Napi::Value MergeSnapshot(const Napi::CallbackInfo& info);
  // snapshot(): Float64Array (a copy of the state)
  Napi::Value Snapshot(const Napi::CallbackInfo& info);
  // snapshotInto(out: Float64Array): copies the state into `out` (a shared buffer; no allocation)
  Napi::Value SnapshotInto(const Napi::CallbackInfo& info);
  // rotate(): Float64Array (the state; the window starts empty)
  Napi::Value Rotate(const Napi::CallbackInfo& info);
  Napi::Value Reset(const Napi::CallbackInfo& info);
  // scores(refBins, coarseMap, coarseOffsets, refCoarse, refInfo, out)
  Napi::Value Scores(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  // useLanes(on: boolean): boolean — whether updates take the vector path (drift_lanes.h, its widest
  // lane groups) when the CPU has one; the answer is whether they will. On by default.
  Napi::Value UseLanes(const Napi::CallbackInfo& info);
  // laneWidth(width: 0 | 4 | 8): number — the widest lane group updates may take (8: AVX-512,
  // 4: AVX2, 0: the scalar path), capped at what the CPU runs; the answer is the width in effect.
  // Tests force each path with it.
  Napi::Value LaneWidth(const Napi::CallbackInfo& info);
  Napi::Value GetDisposed(const Napi::CallbackInfo& info);
  Napi::Value GetLength(const Napi::CallbackInfo& info);

  void CheckLive(Napi::Env env) const;
  void Clear();
  void MergeState(const double* src);
  template <typename T>
  void UpdateTyped(const T* data, size_t rows, size_t cols, size_t row_stride, size_t col_stride,
                   size_t feature_base);
  bool LanesFit(size_t f, size_t width) const;
  template <typename T>
  void UpdateLaneGroup(const T* col0, size_t rows, size_t row_stride, size_t col_stride, size_t f0, size_t width);

  void BuildBinTables();

  bool disposed_ = false;
  size_t features_ = 0;
  std::vector<uint8_t> kinds_;
  std::vector<double> edges_;
  std::vector<int32_t> edge_offsets_;
  std::vector<size_t> block_offsets_;
  // The state (layout in gateway/drift/layout.ts): the caller's shared Float64Array when one was
  // given (kept alive by external_), else own_state_.
  double* state_ = nullptr;
  size_t state_size_ = 0;
  std::vector<double> own_state_;
  Napi::Reference<Napi::Float64Array> external_;
  // The bound view (bindView), kept alive by view_ref_.
  const double* view_ = nullptr;
  Napi::Reference<Napi::Float64Array> view_ref_;
  // Per numeric feature: its bin table (drift_bins.h), or none (few edges: plain binary search).
  std::vector<drift::BinTable> tables_;
  std::vector<uint8_t> has_table_;
  // The same tables flattened for the vector path, and whether updates take it.
  drift::LaneTables lanes_;
  size_t lane_width_ = 0;  // the widest group updates take: 8, 4 or 0 (drift_lanes.h)
  UpdateHandle* handle_ = nullptr;  // shared with this window's own update function
};

}  // namespace sluice
